"""3.11: the trace function an exit puts in front of the thread's drops one line event and gives the thread's back."""
import ctypes
import dis
import sys

import pytest

from tiered.runtime import lineskip

pytestmark = pytest.mark.skipif(not lineskip.ACTIVE, reason="3.11 only (3.12's stubs make no event)")


def _lines(a):
    x = a + 1
    for i in range(a):
        x += i
    return x


def test_quiet_offsets_are_mid_line_and_no_jump_lands_there():
    ins = [i for i in dis.get_instructions(_lines.__code__) if i.opname != "EXTENDED_ARG"]
    quiet = lineskip.quiet_offsets(_lines.__code__)
    by_offset = {i.offset: i for i in ins}
    store_x = next(i for i in ins if i.opname == "STORE_FAST" and i.argval == "x")
    header = next(i for i in ins if i.opname == "FOR_ITER")
    assert store_x.offset in quiet                       # after `a + 1`, on its line
    assert header.offset not in quiet                    # the back edge lands there
    assert all(by_offset[o].positions.lineno is not None for o in quiet)
    starts = {i.offset for i in ins if i.starts_line}
    assert not quiet & starts - {header.offset}          # a line's first instruction is not quiet


def _callee():
    return 1


_get_tstate = ctypes.pythonapi.PyThreadState_Get
_get_tstate.restype = ctypes.c_void_p
_enter, _leave = ctypes.pythonapi.PyThreadState_EnterTracing, ctypes.pythonapi.PyThreadState_LeaveTracing
_enter.argtypes = _leave.argtypes = [ctypes.c_void_p]


def _run_after_exit(trace_lines, other_frame=None):
    """(sys.gettrace() after the exit's line, the tracer, [(event, line)] of this frame)."""
    events = []

    def tracer(frame, event, arg):
        if frame.f_code is _run_after_exit.__code__:
            events.append((event, frame.f_lineno - _run_after_exit.__code__.co_firstlineno))
        return tracer
    frame, ts = sys._getframe(), _get_tstate()
    sys.settrace(tracer)
    try:
        frame.f_trace, frame.f_trace_lines = tracer, trace_lines
        # as native code calls the exit helper: with the thread's tracing suspended
        _enter(ts); lineskip.after_exit(other_frame or frame, _run_after_exit.__code__, 0, True); _leave(ts)  # noqa
        now = sys.gettrace()                        # line 14: the line the stub's jump lands on
        _callee()                                   # line 15
    finally:
        sys.settrace(None)
        frame.f_trace = None
    return now, tracer, events


def _generator():
    yield 1


def test_the_frames_next_line_event_is_dropped_and_the_thread_gets_its_function_back():
    now, tracer, events = _run_after_exit(True)
    assert now is tracer
    assert ("line", 13) in events and ("line", 14) not in events and ("line", 15) in events


def test_an_event_of_another_frame_gives_the_function_back_and_reaches_the_tracer():
    g = _generator()
    next(g)
    now, tracer, events = _run_after_exit(True, g.gi_frame)
    assert now is tracer and ("line", 14) in events and ("line", 15) in events


def test_nothing_is_put_in_front_of_a_frame_that_traces_no_lines():
    before = sys.gettrace()
    now, tracer, events = _run_after_exit(False)
    assert now is tracer and events == [] and sys.gettrace() is before
