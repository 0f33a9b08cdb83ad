"""Two tiers: code on objects is first compiled with LLVM's quick pipeline, then compiled again
with the whole pipeline once it proves hot (many calls of its entry, or a long loop), its
native callees with it; results stay CPython's before and after."""
import pytest

from tests.support import check, forced_exits, fresh_copy, outcome
from tiered.runtime import manager
from tiered import compiler

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


def test_object_code_runs_first_tier_then_is_promoted_by_its_calls():
    rec = check(first_or_none, ([1, 2],), ([],), (["a"],))
    assert rec.promotable and not rec.promoted          # first tier: the quick pipeline
    args = [([k],) if k % 3 else ([],) for k in range(CALLS_TO_PROMOTE)]
    before = rec.native_calls
    for a in args:
        assert rec.func(*a) == first_or_none(*a)
    assert rec.native_calls >= before + CALLS_TO_PROMOTE       # ran natively all along
    assert rec.promoted and not rec.promotable and len(rec.promote_seconds) == 1
    for a in ([5, 6],), ([],), (["b"],):                     # the optimised code: the same
        assert outcome(rec.func, a) == outcome(first_or_none, a)
    assert rec.native_calls > before + CALLS_TO_PROMOTE


def sum_boxes(boxes, rounds):
    total = 0
    for _ in range(rounds):
        for b in boxes:
            total += b.get()
    return total


def test_a_long_loop_promotes_its_function_and_its_callees():
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
    assert rec.func(boxes, 3) == sum_boxes(boxes, 3)


def add(a, b):
    return a + b


def test_numeric_code_is_optimised_at_once():
    rec = check(add, (1, 2), (2**62, 2**62), (-5, 3))
    assert not rec.promotable and not rec.promoted


def test_quick_first_off_optimises_object_code_at_once(monkeypatch):
    monkeypatch.setenv("TIERED_QUICK_FIRST", "0")
    rec = check(first_or_none, ([1, 2],), ([],))
    assert not rec.promotable and not rec.promoted


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
