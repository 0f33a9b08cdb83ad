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


def total_x(points):
    s = 0.0
    for p in points:
        s += p.x * 2.0              # read, unboxed, released: borrowed from the instance
    return s


def test_an_attribute_read_only_unboxed_borrows_the_instances_reference():
    pts = [Point(1.5, 0.0), Point(2.5, 0.0)]
    warm(total_x, pts)
    fn = pipeline.run(build.build(total_x, (ObjType(list),)))
    body = [v for b in fn.blocks for v in b.body]
    read = next(v for v in body if v.op == "getattr")
    assert read.attrs.get("borrow") and any(v.attrs.get("borrowed") == read.id for v in body)
    check(total_x, (pts,), ([Point(1.0, 0.0), Point("a", 0.0)],), ([Point(2**70, 0.0)],))


def test_a_borrowed_read_that_takes_the_slow_path_releases_what_it_got():
    class Moving:
        def __init__(self, x):
            self.x = x
    pts = [Moving(1.5), Moving(2.5)]
    warm(total_x, pts)
    f = fresh_copy(total_x)
    rec = manager.record_for(f)
    rec.eager = True
    assert manager.compile_for(f, (list,)) is not None
    assert f(pts) == 8.0
    made = []

    def fresh_x(self):
        made.append(float(len(made)) + 0.5)     # a new float each read, owned only by the read
        return made[-1]
    Moving.x = property(fresh_x)                # the class changes: the cached read misses
    del pts[0].__dict__["x"], pts[1].__dict__["x"]
    before = [sys.getrefcount(v) for v in made]
    assert f(pts) == (0.5 + 1.5) * 2.0 and rec.native_calls == 2
    assert [sys.getrefcount(v) for v in made[:len(before)]] == before
    assert all(sys.getrefcount(v) == 3 for v in made)     # the list, the loop variable, the call


class Tally:
    def __init__(self):
        self.n = 0

    def bump(self, tag):
        self.n += tag.v           # a tag whose v is a str raises here
        return self.n


class LoudTally(Tally):
    def bump(self, tag):
        return -1


class Tag:
    def __init__(self, v):
        self.v = v


def tally(counter, tags):
    total = 0
    for t in tags:
        total += counter.bump(t)  # the copies of counter and t: borrowed by the call
    return total


def test_the_copies_a_call_borrows_take_no_references():
    warm(tally, Tally(), [Tag(1), Tag(2)])
    fn = pipeline.run(build.build(tally, (ObjType(Tally), ObjType(list))))
    block = next(b for b in fn.blocks if any(v.op in ("obj_call", "call_native") for v in b.body))
    body = block.body                     # the loop's body (the entry takes the parameters' own)
    call = next(v for v in body if v.op in ("obj_call", "call_native"))
    guard = next(v for v in body if v.op == "guard_method")
    held = {a.id for a in call.args} | {guard.args[0].id}
    assert len(held) == 4 and not any(v.op == "incref" and v.args[0].id in held for v in body)
    assert guard.args[0] in guard.attrs["pinned"] and call.attrs.get("pinned")


def test_a_call_between_dropped_pairs_exits_and_raises_as_cpython():
    warm(tally, Tally(), [Tag(1), Tag(2)])
    check(tally, (Tally(), [Tag(1), Tag(2)]), (Tally(), [Tag(1), Tag("x")]), (LoudTally(), [Tag(1)]),
          (Tally(), [Tag(3), Tag(None)]))


def test_no_reference_leaks_through_calls_that_raise_or_guards_that_fail():
    warm(tally, Tally(), [Tag(1), Tag(2)])
    f = fresh_copy(tally)
    rec = manager.record_for(f)
    rec.eager = True
    assert manager.compile_for(f, (Tally, list)) is not None
    counter, tags, bad = Tally(), [Tag(1), Tag(2)], Tag("x")
    watched = [counter, bad] + tags
    before = [sys.getrefcount(x) for x in watched]
    for _ in range(100):
        f(counter, tags)
        with pytest.raises(TypeError):
            f(counter, tags + [bad])      # raises inside the call: an exit with the exception
    assert [sys.getrefcount(x) for x in watched] == before
    assert rec.native_calls == 200 and sum(rec.exits.values()) >= 100


def drop_and_read(tag):
    HELD.clear()                          # the last reference outside the caller goes
    return tag.v


HELD = []


def read_after_drop(n):
    total = 0
    for _ in range(n):
        HELD.append(Tag(n))
        t = HELD[0]
        total += drop_and_read(t) + t.v   # t's only owner in the call: the caller's local
    return total


def test_a_callee_that_drops_every_reference_it_can_reach_leaves_the_callers_copy_alive():
    warm(read_after_drop, 3)
    rec = check(read_after_drop, (3,), (50,))
    assert rec.native_calls >= 2


DIED = []


class Loud:
    def __init__(self, v):
        self.v = v

    def __del__(self):
        DIED.append((self.v, sys._getframe(1).f_lineno))   # where the releasing frame is


def keep(x):
    return x.v


def lose_after_calls(n):
    DIED.clear()
    t = 0
    for i in range(n):
        x = Loud(i)
        t += keep(x) + keep(x)    # both copies borrowed by the calls: no references of their own
        x = None                  # the last reference goes here: the destructor sees this line
        t += 1
    return t, list(DIED)


def test_an_object_whose_copies_calls_borrowed_dies_where_cpython_lets_it_go():
    warm(lose_after_calls, 3)
    rec = check(lose_after_calls, (3,), (0,), (5,))
    assert rec.native_calls >= 3
