"""Runtime tracer detection: debuggers, profilers and coverage tools in use → a word native entries check.

While a trace or profile function is set (pdb, coverage's tracers, cProfile on 3.11, anything
calling sys.settrace/sys.setprofile or PyEval_SetTrace/SetProfile), or another sys.monitoring
tool is registered (3.12: cProfile, coverage's sysmon core), compiled functions run in the
interpreter so the tool sees every line and call.  The thread state's trace and profile
objects' places are base-layer facts (cpython/threadstate.py); the monitoring tools are
counted by wrapping sys.monitoring.use_tool_id / free_tool_id (C users call them by name too).
"""
import sys

from ..cpython.threadstate import OTHER_TOOLS

OWN_TOOL = 5                             # sys.monitoring.OPTIMIZER_ID, tiered's profiler
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
