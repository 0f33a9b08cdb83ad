"""Base layer, frame push (3.12): V.FRAME_PUSH's offsets, checked on live objects → the layout a native caller uses to run a Python function's frame itself, or None."""
import builtins
import ctypes
import dis
import sys

from . import V, capi
from .frames import FRAMES

CO_OPTIMIZED = 0x1
# a code object whose calls bind more than positional arguments, or make a generator or a
# coroutine: called through PyObject_Vectorcall
CO_NOT_PLAIN = 0x4 | 0x8 | 0x20 | 0x80 | 0x100 | 0x200


def _i32(address):
    """The int at an address."""
    return ctypes.c_int32.from_address(address).value


def _word(address):
    """The pointer-sized word at an address."""
    return ctypes.c_void_p.from_address(address).value or 0


def _names(address):
    """The tuple a pointer at an address points to, or None (not a tuple there)."""
    pointer = _word(address)
    if not pointer or _word(pointer + capi.OB_TYPE) != id(tuple):
        return None
    return ctypes.cast(pointer, ctypes.py_object).value


def _probe_function(a, b):
    """A plain function whose code and function object the probe reads (two arguments, one local)."""
    c = a
    return c, b


def _layout():
    """V.FRAME_PUSH when every offset reads what it should on this process's objects: a
    function, its code, the thread state and a running frame (the top of the frame stack)."""
    p = V.FRAME_PUSH
    if p is None or FRAMES is None:
        return None
    f, code = _probe_function, _probe_function.__code__
    get_ts = ctypes.pythonapi.PyThreadState_Get
    get_ts.restype = ctypes.c_void_p
    get_interp = ctypes.pythonapi.PyThreadState_GetInterpreter
    get_interp.restype, get_interp.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
    ts = get_ts()
    nlocalsplus = len(code.co_varnames) + len(code.co_cellvars) + len(code.co_freevars)
    checks = [
        _word(id(f) + p["func_code"]) == id(code), _word(id(f) + p["func_globals"]) == id(f.__globals__),
        _word(id(f) + p["func_builtins"]) == id(builtins.__dict__),
        _word(id(f) + p["func_vectorcall"]) == capi.function_address("_PyFunction_Vectorcall"),
        _i32(id(code) + p["co_flags"]) == code.co_flags, _i32(id(code) + p["co_argcount"]) == code.co_argcount,
        _i32(id(code) + p["co_kwonlyargcount"]) == code.co_kwonlyargcount,
        _i32(id(code) + p["co_stacksize"]) == code.co_stacksize,
        _i32(id(code) + p["co_nlocalsplus"]) == nlocalsplus,
        _i32(id(code) + p["co_framesize"]) == nlocalsplus + code.co_stacksize + p["frame_specials"],
        _word(ts + p["ts_interp"]) == get_interp(ts),
        _names(id(code) + p["co_localsplusnames"]) == code.co_varnames,
        _cells_read(p),
    ]
    return p if all(checks) and _frame_checks(p, ts) else None


def _outer(x):
    """A function with a cell (x) and an inner one with a free variable: the counts' probe."""
    def inner():
        return x
    return inner


def _cells_read(p):
    """Whether co_ncellvars and co_nfreevars read a code object's counts of cells and free variables."""
    outer, inner = _outer.__code__, _outer(1).__code__
    return all(_i32(id(c) + p["co_ncellvars"]) == len(c.co_cellvars)
               and _i32(id(c) + p["co_nfreevars"]) == len(c.co_freevars) for c in (outer, inner))


def _frame_checks(p, ts):
    """Whether the frame offsets read this function's running frame: its code, function,
    globals, builtins, first locals, owner; and whether it is the top of the thread's frame
    stack, which ends where the thread state's datastack_top says."""
    here = sys._getframe()
    iframe = _word(id(here) + FRAMES[0])
    code = here.f_code
    # read by ctypes alone: a Python function called now would push its frame above this one
    top = ctypes.c_void_p.from_address(ts + p["ts_datastack_top"]).value or 0
    limit = ctypes.c_void_p.from_address(ts + p["ts_datastack_limit"]).value or 0
    size = _i32(id(code) + p["co_framesize"])
    return all([
        _word(iframe + p["f_code"]) == id(code), _word(iframe + p["f_funcobj"]) == id(_frame_checks),
        _word(iframe + p["f_globals"]) == id(globals()), _word(iframe + p["f_builtins"]) == id(builtins.__dict__),
        _word(iframe + p["f_localsplus"]) == id(p), _word(iframe + p["f_localsplus"] + 8) == id(ts),
        _word(iframe + p["f_locals"]) == 0,
        _word(iframe + p["f_previous"]) == _word(id(here.f_back) + FRAMES[0]),
        ctypes.c_int8.from_address(iframe + p["f_owner"]).value == 0,       # owned by the thread
        iframe < top <= limit, top == iframe + 8 * size,
    ])


LAYOUT = _layout()      # V.FRAME_PUSH, checked; None: calls go through PyObject_Vectorcall


def _extra_index():
    """The index of tiered's word in every code object's co_extra (_PyEval_RequestCodeExtraIndex),
    checked: a word set through _PyCode_SetExtra reads back at LAYOUT's co_extra; else None."""
    request = _api("PyUnstable_Eval_RequestCodeExtraIndex", "_PyEval_RequestCodeExtraIndex")
    if LAYOUT is None or request is None or _SET_EXTRA is None:
        return None
    request.restype, request.argtypes = ctypes.c_ssize_t, [ctypes.c_void_p]
    index = request(None)
    if index < 0:
        return None
    probe = _outer.__code__.replace()            # a code object of its own, dropped after
    marker = ctypes.c_uint64(0)
    if _SET_EXTRA(probe, index, ctypes.addressof(marker)) != 0:
        return None
    extra = _word(id(probe) + LAYOUT["co_extra"])
    found = extra and ctypes.c_ssize_t.from_address(extra).value > index and \
        _word(extra + 8 + 8 * index) == ctypes.addressof(marker)
    _SET_EXTRA(probe, index, None)
    return index if found else None


def _api(*names):
    """The first of these C-API functions this Python exports (3.12 renamed the unstable ones), or None."""
    for name in names:
        try:
            return getattr(ctypes.pythonapi, name)
        except AttributeError:
            pass
    return None


_SET_EXTRA = _api("PyUnstable_Code_SetExtra", "_PyCode_SetExtra")
if _SET_EXTRA is not None:
    _SET_EXTRA.restype, _SET_EXTRA.argtypes = ctypes.c_int, [ctypes.py_object, ctypes.c_ssize_t, ctypes.c_void_p]
def set_native_entry(code, block):
    """Point code's co_extra word at `block` (a ctypes array that the code itself keeps alive:
    its native entry, then the byte offset where the interpreter resumes after the entry's
    call in the prologue); a native caller that pushes code's frame then runs the entry itself.
    None: no longer (the interpreter runs the code's prologue)."""
    if EXTRA_INDEX is not None:
        _SET_EXTRA(code, EXTRA_INDEX, None if block is None else ctypes.addressof(block))


def drop_native_entry(code, block):
    """Clear code's co_extra word if it still points at block (set_native_entry)."""
    if native_entry_of(code) == ctypes.addressof(block):
        set_native_entry(code, None)


def dropper(code, block):
    """A weakref callback doing drop_native_entry(code, block), with what it uses bound now
    (it may run while the interpreter shuts down and modules lose their names)."""
    if EXTRA_INDEX is None:
        return None
    where = ctypes.c_void_p.from_address(id(code) + LAYOUT["co_extra"])   # the code lives as long
    index, address, set_extra = EXTRA_INDEX, ctypes.addressof(block), _SET_EXTRA
    ssize, voidp = ctypes.c_ssize_t, ctypes.c_void_p

    def drop(_):
        """The function died: clear code's word if it still points at block."""
        extra = where.value
        if extra and ssize.from_address(extra).value > index and \
                voidp.from_address(extra + 8 + 8 * index).value == address:
            set_extra(code, index, None)
    return drop


FRAME_OWNED_BY_CSTACK = 3
_CACHE = dis.opmap.get("CACHE", 0)      # the shim frame the interpreter's entry puts below what it runs


def caller_site(frame):
    """(address of the code, opcode of the instruction) where the nearest Python frame below a
    frame object's stands, read in place (f_back would make a frame object for it), or (0, 0)."""
    if LAYOUT is None or FRAMES is None:
        return 0, 0
    at = _word(id(frame) + FRAMES[0])
    for _ in range(4):
        at = _word(at + LAYOUT["f_previous"]) if at else 0
        if not at:
            return 0, 0
        if ctypes.c_int8.from_address(at + LAYOUT["f_owner"]).value != FRAME_OWNED_BY_CSTACK:
            return _word(at + LAYOUT["f_code"]), _opcode_at(_word(at + FRAMES[1]))
    return 0, 0


def _opcode_at(instr):
    """The opcode of the call instruction a frame stands at: native code points the frame at the
    instruction, the interpreter at its last inline cache entry (whose bytes are cache data);
    the opcode found at either place, preferring a call's, or 0."""
    if not instr:
        return 0
    here = ctypes.c_uint8.from_address(instr).value
    if here in CALL_OPCODES:
        return here
    return ctypes.c_uint8.from_address(instr - 2 * _CALL_CACHES).value


_OPCODES = getattr(dis, "_all_opmap", dis.opmap)     # 3.12: the specialised forms too
# a call instruction, in any of its forms (a frame standing elsewhere called out through a slot:
# a comparison, an attribute, an iterator)
CALL_OPCODES = frozenset(v for n, v in _OPCODES.items()
                         if n in ("CALL", "INSTRUMENTED_CALL") or n.startswith("CALL_PY_")
                         or n == "CALL_BOUND_METHOD_EXACT_ARGS")
def _call_caches():
    """How many inline cache units follow CALL (0 when this Python does not say)."""
    try:
        return int(dis._inline_cache_entries[dis.opmap["CALL"]])
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):
        return 0


_CALL_CACHES = _call_caches()


def native_entry_of(code):
    """The address code's co_extra word points at (set_native_entry), or 0."""
    if EXTRA_INDEX is None:
        return 0
    extra = _word(id(code) + LAYOUT["co_extra"])
    if not extra or ctypes.c_ssize_t.from_address(extra).value <= EXTRA_INDEX:
        return 0
    return _word(extra + 8 + 8 * EXTRA_INDEX)


EXTRA_INDEX = _extra_index()   # co_extra word that points at an installed code's native entry, or None
