"""Compiler exits and snapshots: frame states, the virtual stack items they hold, and exit codes → what the runtime needs to rebuild the interpreter's frame.

An exit leaves native code with a tuple (exit code, live values...).  The exit code names the
exit site, whether an exception is pending and the reason (`exit_code` / `decode_exit`).  The
live values are a frame state flattened: its locals, then each stack item's values.  A stack
item is an SSA value or a *virtual* item, one that native code keeps as its parts (a range
iterator as three numbers, a tuple as its items...).  Each virtual kind is one class below: it
lists its parts (`parts`), maps them (`map`, for passes and merges), and says how the runtime
rebuilds the object the interpreter expects (`slot`: a small picklable-free description kept
with the installed code, never the IR itself).
"""
from dataclasses import dataclass, fields
from typing import Any, Tuple

from ..reasons import Exit
# bound at import: exits and misses run inside the program, which may rebind builtins
from builtins import (NotImplementedError, bool, divmod, getattr, isinstance, iter, len, list,  # noqa: A004
                      map, range, repr, set, sorted, tuple, type)

REASONS = list(Exit)
REASON_BITS = 6                  # an exit code's low bits: the reason's index in REASONS
assert len(REASONS) <= 1 << REASON_BITS


def exit_code(site, with_exception, reason):
    """The code of an exit: its site number, whether an exception is pending, the reason."""
    return ((site * 2 + with_exception) << REASON_BITS) + REASONS.index(reason)


def decode_exit(code):
    """(stub, site, with_exception, reason) of an exit code (stub: the site and the exception
    flag in one number; the installed code's prologue dispatches on the site)."""
    stub, reason = divmod(code, 1 << REASON_BITS)
    return stub, stub // 2, bool(stub % 2), REASONS[reason]


def exit_tree(paths):
    """How exits store their words: paths {exit code: [word, ...]} (a word: (buffer position,
    ...), hashable) → (blocks [(label, [word, ...], label of the next block)], {exit code: label
    of the block it enters}); the last block of every chain goes to `xret`.  Each exit's words
    go rarest first, so that the words many exits share are stored once, by a block they all
    reach (a trie of the paths read backwards, each chain of single-entry nodes one block)."""
    count = {}
    for words in paths.values():
        for w in words:
            count[w] = count.get(w, 0) + 1
    nodes, parent, word, entered, preds = {}, [], [], set(), {}
    starts = {}
    for code, words in paths.items():
        at = None
        for w in sorted(words, key=lambda w: (-count[w], w)):      # the most shared first from xret
            key = (w, at)
            if key not in nodes:
                nodes[key] = len(word)
                word.append(w)
                parent.append(at)
                preds[at] = preds.get(at, 0) + 1
            at = nodes[key]
        starts[code] = at
        entered.add(at)
    head = [k in entered or preds.get(k, 0) != 1 for k in range(len(word))]
    label = {None: "xret", **{k: f"xt{k}" for k in range(len(word)) if head[k]}}
    blocks = []
    for k in range(len(word)):
        if not head[k]:
            continue
        chain, at = [word[k]], parent[k]
        while at is not None and not head[at]:
            chain.append(word[at])
            at = parent[at]
        blocks.append((label[k], chain, label[at]))
    return blocks, {code: label[at] for code, at in starts.items()}


# ---- how a stack item travels to the interpreter (kept with the installed code) ------------
class Slot:
    """One stack item of an exit as the runtime rebuilds it: `arity` flat values in, one object
    out (`skip`: nothing is pushed, the NULL of a call sequence; `nullable`: a value that may be
    the UNBOUND marker)."""
    arity, skip, nullable = 1, False, False

    def rebuild(self, values, func):
        """The object the interpreter finds on its stack, from this item's flat values."""
        return values[0]


class ValueSlot(Slot):
    """A plain value (boxed by native code)."""

    def __init__(self, nullable=False):
        self.nullable = nullable


class NullSlot(Slot):
    """The NULL below a callable: not pushed."""
    arity, skip = 0, True


class SelfSlot(Slot):
    """The function itself (a recursive call): taken from the record, never stored."""
    arity = 0

    def rebuild(self, values, func):
        """The function being compiled."""
        return func


class KnownSlot(Slot):
    """A known object (a module, a builtin, a function)."""
    arity = 0

    def __init__(self, obj):
        self.obj = obj

    def rebuild(self, values, func):
        """The object itself."""
        return self.obj


class RangeSlot(Slot):
    """A range iterator kept as (next item, items remaining, step)."""
    arity = 3

    def rebuild(self, values, func):
        """A range iterator that yields the same items."""
        nxt, left, step = values
        return iter(range(nxt, nxt + left * step, step)) if left else iter(range(0))


class SeqIterSlot(Slot):
    """A list or tuple iterator kept as (sequence, index)."""
    arity = 2

    def rebuild(self, values, func):
        """An iterator over the sequence at its position."""
        seq, index = values
        it = (list if isinstance(seq, list) else tuple).__iter__(seq)    # a subclass's too: no __iter__ runs
        it.__setstate__(index)
        return it


class TupleSlot(Slot):
    """A tuple kept as its items."""

    def __init__(self, n):
        self.arity = n

    def rebuild(self, values, func):
        """The tuple of the items."""
        return tuple(values)


# ---- virtual stack items (compile time) ------------------------------------------------------
class Virtual:
    """Base of the virtual stack items: dataclasses whose fields are their parts."""
    merges = False                # merged part by part where paths meet (else: must be equal)

    def parts(self):
        """The SSA values this item carries, in exit order."""
        return [getattr(self, f.name) for f in fields(self)]

    def map(self, f):
        """The same item with every part replaced by f(part)."""
        return type(self)(*(f(getattr(self, x.name)) for x in fields(self)))

    def slot(self, func):
        """How the runtime rebuilds this item after an exit."""
        raise NotImplementedError

    @classmethod
    def from_parts(cls, parts):
        """The item made of these parts (the inverse of parts(), for the IR text parser)."""
        return cls(*parts)

    def text(self, fmt_part):
        """Its IR text: Kind(part, ...)."""
        return f"{type(self).__name__}({', '.join(map(fmt_part, self.parts()))})"


@dataclass(frozen=True)
class Known(Virtual):
    """A stack item that is a known object (a module, a builtin, a function), guarded where loaded."""
    obj: Any

    def parts(self):
        """None: the object is in the slot."""
        return []

    def map(self, f):
        """Itself: no parts."""
        return self

    def slot(self, func):
        """The function itself (never stored in the installed code), or the object."""
        return SelfSlot() if self.obj is func else KnownSlot(self.obj)

    def text(self, fmt_part):
        """<name>."""
        return repr(self)

    def __repr__(self):
        return f"<{getattr(self.obj, '__name__', type(self.obj).__name__)}>"


class _Null(Virtual):
    """The NULL that call sequences push below a callable."""

    def parts(self):
        """None."""
        return []

    def map(self, f):
        """Itself."""
        return self

    def slot(self, func):
        """Not pushed."""
        return NullSlot()

    def text(self, fmt_part):
        """NULL."""
        return repr(self)

    def __repr__(self):
        return "NULL"


NULL = _Null()


@dataclass(frozen=True)
class RangeArgs(Virtual):
    """The result of range(start, stop, step) before GET_ITER (never stored in a local, never
    in a frame state: an exit there could not hand it over)."""
    start: Any
    stop: Any
    step: Any


@dataclass(frozen=True)
class RangeIter(Virtual):
    """A range iterator kept as values: the next item, how many remain, the step."""
    next: Any
    remaining: Any
    step: Any
    merges = True

    def slot(self, func):
        """Rebuilt as a range iterator."""
        return RangeSlot()


@dataclass(frozen=True)
class SeqIter(Virtual):
    """An iterator over a list or tuple kept as values: the sequence (whose reference it owns)
    and the next index."""
    seq: Any
    index: Any
    merges = True

    def slot(self, func):
        """Rebuilt as the sequence's iterator at the index."""
        return SeqIterSlot()


@dataclass(frozen=True)
class VTuple(Virtual):
    """A tuple that exists only as its items (BUILD_TUPLE or a constant, then UNPACK_SEQUENCE)."""
    items: Tuple[Any, ...]

    def parts(self):
        """The items."""
        return list(self.items)

    def map(self, f):
        """The tuple of the mapped items."""
        return VTuple(tuple(f(v) for v in self.items))

    def slot(self, func):
        """Rebuilt as a tuple of its items."""
        return TupleSlot(len(self.items))

    @classmethod
    def from_parts(cls, parts):
        """The tuple of these items."""
        return cls(tuple(parts))


# the kinds of virtual items that have parts, by name (the IR text names them so)
KINDS = {c.__name__: c for c in (RangeArgs, RangeIter, SeqIter, VTuple)}


def parts_of(item):
    """The SSA values a stack item carries (a plain value carries itself)."""
    return item.parts() if isinstance(item, Virtual) else [item]


def map_item(item, f):
    """A stack item with its values replaced by f (a plain value: f of it)."""
    return item.map(f) if isinstance(item, Virtual) else f(item)


def slot_of(item, func):
    """How the runtime rebuilds a stack item (a plain value: boxed, maybe the UNBOUND marker)."""
    return item.slot(func) if isinstance(item, Virtual) else ValueSlot(bool(item.attrs.get("maybe_null")))


@dataclass(frozen=True)
class FrameState:
    """Resume point: the instruction offset, bound locals (name, value) and the stack bottom→top."""
    offset: int
    locals: Tuple[Tuple[str, Any], ...]
    stack: Tuple[Any, ...]

    def values(self):
        """Every SSA value the exit must box, in a fixed order: locals, then stack items."""
        out = [v for _, v in self.locals]
        for item in self.stack:
            out += parts_of(item)
        return out

    def map(self, f):
        """The same state with every value replaced by f(value)."""
        return FrameState(self.offset, tuple((n, f(x)) for n, x in self.locals),
                          tuple(map_item(x, f) for x in self.stack))
