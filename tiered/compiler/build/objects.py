"""Compiler stage 2, objects as such: truth, IS_OP, CONTAINS_OP, f-strings, BEFORE_WITH → C-API object ops (operands released after)."""
from ..infer import Unsupported
from ..ops import NONE, ObjType, is_obj
from .core import finish, release, table, top

CONVERSIONS = {0: None, 1: "PyObject_Str", 2: "PyObject_Repr", 3: "PyObject_ASCII"}

HANDLERS, handles = table()


def object_truth(b, cond):
    """The truth of an object (its __bool__ or __len__ may raise: then the interpreter does)."""
    t = b.emit("obj_truth", [cond])
    release(b, cond)
    return t


@handles("is")
def is_op(b, i, st, block, out):
    """IS_OP: identity of two objects or of an object and None; on numbers only where the
    answer is fixed (a number is not None)."""
    x, y = top(b, st, 2)
    kinds = {is_obj(x.type) or x.type == NONE, is_obj(y.type) or y.type == NONE}
    if x.type == NONE and y.type == NONE:
        r = b.const(True)
    elif kinds == {True}:
        r = b.emit("same_object", [_none_or(b, x), _none_or(b, y)])
    elif NONE in (x.type, y.type):
        r = b.const(False)                 # a number is never None
    else:
        raise Unsupported("UNSUPPORTED_TYPE", f"{x.type} is {y.type}")
    for v in (x, y):
        release(b, v)
    del st.stack[-2:]
    st.stack.append(b.emit("bool_not", [r]) if i.arg else r)


def is_none(b, v):
    """`v is None` as a bool (v is released: the branch pops it)."""
    if v.type == NONE:
        return b.const(True)
    if not is_obj(v.type):
        return b.const(False)
    r = b.emit("same_object", [v, _none_or(b, b.const(None))])
    release(b, v)
    return r


def _none_or(b, v):
    """v, or the None object for the None constant (borrowed: None lives forever)."""
    return b.emit("obj_const", [], {"value": None}, type=ObjType(type(None))) if v.type == NONE else v


@handles("contains")
def contains(b, i, st, block, out):
    """CONTAINS_OP: `x in container` through PySequence_Contains (a number is boxed)."""
    x, c = top(b, st, 2)
    if not is_obj(c.type):
        raise Unsupported("UNSUPPORTED_TYPE", f"in {c.type}")
    r = b.emit("obj_contains", [c, x])
    for v in (x, c):
        release(b, v)
    del st.stack[-2:]
    st.stack.append(b.emit("bool_not", [r]) if i.arg else r)


@handles("format_value")
def format_value(b, i, st, block, out):
    """FORMAT_VALUE: str()/repr()/ascii() when asked, then format() with the spec if any."""
    conv, has_spec = i.arg
    operands = top(b, st, 2 if has_spec else 1)
    r = b.emit("obj_format", operands, {"conv": CONVERSIONS[conv]}, type=ObjType(str))
    finish(b, st, operands, r, len(operands))


@handles("build_string")
def build_string(b, i, st, block, out):
    """BUILD_STRING: the strings joined into one."""
    parts = top(b, st, i.arg)
    if not all(p.type.cls is str for p in parts):
        raise Unsupported("UNSUPPORTED_TYPE", "BUILD_STRING of something other than str")
    r = b.emit("build_string", parts, type=ObjType(str))
    finish(b, st, parts, r, i.arg)


@handles("before_with")
def before_with(b, i, st, block, out):
    """BEFORE_WITH: the manager is replaced by its bound __exit__, and what its __enter__()
    returned is pushed (before_with looks both up, calls, and raises as CPython does)."""
    mgr = top(b, st, 1)[0]                 # a known object (a global lock) as a value too
    if not is_obj(mgr.type):
        raise Unsupported("UNSUPPORTED_TYPE", f"with on {mgr.type}")
    exit_ = b.emit("before_with", [mgr])
    entered = b.emit("with_entered", [exit_])
    release(b, mgr)
    st.stack[-1] = exit_
    st.stack.append(entered)
