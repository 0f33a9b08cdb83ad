"""Object tier: what frames, tracers and warnings see while compiled code calls out."""
import sys
import warnings

import pytest

from tiered.runtime import manager
from tests.support import Exit, check, exits_of, fresh_copy, forced_exits

pytestmark = pytest.mark.usefixtures("object_tier")


def sets_tracer(f):
    sys.settrace(f)
    sys._getframe(1).f_trace = f


def traced_after_call(n):
    sets_tracer(tracer)
    a = n + 1
    b = a * 2
    sys.settrace(None)
    return b


EVENTS = []


def tracer(frame, event, arg):
    if frame.f_code.co_name == "traced_after_call":
        EVENTS.append((event, frame.f_lineno - frame.f_code.co_firstlineno))
    return tracer


def test_a_tracer_set_by_a_callee_sees_the_rest_of_the_function():
    EVENTS.clear()
    traced_after_call(1)
    expected = list(EVENTS)
    EVENTS.clear()
    rec = check(traced_after_call, (1,))          # runs it in CPython, then compiled
    assert expected and EVENTS == expected * 2, (EVENTS, expected)
    if not forced_exits():
        assert exits_of(rec, Exit.TRACED) == 1


def caller_line():
    f = sys._getframe(1)
    return f.f_code.co_name, f.f_lineno - f.f_code.co_firstlineno


def reports_lines(n):
    a = caller_line()
    total = 0
    for i in range(n):
        total += caller_line()[1]
    b = [caller_line(), caller_line()]
    return a, total, b


def test_the_caller_frame_shows_its_line_while_native_code_calls_out():
    check(reports_lines, (3,))


def warns(n):
    with_line = n + 1
    warnings.warn("careful", UserWarning, 1)
    return with_line


def test_warning_location_from_a_compiled_function():
    with warnings.catch_warnings(record=True) as plain:
        warnings.simplefilter("always")
        warns(1)
    g = fresh_copy(warns)
    manager.record_for(g).eager = True
    assert manager.compile_for(g, (int,)) is not None
    before = manager.record_for(g).native_calls
    with warnings.catch_warnings(record=True) as jit:
        warnings.simplefilter("always")
        g(1)
    assert manager.record_for(g).native_calls > before
    assert [(w.filename, w.lineno) for w in jit] == [(w.filename, w.lineno) for w in plain]


class Announcer:
    """An object whose destructor prints the line its caller's frame is at."""

    def __del__(self):
        caller = sys._getframe(1)
        print("freed at", caller.f_code.co_name, caller.f_lineno)


def drops_in_a_loop(n):
    held = [Announcer()]
    for i in range(n):
        x = Announcer()                          # the previous one dies here
        held[0] = x                              # and the one held before it here
    return held                                  # (the last one lives on: see Known limits)


def test_a_destructor_run_by_native_code_sees_cpythons_line():
    rec = check(drops_in_a_loop, (3,), (0,))
    assert "decref" in rec.specs[0].ops or "xdecref" in rec.specs[0].ops
