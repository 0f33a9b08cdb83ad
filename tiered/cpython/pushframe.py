"""Base layer, frame push (3.12): V.FRAME_PUSH's offsets, checked on live objects → the layout a native caller uses to run a Python function's frame itself, or None."""
import builtins
import ctypes
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
    ]
    return p if all(checks) and _frame_checks(p, ts) else None


def _frame_checks(p, ts):
    """Whether the frame offsets read this function's running frame: its code, function,
    globals, builtins, first locals, owner; and whether it is the top of the thread's frame
    stack, which ends where the thread state's datastack_top says."""
    here = sys._getframe()
    iframe = _word(id(here) + FRAMES[0])
    code = here.f_code
    me = _layout_function()
    # read by ctypes alone: a Python function called now would push its frame above this one
    top = ctypes.c_void_p.from_address(ts + p["ts_datastack_top"]).value or 0
    limit = ctypes.c_void_p.from_address(ts + p["ts_datastack_limit"]).value or 0
    size = _i32(id(code) + p["co_framesize"])
    return all([
        _word(iframe + p["f_code"]) == id(code), _word(iframe + p["f_funcobj"]) == id(me),
        _word(iframe + p["f_globals"]) == id(globals()), _word(iframe + p["f_builtins"]) == id(builtins.__dict__),
        _word(iframe + p["f_localsplus"]) == id(p), _word(iframe + p["f_localsplus"] + 8) == id(ts),
        _word(iframe + p["f_locals"]) == 0,
        ctypes.c_int8.from_address(iframe + p["f_owner"]).value == 0,       # owned by the thread
        iframe < top <= limit, top == iframe + 8 * size,
    ])


def _layout_function():
    """The function object _frame_checks runs as (its frame's f_funcobj)."""
    return _frame_checks


LAYOUT = _layout()      # V.FRAME_PUSH, checked; None: calls go through PyObject_Vectorcall
