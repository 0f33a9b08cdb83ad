"""Runtime, 3.11: an exit resuming mid-line while a tracer is active → the one line event CPython would not send, swallowed.

A tracer that a callee sets on its compiled caller (`sys.settrace` and `f_back.f_trace`, as
pdb.set_trace() does) is active when the installed code's stub resumes the caller.  The stub's
instructions carry no line, and 3.11 sends a `line` event whenever an instruction's line differs
from the line of the one run before it (maybe_call_line_trace), so the resume instruction gets
one although CPython, coming from the call on that same line, sends none.  3.11 has no place
where an instruction could carry the line unseen (before RESUME counts as no line; 3.12's stubs
use that place: install.py).  So the exit puts a trace function of its own in front of the
thread's: it drops the stub's `opcode` events and that frame's first `line` event, and gives the
thread its own trace function back at the first event that is not a stub's `opcode` event,
passing that event on unless it is the dropped line.  Nothing else runs in between (the stub
runs no Python code; a destructor a stub's store runs makes a `call` event first, which puts
the thread's function back).
"""
import ctypes
import dis
import struct
import sys

from ..cpython import capi, threadstate
from ..weaktable import WeakTable
from .markers import STATES

ACTIVE = sys.version_info[:2] == (3, 11) and threadstate.TRACE_FUNCTION is not None
_LINE, _OPCODE = 2, 7              # PyTrace_LINE, PyTrace_OPCODE

# the trace function: its object is a bytes of five words (the thread's trace function and
# object, the frame, where the thread state keeps the two); it names no address of the process
_IR = f"""
declare ptr @PyThreadState_Get()
declare void @Py_DecRef(ptr)

define i32 @tiered_skip_line(ptr %state, ptr %frame, i32 %what, ptr %arg) {{
entry:
  %w = getelementptr i8, ptr %state, i64 {capi.BYTES_DATA}
  %func = load ptr, ptr %w
  %w1 = getelementptr i64, ptr %w, i64 1
  %saved = load ptr, ptr %w1
  %w2 = getelementptr i64, ptr %w, i64 2
  %target = load ptr, ptr %w2
  %w3 = getelementptr i64, ptr %w, i64 3
  %funcoff = load i64, ptr %w3
  %w4 = getelementptr i64, ptr %w, i64 4
  %objoff = load i64, ptr %w4
  %ts = call ptr @PyThreadState_Get()
  %objslot = getelementptr i8, ptr %ts, i64 %objoff
  %now = load ptr, ptr %objslot
  %mine = icmp eq ptr %frame, %target
  %installed = icmp eq ptr %now, %state
  br i1 %installed, label %in, label %forward
in:
  %op = icmp eq i32 %what, {_OPCODE}
  %stub = and i1 %mine, %op
  br i1 %stub, label %quiet, label %restore
restore:
  ; the thread's own function and object back (the object's reference was the thread's), and
  ; the thread's reference to this one dropped (the runtime holds another: the interpreter
  ; calls this function once more with it, for the resume instruction's opcode event)
  %funcslot = getelementptr i8, ptr %ts, i64 %funcoff
  store ptr %func, ptr %funcslot
  store ptr %saved, ptr %objslot
  call void @Py_DecRef(ptr %state)
  %line = icmp eq i32 %what, {_LINE}
  %drop = and i1 %mine, %line
  br i1 %drop, label %quiet, label %forward
forward:
  %r = call i32 %func(ptr %saved, ptr %frame, i32 %what, ptr %arg)
  ret i32 %r
quiet:
  ret i32 0
}}
"""
_compiled = []                    # the trace function's module, compiled at the first need
_QUIET = WeakTable()              # code -> offsets CPython reaches from the same line, quietly
_ENDS = {"JUMP_FORWARD", "JUMP_BACKWARD", "JUMP_BACKWARD_NO_INTERRUPT", "RETURN_VALUE",
         "RAISE_VARARGS", "RERAISE"}
_get_tstate = ctypes.pythonapi.PyThreadState_Get
_get_tstate.restype = ctypes.c_void_p
_incref = ctypes.pythonapi.Py_IncRef
_incref.argtypes = [ctypes.py_object]


def quiet_offsets(code):
    """Offsets of code's instructions that CPython 3.11 only reaches from the instruction before
    them, on the same line (no jump or handler lands there, the one before falls through):
    coming from it, it sends no line event there."""
    got = _QUIET.get(code)
    if got is None:
        got, prev = set(), None
        for i in dis.get_instructions(code):
            if i.opname == "EXTENDED_ARG":
                continue
            if (prev is not None and not i.is_jump_target and prev.opname not in _ENDS
                    and i.positions.lineno is not None and i.positions.lineno == prev.positions.lineno):
                got.add(i.offset)
            prev = i
        got = frozenset(got)
        _QUIET[code] = got
    return got


def _function():
    """The address of tiered_skip_line, compiled once."""
    if not _compiled:
        from ..compiler import engine      # loaded with the first compile, which came before
        _compiled.append(engine.compile_module(_IR, ["tiered_skip_line"], helpers=False))
    return _compiled[0]["tiered_skip_line"]


def after_exit(frame, code, offset, raises):
    """An exit of `frame`'s native code resumes at `offset` of its original `code` (raises: it
    raises there): while a
    tracer is active and the frame traces lines, drop the line event CPython would not send
    there.  Called with the thread's tracing suspended (the exit helper's), never raises (at
    worst the event is sent)."""
    try:
        if not (sys.gettrace() is not None and frame.f_trace_lines
                and (raises or offset in quiet_offsets(code))):
            return
        ts, func_at, obj_at = _get_tstate(), threadstate.TRACE_FUNCTION, threadstate.TRACE_OFFSETS[0]
        func = ctypes.c_void_p.from_address(ts + func_at).value
        obj = ctypes.c_void_p.from_address(ts + obj_at).value
        if not func or not obj:
            return
        state = struct.pack("5Q", func, obj, id(frame), func_at, obj_at)
        address = _function()
        # both words at once, the words between as they are: a trace event in between would
        # call one's function with the other's object (exits run with tracing suspended)
        span = ctypes.create_string_buffer(ctypes.string_at(ts + func_at, obj_at + 8 - func_at))
        ctypes.c_void_p.from_buffer(span, 0).value = address
        ctypes.c_void_p.from_buffer(span, obj_at - func_at).value = id(state)
        STATES.skip = state           # the runtime's reference (see the IR's restore)
        _incref(state)                # the thread's
        ctypes.memmove(ts + func_at, span, obj_at + 8 - func_at)
    except Exception:                 # noqa: BLE001 - the event is sent, as before
        pass
