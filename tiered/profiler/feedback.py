"""Profiler feedback: events (code object, argument values) → counts, observed types, a hottest-first queue."""
import gc
import os
import types
from collections import Counter

from sortedcontainers import SortedKeyList

FEEDBACK_WINDOW = 8          # argument types are recorded for this many events before promotion


class CodeProfile:
    """Counts and observed argument-type signatures of one code object."""
    __slots__ = ("code", "count", "signatures", "decided")

    def __init__(self, code):
        self.code, self.count, self.signatures, self.decided = code, 0, Counter(), False


class Feedback:
    """All profiles, and the promotion queue (hottest first)."""

    def __init__(self, threshold):
        self.threshold = threshold
        self.profiles = {}
        self.queue = SortedKeyList(key=lambda p: -p.count)

    def profile(self, code):
        """The CodeProfile of a code object, created on first use."""
        p = self.profiles.get(code)
        if p is None:
            p = self.profiles[code] = CodeProfile(code)
        return p

    def observe(self, p, arg_values):
        """Count one event; True when the code just became hot (it is then queued)."""
        p.count += 1
        if p.count > self.threshold - FEEDBACK_WINDOW and arg_values is not None:
            p.signatures[tuple(type(v) for v in arg_values)] += 1
        if p.count >= self.threshold and not p.decided:
            p.decided = True
            self.queue.add(p)
            return True
        return False

    def pop_hottest(self):
        """The hottest queued profile, or None."""
        return self.queue.pop(0) if self.queue else None


def functions_of(code):
    """Every live function object whose code is `code`."""
    return [f for f in gc.get_referrers(code) if isinstance(f, types.FunctionType) and f.__code__ is code]


def arg_values(frame, code):
    """The current values of the frame's parameters (None if one is unbound)."""
    loc = frame.f_locals
    try:
        return [loc[n] for n in code.co_varnames[:code.co_argcount]]
    except KeyError:
        return None

# generators, coroutines, async generators: never compiled, never counted
CODE_FLAGS_NEVER = 0x20 | 0x80 | 0x100 | 0x200
_OWN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def never_counted(code):
    """Generators and coroutines, and tiered's own code, are never profiled."""
    return bool(code.co_flags & CODE_FLAGS_NEVER) or code.co_filename.startswith(_OWN_DIR)
