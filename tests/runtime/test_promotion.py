"""Two tiers: code on objects is first compiled with LLVM's quick pipeline, then compiled again
with full instruction selection (and, for loops over floats, the whole pipeline) once it proves
hot (many calls of its entry, or a long loop), its native callees with it; results stay
CPython's before and after."""
import pytest

from tests.support import check, forced_exits, fresh_copy, outcome
from tiered.runtime import install, manager
from tiered import compiler
from tiered.compiler import engine


@pytest.fixture
def llvm_runs(monkeypatch):
    """Each engine.compile_module call's (first symbol, quick, codegen, lean), in order."""
    runs, real = [], engine.compile_module

    def spy(text, names, *args, **kw):
        runs.append((names[0], kw.get("quick"), kw.get("codegen"), kw.get("lean")))
        return real(text, names, *args, **kw)
    monkeypatch.setattr(engine, "compile_module", spy)
    return runs

pytestmark = pytest.mark.usefixtures("object_tier")

CALLS_TO_PROMOTE = compiler.PROMOTE_CALLS * manager.HOT_SIGNALS


class Box:
    def __init__(self, v):
        self.v = v

    def get(self):                      # a native callee of its callers (frameless)
        return self.v

    def __deepcopy__(self, memo):       # check's copies keep their attributes inline
        return Box(self.v)


def first_or_none(xs):
    if xs:
        return xs[0]
    return None


def test_object_code_runs_first_tier_then_is_promoted_by_its_calls(llvm_runs):
    rec = check(first_or_none, ([1, 2],), ([],), (["a"],))
    assert rec.promotable and not rec.promoted          # first tier: the quick pipeline
    assert llvm_runs[-1][1:3] == (True, None)            # and fast instruction selection
    args = [([k],) if k % 3 else ([],) for k in range(CALLS_TO_PROMOTE)]
    before = rec.native_calls
    for a in args:
        assert rec.func(*a) == first_or_none(*a)
    assert rec.native_calls >= before + CALLS_TO_PROMOTE       # ran natively all along
    assert rec.promoted and not rec.promotable and len(rec.promote_seconds) == 1
    # no loop: the quick pipeline's passes, then full instruction selection
    assert llvm_runs[-1][1:3] == (True, 2)
    for a in ([5, 6],), ([],), (["b"],):                     # the optimised code: the same
        assert outcome(rec.func, a) == outcome(first_or_none, a)
    assert rec.native_calls > before + CALLS_TO_PROMOTE


def test_a_promoted_function_compiled_again_gets_lean_code_generation(llvm_runs):
    # a new signature after the promotion rebuilds every specialisation in one module: the
    # quick passes, then the full code generator run lean (optnone), not at full cost again
    runs = llvm_runs
    fn = fresh_copy(first_or_none)
    rec = check(fn, ([1, 2],), ([],), (["a"],))
    for k in range(CALLS_TO_PROMOTE):
        assert rec.func([k]) == k
    assert rec.promoted and runs[-1][2:] == (2, False)      # the promotion: full code generation
    promoted = len(runs)
    before = rec.native_calls
    for k in range(2000):                                   # a second signature: tuples
        assert rec.func((k, 1)) == k
    assert len(runs) > promoted and runs[-1][2:] == (2, True)
    assert rec.native_calls > before + 500                  # the rebuilt code runs natively
    assert {s.param_types for s in rec.specs} >= {rec.specs[0].param_types} and len(rec.specs) == 2
    for a in ([5, 6],), ([],), (["b"],), ((7,),), ((),):    # both specialisations, their exits too
        assert outcome(rec.func, a) == outcome(first_or_none, a)


def test_a_promotion_takes_the_installed_code_assembled_for_the_first_tier(monkeypatch):
    assembled, real = [], install._assemble

    def spy(orig, *args):
        assembled.append(orig)
        return real(orig, *args)
    monkeypatch.setattr(install, "_assemble", spy)
    install._MADE.discard(first_or_none.__code__)       # assembled by an earlier test
    rec = check(first_or_none, ([1, 2],), ([],), (["a"],))
    code = rec.func.__code__
    first = assembled.count(rec.original_code)
    assert first >= 1
    for k in range(CALLS_TO_PROMOTE):
        assert rec.func([k]) == k
    assert rec.promoted
    assert assembled.count(rec.original_code) == first            # the same stubs: not again
    assert rec.func.__code__ is not code and rec.func.__code__.co_code == code.co_code
    for a in ([5, 6],), ([],), (["b"],):                     # the optimised code, its exits too
        assert outcome(rec.func, a) == outcome(first_or_none, a)


def sum_boxes(boxes, rounds):
    total = 0
    for _ in range(rounds):
        for b in boxes:
            total += b.get()
    return total


def test_a_long_loop_promotes_its_function_and_its_callees(llvm_runs):
    boxes = [Box(k) for k in range(64)]
    for _ in range(40):                                       # CPython specialises the loop
        sum_boxes(boxes, 1)
    rec = check(sum_boxes, (boxes, 2), ([], 3))
    assert rec.promotable and "call_native" in set().union(*(s.ops for s in rec.specs))
    callee = manager.RECORDS.get(Box.get)
    rounds = (manager.HOT_SIGNALS + 2) * (1 << 16) // len(boxes)
    assert rec.func(boxes, rounds) == sum_boxes(boxes, rounds)
    if forced_exits():                  # its loop exits at once: no loop gets to poll
        return
    assert rec.promoted and len(rec.promote_seconds) == 1
    assert callee is not None and callee.promoted and callee.promote_seconds     # with its caller
    promoted = llvm_runs[-2:]           # the callee, then its caller (a loop, no floats)
    assert [p[1:3] for p in promoted] == [(True, 2), (True, 2)]
    assert rec.func(boxes, 3) == sum_boxes(boxes, 3)


def halves(box, n):
    x = 0.0
    for i in range(n):
        x += i * 0.5
    return x + box.get()


def test_a_loop_over_floats_is_promoted_with_the_whole_pipeline(llvm_runs):
    rec = check(halves, (Box(1), 3), (Box(2.5), 0))
    assert rec.promotable and "loop_poll" in set().union(*(s.ops for s in rec.specs))
    n = (manager.HOT_SIGNALS + 2) * (1 << 16)
    assert rec.func(Box(4), n) == halves(Box(4), n)
    if forced_exits():                  # its loop exits at once: no loop gets to poll
        return
    assert rec.promoted and len(rec.promote_seconds) == 1
    assert llvm_runs[-1][1:3] == (False, None)           # the whole pipeline
    assert rec.func(Box(4), 3) == halves(Box(4), 3)


def add(a, b):
    return a + b


def test_numeric_code_is_optimised_at_once():
    rec = check(add, (1, 2), (2**62, 2**62), (-5, 3))
    assert not rec.promotable and not rec.promoted


def test_quick_first_off_optimises_object_code_at_once(monkeypatch):
    monkeypatch.setenv("TIERED_QUICK_FIRST", "0")
    rec = check(first_or_none, ([1, 2],), ([],))
    assert not rec.promotable and not rec.promoted


PROMOTED_CALLEE = '''
import os, sys
os.environ["TIERED_OBJECTS"] = "1"
import tiered
from tiered.runtime import install, manager
manager.HOT_SIGNALS = 1                  # every poll promotes: the callee's code is replaced early


class P:
    def __init__(self, x):
        self.x = x


def inner(ps):                           # a loop: installed, and called natively by outer
    t = 0.0
    for p in ps:
        t += p.x
    return t


def outer(ps, n):
    t = 0.0
    for _ in range(n):
        t += inner(ps)
    return t


ps = [P(k * 0.5) for k in range(256)]
for _ in range(40):
    outer(ps, 2)
tiered.jit(inner)
tiered.jit(outer)
outer(ps, 2)
expect = sum(p.x for p in ps) * 2000
for _ in range(3):
    got = outer(ps, 2000)                # inner is promoted while outer's first-tier code runs
    assert got == expect, (got, expect)
rec = manager.RECORDS[inner]
print("promoted", rec.promoted, "native", manager.RECORDS[outer].native_calls > 0)
'''


def test_an_older_caller_keeps_its_promoted_callees_old_code_and_helpers_alive(tmp_path):
    # the old caller still calls the callee's first-tier code, whose loop poll calls its
    # promotion helper: the helper (and every object that code points at) must outlive the
    # callee's installed code (it was freed with it: a segmentation fault)
    import subprocess
    import sys
    import os
    script = tmp_path / "promoted_callee.py"
    script.write_text(PROMOTED_CALLEE)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, PYTHONPATH=root))
    assert p.returncode == 0, p.stderr[-2000:]
    assert "promoted True native True" in p.stdout, p.stdout + p.stderr[-2000:]


class Cell:
    def __init__(self, v):
        self.v = v

    def value(self):                    # only this test's caller calls it natively
        return self.v


def sum_cells(cells, rounds):
    total = 0
    for _ in range(rounds):
        for c in cells:
            total += c.value()
    return total


def test_a_promoted_callee_promotes_its_first_tier_callers():
    # a caller would otherwise go on calling its callee's first-tier code
    manager.RECORDS.discard(Cell.value)              # compiled afresh in this exit mode
    cells = [Cell(k) for k in range(64)]
    for _ in range(40):
        sum_cells(cells, 1)
    jitted = fresh_copy(sum_cells)
    manager.record_for(jitted).eager = True
    assert manager.compile_for(jitted, (list, int)) is not None
    rec = manager.record_for(jitted)
    callee = manager.RECORDS.get(Cell.value)
    try:
        assert rec.promotable and callee is not None and callee.promotable
        assert any(r() is rec for r in callee.callers)
        before = jitted(cells, 3)
        manager.promote(callee, force=True)          # as its own entry or loop would ask
        assert callee.promoted and callee.promote_seconds
        assert rec.promoted and rec.promote_seconds  # its caller, compiled again with it
        assert jitted(cells, 3) == before == sum_cells(cells, 3)
        assert rec.native_calls >= 2
    finally:
        if callee is not None:
            callee.restore()


def replacement(n):
    return "replaced"


SWAPPED = []


def replaces_its_code(n):
    kept = []
    for i in range(n):
        kept.append(i)
        if i == 2:
            SWAPPED[0].__code__ = replacement.__code__      # the running frame goes on with its code
    return len(kept)


def test_a_promotion_keeps_the_code_the_program_put_in_place(monkeypatch):
    from tiered.compiler.ops import control
    monkeypatch.setattr(manager, "HOT_SIGNALS", 2)      # promoted at its second loop poll
    monkeypatch.setattr(compiler, "PROMOTE_CALLS", 1)
    monkeypatch.setattr(control, "TICK_SIGNALS", 3)     # a poll every 4 iterations
    f, original = fresh_copy(replaces_its_code), replaces_its_code.__code__
    SWAPPED[:] = [replaces_its_code]
    try:
        expected = [outcome(replaces_its_code, (40,)), outcome(replaces_its_code, (40,))]
    finally:
        replaces_its_code.__code__ = original
    assert expected[1][1] == "replaced"
    SWAPPED[:] = [f]
    rec = manager.record_for(f)
    rec.eager = True
    assert manager.compile_for(f, (int,)) is not None and rec.promotable
    # the promotion, in the loop after the program replaced the code, put tiered's back
    assert [outcome(f, (40,)), outcome(f, (40,))] == expected
    assert rec.native_calls == 1
