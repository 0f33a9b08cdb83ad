"""A guard that fails too often makes the function compile again without that speculation
(records.RESPECIALISE), instead of sending it back to CPython."""
import pytest

from tiered.reasons import Exit
from tiered.cpython import quickened
from tiered.runtime import manager, records
from tests.support import forced_exits, fresh_copy, warm

pytestmark = pytest.mark.usefixtures("object_tier")


class P:
    def __init__(self, x):
        self.x = x


def total(items):
    t = 0.0
    for p in items:
        t += p.x
    return t


def test_a_guard_storm_recompiles_the_site_generically():
    if forced_exits():
        pytest.skip("forced exits fail every guard now and then: the storm here is the program's")
    from fractions import Fraction
    floats = [P(0.5), P(1.25), P(2.0)]
    ints = [P(Fraction(1, 2)), P(2), P(3.5)]         # CPython saw floats; a Fraction fails the guard
    warm(total, floats)                       # CPython specialises p.x and t + p.x on floats
    f = fresh_copy(total)
    rec = manager.record_for(f)
    rec.eager = True
    assert manager.compile_for(f, (list,)) is not None
    assert f(floats) == total(floats)
    for _ in range(records.EXIT_STORM + 5):   # every call exits at its first item
        assert f(ints) == total(ints)
    assert rec.exits[Exit.TYPE_GUARD] >= records.EXIT_STORM
    assert rec.state == "compiled" and rec.refusal is None and rec.generic_at
    before, guards = rec.native_calls, rec.exits[Exit.TYPE_GUARD]
    for items in (ints, floats, ints):
        r = f(items)
        assert r == total(items) and type(r) is type(total(items))
    assert rec.native_calls == before + 3 and rec.exits[Exit.TYPE_GUARD] == guards   # native, no exit


STAMP = 0


def bump():
    g = globals()                    # not STORE_GLOBAL: the compiler cannot see it coming
    g["STAMP"] += 1


def stamps(n):
    t = 0
    for i in range(n):
        bump()
        t += STAMP                     # a global whose value changes on every iteration
    return t


def test_a_global_that_keeps_changing_is_read_each_time():
    if forced_exits():
        pytest.skip("forced exits fail every guard now and then: the storm here is the program's")
    g = globals()                    # no STORE_GLOBAL STAMP anywhere in this module
    warm(stamps, 3)
    f = fresh_copy(stamps)
    rec = manager.record_for(f)
    rec.eager = True
    assert manager.compile_for(f, (int,)) is not None
    for _ in range(records.EXIT_STORM + 5):   # every call exits at its first changed global
        g["STAMP"] = 0
        assert f(3) == 6
    assert rec.exits[Exit.GLOBAL_CHANGED] >= records.EXIT_STORM
    assert rec.state == "compiled" and rec.refusal is None and rec.generic_at
    before, changed = rec.native_calls, rec.exits[Exit.GLOBAL_CHANGED]
    g["STAMP"] = 10
    assert f(4) == 11 + 12 + 13 + 14
    assert rec.native_calls == before + 1 and rec.exits[Exit.GLOBAL_CHANGED] == changed


class H(P):
    def half(self):
        return self.x.x * 0.5        # self.x a P when compiled: another class exits the callee


class R:
    def __init__(self, x):
        self.x = x


def halves(items):
    t = 0.0
    for q in items:
        t += q.half()
    return t


def test_a_callee_that_keeps_exiting_is_called_generically_at_that_site():
    if forced_exits():
        pytest.skip("forced exits fail every guard now and then: the storm here is the program's")
    floats, ints = [H(P(0.5)), H(P(3.0))], [H(R(1.5)), H(R(2.5))]
    warm(halves, floats)
    f = fresh_copy(halves)
    rec = manager.record_for(f)
    rec.eager = True
    assert manager.compile_for(f, (list,)) is not None
    assert "call_native" in rec.specs[0].ops
    for _ in range(records.EXIT_STORM + 5):   # every call exits in its first callee
        assert f(ints) == halves(ints)
    assert rec.exits[Exit.CALLEE_EXITED] >= records.EXIT_STORM
    assert rec.state == "compiled" and rec.refusal is None and rec.generic_at
    assert "call_native" not in rec.specs[0].ops
    before, exited = rec.native_calls, rec.exits[Exit.CALLEE_EXITED]
    for items in (ints, floats, ints):
        assert f(items) == halves(items)
    assert rec.native_calls == before + 3 and rec.exits[Exit.CALLEE_EXITED] == exited


class Circle:
    def __init__(self, r):
        self.r = r

    def area(self):
        return 3.0 * self.r * self.r


class Square:
    def __init__(self, s):
        self.s = s

    def area(self):
        return self.s * self.s


def total_area(shapes):
    t = 0.0
    for sh in shapes:
        t += sh.area()               # CPython's method load here misses on every other shape
    return t


def test_a_site_cpython_found_polymorphic_is_compiled_generic_and_never_exits():
    mixed = [Circle(1.0), Square(2.0), Circle(0.5), Square(1.5)] * 8
    # CPython re-specialises a site whose miss counter ran out (its count starts again): run
    # until it shows the misses, as it does most of the time at a polymorphic site
    for _ in range(200):
        total_area([Circle(1.0), Square(1.0)])
        if len(quickened.hints(total_area.__code__, polymorphic=True)) > len(quickened.hints(total_area.__code__)):
            break
    else:
        pytest.fail("CPython's method load never showed its misses")
    f = fresh_copy(total_area)
    rec = manager.record_for(f)
    rec.eager = True
    assert manager.compile_for(f, (list,)) is not None
    assert "guard_method" not in rec.specs[0].ops and "obj_call" in rec.specs[0].ops
    before = rec.native_calls
    for _ in range(3):
        assert f(mixed) == total_area(mixed)
    assert rec.native_calls == before + 3
    if not forced_exits():
        assert not rec.exits                  # a guard on one class would exit at every other shape


class Bag(list):
    """A list's subclass: its iterator is a list's, so CPython's FOR_ITER_LIST serves it too, and
    so does the compiled loop's guard (ops/objects.py guard_sequence)."""


class Job:
    def __init__(self, k):
        self.k = k

    def run(self):
        return self.k


class Holder:
    def __init__(self, items):
        self.items = items


def run_all(holder):
    t = 0
    for job in holder.items:
        t += job.run()
    return t


def test_a_loop_over_a_lists_subclass_stays_native_and_a_tuple_there_recompiles_generically():
    if forced_exits():
        pytest.skip("forced exits fail every guard now and then: the storm here is the program's")
    plain = Holder([Job(1), Job(2), Job(3)])
    bag = Holder(Bag([Job(4), Job(5)]))
    warm(run_all, plain)                      # CPython: FOR_ITER_LIST, the hint of a list
    f = fresh_copy(run_all)
    rec = manager.record_for(f)
    rec.eager = True
    assert manager.compile_for(f, (Holder,)) is not None
    for _ in range(records.EXIT_STORM + 5):   # a list's iterator: the guard at GET_ITER takes it
        assert f(bag) == run_all(bag)
    assert rec.exits.get(Exit.TYPE_GUARD, 0) == 0 and not rec.generic_at
    pair = Holder((Job(7), Job(8)))
    for _ in range(records.EXIT_STORM + 5):   # 3.12: a tuple fails it
        assert f(pair) == run_all(pair)
    assert rec.state == "compiled" and rec.refusal is None
    assert bool(rec.generic_at) == (rec.exits.get(Exit.TYPE_GUARD, 0) >= records.EXIT_STORM)  # 3.11: no hint
    before, guards = rec.native_calls, rec.exits.get(Exit.TYPE_GUARD, 0)
    for h in (bag, plain, Holder(Bag()), pair):
        assert f(h) == run_all(h)
    assert rec.native_calls == before + 4 and rec.exits.get(Exit.TYPE_GUARD, 0) == guards   # native, no exit


class Shape:
    def __init__(self, side):
        self.side = side

    def area(self):
        return self.side * self.side

    def grow(self):
        self.side += 1


class Square(Shape):
    pass


class Tile(Shape):
    pass


def polygons(items):
    out = []
    while items:
        d = items.pop(0)              # its class varies: every read of it below is polymorphic
        a = d.area()
        d.grow()
        out.append((a, d.area(), d.side))
    return out


def test_an_object_whose_guard_storms_is_read_generically_at_every_site():
    # three reads of `d` each speculate on CPython's hint: one compile again makes all three
    # generic (before, one compile per site, each after a thousand exits)
    if forced_exits():
        pytest.skip("forced exits fail every guard now and then: the storm here is the program's")
    warm(polygons, [Square(2), Square(3)])     # CPython's hints at all three reads: Square
    f = fresh_copy(polygons)
    rec = manager.record_for(f)
    rec.eager = True
    assert manager.compile_for(f, (list,)) is not None
    for _ in range(records.EXIT_STORM + 5):   # every call exits at its first read of a Tile
        assert f([Tile(1), Square(2)]) == polygons([Tile(1), Square(2)])
    if not rec.exits.get(Exit.TYPE_GUARD):
        # 3.11: no class is speculated at these reads (CPython's method caches there are not
        # read: capi.CACHED_KEYS), so nothing storms; the calls above ran natively all the same
        assert rec.native_calls >= records.EXIT_STORM and not rec.generic_at
        pytest.skip("no read of `d` speculates its class on this Python")
    assert rec.state == "compiled" and rec.refusal is None and len(rec.generic_at) == 1
    before, guards = rec.native_calls, rec.exits[Exit.TYPE_GUARD]
    for _ in range(50):
        assert f([Tile(1), Square(2), Tile(5)]) == polygons([Tile(1), Square(2), Tile(5)])
    assert rec.native_calls == before + 50 and rec.exits[Exit.TYPE_GUARD] == guards   # no exit at all
    assert len(rec.generic_at) == 1
