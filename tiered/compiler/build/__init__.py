"""Compiler stage 2: neutral instructions + argument types → SSA IR with a frame state on every op that may exit.

core.py holds the builder's state and values, walk.py the walk over blocks (dispatching each
instruction to its group's handler: stack, numbers, objects, attributes, calls, cells,
containers, control), merge.py the joins where paths meet, frameless.py the frameless rules.
build() retries the walk while it learns how to build (see the Need* exceptions).
"""
import dis

from ..infer import Unsupported
from ..ops import BOOL, FLOAT, INT, NONE
from .calls import NeedReturnType
from .cells import cell_names
from .control import NeedBoxedReturns
from .frameless import HandOver, NeedGenericSelfCalls
from .merge import NeedBoxed, NeedUnbound, NeedWiden
from . import walk

__all__ = ["build", "cell_names", "HandOver", "NeedBoxedReturns", "NeedGenericSelfCalls", "NeedReturnType",
           "NeedUnbound", "Unsupported"]


def build(func, arg_types, resolve_callee=lambda fn, types_: None, force_exits=False, code=None,
          frameless=False, generic_at=frozenset()):
    """IR for `func` (its original `code`) specialised on `arg_types`, frameless when asked (a
    native caller calls it); tries return types for self-recursion."""
    code = code or func.__code__
    try:
        return _build_any_return((func, code, arg_types, resolve_callee), force_exits, frameless, generic_at)
    except Unsupported as exc:             # the one place a refusal gets its source line
        if exc.line is None and exc.offset is not None:
            exc.line = line_of(code, _store_of(code, exc) if exc.variable else exc.offset)
        raise


def line_of(code, offset):
    """The source line of the instruction at a bytecode offset (None when it has none)."""
    positions = list(code.co_positions())
    return positions[offset // 2][0] if 0 <= offset // 2 < len(positions) else None


def _store_of(code, exc):
    """Where a variable that changes type is given its other type: the first store to it at
    or after the join (in a loop: the assignment inside it), else the last store before."""
    stores = [i.offset for i in dis.get_instructions(code)
              if i.opname in ("STORE_FAST", "STORE_DEREF") and i.argval == exc.variable]
    after = [o for o in stores if o >= exc.offset]
    return after[0] if after else stores[-1] if stores else exc.offset


def _build_any_return(args, force_exits, frameless, generic_at):
    """Build; a self-recursive function is tried with each return type in turn."""
    try:
        return _build(*args, None, force_exits, frameless, generic_at)
    except NeedReturnType:
        pass
    last = None
    for guess in (INT, FLOAT, BOOL, NONE):
        try:
            fn = _build(*args, guess, force_exits, frameless, generic_at)
        except Unsupported as exc:
            last = exc
            continue
        if fn.return_type == guess or fn.attrs.get("generic_self_calls"):
            return fn
    raise last or Unsupported("UNSTABLE_TYPE", "recursive return type")


def _build(func, code, arg_types, resolve_callee, self_return, force_exits, frameless, generic_at):
    """Build, again with more object locals starting unbound (NULL) while the merges ask, with
    numbers returned as objects when some returns are objects, with recursive calls through
    the interpreter when the function cannot run frameless, with loop values whose class
    changes in the loop typed as any object, and with locals of varying kinds boxed."""
    unbound, box_returns, self_calls, widened, boxed = set(), False, True, set(), set()
    while True:
        try:
            fn = walk.run(walk.start(func, code, arg_types, resolve_callee, self_return, force_exits,
                                     frozenset(unbound), box_returns, frameless, self_calls,
                                     frozenset(widened), frozenset(boxed), generic_at))
            fn.attrs["generic_self_calls"] = not self_calls
            return fn
        except NeedGenericSelfCalls:
            if frameless or not self_calls:
                raise Unsupported("NOT_FRAMELESS", "it cannot run frameless") from None
            self_calls = False
        except NeedUnbound as need:
            again = sorted(need.names & unbound)
            if again:
                raise Unsupported("UNBOUND_LOCAL", again[0], variable=again[0]) from None
            unbound |= need.names
        except NeedBoxedReturns:
            box_returns = True
        except NeedWiden as need:
            if need.key in widened:
                name = need.key[1] if isinstance(need.key[1], str) else None
                raise Unsupported("UNSTABLE_TYPE", "holds objects of a class that changes in the loop",
                                  variable=name) from None
            widened.add(need.key)
        except NeedBoxed as need:
            boxed.add(need.key)
