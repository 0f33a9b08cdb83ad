"""Profiler feedback: events (code object, argument values) → counts, observed types, a hottest-first queue."""
import gc
import heapq
import threading
import types
import weakref
from itertools import count

from ..cpython.capi import HEAP_TYPE
from ..cpython.code import param_count
from ..cpython import pushframe
from ..cpython.frames import LOCALS, first_locals, running_function
from ..runtime import records
from ..weaktable import WeakTable
from ..tally import Tally

FEEDBACK_WINDOW = 8          # argument types are recorded for this many events before promotion
COLD_LIMIT = 1 << 16         # distinct cold codes counted before the cold counts start afresh


class CodeProfile:
    """Counts and observed argument-type signatures of one code object (held weakly)."""
    __slots__ = ("code_ref", "count", "signatures", "decided", "module", "native_callers", "slot_callers",
                 "function_ref")

    def __init__(self, code):
        self.code_ref, self.count, self.signatures, self.decided = weakref.ref(code), 0, Tally(), False
        self.module = None        # the name of its module, when seen (for the --stats summary)
        self.native_callers = 0   # calls in the window made by tiered's code at a call (3.12)
        self.slot_callers = 0     # ... and by tiered's code through a slot (a comparison, an attribute)
        self.function_ref = None  # a weak reference to the function whose frame made it hot

    @property
    def code(self):
        """The code object, or None once it died."""
        return self.code_ref()

    def common(self, n):
        """The n most common signatures seen, as (argument types, count), most common first;
        a signature with a class that died since is left out."""
        out = []
        for key, k in self.signatures.most_common(n):
            types_ = tuple(t() if type(t) is weakref.ref else t for t in key)
            if None not in types_:
                out.append((types_, k))
        return out


def _signature(values):
    """The key a signature is counted under: the argument types, a class of the program's (a
    heap type) by a weak reference, so that counting a method's calls never keeps a class alive
    (a class made in a function dies with its last instance, as CPython's test_weakref checks)."""
    return tuple(weakref.ref(t) if t.__flags__ & HEAP_TYPE else t for t in map(type, values))


class Feedback:
    """All profiles, and the promotion queue (hottest first)."""

    def __init__(self, threshold):
        self.threshold = threshold
        # Cold codes are counted in a plain dict of ints (by id: a heuristic that creates no
        # object per code, so a program counting gc objects sees none); a code gets a profile
        # only near the threshold.
        self.cold = {}
        # Codes promoted already (their profile is dropped): id -> a fingerprint of ints, so
        # that loop events from frames still running them stop at once (no object per code)
        self.done = {}
        self.profiles = WeakTable()
        # a heap of (-count when queued, arrival, profile): hottest first, then first come
        # (heapq: sortedcontainers cost every start-up ~2 ms for these few entries)
        self.queue = []
        self.arrivals = count()
        # Events come from every thread and, on 3.11, from a signal handler that may interrupt
        # a thread inside observe(): whoever finds the lock taken skips its event, never waits.
        self.lock = threading.Lock()

    def profile(self, code):
        """The CodeProfile of a code object, created on first use."""
        p = self.profiles.get(code)
        if p is None:
            p = self.profiles[code] = CodeProfile(code)
        return p

    def tick_cold(self, code):
        """Count one event of a code counted before and still far from hot: True when that is all
        there is to do (the hooks' fast path: nothing else is looked at for it)."""
        key = id(code)
        n = self.cold.get(key)
        if n is None or n + 1 >= self.threshold - FEEDBACK_WINDOW:
            return False
        self.cold[key] = n + 1
        return True

    def event(self, code, frame, at_start=False):
        """One call (3.12, at_start) or sample (3.11) of code running in frame; True when it just
        got hot."""
        p = self.profiles.get(code)
        if p is None:
            n = self.cold.get(id(code), 0) + 1
            if n < self.threshold - FEEDBACK_WINDOW:
                if len(self.cold) >= COLD_LIMIT:
                    self.cold.clear()
                self.cold[id(code)] = n
                return False
            self.cold.pop(id(code), None)
            p = self.profile(code)
            p.count = n - 1
            g = getattr(frame, "f_globals", None)
            name = dict.get(g, "__name__") if type(g) is dict else None
            p.module = name if type(name) is str else None
        if at_start and p.count >= self.threshold - FEEDBACK_WINDOW:
            how = _called_natively(frame)
            if how:
                p.native_callers += how == AT_CALL
                p.slot_callers += how == THROUGH_SLOT
        hot = self.observe(p, arg_values(frame, code, at_start))
        if hot:
            func = running_function(frame)
            p.function_ref = weakref.ref(func) if func is not None else None
        return hot

    def observe(self, p, values):
        """Count one event; True when the code just became hot (it is then queued)."""
        if not self.lock.acquire(blocking=False):
            return False
        try:
            p.count += 1
            if p.count > self.threshold - FEEDBACK_WINDOW and values is not None:
                p.signatures[_signature(values)] += 1
            if p.count >= self.threshold and not p.decided:
                p.decided = True
                heapq.heappush(self.queue, (-p.count, next(self.arrivals), p))
                return True
            return False
        finally:
            self.lock.release()

    def mark_done(self, code):
        """Remember that a code was promoted (its profile may be dropped)."""
        if len(self.done) >= COLD_LIMIT:
            self.done.clear()
        self.done[id(code)] = _fingerprint(code)

    def is_done(self, code):
        """Whether a code was promoted already (an id reused by another code does not count)."""
        mark = self.done.get(id(code))
        return mark is not None and mark == _fingerprint(code)

    def pop_hottest(self):
        """The hottest queued profile, or None (also None while another thread holds the queue)."""
        if not self.lock.acquire(blocking=False):
            return None
        try:
            return heapq.heappop(self.queue)[2] if self.queue else None
        finally:
            self.lock.release()


def functions_of(code, p=None):
    """The function whose frame made the code hot (profile p), or else every live function
    object whose code is `code` (gc.get_referrers: a walk over every object of the program,
    2.5 ms a code in deltablue)."""
    func = p.function_ref() if p is not None and p.function_ref is not None else None
    if func is not None and func.__code__ is code:
        return [func]
    return [f for f in gc.get_referrers(code) if isinstance(f, types.FunctionType) and f.__code__ is code]


AT_CALL, THROUGH_SLOT = 1, 2


def _called_natively(frame):
    """Whether a starting frame was called by code tiered put in place (native code, or its
    interpreted remainder after an exit): AT_CALL when it stands at a call, THROUGH_SLOT when
    elsewhere (a comparison, an attribute: a frame pushed natively would not serve it), else 0;
    read without making objects."""
    code, op = pushframe.caller_site(frame)
    if not records.may_be_installed_code_at(code):
        return 0
    return AT_CALL if op in pushframe.CALL_OPCODES else THROUGH_SLOT


def arg_values(frame, code, at_start=False):
    """The current values of the frame's parameters (None if one is unbound), read in place
    (cpython.frames.first_locals): frame.f_locals, the fallback, makes a dict the frame keeps.

    At the function's start every parameter is bound and the locals come parameters first,
    so the names are not needed: reading co_varnames would create (and cache on the code)
    a tuple, an object a program counting its gc objects would see appear."""
    n = param_count(code)
    if not n:
        return []                # module and class bodies: their namespace may be a user mapping
    if LOCALS is not None:
        return first_locals(frame, n)
    loc = frame.f_locals
    if at_start:
        values = list(loc.values())[:n]
        return values if len(values) == n else None
    try:
        return [loc[name] for name in code.co_varnames[:n]]
    except KeyError:
        return None


def _fingerprint(code):
    """An int that tells one code object from another that takes its id after it died."""
    return hash((code.co_firstlineno, code.co_name, code.co_filename, len(code.co_code)))
