"""Profiler hooks: the interpreter's events → Feedback (the one place that knows each version's profiling API).

3.12+: sys.monitoring PY_START, and JUMP for loop iterations (backward jumps count as calls),
each answered with DISABLE once a code object is decided, so steady state costs nothing (the
superinstructions that instrumenting a code split are written back then).
3.11 has no sys.monitoring and sys.setprofile costs 7-17x, so it samples instead: a CPU-time
timer (SIGPROF) looks at the running frames of every thread; a function is hot after
THRESHOLD // 250 samples (at least 2), about 20 ms of CPU at 200 Hz for the default threshold.
"""
import signal
import sys
import threading

from ..cpython.superinstructions import fuse
from ..runtime import tracing
from ..runtime.gate import gated
from ..runtime.scope import never_counted

TOOL_ID = tracing.OWN_TOOL
HAS_MONITORING = hasattr(sys, "monitoring")
CO_OPTIMIZED = 0x1                  # a function's code (not a module or class body)


class MonitoringHook:
    """3.12+: count PY_START events per code object; DISABLE once decided."""

    def __init__(self, feedback, on_hot, is_decided, on_error, compiling_here):
        self.feedback, self.on_hot, self.is_decided, self.on_error = feedback, on_hot, is_decided, on_error
        self.compiling_here = compiling_here     # this thread runs the compiler: not the program

    def start(self):
        """Claim the tool id and count PY_START events; False when the id is already taken."""
        mon = sys.monitoring
        if mon.get_tool(TOOL_ID) is not None:
            return False
        mon.use_tool_id(TOOL_ID, "tiered")
        mon.restart_events()          # codes DISABLEd by an earlier enable() are counted again
        try:        # the gate: a callback that fails (its frame past the recursion limit) is ignored
            callback = gated("tiered_profile", self._on_start)
        except Exception:              # noqa: BLE001 - no LLVM: the plain callback still works
            callback = self._on_start
        mon.register_callback(TOOL_ID, mon.events.PY_START, callback)
        try:
            jumps = gated("tiered_profile_loop", self._on_jump)
        except Exception:              # noqa: BLE001 - no LLVM: the plain callback still works
            jumps = self._on_jump
        mon.register_callback(TOOL_ID, mon.events.JUMP, jumps)
        mon.set_events(TOOL_ID, mon.events.PY_START | mon.events.JUMP)
        return True

    def after_fork_in_child(self):
        """sys.monitoring state is part of the interpreter: a forked child keeps it."""

    def stop(self):
        """Stop the PY_START events and free the tool id, if tiered still holds it."""
        mon = sys.monitoring
        if mon.get_tool(TOOL_ID) == "tiered":
            mon.set_events(TOOL_ID, 0)
            mon.register_callback(TOOL_ID, mon.events.PY_START, None)
            mon.register_callback(TOOL_ID, mon.events.JUMP, None)
            mon.free_tool_id(TOOL_ID)

    def _on_start(self, code, offset):
        """PY_START callback: count the call, promote when hot; DISABLE the code once decided
        (the library code the compiler itself calls, dis and re, is not counted)."""
        try:
            if self.compiling_here():     # tiered's own code (and its libraries') runs only
                return self._done_with(code) if never_counted(code) else None   # inside compiles
            fb = self.feedback
            if fb.tick_cold(code):         # counted before, far from hot: neither decided nor
                if fb.queue:               # never counted (the first event looked)
                    self.on_hot()
                return None
            if self.is_decided(code) or never_counted(code):
                return self._done_with(code)
            hot = fb.event(code, sys._getframe(1), at_start=True)
            if hot or fb.queue:        # also drains what another thread queued and could not
                self.on_hot()
            if hot and self.is_decided(code):     # (a small code may be counted again)
                return self._done_with(code)
        except Exception as exc:   # noqa: BLE001 - the profiler never disturbs the program
            self.on_error(code, exc)
            return sys.monitoring.DISABLE
        return None

    @staticmethod
    def _done_with(code):
        """DISABLE a code's PY_START for good, its superinstructions written back first (the
        instrumentation split them; cpython/superinstructions.py)."""
        fuse(code)
        return sys.monitoring.DISABLE

    def _on_jump(self, code, offset, destination):
        """JUMP callback: a backward jump (a loop iteration) counts as a call does, so a function
        whose loops run hot compiles even when it is called rarely (its next call runs native);
        forward jumps and decided codes DISABLE their location."""
        try:
            # a forward jump is no iteration, a module or class body compiles never, and tiered's
            # own code runs inside compiles, which count nothing: their locations need no event
            never = destination > offset or not code.co_flags & CO_OPTIMIZED
            if self.compiling_here():
                return sys.monitoring.DISABLE if never or never_counted(code) else None
            fb = self.feedback
            if not never and fb.tick_cold(code):         # as in _on_start
                if fb.queue:
                    self.on_hot()
                return None
            if never or self.is_decided(code) or never_counted(code):
                return sys.monitoring.DISABLE
            hot = fb.event(code, sys._getframe(1))
            if hot or fb.queue:
                self.on_hot()
            if hot:
                if self.is_decided(code):
                    fuse(code)
                return sys.monitoring.DISABLE
        except Exception as exc:   # noqa: BLE001 - the profiler never disturbs the program
            self.on_error(code, exc)
            return sys.monitoring.DISABLE
        return None


class SamplingHook:
    """3.11: a SIGPROF timer samples the top two frames of every thread."""

    def __init__(self, feedback, on_hot, is_decided, on_error, hz, is_compiling):
        self.feedback, self.on_hot, self.is_decided, self.hz = feedback, on_hot, is_decided, hz
        self.on_error, self.is_compiling = on_error, is_compiling
        self.previous = None
        self.busy = False
        self.handler = self._on_sample

    def start(self):
        """Start the SIGPROF timer (main thread only); False when SIGPROF belongs to someone else."""
        if threading.current_thread() is not threading.main_thread():
            return False
        if signal.getsignal(signal.SIGPROF) not in (signal.SIG_DFL, signal.SIG_IGN, None):
            return False               # somebody else profiles: do not take their signal
        try:                           # a trace function must not see (or raise in) the handler
            self.handler = gated("tiered_sample", self._on_sample)
        except Exception:              # noqa: BLE001 - no LLVM: the plain handler still works
            self.handler = self._on_sample
        self.previous = signal.signal(signal.SIGPROF, self.handler)
        signal.siginterrupt(signal.SIGPROF, False)
        self._arm()
        return True

    def _arm(self):
        """Start the CPU-time timer."""
        signal.setitimer(signal.ITIMER_PROF, 1.0 / self.hz, 1.0 / self.hz)

    def after_fork_in_child(self):
        """A forked child does not inherit timers: re-arm ours if our handler is installed."""
        if signal.getsignal(signal.SIGPROF) is self.handler:
            self._arm()

    def stop(self):
        """Stop the timer and restore the previous SIGPROF handler if ours is still installed."""
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        if signal.getsignal(signal.SIGPROF) is self.handler:
            signal.signal(signal.SIGPROF, self.previous or signal.SIG_DFL)

    def _on_sample(self, signum, frame):
        """SIGPROF handler: count the top two frames of every thread; promote when one got hot."""
        if self.busy or self.is_compiling():     # it may have interrupted a compile
            return
        self.busy = True
        try:
            hot = False
            for top in list(sys._current_frames().values()):
                f = top
                for _ in range(2):
                    if f is None:
                        break
                    if f.f_code.co_name != "_on_sample":
                        hot |= self._count(f)
                    f = f.f_back
            if hot or self.feedback.queue:
                self.on_hot()
        except Exception:          # noqa: BLE001 - the profiler never disturbs the program
            pass
        finally:
            # this very frame is among the threads' top frames: a local still naming it would
            # keep it alive in a cycle until the next collection (a leak check would see it)
            top = f = None
            self.busy = False

    def _count(self, frame):
        """Count one sample of a frame's code; True when the code just became hot."""
        code = frame.f_code
        try:
            if self.is_decided(code) or never_counted(code):
                return False
            return self.feedback.event(code, frame)
        except Exception as exc:   # noqa: BLE001 - counted for this code, which is then left alone
            self.on_error(code, exc)
            return False


def make_hook(feedback, on_hot, is_decided, on_error, hz, is_compiling, compiling_here):
    """The hook this Python version supports (is_compiling: any thread compiles; compiling_here:
    this one does)."""
    if HAS_MONITORING:
        return MonitoringHook(feedback, on_hot, is_decided, on_error, compiling_here)
    return SamplingHook(feedback, on_hot, is_decided, on_error, hz, is_compiling)


def samples_for(threshold):
    """3.11: how many samples make a function hot for a given call threshold."""
    return max(2, threshold // 250)
