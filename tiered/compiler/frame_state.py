"""Compiler frame states: what an exit needs to resume the interpreter (offset, live locals, stack)."""
from dataclasses import dataclass
from typing import Any, Tuple


@dataclass(frozen=True)
class Known:
    """A stack item that is a known object (a module, a builtin, a function), guarded where loaded."""
    obj: Any

    def __repr__(self):
        return f"<{getattr(self.obj, '__name__', type(self.obj).__name__)}>"


class _Null:
    """The NULL that call sequences push below a callable."""

    def __repr__(self):
        return "NULL"


NULL = _Null()


@dataclass(frozen=True)
class RangeArgs:
    """The result of range(start, stop, step) before GET_ITER (never stored in a local)."""
    start: Any
    stop: Any
    step: Any


@dataclass(frozen=True)
class RangeIter:
    """A range iterator kept as values: the next item, how many remain, the step."""
    next: Any
    remaining: Any
    step: Any


@dataclass(frozen=True)
class SeqIter:
    """An iterator over a list or tuple kept as values: the sequence (whose reference it owns)
    and the next index."""
    seq: Any
    index: Any


@dataclass(frozen=True)
class VTuple:
    """A tuple that exists only as its items (BUILD_TUPLE or a constant, then UNPACK_SEQUENCE)."""
    items: Tuple[Any, ...]


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
            if isinstance(item, RangeIter):
                out += [item.next, item.remaining, item.step]
            elif isinstance(item, SeqIter):
                out += [item.seq, item.index]
            elif isinstance(item, VTuple):
                out += list(item.items)
            elif not isinstance(item, (Known, _Null)):
                out.append(item)
        return out
