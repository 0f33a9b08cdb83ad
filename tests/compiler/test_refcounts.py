"""The refcounts pass: incref/decref pairs around copies of an object the function holds are
dropped; exits in between still hand the interpreter every reference, and nothing leaks."""
import sys

import pytest

from tests.support import check, fresh_copy, warm
from tiered.compiler import build
from tiered.compiler.ops import FLOAT, ObjType
from tiered.compiler.passes import pipeline
from tiered.runtime import manager

pytestmark = pytest.mark.usefixtures("object_tier")


class Point:
    def __init__(self, x, v):
        self.x, self.v = x, v

    def __deepcopy__(self, memo):
        return Point(self.x, self.v)          # attributes inline, as __init__ makes them


def step(points, dt):
    for p in points:
        p.x += p.v * dt
        if p.x > 10.0:
            p.v = -p.v
    return len(points)


def test_the_copies_of_a_loop_variable_take_no_references():
    pts = [Point(1.0, 0.5) for _ in range(3)]
    warm(step, pts, 0.1)
    fn = pipeline.run(build.build(step, (ObjType(list), FLOAT)))
    body = [v for b in fn.blocks for v in b.body]
    p = next(v for v in body if v.op == "getattr").args[0]
    assert not any(v.op == "incref" and v.args[0] is p for v in body)
    assert any(p in v.attrs.get("pinned", ()) for v in body if v.state is not None)


def test_exits_between_dropped_pairs_hand_over_every_reference():
    pts = [Point(1.0, 0.5), Point(9.99, 1.0), Point(2.0, "x"), Point(3.0, 2.0)]   # a str: exits
    warm(step, [Point(1.0, 0.5)], 0.1)
    check(step, (pts[:2], 0.1), (pts, 0.1), (pts[:2], 1e308))


def test_no_reference_leaks_when_pairs_are_dropped():
    pts = [Point(1.0, 0.5), Point(9.9, 1.0)]
    warm(step, pts, 0.1)
    f = fresh_copy(step)
    rec = manager.record_for(f)
    rec.eager = True
    assert manager.compile_for(f, (list, float)) is not None
    before = [sys.getrefcount(p) for p in pts]
    for _ in range(200):
        f(pts, 0.1)
    odd = Point(1.0, "v")                     # exits at p.v * dt, in the middle of the pairs
    for _ in range(5):
        try:
            f(pts + [odd], 0.1)
        except TypeError:
            pass
    assert [sys.getrefcount(p) for p in pts] == before and sys.getrefcount(odd) == 2
    assert rec.native_calls == 205
