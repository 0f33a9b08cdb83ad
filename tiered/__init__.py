"""tiered: a profile-guided tiered JIT for CPython (public face: enable, disable, stats, jit)."""
import atexit
import os
import sys
import warnings

from . import config, report
from .cpython.interpreter import in_subinterpreter

# the profiler, runtime and compiler load at the first enable(), jit() or stats(): `python -m
# tiered` imports this package in the process that only starts the program's (~0.1 s saved)
policy = eager = manager = records = tracing = None
_loaded = False


def _load():
    """Import the profiler and the runtime once (False: they cannot load here, as in 3.12's
    subinterpreters, which cannot load _ctypes: tiered stays off)."""
    global policy, eager, manager, records, tracing, _loaded
    if not _loaded:
        _loaded = True
        try:
            from .profiler import policy    # start-up time: the runner's first process never needs it
            from .runtime import eager, manager, records, tracing    # start-up time: as above
        except ImportError:
            if not in_subinterpreter():
                raise
    return manager is not None

__version__ = "0.1.0"
__all__ = ["enable", "disable", "stats", "totals", "jit"]
_promoter = None
_warned_version = False
_warned_subinterpreter = False
_subinterpreter = None              # whether this is a subinterpreter, once asked


def enable(threshold=None):
    """Start profiling; hot functions are compiled and installed. Returns True if the JIT is on."""
    global _promoter
    config.check_all(stacklevel=2)
    if config.get("TIERED_DISABLE"):
        return False
    if _off_in_subinterpreter():
        return False
    if not policy.supported():
        _warn_version()
        return False
    _configure_logging()
    if _promoter is not None:
        return True
    if threshold is None:
        threshold = config.get("TIERED_THRESHOLD")
    elif not isinstance(threshold, int) or isinstance(threshold, bool) or threshold < 1:
        raise ValueError(f"threshold must be a positive int, not {threshold!r}")
    manager.preload()
    promoter = policy.Promoter(threshold, config.get("TIERED_SAMPLE_HZ"))
    tracing.watch_monitoring()
    if not promoter.start():
        warnings.warn("tiered: the profiler hook is taken by another tool; the JIT stays off",
                      RuntimeWarning, stacklevel=2)
        return False
    _promoter = promoter
    atexit.register(_stop_profiler)
    return True


def _warn_version():
    """Warn once per process that this Python version keeps the JIT off (at the caller's line)."""
    global _warned_version
    if not _warned_version:
        _warned_version = True
        warnings.warn(f"tiered: Python {sys.version_info[0]}.{sys.version_info[1]} is not supported "
                      "(3.11 and 3.12 are); the JIT stays off", RuntimeWarning, stacklevel=3)


def _off_in_subinterpreter():
    """True in a subinterpreter, where tiered stays off; warns once there (at the caller's line)."""
    global _warned_subinterpreter, _subinterpreter
    if _subinterpreter is None:
        _subinterpreter = not _load() or in_subinterpreter()
    if not _subinterpreter:
        return False
    if not _warned_subinterpreter:
        _warned_subinterpreter = True
        warnings.warn("tiered: the JIT runs in the main interpreter only; it stays off in this "
                      "subinterpreter", RuntimeWarning, stacklevel=3)
    return True


def _stop_profiler():
    """At exit the profiler stops first (a late SIGPROF would otherwise end the process)."""
    if _promoter is not None:
        _promoter.stop()


def _after_fork_in_child():
    """The child of a fork keeps profiling (3.11's timer is not inherited)."""
    if _promoter is not None:
        _promoter.hook.after_fork_in_child()


os.register_at_fork(after_in_child=_after_fork_in_child)


def disable():
    """Stop profiling and put every original code object back."""
    global _promoter
    if _promoter is not None:
        _promoter.stop()
        _promoter = None
    loaded = sys.modules.get(f"{__name__}.runtime.manager")     # compiled through it, if anyone did
    if loaded is not None:
        loaded.restore_all()


def stats():
    """Plain data about every function tiered looked at (see README)."""
    return report.stats(manager.RECORDS if _load() else {})


def totals():
    """Process-wide counts, including functions that have died: compiled, installed, exits, refusals."""
    return report.totals(records.TOTALS if _load() else report.NO_COUNTS)


def jit(func):
    """Decorator: compile func at its first call, for the argument types of that call."""
    config.check_all(stacklevel=2)
    if config.get("TIERED_DISABLE"):
        return func
    if _off_in_subinterpreter():
        return func
    if not policy.supported():
        _warn_version()
        return func
    _configure_logging()
    return eager.compile_on_first_call(func)


def _configure_logging():
    """Attach a stderr handler to the 'tiered' logger at the TIERED_LOG level, unless it is off
    (the runtime, which loads logging, made that logger quiet: runtime/records.py)."""
    import logging                 # start-up time: only once the runtime is loaded, which logs
    level = config.get("TIERED_LOG")
    logger = records.log
    if level != "off" and not any(getattr(h, "tiered_own", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.tiered_own = True
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO if level == "info" else logging.DEBUG)
