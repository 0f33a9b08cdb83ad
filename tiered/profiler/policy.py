"""Profiler promotion policy: hot code objects from the queue → compile requests, hottest first."""
import sys
import threading

from ..cpython import SUPPORTED
from ..reasons import Refusal
from ..runtime import manager, records
from ..runtime.specs import looks_tiny
from . import hooks
from .feedback import Feedback, functions_of


class Promoter:
    """Owns the feedback, the interpreter hook and the decision of what to compile."""

    def __init__(self, threshold, hz):
        self.threshold = threshold
        counted = hooks.samples_for(threshold) if not hooks.HAS_MONITORING else threshold
        self.feedback = Feedback(counted)
        self.hook = hooks.make_hook(self.feedback, self.drain, self.is_decided, self.on_error, hz,
                                    manager.busy, manager.active_here)
        self.draining = threading.Lock()    # one thread drains; others go on interpreting

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
        """Compile each function of a hot code for its most common signature (or refuse it)."""
        signature = p.signatures.most_common(1)[0][0] if p.signatures else None
        if hooks.HAS_MONITORING:
            # sys.monitoring no longer reports this code: the profile is not needed any more
            self.feedback.profiles.discard(code)
            self.feedback.mark_done(code)      # loop events of frames still running it stop
        reason = (Refusal.NO_FEEDBACK if signature is None
                  else Refusal.UNSUPPORTED_TYPE if records.ir_types(signature) is None
                  else Refusal.TOO_SMALL if looks_tiny(code) else None)
        if reason is not None:
            # nothing to compile: no record either (a program counting its gc objects sees none)
            name = code.co_qualname if hasattr(code, "co_qualname") else code.co_name
            records.count_refusal(reason, f"{p.module}.{name}" if p.module else name,
                                  signature, f"{code.co_filename}:{code.co_firstlineno}")
            return
        for func in functions_of(code):
            rec = manager.record_for(func)
            rec.calls = max(rec.calls, p.count)
            manager.compile_for(func, signature)


def supported():
    """True on the Python versions tiered supports."""
    return sys.version_info[:2] in SUPPORTED
