"""Runtime tracer detection: debuggers, profilers and coverage tools in use → a word native entries check.

While a trace or profile function is set (pdb, coverage's tracers, cProfile on 3.11, anything
calling sys.settrace/sys.setprofile or PyEval_SetTrace/SetProfile), or another sys.monitoring
tool is registered (3.12: cProfile, coverage's sysmon core), compiled functions run in the
interpreter so the tool sees every line and call.  The thread state's trace and profile
objects are found at import by setting them and looking; the monitoring tools are counted
by wrapping sys.monitoring.use_tool_id / free_tool_id (C users call them by name too).
"""
import ctypes
import sys

_get_tstate = ctypes.pythonapi.PyThreadState_Get
_get_tstate.restype = ctypes.c_void_p
OWN_TOOL = 5                             # sys.monitoring.OPTIMIZER_ID, tiered's profiler
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


OFFSETS = _offsets()
_watching = False


def watch_monitoring(own_tool=OWN_TOOL):
    """3.12+: count the other sys.monitoring tools in OTHER_TOOLS (once per process)."""
    global _watching
    mon = getattr(sys, "monitoring", None)
    if mon is None or _watching:
        return
    _watching = True
    use, free = mon.use_tool_id, mon.free_tool_id
    OTHER_TOOLS.value = sum(1 for i in range(6) if i != own_tool and mon.get_tool(i) is not None)

    def use_tool_id(tool_id, name):
        """sys.monitoring.use_tool_id wrapper that counts another tool in OTHER_TOOLS."""
        use(tool_id, name)
        if tool_id != own_tool:
            OTHER_TOOLS.value += 1

    def free_tool_id(tool_id):
        """sys.monitoring.free_tool_id wrapper that uncounts another tool that was in use."""
        was = mon.get_tool(tool_id) is not None
        free(tool_id)
        if tool_id != own_tool and was:
            OTHER_TOOLS.value -= 1
    mon.use_tool_id, mon.free_tool_id = use_tool_id, free_tool_id


def traced():
    """True when this thread has a trace or profile function, or another monitoring tool is in use."""
    return sys.gettrace() is not None or sys.getprofile() is not None or OTHER_TOOLS.value > 0
