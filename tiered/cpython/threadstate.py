"""Base layer: the running thread state → where it keeps its trace and profile objects, and the word counting other monitoring tools.

The trace and profile objects are found at import by setting them and looking.  OTHER_TOOLS
is the one word native entries read to learn that another sys.monitoring tool is registered
(the runtime keeps it up to date, runtime/tracing.py).
"""
import ctypes
import sys

_get_tstate = ctypes.pythonapi.PyThreadState_Get
_get_tstate.restype = ctypes.c_void_p
OTHER_TOOLS = ctypes.c_int64(0)          # sys.monitoring tools registered besides tiered
OTHER_TOOLS_ADDRESS = ctypes.addressof(OTHER_TOOLS)


def _find_offset(install, remove):
    """Offset of the thread-state word that holds the object given to `install`, or None."""
    ts = _get_tstate()
    words = lambda: [ctypes.c_void_p.from_address(ts + k).value for k in range(0, 1024, 8)]  # noqa: E731

    def probe(*args):
        return None
    before = words()
    install(probe)
    try:
        after = words()
    finally:
        remove()
    hits = [8 * k for k, (b, a) in enumerate(zip(before, after)) if a == id(probe) and b != a]
    return hits[0] if len(hits) == 1 else None


def _offsets():
    """(trace object offset, profile object offset) in PyThreadState, or None if not found."""
    old_trace, old_profile = sys.gettrace(), sys.getprofile()
    if old_trace is not None or old_profile is not None:
        return None                       # a tool is already active: do not disturb it
    t = _find_offset(sys.settrace, lambda: sys.settrace(None))
    p = _find_offset(sys.setprofile, lambda: sys.setprofile(None))
    return (t, p) if t is not None and p is not None else None


TRACE_OFFSETS = _offsets()
