"""Weak tables: objects (functions, code objects) → tiered's data about them, without keeping them alive.

Unlike weakref.WeakKeyDictionary, no callback runs when a key dies: a callback is Python
code, and a tracer or debugger would see it run inside the program's own frames.  Dead
entries are pruned instead, whenever the table has doubled since the last pruning.
"""
import weakref
# bound at import: exits and misses run inside the program, which may rebind builtins
from builtins import KeyError, id, iter, len, list, max  # noqa: A004


class WeakTable:
    """A mapping keyed by object identity that holds its keys weakly."""

    def __init__(self):
        self._items = {}               # id(key) -> (weak reference to key, value)
        self._prune_at = 64

    def get(self, key, default=None):
        """The value stored for this very object, or default."""
        item = self._items.get(id(key))
        if item is None or item[0]() is not key:
            return default
        return item[1]

    def __getitem__(self, key):
        value = self.get(key, _MISSING)
        if value is _MISSING:
            raise KeyError(key)
        return value

    def __setitem__(self, key, value):
        self._items[id(key)] = (weakref.ref(key), value)
        if len(self._items) >= self._prune_at:
            self.prune()

    def discard(self, key):
        """Forget this object's entry, if it has one."""
        item = self._items.get(id(key))
        if item is not None and item[0]() is key:
            del self._items[id(key)]

    def __contains__(self, key):
        return self.get(key, _MISSING) is not _MISSING

    def __len__(self):
        return len(self.items())

    def prune(self):
        """Drop the entries whose key died (their values go with them)."""
        for k, item in list(self._items.items()):
            if item[0]() is None and self._items.get(k) is item:
                del self._items[k]
        self._prune_at = max(64, 2 * len(self._items))

    def items(self):
        """(key, value) pairs of the live keys."""
        return [(key, v) for r, v in list(self._items.values()) if (key := r()) is not None]

    def keys(self):
        """The live keys."""
        return [key for key, _ in self.items()]

    def values(self):
        """The values of the live keys."""
        return [v for _, v in self.items()]

    def __iter__(self):
        return iter(self.keys())


_MISSING = object()
