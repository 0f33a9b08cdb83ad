"""Compiler stage 2, operators: BINARY_OP, UNARY_*, COMPARE_OP → numeric ops (objects unboxed where CPython saw numbers) or C-API ops."""
from .. import infer
from ...cpython.quickened import SPECIALISED_BINARY, specialisation_failed
from ..ops import FLOAT, INT, is_obj
from .core import hint, release, table, top
from .objects import object_truth

HANDLERS, handles = table()


@handles("binary")
def binary(b, i, st, block, out):
    """BINARY_OP: replace the top two values by the specialised operation's result."""
    _operate(b, i, st, infer.binary, "obj_binary")


@handles("unary")
def unary(b, i, st, block, out):
    """UNARY_*: replace the top value by the specialised operation's result (of an object:
    `not` of its truth, the others through the C-API; the object is released after)."""
    x = top(b, st, 1)[0]
    if not is_obj(x.type):
        r = infer.unary(b, i.arg, x)
    elif i.arg == "not":
        r = b.emit("bool_not", [object_truth(b, x)])
    else:
        r = b.emit("obj_unary", [x], {"sym": i.arg})
        release(b, x)
    st.stack[-1] = r


@handles("compare")
def compare(b, i, st, block, out):
    """COMPARE_OP: replace the top two values by the specialised comparison."""
    _operate(b, i, st, infer.compare, "obj_compare")


def _operate(b, i, st, numeric, generic):
    """BINARY_OP / COMPARE_OP: replace the top two values by the result, numeric (the
    function `numeric(builder, sym, x, y)`) when both are or can be numbers, else the
    C-API op `generic`; object operands are released after the result exists."""
    x, y = top(b, st, 2)
    nums = _numbers(b, i, x, y) if (is_obj(x.type) or is_obj(y.type)) else (x, y)
    if nums is None:
        r = b.emit(generic, [x, y], {"sym": i.arg, "inplace": i.inplace})
    else:
        r = numeric(b, i.arg, *nums)
    release(b, x)
    release(b, y)
    del st.stack[-2:]
    st.stack.append(r)


def _numbers(b, i, x, y):
    """Operands for numeric code, or None when the operation must be generic.  An object
    operand is unboxed under a guard, to the type CPython saw (the instruction's
    specialisation) or else to the other operand's number type; an object of a known
    class (not int or float: those are numbers already) is never a number.  When CPython
    tried to specialise this instruction and gave up, it saw types it has no fast path
    for (a float compared with an int, say): the operation stays generic."""
    if b.at.pre_offset in b.opts.generic_at:      # its guards failed too often: no speculation
        return None
    seen = hint(b)
    want = FLOAT if "FLOAT" in seen else INT if "INT" in seen else None
    if (want is None and (i.op != "binary" or i.arg in SPECIALISED_BINARY)
            and specialisation_failed(b.opts.code, b.at.pre_offset)):
        return None
    out = []
    for v, other in ((x, y), (y, x)):
        if not is_obj(v.type):
            out.append(v)
            continue
        t = want or (other.type if other.type in (INT, FLOAT) else None)
        if v.type.cls is not None or t is None:
            return None
        if t == FLOAT and i.op in ("binary", "compare"):
            # an int here (the other operand's kind guessed, or an int meeting a float where
            # CPython saw floats) is what float arithmetic converts (a comparison only while
            # the conversion is exact)
            out.append(b.emit("unbox_to_float", [v], {"exact": True} if i.op == "compare" else None))
            continue
        out.append(b.emit("unbox_float" if t == FLOAT else "unbox_int", [v]))
    return out
