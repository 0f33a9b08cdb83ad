"""Object tier: attributes kept in an instance's own __dict__ (CPython's LOAD_ATTR_WITH_HINT and STORE_ATTR_WITH_HINT), read and stored natively, and every way the hint can miss."""
import copy

import pytest

from tests.support import Exit, check, forced_exits, warm
from tiered.runtime import manager

pytestmark = pytest.mark.usefixtures("object_tier")


class Cell:
    def __init__(self, pos, up=None):
        self.pos, self.up, self.stamp = pos, up, 0
        self.__dict__ = dict(self.__dict__)      # a dict of its own, as go's Squares end up with

    def __deepcopy__(self, memo):                # check's copies: the same kind of dict
        new = object.__new__(type(self))
        new.__dict__ = {k: copy.deepcopy(v, memo) for k, v in self.__dict__.items()}
        return new

    def root(self):                              # reads and a store, all hinted
        up = self.up
        if up is None:
            return self
        self.stamp = self.stamp + 1
        return up


def roots(cells):
    n = 0
    for c in cells:
        pos = c.pos                             # its class, read from CPython's hint here,
        if c.root() is c:                       # makes this method call native
            n += pos
    return n


def chain():
    top = Cell(1)
    return [top, Cell(2, top), Cell(3, top), Cell(4)]


def test_a_method_on_instances_with_their_own_dict_is_called_natively():
    warm(roots, chain())
    rec = check(roots, (chain(),), ([],))
    ops = set().union(*(s.ops for s in rec.specs))
    assert "call_native" in ops and "obj_call" not in ops      # Cell.root compiled frameless


def total_stamps(cells):
    s = 0
    for c in cells:
        s += c.stamp + c.pos
        c.stamp = s
    return s


def misses():
    """Each instance makes the hinted read miss another way."""
    plain = Cell(1)
    reordered = Cell(2)
    reordered.__dict__ = {"extra": 0, "stamp": 5, "up": None, "pos": 2}       # the name at another entry
    general = Cell(3)
    general.__dict__[7] = "not a str key"                            # keys of any class
    inline = Inline(4)                                               # inline values, no dict
    deleted = Cell(5)
    del deleted.stamp                                                # AttributeError
    return [plain, reordered, general, inline, deleted]


def test_every_way_a_hinted_read_or_store_misses():
    warm(total_stamps, [Cell(1), Cell(2)])
    rec = check(total_stamps, ([Cell(1), Cell(2)],), (misses()[:4],), (misses(),))
    assert rec.state == "compiled"


def test_a_class_that_gains_a_property_is_seen():
    warm(total_stamps, [Cell(1), Cell(2)])
    rec = check(total_stamps, ([Cell(1), Cell(2)],))
    try:
        Cell.stamp = property(lambda self: 100, lambda self, v: None)    # a data descriptor wins
        assert rec.func([Cell(1), Cell(2)]) == total_stamps([Cell(1), Cell(2)]) == 203
    finally:
        del Cell.stamp


class Shadowed(Cell):
    pass


class Inline(Cell):
    def __init__(self, pos):                    # inline values, no dict of its own
        self.pos, self.up, self.stamp = pos, None, 0

    def __deepcopy__(self, memo):
        return Inline(self.pos)


def shadowed_roots():
    own = Cell(7)
    own.__dict__["root"] = lambda: "the instance's own"     # found before the class's method
    gone = Cell(8)
    gone.__dict__ = {"pos": 8, "up": None}                    # no stamp: root() still works
    return [([Cell(1), own],), ([gone],), ([Shadowed(5)],), ([Inline(9)],)]


def test_a_method_guard_on_instances_with_their_own_dict_misses_where_cpython_differs():
    manager.RECORDS.discard(Cell.root)        # compiled afresh in this exit mode
    warm(roots, chain())
    rec = check(roots, (chain(),), *shadowed_roots())
    assert "guard_method_dict" in set().union(*(s.ops for s in rec.specs))
    if not forced_exits():
        assert rec.exits.get(Exit.TYPE_GUARD, 0) >= 3         # own, Shadowed and Inline exit


class Task:
    def __init__(self, load):
        self.load, self.done = load, 0

    def step(self):                             # inherited: CPython's caches hold one class
        self.done = self.done + self.load
        return self.weight() * self.done

    def weight(self):
        return 1

    def __deepcopy__(self, memo):               # attributes inline, as __init__ makes them
        new = type(self)(self.load)
        new.done = self.done
        return new


class Fast(Task):
    def weight(self):
        return 2


class Slow(Task):
    def weight(self):
        return 3


def run_all(tasks):
    total = 0
    for t in tasks:
        total += t.step()                       # Task.step for Slow, called natively
    return total


def test_an_inherited_method_reads_each_subclass_natively_without_exits():
    manager.RECORDS.discard(Task.step)          # compiled afresh in this exit mode
    for t in [Slow(2), Fast(1)] * 20:           # CPython's caches in step() end up on Fast
        t.step()
    slows = [Slow(1), Slow(2), Slow(3)]
    warm(run_all, slows)
    rec = check(run_all, (slows,), ([Slow(5)],))
    assert "call_native" in set().union(*(s.ops for s in rec.specs))
    if not forced_exits():
        assert not rec.exits, rec.exits          # Slow's own layout, not the one CPython cached
