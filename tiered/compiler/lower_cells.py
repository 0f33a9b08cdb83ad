"""Compiler lowering of closure cells: cell_get / cell_set on a frame's cell → LLVM IR lines (merged into LOWER)."""
from ..reasons import Exit
from ..cpython import capi
from .lower_capi import box_call, field, pointer
from .lower_objects import release, unbox
from .ops import is_obj


def _cell_get(e, v):
    """A cell's content: exit while it is empty (the interpreter raises NameError); a new
    reference, or the number it holds, unboxed under a guard on its exact class."""
    x = field(e, e.ref(v.args[0]), capi.CELL_REF, "ptr")
    e.guard(e.op(f"icmp eq ptr {x}, null"), v)
    t = v.attrs.get("unbox")
    if t is None:
        e.line(f"call void @tiered_incref(ptr {x})")
        return e.alias(v, x)
    e.alias(v, unbox(e, v, x, t, Exit.TYPE_GUARD))


def _cell_set(e, v):
    """cell = value: the value's reference (a number boxed first: exit with the MemoryError when
    that fails) moves into the cell, then the old content is released."""
    cell, value = v.args
    x = e.ref(value)
    if not is_obj(value.type):
        x = box_call(e, value)
        e.guard(e.op(f"icmp eq ptr {x}, null"), v, with_exception=True, reason=Exit.RAISED)
    slot = e.op(f"getelementptr i8, ptr {e.ref(cell)}, i64 {capi.CELL_REF}")
    old = e.op(f"load ptr, ptr {slot}")
    e.line(f"store ptr {x}, ptr {slot}")
    release(e, v, old, maybe_null=True)


def _make_function(e, v):
    """A new function (PyFunction_New: the code's name and qualname, these globals), its
    defaults, keyword defaults and closure stored in it as MAKE_FUNCTION stores them: the
    operands' references move in.  Out of memory: exit with the MemoryError, nothing moved."""
    *parts, code = (e.ref(a) for a in v.args)
    e.m.keep(v.attrs["globals"])
    f = e.op(f"call ptr @PyFunction_New(ptr {code}, ptr {pointer(v.attrs['globals'])})")
    e.guard(e.op(f"icmp eq ptr {f}, null"), v, with_exception=True, reason=Exit.RAISED)
    defaults, kwdefaults, closure = capi.FUNC_FIELDS
    fields = [at for bit, at in ((1, defaults), (2, kwdefaults), (8, closure)) if v.attrs["flags"] & bit]
    for x, at in zip(parts, fields):
        e.line(f"store ptr {x}, ptr {e.op(f'getelementptr i8, ptr {f}, i64 {at}')}")
    e.line(f"call void @tiered_decref(ptr {code})")
    e.alias(v, f)


LOWER = {"cell_get": _cell_get, "cell_set": _cell_set, "make_function": _make_function}
