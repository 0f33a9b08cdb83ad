"""Base layer, frame layouts: running interpreter frames → where they keep their current instruction and globals (probed, or None)."""
import ctypes
import dis
import sys
import types


def _frame_layout():
    """Where a running frame keeps its current instruction, found on this very frame: the
    interpreter frame behind a frame object (f_frame), its prev_instr field, and where a code
    object's instructions start.  None when not found (compiled frames then report no line
    while native code calls out)."""
    get_frame = ctypes.pythonapi.PyEval_GetFrame
    get_frame.restype = ctypes.c_void_p
    frame = sys._getframe()
    if get_frame() != id(frame):
        return None
    code = frame.f_code
    start = type(code).__basicsize__               # co_code_adaptive follows the header
    if ctypes.string_at(id(code) + start, 16) != code._co_code_adaptive[:16]:
        return None
    iframe = ctypes.c_void_p.from_address(id(frame) + 24).value
    here = ctypes.c_void_p.from_address(iframe + 56).value - (id(code) + start)
    calls = [i.offset for i in dis.get_instructions(code) if i.opname == "CALL"]
    if not any(0 <= here - c < 16 for c in calls):
        return None
    return 24, 56, start


FRAMES = _frame_layout()     # (f_frame in a frame object, prev_instr in it, code start in a code)


def readable_ranges():
    """The readable address ranges of this process (Linux), to test a pointer before reading it."""
    try:
        with open("/proc/self/maps") as fh:
            rows = [line.split() for line in fh]
    except OSError:
        return []
    return [tuple(int(x, 16) for x in row[0].split("-")) for row in rows if row[1].startswith("r")]


def _frame_path_here(ranges):
    """Every (offset in the thread state, offset in what it points to) that leads to the
    interpreter frame running this very function."""
    get_ts = ctypes.pythonapi.PyThreadState_Get
    get_ts.restype = ctypes.c_void_p
    ts = get_ts()
    iframe = ctypes.c_void_p.from_address(id(sys._getframe()) + FRAMES[0]).value
    found = set()
    for c in range(0, 512, 8):
        p = ctypes.c_void_p.from_address(ts + c).value
        if p and p % 8 == 0 and any(lo <= p and p + 24 <= hi for lo, hi in ranges):
            found.update((c, k) for k in (0, 8, 16) if ctypes.c_void_p.from_address(p + k).value == iframe)
    return found


def _current_frame_path():
    """How to reach the running interpreter frame from the thread state without making a frame
    object (PyEval_GetFrame makes one for every new frame, and frees it with the frame): the
    offset of `cframe` in the thread state and of `current_frame` in it, found on frames at
    three depths and behind a call from C.  None when not found: PyEval_GetFrame is used."""
    if FRAMES is None:
        return None
    ranges = readable_ranges()

    def deeper():
        return _frame_path_here(ranges)

    paths = _frame_path_here(ranges) & deeper() & list(map(lambda _: deeper(), [0]))[0]
    return min(paths) if paths else None


CURRENT_FRAME = _current_frame_path()    # (cframe in a thread state, current_frame in it) or None


def _frame_globals_offset():
    """Where an interpreter frame keeps its globals dict, found on this very frame (None when
    not found: the native entry then cannot tell which globals its caller runs with)."""
    if FRAMES is None:
        return None
    iframe = ctypes.c_void_p.from_address(id(sys._getframe()) + FRAMES[0]).value
    found = [k for k in range(0, 80, 8) if ctypes.c_void_p.from_address(iframe + k).value == id(globals())]
    return found[0] if len(found) == 1 else None


FRAME_GLOBALS = _frame_globals_offset()   # f_globals in an interpreter frame, or None


def _frame_code_offset():
    """Where an interpreter frame keeps its code object, found on this very frame (None when not
    found: the native entry then cannot tell that its function's code was replaced)."""
    if FRAMES is None:
        return None
    iframe = ctypes.c_void_p.from_address(id(sys._getframe()) + FRAMES[0]).value
    code = sys._getframe().f_code
    found = [k for k in range(0, 80, 8) if ctypes.c_void_p.from_address(iframe + k).value == id(code)]
    return found[0] if len(found) == 1 else None


FRAME_CODE = _frame_code_offset()     # f_code in an interpreter frame, or None


def _frame_locals_layout():
    """Where an interpreter frame keeps its frame object and its first local, found on this
    very frame: (frame_obj offset, localsplus offset), or None when not found (compiled frames
    then keep no locals in their frame while native code runs)."""
    if FRAMES is None:
        return None
    marker_a, marker_b = object(), object()     # two locals in slots 0 and 1  # noqa: F841

    def probe(first, second):
        """The offsets, read from this function's own running frame (plain loops: on 3.11 a
        comprehension naming `first` would make it a cell)."""
        frame = sys._getframe()
        iframe = ctypes.c_void_p.from_address(id(frame) + FRAMES[0]).value
        words = [ctypes.c_void_p.from_address(iframe + k).value for k in range(0, 160, 8)]
        slots, objs = [], []
        for k in range(len(words) - 1):
            if words[k] == id(first) and words[k + 1] == id(second):
                slots.append(k * 8)
        for k in range(len(words)):     # the frame object is also in the local `frame`
            if words[k] == id(frame) and slots and k * 8 < slots[0]:
                objs.append(k * 8)
        return (objs[0], slots[0]) if len(objs) == 1 and len(slots) == 1 else None
    return probe(marker_a, marker_b)


FRAME_LOCALS = _frame_locals_layout()   # (frame_obj, localsplus) in an interpreter frame, or None
LOCALS = FRAME_LOCALS[1] if FRAME_LOCALS else None    # localsplus in an interpreter frame, or None
_CELL = types.CellType


def _frame_function_offset():
    """Where an interpreter frame keeps its function (f_func, f_funcobj), found on frames of two
    functions, or None."""
    if FRAMES is None:
        return None

    def holding(target):
        """The offsets in the caller's interpreter frame that hold target's address."""
        iframe = ctypes.c_void_p.from_address(id(sys._getframe(1)) + FRAMES[0]).value
        return {k for k in range(0, 72, 8) if ctypes.c_void_p.from_address(iframe + k).value == id(target)}

    def probe():
        return holding(probe)

    def other():
        return holding(other)
    found = probe() & other()
    return found.pop() if len(found) == 1 else None


FRAME_FUNCTION = _frame_function_offset()


def running_function(frame):
    """The function a running frame runs (read in place: a frame object does not say), or None."""
    if FRAME_FUNCTION is None:
        return None
    iframe = ctypes.c_void_p.from_address(id(frame) + FRAMES[0]).value
    address = ctypes.c_void_p.from_address(iframe + FRAME_FUNCTION).value if iframe else None
    func = ctypes.cast(address, ctypes.py_object).value if address else None
    return func if type(func) is types.FunctionType and func.__code__ is frame.f_code else None


def first_locals(frame, n):
    """The values of a running frame's first n locals (a cell's contents), read in place:
    frame.f_locals would copy every local into a dict the frame keeps (it holds them after a
    `del`, and it is the very dict a later locals() returns).  None if one is unbound, or if the
    frame cannot be read."""
    if LOCALS is None:
        return None
    base = ctypes.c_void_p.from_address(id(frame) + FRAMES[0]).value + LOCALS
    out = []
    for k in range(n):
        address = ctypes.c_void_p.from_address(base + 8 * k).value
        if not address:
            return None
        value = ctypes.cast(address, ctypes.py_object).value
        if type(value) is _CELL and frame.f_code.co_varnames[k] in frame.f_code.co_cellvars:
            try:
                value = value.cell_contents
            except ValueError:
                return None
        out.append(value)
    return out
