"""Tracers and profilers: while one is active, compiled functions run in the interpreter so it sees them."""
import sys

import pytest

import tiered
from tests.support import fresh_copy
from tiered.runtime import manager, tracing


def work(n):
    s = 0
    for i in range(n):
        s += i * 3 % 7
    return s


def compiled_copy():
    f = fresh_copy(work)
    manager.record_for(f).eager = True
    assert manager.compile_for(f, (int,)) is not None
    return f, manager.record_for(f)


def traced_lines(func, *args):
    """(result, [(event, line)] inside `work`) of one call under sys.settrace."""
    seen = []

    def tracer(frame, event, arg):
        if frame.f_code.co_name == "work":
            seen.append((event, frame.f_lineno))
        return tracer
    sys.settrace(tracer)
    try:
        result = func(*args)
    finally:
        sys.settrace(None)
    return result, seen


def test_settrace_sees_every_line_then_native_again():
    f, rec = compiled_copy()
    before = rec.native_calls
    expected = traced_lines(work, 5)
    assert traced_lines(f, 5) == expected and len(expected[1]) > 10
    assert rec.native_calls == before and rec.traced_calls == 1
    assert f(5) == work(5) and rec.native_calls == before + 1


def test_setprofile_sees_the_call():
    f, rec = compiled_copy()
    calls = []
    sys.setprofile(lambda frame, event, arg: calls.append((frame.f_code.co_name, event)))
    try:
        f(3)
    finally:
        sys.setprofile(None)
    assert ("work", "call") in calls and rec.traced_calls == 1
    # no Python frame of tiered's runs under the profiler: only the function itself is called
    assert [c for c in calls if c[1] == "call"] == [("work", "call")]


def test_cprofile_sees_the_function():
    import cProfile
    import pstats
    tracing.watch_monitoring()
    f, rec = compiled_copy()
    prof = cProfile.Profile()
    prof.enable()
    try:
        f(3)
    finally:
        prof.disable()
    names = {func[2] for func in pstats.Stats(prof).stats}
    assert "work" in names and rec.traced_calls == 1


@pytest.mark.skipif(not hasattr(sys, "monitoring"), reason="sys.monitoring is 3.12+")
def test_other_monitoring_tool_sends_calls_to_the_interpreter():
    tracing.watch_monitoring()
    f, rec = compiled_copy()
    mon = sys.monitoring
    mon.use_tool_id(mon.COVERAGE_ID, "test-tool")
    try:
        assert f(4) == work(4) and rec.traced_calls == 1
    finally:
        mon.free_tool_id(mon.COVERAGE_ID)
    before = rec.native_calls
    assert f(4) == work(4) and rec.native_calls == before + 1


@pytest.mark.skipif(not hasattr(sys, "monitoring"), reason="sys.monitoring is 3.12+")
def test_the_programs_monitoring_functions_are_cpythons_own():
    import types
    tiered.enable()
    try:
        mon = sys.monitoring
        # nothing of tiered's replaces them: native code reads the interpreter's tool slots
        assert isinstance(mon.use_tool_id, types.BuiltinFunctionType)
        assert isinstance(mon.free_tool_id, types.BuiltinFunctionType)
        f, rec = compiled_copy()
        for tool in (0, 1, 2, 3, 4):             # any other tool id sends calls to the interpreter
            mon.use_tool_id(tool, "test-tool")
            try:
                before = rec.traced_calls
                assert f(4) == work(4) and rec.traced_calls == before + 1
            finally:
                mon.free_tool_id(tool)
        before = rec.native_calls
        assert f(4) == work(4) and rec.native_calls == before + 1
        # tiered's own id (documented): CPython's error, raised by CPython, with no frame of ours
        with pytest.raises(ValueError) as info:
            mon.use_tool_id(mon.OPTIMIZER_ID, "mine")
        assert "tiered" not in "".join(__import__("traceback").format_tb(info.value.__traceback__))
    finally:
        tiered.disable()


def test_stats_report_traced_calls():
    f, rec = compiled_copy()
    sys.settrace(lambda *a: None)
    try:
        f(2)
    finally:
        sys.settrace(None)
    assert rec.traced_calls == 1
    assert any(v["traced_calls"] == 1 for v in tiered.stats().values())


def test_first_call_of_a_jit_function_under_a_tracer_shows_only_the_function():
    f = tiered.jit(fresh_copy(work))
    seen = []

    def tracer(frame, event, arg):
        seen.append((frame.f_code.co_name, event))
        return tracer
    sys.settrace(tracer)
    try:
        assert f(3) == work(3)
    finally:
        sys.settrace(None)
    assert {name for name, _ in seen} == {"work"} and ("work", "line") in seen
    assert manager.record_for(f).state == "profiling"        # not compiled under the tracer
    assert f(3) == work(3) and manager.record_for(f).state == "compiled"   # compiles; interpreted
    assert f(3) == work(3) and manager.record_for(f).native_calls == 1


OWN_MODULE = """
class Box:
    def __init__(self, x):
        self.x = x

def get(b):
    return b.x + ONE

ONE = 1
"""


def test_code_of_a_module_tiered_read_dies_unseen_by_the_tracer(object_tier):
    # compiling reads the globals every function of the module stores; the codes it scanned
    # then die inside the program, under its tracer: no Python code of tiered's may run there
    # (a WeakKeyDictionary's callback did: CPython's test_sys_settrace saw its call and return)
    import gc
    ns = {"__name__": "own_module"}
    exec(compile(OWN_MODULE, "<own_module>", "exec"), ns)
    for _ in range(3):
        ns["get"](ns["Box"](1))
    manager.record_for(ns["get"]).eager = True
    assert manager.compile_for(ns["get"], (ns["Box"],)) is not None
    assert ns["get"](ns["Box"](2)) == 3 and manager.record_for(ns["get"]).native_calls == 1
    seen = []

    def tracer(frame, event, arg):
        seen.append((frame.f_code.co_filename, frame.f_code.co_name, event))
        return tracer
    gc.collect()
    sys.settrace(tracer)
    try:
        ns.clear()                     # the module's functions and classes die here
        gc.collect()
    finally:
        sys.settrace(None)
    others = {cb.__code__.co_filename for cb in gc.callbacks if hasattr(cb, "__code__")}
    assert [e for e in seen if e[0] not in others] == []       # (hypothesis's gc callback runs)


def _set_trace_on_caller(tracer, opcodes=False, depth=1):
    sys.settrace(tracer)
    sys._getframe(depth).f_trace = tracer
    sys._getframe(depth).f_trace_opcodes = opcodes


def _set_trace_and_raise(tracer):
    _set_trace_on_caller(tracer, depth=2)
    raise KeyError("after the tracer")


class _Noisy:
    def __del__(self):
        self.gone = True


def _caller_same_line(tracer, box):
    _set_trace_on_caller(tracer); return box.x          # noqa: E702 - resumes mid-line


def _caller_opcodes(tracer, box):
    _set_trace_on_caller(tracer, True); return box.x    # noqa: E702 - and traces opcodes


def _caller_gettrace(tracer, box):
    _set_trace_on_caller(tracer); t = sys.gettrace(); return t is tracer, box.x    # noqa: E702


def _caller_next_lines(tracer, box):
    y = _set_trace_on_caller(tracer)
    y = box.x
    return y + 1


def _caller_raises(tracer, box):
    try:
        sorted([tracer], key=_set_trace_and_raise)     # raises into native code, traced
    except KeyError:
        return box.x


def _caller_destructor(tracer, box):
    old = _Noisy()
    old = _set_trace_on_caller(tracer)   # this store drops the _Noisy: its __del__ is traced
    return box.x, old


@pytest.mark.parametrize("caller", [_caller_same_line, _caller_opcodes, _caller_gettrace,
                                    _caller_next_lines, _caller_raises, _caller_destructor])
def test_tracer_a_callee_sets_sees_cpythons_events(object_tier, caller):
    # the exit after the call resumes mid-line, where CPython sends no `line` event
    # (CPython's test_sys_settrace test_08_settrace_and_return); 3.11 drops the one its stub
    # makes (runtime/lineskip.py), 3.12 makes none (install.py).  Opcode events are compared
    # as test_sys_settrace's TraceOpcodesTestCase does, left out (README: limits)
    class Box:
        def __init__(self):
            self.x = 7

    def run(f):
        events, opcodes = [], []

        def tracer(frame, event, arg):
            if frame.f_code.co_name in (f.__name__, "__del__"):
                (opcodes if event == "opcode" else events).append(
                    (frame.f_code.co_name, event, frame.f_lineno and frame.f_lineno - f.__code__.co_firstlineno))
            return tracer
        try:
            result = f(tracer, Box())
        finally:
            sys.settrace(None)
        return (result, events, sys.gettrace()), opcodes
    expected, cpython_opcodes = run(caller)
    f = fresh_copy(caller)
    for _ in range(3):
        f(lambda *a: None, Box())
        sys.settrace(None)
    rec = manager.record_for(f)
    rec.eager = True
    assert manager.compile_for(f, (type(run), Box)) is not None
    got, opcodes = run(f)
    assert rec.native_calls == 1 and sum(rec.exits.values()) == 1     # native, then one exit
    assert got == expected
    assert expected[1][-1][1] == "return"
    if sys.version_info < (3, 12):      # 3.12 traces no opcode of a frame already running
        assert bool(cpython_opcodes) == bool(opcodes) == (caller is _caller_opcodes)
        assert all(line is not None for _, _, line in opcodes)     # none of tiered's stub
