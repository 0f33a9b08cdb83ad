"""Base layer: the running thread and interpreter state → where they keep the trace and profile objects, the monitoring tools, the recursion counts.

Each place is found at import by changing it and looking.  Where the interpreter keeps the
monitoring tool names cannot be found, OTHER_TOOLS is the word native entries read instead
(the runtime counts the other tools into it, runtime/tracing.py).
"""
import ctypes
import sys

from .frames import readable_ranges

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


def _trace_function_offset():
    """Offset of the thread state's trace function (c_tracefunc: two words before the trace
    object, past the profile object), checked by setting a tracer; None if not found."""
    if TRACE_OFFSETS is None or TRACE_OFFSETS[0] < 16:
        return None
    ts, at = _get_tstate(), TRACE_OFFSETS[0] - 16
    read = lambda: ctypes.c_void_p.from_address(ts + at).value  # noqa: E731
    before = read()
    sys.settrace(lambda *a: None)
    try:
        during = read()
    finally:
        sys.settrace(None)
    return at if before is None and during and read() is None else None


TRACE_FUNCTION = _trace_function_offset()


def _tool_names_offset():
    """3.12+: the offset of monitoring_tool_names[] in the interpreter state (a registered
    sys.monitoring tool has its name there), found by registering a tool with a fresh name and
    looking for it; None when not found or on 3.11 (no sys.monitoring)."""
    mon = getattr(sys, "monitoring", None)
    if mon is None:
        return None
    probe_id = next((i for i in range(5, -1, -1) if mon.get_tool(i) is None), None)
    if probe_id is None:
        return None
    interp = INTERPRETER
    span = next((hi - interp for lo, hi in readable_ranges() if lo <= interp < hi), 0)
    n = min(span, 1 << 21) // 8
    if n == 0:
        return None
    name = "tiered-probe-" + hex(id(object()))
    # the memory as bytes, searched with find (as lists of words it cost every start-up ~5 ms)
    before = ctypes.string_at(interp, 8 * n)
    mon.use_tool_id(probe_id, name)
    try:
        after = ctypes.string_at(interp, 8 * n)
    finally:
        mon.free_tool_id(probe_id)
    word = id(name).to_bytes(8, sys.byteorder)
    key = word.strip(b"\0")          # without its zero bytes: find skips 20 times faster
    hits, at = [], after.find(key)
    while at >= 0:
        k = at - word.index(key)       # the word that holds this match
        if k % 8 == 0 and after[k:k + 8] == word and before[k:k + 8] != word:
            hits.append(k)
        at = after.find(key, at + 1)
    return hits[0] - 8 * probe_id if len(hits) == 1 else None


_get_interp = ctypes.pythonapi.PyInterpreterState_Get
_get_interp.restype = ctypes.c_void_p
INTERPRETER = _get_interp()                 # the main interpreter's state (tiered runs there only)
TOOL_NAMES = _tool_names_offset()           # monitoring_tool_names[] in it (3.12+), or None
TOOL_COUNT = 6                              # sys.monitoring tool ids 0-5


OWN_TOOL = 5                                # sys.monitoring.OPTIMIZER_ID: tiered's profiler


def other_tool_words():
    """The words native code ORs to learn that another sys.monitoring tool is registered: the
    other tools' name slots in the interpreter (non-NULL: registered), where they were found;
    else OTHER_TOOLS, the count the runtime keeps by wrapping sys.monitoring.use_tool_id."""
    if TOOL_NAMES is None:
        return [OTHER_TOOLS_ADDRESS]
    return [INTERPRETER + TOOL_NAMES + 8 * i for i in range(TOOL_COUNT) if i != OWN_TOOL]


def _recursion_remaining_offset():
    """Offset of the thread state's count of Python frames still allowed before RecursionError
    (3.11 recursion_remaining, 3.12 py_recursion_remaining: an int32 that each Python frame
    decrements), found by reading the thread state at three depths; None if not found."""
    def words():
        return list((ctypes.c_int32 * 256).from_address(_get_tstate()))

    def at(depth):
        return words() if depth == 0 else at(depth - 1)
    a, b, c = at(0), at(5), at(11)
    hits = [4 * k for k in range(256) if a[k] - b[k] == 5 and a[k] - c[k] == 11
            and 0 < a[k] <= sys.getrecursionlimit()]
    return hits[0] if len(hits) == 1 else None


RECURSION_REMAINING = _recursion_remaining_offset()
# native code recursing past its C stack allowance or the recursion limit sets these for its
# thread: calls of compiled code deeper than that run in the interpreter (tstate, remaining)
DEEP = (ctypes.c_int64 * 2)()
DEEP_ADDRESS = ctypes.addressof(DEEP)
# the thread whose chain of native code (through generic calls too) uses the C stack now, and
# the lowest stack address that chain may reach (one thread at a time: another thread's entry
# takes it over, and a chain that starts above the recorded one starts afresh)
CHAIN = (ctypes.c_int64 * 2)()
CHAIN_ADDRESS = ctypes.addressof(CHAIN)


def _c_recursion_remaining_offset():
    """3.12+: offset of the thread state's count of C-level recursions still allowed
    (c_recursion_remaining: each interpreter entered from C code takes some, Python-to-Python
    calls none), found by nesting Python calls through a C function; None on 3.11 (one count
    for both) or when not found."""
    def words():
        return list((ctypes.c_int32 * 256).from_address(_get_tstate()))

    def python_at(k):
        return words() if k == 0 else python_at(k - 1)

    def c_at(k, out):
        if k == 0:
            out.append(words())
        else:
            list(map(c_at, [k - 1], [out]))
    base, py = words(), python_at(6)
    out = []
    c_at(6, out)
    hits = [4 * i for i in range(256) if 4 * i != RECURSION_REMAINING and base[i] == py[i]
            and 6 <= base[i] - out[0][i] <= 24 and 0 < base[i] <= 1 << 20]
    return hits[0] if len(hits) == 1 else None


C_RECURSION_REMAINING = _c_recursion_remaining_offset()
