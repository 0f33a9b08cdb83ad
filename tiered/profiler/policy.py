"""Profiler promotion policy: hot code objects from the queue → compile requests, hottest first."""
import sys

from ..runtime import manager
from . import hooks
from .feedback import Feedback, functions_of


class Promoter:
    """Owns the feedback, the interpreter hook and the decision of what to compile."""

    def __init__(self, threshold, hz):
        self.threshold = threshold
        counted = hooks.samples_for(threshold) if not hooks.HAS_MONITORING else threshold
        self.feedback = Feedback(counted)
        self.hook = hooks.make_hook(self.feedback, self.drain, self.is_decided, hz, manager.busy)
        self.draining = False

    def start(self):
        """Start the interpreter hook; False when it could not be installed."""
        return self.hook.start()

    def stop(self):
        """Stop the interpreter hook."""
        self.hook.stop()

    def is_decided(self, code):
        """Codes that tiered installed, or already promoted, are no longer counted."""
        if manager.is_installed_code(code):
            return True
        p = self.feedback.profiles.get(code)
        return p is not None and p.decided

    def drain(self):
        """Compile every queued profile, hottest first (not re-entrant)."""
        if self.draining:
            return
        self.draining = True
        try:
            while True:
                p = self.feedback.pop_hottest()
                if p is None:
                    return
                self._promote(p)
        finally:
            self.draining = False

    def _promote(self, p):
        """Compile each function of a hot code for its most common signature (or refuse it)."""
        signature = p.signatures.most_common(1)[0][0] if p.signatures else None
        for func in functions_of(p.code):
            rec = manager.record_for(func)
            rec.calls = max(rec.calls, p.count)
            if signature is None:
                rec.refuse(manager.Refusal.NO_FEEDBACK, "no argument types observed")
                continue
            manager.compile_for(func, signature)


def supported():
    """True on the Python versions tiered supports."""
    from ..compiler.decode import SUPPORTED
    return sys.version_info[:2] in SUPPORTED
