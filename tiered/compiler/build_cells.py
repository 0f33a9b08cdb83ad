"""Compiler stage 2f: closure cells (LOAD_DEREF, STORE_DEREF) → reads and writes of the frame's cells.

The installed prologue passes the frame's cells (its cell variables, made by MAKE_CELL, and
its free variables, copied by COPY_FREE_VARS, both before RESUME) to the native entry after
the arguments; each is a parameter of every specialisation, borrowed from the frame.  A cell
is read at every LOAD_DEREF (an inner function may have changed it) and written in place, so
an exit leaves nothing to restore: the frame's cells already hold what native code stored.
"""
import types

from ..cpython import capi
from .infer import Unsupported
from .ops import BOOL, FLOAT, INT, OBJ, ObjType

_NUMBER_TYPES = {int: INT, float: FLOAT, bool: BOOL}


def cell_names(code):
    """The cells a code object's frame holds, in the order the prologue passes them.  A
    parameter an inner function captures is one of them (its value is passed as an argument
    too, read from the cell, and it is no local of the builder: the frame's slot holds the cell)."""
    return list(code.co_cellvars) + list(code.co_freevars)


class Cells:
    """The closure half of the builder (mixed into Builder)."""

    def _add_cell_params(self, names):
        """One parameter per cell, after the arguments."""
        self.cells = {}
        for name in names:
            p = self._new("phi", [], ObjType(types.CellType), {"param": name, "cell": True})
            self.fn.params.append(p)
            self.cells[name] = p

    def _content_type(self, name):
        """The number type a free variable holds in the function compiled now (None: other)."""
        free = self.code.co_freevars
        closure = getattr(self.func, "__closure__", None)
        if name not in free or closure is None or len(closure) != len(free):
            return None
        try:
            return _NUMBER_TYPES.get(type(closure[free.index(name)].cell_contents))
        except ValueError:                  # empty now
            return None

    def _op_load_deref(self, i, st, block, out):
        """LOAD_DEREF: the cell's content, unboxed under a guard when it holds a number now."""
        t = self._content_type(i.arg)
        if t is None and not self.objects:
            raise Unsupported("CLOSURE", f"free variable {i.arg} (TIERED_OBJECTS=1 compiles it)")
        st.stack.append(self.emit("cell_get", [self.cells[i.arg]], {"name": i.arg, "unbox": t}, type=t or OBJ))

    def _op_load_closure(self, i, st, block, out):
        """LOAD_CLOSURE: the cell itself (for a closure tuple), with a reference of its own."""
        cell = self.cells[i.arg]
        self._acquire(cell)
        st.stack.append(cell)

    def _op_make_function(self, i, st, block, out):
        """MAKE_FUNCTION: a new function of the code constant with this function's globals, and
        its defaults, keyword defaults and closure (whose references move in)."""
        if i.arg & 0x04:
            raise Unsupported("UNSUPPORTED_OPCODE", "a function with annotations made")
        if not self.objects or capi.FUNC_FIELDS is None:
            raise Unsupported("UNSUPPORTED_OPCODE", "MAKE_FUNCTION (TIERED_OBJECTS=1 compiles it)")
        n = 1 + bin(i.arg & 0x0B).count("1")
        vals = self._top(st, n)
        r = self.emit("make_function", vals, {"flags": i.arg, "globals": self.globals},
                      type=ObjType(types.FunctionType))
        del st.stack[len(st.stack) - n:]
        st.stack.append(r)

    def _op_store_deref(self, i, st, block, out):
        """STORE_DEREF: the value (a number boxed) moves into the cell; its old content goes."""
        if not self.objects:
            raise Unsupported("CLOSURE", f"a cell written ({i.arg}; TIERED_OBJECTS=1 compiles it)")
        value = self._top(st, 1)[0]               # a known object (a global) as a value too
        self.emit("cell_set", [self.cells[i.arg], value], {"name": i.arg})
        st.stack.pop()
