"""Profiler promotion policy: hot code objects from the queue → compile requests, hottest first."""
import sys
import threading

from ..cpython import SUPPORTED
from ..reasons import Refusal
from ..runtime import manager, records
from ..runtime.specs import looks_tiny
from ..compiler.ops.framecall import CALL_HELPER
from . import hooks
from .feedback import FEEDBACK_WINDOW, Feedback, functions_of

# a small code no native code calls yet is counted again, len(REARM_WAIT) times, each after
# waiting this many thresholds of calls
REARM_WAIT = (4, 16)
REARM = len(REARM_WAIT)
# signatures after the most common one that are compiled with it when the window saw each twice
REPEATED_SIGNATURES = 4


class Promoter:
    """Owns the feedback, the interpreter hook and the decision of what to compile."""

    def __init__(self, threshold, hz):
        self.threshold = threshold
        counted = hooks.samples_for(threshold) if not hooks.HAS_MONITORING else threshold
        self.feedback = Feedback(counted)
        self.hook = hooks.make_hook(self.feedback, self.drain, self.is_decided, self.on_error, hz,
                                    manager.busy, manager.active_here)
        self.draining = threading.Lock()    # one thread drains; others go on interpreting
        self.rearms = {}                    # id(code) -> times a small code was counted again

    def start(self):
        """Start the interpreter hook; False when it could not be installed."""
        return self.hook.start()

    def stop(self):
        """Stop the interpreter hook."""
        self.hook.stop()

    def is_decided(self, code):
        """Codes that tiered installed, or already promoted, are no longer counted."""
        if records.is_installed_code(code):
            return True
        p = self.feedback.profiles.get(code)
        return (p is not None and p.decided) or self.feedback.is_done(code)

    def drain(self):
        """Compile every queued profile, hottest first (not re-entrant, never waits)."""
        if manager.active_here() or not self.draining.acquire(blocking=False):
            return
        try:
            while True:
                p = self.feedback.pop_hottest()
                if p is None:
                    return
                code = p.code
                try:
                    if code is not None:
                        self._promote(p, code)
                except Exception as exc:   # noqa: BLE001 - the profiler never disturbs the program
                    self.on_error(code, exc)
        finally:
            self.draining.release()

    def on_error(self, code, exc):
        """The profiler failed on a code object: leave it alone and say why in stats()."""
        try:
            self.feedback.profile(code).decided = True
            for func in functions_of(code):
                manager.record_for(func).refuse(Refusal.PROFILER_ERROR, f"{type(exc).__name__}: {exc}")
        except Exception:          # noqa: BLE001 - nothing more can be done without risk
            pass

    def _promote(self, p, code):
        """Compile each function of a hot code for its most common signature (or refuse it).
        A small one called by native code (3.12) is compiled for the frames its native callers
        push (manager.compile_for for_caller); one not called so yet is counted again, since
        its callers may compile later (REARM times)."""
        seen = p.common(REPEATED_SIGNATURES)
        signature = seen[0][0] if seen else None
        framed = bool(CALL_HELPER) and p.native_callers * 2 >= FEEDBACK_WINDOW
        tiny = looks_tiny(code)
        typed = signature is not None and records.ir_types(signature) is not None
        # counted again only while its callers may still compile: none of them ran tiered's code
        # (and only when it could compile: counting costs a callback per call)
        may_rearm = (CALL_HELPER and hooks.HAS_MONITORING and not framed and not p.slot_callers
                     and not p.native_callers and self.rearms.get(id(code), 0) < REARM and typed)
        if may_rearm and (tiny or self._small(code, p)):
            self._rearm(code)
            return
        reason = (Refusal.NO_FEEDBACK if signature is None
                  else Refusal.UNSUPPORTED_TYPE if not typed
                  else Refusal.TOO_SMALL if tiny and not framed else None)
        if reason is None:
            for func in functions_of(code, p):
                rec = manager.record_for(func)
                rec.calls = max(rec.calls, p.count)
                manager.compile_for(func, signature, for_caller=framed,
                                    also=[t for t, n in seen[1:] if n >= 2])
            if may_rearm and self._small(code, p):
                self._rearm(code)
                return
        self.rearms.pop(id(code), None)
        if hooks.HAS_MONITORING:
            # sys.monitoring no longer reports this code: the profile is not needed any more
            self.feedback.profiles.discard(code)
            self.feedback.mark_done(code)      # loop events of frames still running it stop
        if reason is not None:
            # nothing to compile: no record either (a program counting its gc objects sees none)
            name = code.co_qualname if hasattr(code, "co_qualname") else code.co_name
            records.count_refusal(reason, f"{p.module}.{name}" if p.module else name,
                                  signature, f"{code.co_filename}:{code.co_firstlineno}")

    def _rearm(self, code):
        """Count a small code's calls again, from REARM_WAIT thresholds below promotion, as a
        cold code (its profile is dropped: no object is kept meanwhile)."""
        times = self.rearms.get(id(code), 0)
        self.rearms[id(code)] = times + 1
        self.feedback.profiles.discard(code)
        self.feedback.cold[id(code)] = -REARM_WAIT[times] * self.threshold

    @staticmethod
    def _small(code, p):
        """Whether a function of this code (profile p) was found too small to install (TOO_SMALL)."""
        for func in functions_of(code, p):
            rec = manager.RECORDS.get(func)
            if rec is not None and rec.refusal is Refusal.TOO_SMALL and not rec.for_frames:
                return True
        return False


def supported():
    """True on the Python versions tiered supports."""
    return sys.version_info[:2] in SUPPORTED
