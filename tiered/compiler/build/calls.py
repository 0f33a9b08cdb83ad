"""Compiler stage 2, calls: CALL, CALL_FUNCTION_EX → range() arguments, native calls, specialised builtins and methods, vectorcall."""
import types

from .. import infer
from ...cpython import capi
from ...cpython.classes import plain_constructor
from ..exits import NULL, Known, RangeArgs
from ..infer import Unsupported
from ..ir import Value
from ..ops import BOOL, FLOAT, INT, NONE, OBJ, PLAIN_INSTANCES, ObjType, is_obj
from ..ops.framecall import CALL_HELPER
from .containers import SEQUENCES
from .control import loop_over
from .core import finish, object_constant, release, table, top

# methods that, on an exact instance and int arguments, run no Python code and raise before
# changing anything (a resumable callee may call them)
NO_PYTHON_METHODS = (list.pop,)
# methods of numbers without arguments that an op does natively, on a number of their class
NUMBER_METHODS = {int.bit_length: "int_bit_length", float.is_integer: "float_is_integer"}


class NeedReturnType(Exception):
    """A self-recursive call was met before the function's return type is known."""


HANDLERS, handles = table()


@handles("call")
def call(b, i, st, block, out):
    """CALL: range(), a native call of a compiled function, a specialised builtin, or any
    other call (keyword arguments too) through PyObject_Vectorcall."""
    n = i.arg
    callee, below = st.stack[-n - 1], st.stack[-n - 2]
    if below is not NULL:
        if isinstance(below, Known) and isinstance(below.obj, types.FunctionType):
            return _call_python_method(b, below.obj, i, st)
        if isinstance(below, Value) and is_obj(below.type):   # [callable, self, args]: a
            vals = top(b, st, n + 2)                          # with's __exit__(None, None, None)
            attrs = {"kwnames": i.kwnames} if i.kwnames else {}
            if below.attrs.get("maybe_null"):                 # [method or NULL, self or attribute]
                attrs["method"] = True
            r = b.emit("obj_call", vals, attrs or None)
            return _end_method_call(b, st, n, vals, r)
        if not (isinstance(below, Known) and isinstance(below.obj, types.MethodDescriptorType)):
            raise Unsupported("UNSUPPORTED_CALL", "a method call laid out as [method, self]")
        return _call_builtin_method(b, below.obj, i, st)
    if n == 0 and not i.kwnames and isinstance(callee, Known) and callee.obj is super and _zero_arg_super(b, st):
        return
    vals = top(b, st, n)
    known = isinstance(callee, Known) and not i.kwnames
    r = _call_known(b, callee.obj, vals) if known else None
    if r is None:
        fn = top(b, st, n + 1)[0]
        r = b.emit("obj_call", [fn] + vals, {"kwnames": i.kwnames} if i.kwnames else None)
        release(b, fn)
        for v in vals:
            release(b, v)
    del st.stack[-n - 2:]
    st.stack.append(r)


def _zero_arg_super(b, st):
    """super() in a method: made as super(__class__, first argument) from the values native
    code holds (the builtin would read the frame, whose locals native code does not keep up
    to date).  False when the code has no __class__ cell or no argument: the call is then
    generic (super() raises reading the frame, as in CPython)."""
    code = b.opts.code
    if not code.co_argcount or "__class__" not in code.co_freevars:
        return False
    first = code.co_varnames[0]
    if first not in b.made.cells and st.locals.get(first) is None:
        # deleted: CPython's message comes from the frame
        raise Unsupported("UNSUPPORTED_CALL", "super() after its first argument was deleted")
    owned = [object_constant(b, super),
             b.emit("cell_get", [b.made.cells["__class__"]], {"name": "__class__", "unbox": None}, type=OBJ)]
    if first in b.made.cells:             # captured: the frame's slot holds its cell
        owned.append(b.emit("cell_get", [b.made.cells[first]], {"name": first, "unbox": None}, type=OBJ))
    r = b.emit("super_attr", owned[:2] + [owned[2] if len(owned) > 2 else st.locals[first]], {"name": None})
    for v in owned:
        release(b, v)
    del st.stack[-2:]
    st.stack.append(r)
    return True


def _call_known(b, fn, vals):
    """The specialised call of a known callable (None: make a generic call)."""
    made = _construct(b, fn, vals) if isinstance(fn, type) and b.opts.objects and type(fn) is type else None
    if made is not None:
        return made
    if any(is_obj(v.type) for v in vals):
        r = _call_with_objects(b, fn, vals)
        if r is None and isinstance(fn, types.FunctionType):
            r = _call_python(b, fn, vals)
            if r is not None:             # the callee took its own references
                for v in vals:
                    release(b, v)
        return r
    if fn is range and (not b.opts.objects or loop_over(b, b.at.k + 1) is not None):
        return _range_args(b, vals)
    if isinstance(fn, types.FunctionType):
        return _call_python(b, fn, vals)
    if infer.has_specialisation(fn):
        return infer.call_known(b, fn, vals)
    return None


def _construct(b, cls, vals):
    """cls(*args) of a plain class (cpython/classes.py plain_constructor): the new instance,
    typed by its class, made and its __init__ called behind a guard on the class's version;
    the arguments are released after.  None: any other class, a generic call."""
    found = plain_constructor(cls)
    if found is None or b.at.pre_offset in b.opts.generic_at:
        return None
    version, init = found
    try:
        typed = ObjType(cls)
    except TypeError:                     # no weak references to it: typed as any object
        typed = OBJ
    b.emit("guard_class_version", [], {"cls": cls, "version": version})
    types_ = (typed,) + tuple(v.type for v in vals)
    if CALL_HELPER and isinstance(init, types.FunctionType) and not any(is_obj(t) and t.cls is None for t in types_):
        # new_instance calls __init__ through the frame helper, which runs the native code
        # compiled for native callers' frames when __init__ is too small to install
        b.opts.resolve_callee(init, types_)
    r = b.emit("new_instance", vals, {"cls": cls, "init": init}, type=typed)
    for v in vals:
        release(b, v)
    return r


def _range_args(b, vals):
    """range() arguments as RangeArgs (ints, bools widened; a given step is guarded nonzero)."""
    if not 1 <= len(vals) <= 3 or any(v.type not in (INT, BOOL) for v in vals):
        raise Unsupported("UNSUPPORTED_CALL", "range() needs 1-3 int arguments")
    vals = [b.emit("bool_to_int", [v]) if v.type == BOOL else v for v in vals]
    if len(vals) == 1:
        return RangeArgs(b.const(0), vals[0], b.const(1))
    if len(vals) == 2:
        return RangeArgs(vals[0], vals[1], b.const(1))
    b.emit("guard_nonzero", [vals[2]])
    return RangeArgs(*vals)


def _call_python(b, fn, vals, guards={}):
    """Emit a native call to fn (itself, or a compiled specialisation that an exit may call
    again: a function of numbers, or a frameless one), with the call's extra `guards` (its
    defaults); None: call it generically."""
    types_ = tuple(v.type for v in vals)
    if b.at.pre_offset in b.opts.generic_at:
        return None                       # its callee exited too often here: call it generically
    if fn is b.opts.func and len(vals) != len(b.opts.param_names):
        return None                       # defaults are bound by CPython: call it there
    if fn is b.opts.func and b.opts.self_calls and types_ != tuple(p.type for p in b.made.fn.params):
        if not all(is_obj(t) for t in types_):
            return None
        # recursion on objects of other classes: the module's dispatcher picks the
        # specialisation by their classes at run time (lower_module), the result boxed
        b.made.made_self_call = True
        b.made.fn.attrs["dispatch"] = True
        return b.emit("call_native", vals, {"target": None, "self": True, "dispatch": True}, type=OBJ)
    if fn is not b.opts.func and len(vals) < fn.__code__.co_argcount:
        return _call_with_defaults(b, fn, vals)
    if any(is_obj(t) and t.cls is None for t in types_):
        return None                       # a callee is specialised on exact classes
    if fn is b.opts.func:
        if not b.opts.self_calls:
            return None
        b.made.made_self_call = True
        if b.opts.self_return is None:
            raise NeedReturnType()
        return b.emit("call_native", vals, {"target": None, "self": True},
                      type=b.opts.self_return)
    target = b.opts.resolve_callee(fn, types_)
    if target is None or (target.resumable and target.return_type is None):
        return None                       # not compiled for these types (or it never returns
        # natively: its paths that return run in the interpreter): call it generically
    # a callee none of whose compiled paths returns (it always raises) has no return type:
    # its call always exits, so the value it does not produce is typed None
    # the callee's address: the guard that found it keeps it alive while the call is made
    return b.emit("call_native", vals, {"target": target, "self": False, "callee": id(fn), **guards},
                  type=target.return_type or NONE)


def _call_with_defaults(b, fn, vals):
    """A native call that leaves trailing parameters to their defaults: the defaults are
    passed as constants, behind a guard that the function still has the same defaults tuple
    (an exit there calls it in the interpreter, which binds them); None: call it generically."""
    defaults = fn.__defaults__ or ()
    missing = fn.__code__.co_argcount - len(vals)
    if capi.FUNC_FIELDS is None or not 0 < missing <= len(defaults):
        return None
    consts = [b.const(c) if infer.type_of_constant(c) else object_constant(b, c)
              for c in defaults[len(defaults) - missing:]]
    r = _call_python(b, fn, vals + consts, {"defaults": defaults})
    for c in consts:
        release(b, c)                     # the callee borrowed them, as its other arguments
    return r


def _call_with_objects(b, fn, vals):
    """A builtin called with objects: len() (read directly from a list or tuple),
    isinstance(); the arguments are released after."""
    if fn is len and len(vals) == 1:
        r = b.emit("seq_len" if vals[0].type.cls in SEQUENCES else "obj_len", [vals[0]])
    elif fn is isinstance and len(vals) == 2:
        r = _isinstance_of(b, *vals)
        if r is None:
            return None
    else:
        return None
    for v in vals:
        release(b, v)
    return r


def _isinstance_of(b, x, cls):
    """isinstance(x, cls): of a number or an object of an exact builtin class, answered now
    when cls is a plain class (no metaclass can change the answer, and a builtin's class
    hierarchy is fixed); of any other object, tested natively (None: call the builtin)."""
    if not is_obj(x.type):
        c = cls.attrs.get("value") if cls.op == "obj_const" else None
        if type(c) is not type or x.type == NONE:
            return None
        return b.const(c in {INT: int, FLOAT: float, BOOL: bool}[x.type].__mro__)
    plain = cls.op == "obj_const" and type(cls.attrs.get("value")) is type     # no __instancecheck__
    if plain and x.type.cls in PLAIN_INSTANCES:         # a builtin's bases never change
        return b.const(issubclass(x.type.cls, cls.attrs["value"]))
    return b.emit("obj_isinstance", [x, cls], {"plain": plain})


def _call_python_method(b, func, i, st):
    """CALL of a plain class's method laid out as [function, self, args]: a native call of
    its frameless specialisation when there is one, else vectorcall of the function."""
    n = i.arg
    vals = top(b, st, n + 1)
    r = None if i.kwnames else _call_python(b, func, vals)
    if r is None:
        vals = top(b, st, n + 2)
        r = b.emit("obj_call", vals, {"kwnames": i.kwnames} if i.kwnames else None)
    _end_method_call(b, st, n, vals, r)


def _end_method_call(b, st, n, vals, r):
    """After a method call of n arguments: release its operands, leave its result r in
    place of [method, self, args]."""
    for v in vals:
        release(b, v)
    del st.stack[-n - 2:]
    st.stack.append(r)


def _call_builtin_method(b, descr, i, st):
    """CALL of a builtin type's method laid out as [method, self, args]: list.append
    natively, any other through vectorcall of the descriptor (no bound method)."""
    n = i.arg
    method_op = NUMBER_METHODS.get(descr) if n == 0 and not i.kwnames else None
    if method_op is not None and isinstance(st.stack[-1], Value) and st.stack[-1].type in (INT, FLOAT, BOOL):
        x = st.stack[-1]                  # of descr's class: build/attributes.py found it there
        r = b.emit(method_op, [b.emit("bool_to_int", [x]) if x.type == BOOL else x])
        del st.stack[-2:]
        st.stack.append(r)
        return
    if descr is list.append and n == 1 and not i.kwnames:
        owner, item = top(b, st, 2)
        b.emit("list_append", [owner, item])
        r = b.const(None)
        vals = [owner, item]
    else:
        vals = top(b, st, n + 2)
        attrs = {"kwnames": i.kwnames} if i.kwnames else {}
        if descr in NO_PYTHON_METHODS and not i.kwnames and all(v.type == INT for v in vals[2:]):
            attrs["resumable"] = True         # it runs no Python code; it fails before any effect
        r = b.emit("obj_call", vals, attrs or None)
    _end_method_call(b, st, n, vals, r)


@handles("call_ex")
def call_ex(b, i, st, block, out):
    """CALL_FUNCTION_EX: callable(*args[, **kwargs]) for the call's own keyword dict and a
    tuple of args; a list becomes one, and so does any other iterable, as CPython makes it
    (args_tuple_any: a non-iterable exits first, for the interpreter's own message)."""
    n = 2 + (i.arg & 1)
    if st.stack[-1 - n] is not NULL:
        raise Unsupported("UNSUPPORTED_CALL", "CALL_FUNCTION_EX without its NULL")
    operands = top(b, st, n)
    fn, args, kwargs = operands[0], operands[1], operands[2:]
    if kwargs and kwargs[0].type != ObjType(dict):
        raise Unsupported("UNSUPPORTED_CALL", "**kwargs not gathered in a dict")
    if not is_obj(args.type):             # a number or None: CPython's TypeError for most
        raise Unsupported("UNSUPPORTED_CALL", f"*args of {args.type}")
    if args.type.cls is list:
        tupled = b.emit("list_to_tuple", [args], type=ObjType(tuple))
        r = b.emit("obj_call_ex", [fn, tupled] + kwargs)
        release(b, tupled)
    elif args.type.cls is tuple:
        r = b.emit("obj_call_ex", [fn, args] + kwargs)
    else:
        tupled = b.emit("args_tuple_any", [args], type=ObjType(tuple))
        r = b.emit("obj_call_ex", [fn, tupled] + kwargs)
        release(b, tupled)
    finish(b, st, operands, r, n + 1)
