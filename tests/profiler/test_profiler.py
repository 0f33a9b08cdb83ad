"""Profiler: hot functions are found, compiled for the types they see, and disable() undoes it all."""
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tiered
from tests.support import fresh_copy
from tiered.profiler import feedback, hooks
from tiered.runtime import manager

ROOT = str(Path(__file__).resolve().parent.parent.parent)


def hot(x, n):
    s = 0.0
    for i in range(n):
        s += x * i
    return s


def cold_generator(n):
    yield n


def test_hot_function_gets_compiled_then_disable_restores():
    original = hot.__code__
    assert tiered.enable(threshold=20)
    try:
        deadline = time.monotonic() + 20
        while manager.RECORDS.get(hot) is None or manager.record_for(hot).state != "compiled":
            assert hot(1.5, 3000) == sum(1.5 * i for i in range(3000))
            assert time.monotonic() < deadline, "never compiled"
        rec = manager.record_for(hot)
        assert rec.specs[0].param_types == ("float", "int")
        before = rec.native_calls
        assert hot(2.0, 10) == 90.0
        assert rec.native_calls == before + 1
        assert tiered.stats()[f"{__name__}.hot"]["state"] == "compiled"
    finally:
        tiered.disable()
    assert hot.__code__ is original


def test_feedback_queue_hottest_first():
    fb = feedback.Feedback(threshold=3)
    a, b = fb.profile(hot.__code__), fb.profile(cold_generator.__code__)
    for _ in range(2):
        fb.observe(a, [1.0, 2])
    b.count = 10
    fb.observe(b, [1])
    assert fb.observe(a, [1.0, 2])
    assert fb.pop_hottest() is b and fb.pop_hottest() is a and fb.pop_hottest() is None
    assert a.signatures.most_common(1)[0][0] == (float, int)


def test_functions_of_code():
    assert feedback.functions_of(hot.__code__) == [hot]


def _closure():
    def inner(hook):
        return hook(sys._getframe())     # as a monitoring hook sees the running frame
    return inner


def test_the_function_whose_frame_made_a_code_hot_is_found_without_walking_the_heap(monkeypatch):
    # two functions share one code: the profile names the one that ran when it got hot, and
    # functions_of takes it without gc.get_referrers (a walk over every object, per hot code)
    first, second = _closure(), _closure()
    code = first.__code__
    fb = feedback.Feedback(threshold=3)
    hot_now = [f(lambda frame: fb.event(code, frame, at_start=True)) for f in (first, second, second)]
    assert hot_now == [False, False, True]
    p = fb.profile(code)
    assert p.function_ref() is second
    monkeypatch.setattr(feedback.gc, "get_referrers", lambda *a: pytest.fail("walked the heap"))
    assert feedback.functions_of(code, p) == [second]
    monkeypatch.undo()
    del second
    assert feedback.functions_of(code, p) == [first]     # it died: the live ones, found the slow way


GC_COUNT = '''
import gc, tiered
assert tiered.enable()
class G:
    def __eq__(self, other):
        return False
g = G()
before = len(gc.get_objects())
for i in range(10):
    g == g          # hot at once with TIERED_THRESHOLD=1: promoted, nothing to compile
print(len(gc.get_objects()) - before)
'''


@pytest.mark.parametrize("threshold", ["1", "1000"])
def test_profiling_a_function_creates_no_gc_objects(tmp_path, threshold):
    """Leak checks that count gc objects (CPython's test_descr does) see nothing of tiered's
    when a function is first called, counted, promoted and found to have nothing to compile."""
    (tmp_path / "child.py").write_text(GC_COUNT)
    env = dict(os.environ, PYTHONPATH=ROOT, TIERED_THRESHOLD=threshold)
    p = subprocess.run([sys.executable, "child.py"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "0"


NAMESPACE = '''
import tiered
tiered.enable()
calls = []
class Recording(dict):
    """A namespace mapping that logs every method the interpreter (or anyone) calls on it."""
    def __getitem__(self, key):
        calls.append(("getitem", key))
        return dict.__getitem__(self, key)
    def __setitem__(self, key, value):
        calls.append(("setitem", key))
        dict.__setitem__(self, key, value)
    def values(self):
        calls.append(("values",))
        return dict.values(self)
for i in range(3):
    exec("x = 1\\ny = x + 1", {}, Recording())
print(calls)
'''


def test_profiler_never_touches_a_user_namespace(tmp_path):
    """Module and class bodies can run in a user's mapping: the profiler must not call it."""
    (tmp_path / "child.py").write_text(NAMESPACE)
    outs = []
    for disable in ("1", "0"):
        env = dict(os.environ, PYTHONPATH=ROOT, TIERED_THRESHOLD="1", TIERED_DISABLE=disable)
        p = subprocess.run([sys.executable, "child.py"], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        outs.append(p.stdout)
    assert outs[0] == outs[1] and "setitem" in outs[0]


TRACED_WHILE_PROFILING = '''
import sys, tiered
assert tiered.enable(threshold=20)
def spin(n):
    s = 0
    for i in range(n):
        s = (s + i * i) % 7919
    return s
names = set()
def tracer(frame, event, arg):
    names.add(frame.f_code.co_filename)
    return tracer
sys.settrace(tracer)
for _ in range(40):
    spin(30000)          # CPU time: the 3.11 sampler's timer fires many times meanwhile
sys.settrace(None)
print(sorted(n for n in names if "tiered" in n))
'''


def test_a_tracer_never_sees_the_profiler(tmp_path):
    """The profiler's own code (3.11's signal handler, 3.12's callbacks) stays out of traces."""
    (tmp_path / "child.py").write_text(TRACED_WHILE_PROFILING)
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.run([sys.executable, "child.py"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"


REENTRANT = '''
import tiered
assert tiered.enable(threshold=1)
def work(n):
    s = 0
    for i in range(n):
        s += i
    return s
f = tiered.jit(work)      # the first LLVM use: the engine's start-up calls re (hot at once)
print(f(10), f(10))
'''


def test_library_code_run_by_the_compiler_never_starts_a_nested_compile(tmp_path):
    """With everything hot at once, the stdlib code the compiler calls must not be compiled
    from inside the compiler (the engine's lock is not re-entrant: that was a hang)."""
    (tmp_path / "child.py").write_text(REENTRANT)
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.run([sys.executable, "child.py"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["45", "45"]


FAILED = "INSTALL_ERROR", "LLVM_ERROR", "COMPILER_ERROR"


def test_library_code_hot_while_tiered_loads_a_stage_is_never_compiled_against_it(tmp_path):
    """The installer loads its modules at the first install (start-up time): with
    everything hot at once, a compile of the code they run as they load (enum's) must
    not start then: it would meet the half-made installer (INSTALL_ERROR, and its cycles left
    for the garbage collector)."""
    (tmp_path / "child.py").write_text(REENTRANT + f"""
print(sorted(n for n, s in tiered.stats().items() if s["refusal"] in {FAILED!r}))
""")
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.run([sys.executable, "child.py"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["45 45", "[]"]


def test_the_sampler_leaves_no_frame_of_its_own_behind():
    # 3.11's SIGPROF handler sees its own frame among the threads' top frames; a local naming
    # it kept that frame alive in a cycle, and gc-object leak checks (test_descr) saw one more
    import gc
    from tiered.profiler import hooks
    hook = hooks.SamplingHook(feedback.Feedback(1000), lambda: None, lambda code: True,
                              lambda code, exc: None, 100, lambda: False)
    gc.collect()
    for _ in range(20):
        hook._on_sample(14, None)
    left = [o for o in gc.get_objects() if type(o).__name__ == "frame" and o.f_code.co_name == "_on_sample"]
    assert left == []


def _at_depth(n, fn):
    """fn(10) called n frames deeper than here: its value, or 'RecursionError'."""
    try:
        return _at_depth(n - 1, fn) if n else fn(10)
    except RecursionError:
        return "RecursionError"


def _scan():
    """A new leaf function called first at each depth near the recursion limit."""
    out = []
    for headroom in range(200):          # the test's own depth differs by version and runner
        def leaf(n):
            return n + 1
        out.append(_at_depth(sys.getrecursionlimit() - headroom, leaf))
    return out


def test_the_profiler_near_the_recursion_limit_changes_nothing():
    """A function first entered within a frame of the limit: the profiler's callback (3.12) or
    sampler (3.11) cannot run there, and the program must not see that."""
    plain = _scan()
    assert "RecursionError" in plain and 11 in plain          # the scan reaches the limit
    assert tiered.enable(threshold=1)
    try:
        assert _scan() == plain
    finally:
        tiered.disable()


def one_long_loop(n):
    s = 0
    for i in range(n):
        s += i * i % 7
    return s


@pytest.mark.skipif(not hasattr(sys, "monitoring"), reason="3.11 samples CPU time instead")
def test_a_function_whose_loop_runs_hot_compiles_though_called_once():
    # backward jumps count as calls (sys.monitoring JUMP events), so a main()-style function that
    # loops for long compiles during its first call, and its next call runs native
    f = fresh_copy(one_long_loop)
    assert tiered.enable(threshold=200)
    try:
        assert f(20_000) == sum(i * i % 7 for i in range(20_000))
        rec = manager.RECORDS.get(f)
        assert rec is not None and rec.state == "compiled", rec and (rec.state, rec.refusal_detail)
        assert rec.native_calls == 0                      # hot by its loop; that call interpreted
        assert f(1000) == sum(i * i % 7 for i in range(1000))
        assert rec.native_calls == 1
    finally:
        tiered.disable()
    assert f.__code__ is one_long_loop.__code__



@pytest.mark.skipif(not hooks.HAS_MONITORING, reason="3.11's sampler skips while compiling (is_compiling)")
def test_library_code_run_by_the_compiler_is_never_counted():
    """The stdlib code the compiler calls (dis, re) is the compiler's, not the
    program's: its calls and loops are not counted while this thread compiles (on 3.12 they
    were: pyperformance's richards compiled dis.findlabels)."""
    fb = feedback.Feedback(1000)
    compiling = [True]
    hook = hooks.MonitoringHook(fb, lambda: None, lambda code: False, lambda code, exc: None,
                                lambda: compiling[0])
    code = hot.__code__
    for _ in range(20):
        assert hook._on_start(code, 0) is None
        assert hook._on_jump(code, 40, 10) is None
    assert id(code) not in fb.cold and fb.profiles.get(code) is None      # nothing counted
    compiling[0] = False
    hook._on_start(code, 0)
    hook._on_jump(code, 40, 10)
    assert fb.cold[id(code)] == 2                                         # the program's: counted
