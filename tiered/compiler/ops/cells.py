"""Compiler ops on closure cells (parameters, never values): cell_get / cell_set → LLVM IR lines."""
from ...reasons import Exit
from ...cpython import capi
from . import NONE, is_obj, op
from .common import box_call, field
from .objects import release, unbox


# its content (a new reference); unbox: a number type, read under a guard on its class
@op("cell_get", 1, None, Exit.EMPTY_CELL, pure=False, attrs=("name", "unbox"))
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


@op("cell_set", 2, NONE, Exit.RAISED, pure=False, raises=True, python=True, attrs=("name",))  # the old content released
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
