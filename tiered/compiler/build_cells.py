"""Compiler stage 2f: closure cells (LOAD_DEREF, STORE_DEREF) → reads and writes of the frame's cells.

The installed prologue passes the frame's cells (its cell variables, made by MAKE_CELL, and
its free variables, copied by COPY_FREE_VARS, both before RESUME) to the native entry after
the arguments; each is a parameter of every specialisation, borrowed from the frame.  A cell
is read at every LOAD_DEREF (an inner function may have changed it) and written in place, so
an exit leaves nothing to restore: the frame's cells already hold what native code stored.
"""
import types

from .infer import Unsupported
from .ops import BOOL, FLOAT, INT, OBJ, ObjType

_NUMBER_TYPES = {int: INT, float: FLOAT, bool: BOOL}


def cell_names(code, params):
    """The cells a code object's frame holds, in the order the prologue passes them."""
    names = list(code.co_cellvars) + list(code.co_freevars)
    if set(names) & set(params):
        raise Unsupported("CLOSURE", "a parameter captured by an inner function")
    return names


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

    def _op_store_deref(self, i, st, block, out):
        """STORE_DEREF: the value (a number boxed) moves into the cell; its old content goes."""
        if not self.objects:
            raise Unsupported("CLOSURE", f"a cell written ({i.arg}; TIERED_OBJECTS=1 compiles it)")
        value = st.stack[-1]
        self.emit("cell_set", [self.cells[i.arg], value], {"name": i.arg})
        st.stack.pop()
