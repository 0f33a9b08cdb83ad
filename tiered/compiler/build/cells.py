"""Compiler stage 2, closure cells: LOAD_DEREF, STORE_DEREF, LOAD_CLOSURE, MAKE_FUNCTION → reads and writes of the frame's cells.

The installed prologue passes the frame's cells (its cell variables, made by MAKE_CELL, and
its free variables, copied by COPY_FREE_VARS, both before RESUME) to the native entry after
the arguments; each is a parameter of every specialisation, borrowed from the frame.  A cell
is read at every LOAD_DEREF (an inner function may have changed it) and written in place, so
an exit leaves nothing to restore: the frame's cells already hold what native code stored.
"""
import types

from ...cpython import capi
from ..infer import Unsupported
from ..ops import BOOL, FLOAT, INT, OBJ, ObjType
from .core import acquire, table, top

_NUMBER_TYPES = {int: INT, float: FLOAT, bool: BOOL}

HANDLERS, handles = table()


def cell_names(code):
    """The cells a code object's frame holds, in the order the prologue passes them.  A
    parameter an inner function captures is one of them (its value is passed as an argument
    too, read from the cell, and it is no local of the builder: the frame's slot holds the cell)."""
    return list(code.co_cellvars) + list(code.co_freevars)


def add_cell_params(b, names):
    """One parameter per cell, after the arguments."""
    b.made.cells = {}
    for name in names:
        p = b.new("phi", [], ObjType(types.CellType), {"param": name, "cell": True})
        b.made.fn.params.append(p)
        b.made.cells[name] = p


def _content_type(b, name):
    """The number type a free variable holds in the function compiled now (None: other)."""
    free = b.opts.code.co_freevars
    closure = getattr(b.opts.func, "__closure__", None)
    if name not in free or closure is None or len(closure) != len(free):
        return None
    try:
        return _NUMBER_TYPES.get(type(closure[free.index(name)].cell_contents))
    except ValueError:                  # empty now
        return None


@handles("load_deref")
def load_deref(b, i, st, block, out):
    """LOAD_DEREF: the cell's content, unboxed under a guard when it holds a number now."""
    t = _content_type(b, i.arg)
    if t is None and not b.opts.objects:
        raise Unsupported("CLOSURE", f"free variable {i.arg} (TIERED_OBJECTS=1 compiles it)")
    st.stack.append(b.emit("cell_get", [b.made.cells[i.arg]], {"name": i.arg, "unbox": t}, type=t or OBJ))


@handles("load_closure")
def load_closure(b, i, st, block, out):
    """LOAD_CLOSURE: the cell itself (for a closure tuple), with a reference of its own."""
    cell = b.made.cells[i.arg]
    acquire(b, cell)
    st.stack.append(cell)


@handles("make_function")
def make_function(b, i, st, block, out):
    """MAKE_FUNCTION: a new function of the code constant with this function's globals, and
    its defaults, keyword defaults and closure (whose references move in)."""
    if i.arg & 0x04:
        raise Unsupported("UNSUPPORTED_OPCODE", "a function with annotations made")
    if not b.opts.objects or capi.FUNC_FIELDS is None:
        raise Unsupported("UNSUPPORTED_OPCODE", "MAKE_FUNCTION (TIERED_OBJECTS=1 compiles it)")
    n = 1 + bin(i.arg & 0x0B).count("1")
    vals = top(b, st, n)
    r = b.emit("make_function", vals, {"flags": i.arg, "globals": b.opts.globals},
               type=ObjType(types.FunctionType))
    del st.stack[len(st.stack) - n:]
    st.stack.append(r)


@handles("store_deref")
def store_deref(b, i, st, block, out):
    """STORE_DEREF: the value (a number boxed) moves into the cell; its old content goes."""
    if not b.opts.objects:
        raise Unsupported("CLOSURE", f"a cell written ({i.arg}; TIERED_OBJECTS=1 compiles it)")
    value = top(b, st, 1)[0]               # a known object (a global) as a value too
    b.emit("cell_set", [b.made.cells[i.arg], value], {"name": i.arg})
    st.stack.pop()
