"""Runtime tracer detection: debuggers, profilers and coverage tools in use → a word native entries check.

While a trace or profile function is set (pdb, coverage's tracers, cProfile on 3.11, anything
calling sys.settrace/sys.setprofile or PyEval_SetTrace/SetProfile), or another sys.monitoring
tool is registered (3.12: cProfile, coverage's sysmon core), compiled functions run in the
interpreter so the tool sees every line and call.  The thread state's trace and profile
objects' places, and the interpreter's slots for the monitoring tools' names, are base-layer
facts (cpython/threadstate.py) that native code reads; only where those slots were not found
are the tools counted by wrapping sys.monitoring.use_tool_id / free_tool_id.
"""
import sys

from ..cpython.threadstate import OTHER_TOOLS, OWN_TOOL, TOOL_NAMES  # noqa: F401 - OWN_TOOL: the profiler's

_watching = False


def watch_monitoring(own_tool=OWN_TOOL):
    """3.12+, where the interpreter's tool names were not found: count the other sys.monitoring
    tools in OTHER_TOOLS by wrapping use_tool_id/free_tool_id (once per process).  Where they
    were found, native code reads them and nothing of the program's is replaced."""
    global _watching
    mon = getattr(sys, "monitoring", None)
    if mon is None or _watching or TOOL_NAMES is not None:
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
    mon = getattr(sys, "monitoring", None)
    others = (any(mon.get_tool(i) is not None for i in range(6) if i != OWN_TOOL)
              if mon is not None and TOOL_NAMES is not None else OTHER_TOOLS.value > 0)
    return sys.gettrace() is not None or sys.getprofile() is not None or others
