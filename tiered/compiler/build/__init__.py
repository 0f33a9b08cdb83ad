"""Compiler stage 2: neutral instructions + argument types → SSA IR with a frame state on every op that may exit.

core.py holds the builder's state and values, walk.py the walk over blocks (dispatching each
instruction to its group's handler: stack, numbers, objects, attributes, calls, cells,
containers, control), merge.py the joins where paths meet, frameless.py the frameless rules.
build() retries the walk while it learns how to build (see the Need* exceptions).
"""
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
    args = (func, code, arg_types, resolve_callee)
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
            if need.name in unbound:
                raise Unsupported("UNBOUND_LOCAL", need.name) from None
            unbound.add(need.name)
        except NeedBoxedReturns:
            box_returns = True
        except NeedWiden as need:
            if need.key in widened:
                raise Unsupported("UNSTABLE_TYPE", f"loop value {need.key[1]!r}") from None
            widened.add(need.key)
        except NeedBoxed as need:
            boxed.add(need.key)
