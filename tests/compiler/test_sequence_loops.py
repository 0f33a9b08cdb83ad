"""For loops over lists and tuples of a subclass: CPython's FOR_ITER_LIST (FOR_ITER_TUPLE) walks
their items in place when the subclass keeps list's (tuple's) iterator, and native code does the
same behind one guard; a subclass with an __iter__ of its own exits, and an iterator an exit
hands over mid-loop is list's own, as CPython's is."""
import sys

import pytest

from tests.support import Exit, check, exits_of, forced_exits, warm
from tiered.compiler import build
from tiered.compiler.ops import ObjType
from tiered.compiler.passes import pipeline

pytestmark = pytest.mark.usefixtures("object_tier")
# 3.11 has no FOR_ITER_LIST: a loop over an object of unknown class is generic there (no guard)
HINTED = sys.version_info >= (3, 12)


class Bag(list):
    pass


class Pair(tuple):
    pass


class Loud(list):
    def __iter__(self):
        print("its own __iter__")
        return iter([99])


class Holder:
    def __init__(self, items):
        self.items = items


def summed_items(h):
    t = 0
    for x in h.items:             # an object of any class: CPython's hint says a list's iterator
        t += x
    return t


def bag_total(h):
    t = 0
    for x in h.items:             # the same, with caches that only see lists' iterators
        t += x
    return t


def test_a_list_subclass_keeping_lists_iterator_loops_natively_without_an_exit():
    warm(bag_total, Holder(Bag([1, 2, 3])))
    assert guards_of(bag_total, (ObjType(Holder),)) == [list] * HINTED
    rec = check(bag_total, (Holder(Bag([1, 2, 3])),), (Holder([4, 5]),), (Holder(Bag()),))
    if not forced_exits():
        assert sum(rec.exits.values()) == 0


def test_a_subclass_with_its_own_iter_or_another_sequence_exits_and_cpython_iterates_it():
    warm(summed_items, Holder(Bag([1, 2, 3])))
    rec = check(summed_items, (Holder(Bag([1, 2])),), (Holder(Loud([1, 2])),), (Holder(Pair((5, 6))),),
                (Holder({7: 0}),))
    if not forced_exits():
        assert exits_of(rec, Exit.TYPE_GUARD) == 3 * HINTED


def tuple_sum(xs):
    t = 0.0
    for x in xs:
        t += x
    return t


def guards_of(func, types_):
    """The classes of the guard_sequence ops of func's IR for these argument types."""
    fn = pipeline.run(build.build(func, types_))
    return [v.attrs["cls"] for b in fn.blocks for v in b.body if v.op == "guard_sequence"]


def test_a_tuple_subclass_loops_natively():
    warm(tuple_sum, Pair((1.5, 2.5)))
    assert guards_of(tuple_sum, (ObjType(Pair),)) == [tuple]
    rec = check(tuple_sum, (Pair((1.5, 2.5)),), (Pair(()),), (Pair((1.0, 2)),), ((0.5, 1.5),))
    if not forced_exits():
        assert sum(rec.exits.values()) == 0


class Late(list):
    pass


def late_sum(xs):
    t = 0
    for x in xs:
        if x == 2:                # the class gets an __iter__ while the loop runs over it
            Late.__iter__ = lambda self: iter([100])
        t += x                    # a float exits here: the loop goes on with list's iterator
    if "__iter__" in Late.__dict__:
        del Late.__iter__         # (the tests copy their arguments by iterating them)
    return t


def test_an_exit_mid_loop_hands_over_lists_iterator_even_if_the_class_has_an_iter_now():
    warm(late_sum, Late([1, 3]))
    assert guards_of(late_sum, (ObjType(Late),)) == [list]
    rec = check(late_sum, (Late([1, 3]),), (Late([1, 2, 3.5, 4]),))
    if not forced_exits():
        assert exits_of(rec, Exit.TYPE_GUARD) == 1         # at 3.5, after the class got its __iter__


def test_an_exception_raised_in_a_loop_over_a_subclass_has_cpythons_traceback():
    warm(bag_total, Holder(Bag([1, 2, 3])))
    check(bag_total, (Holder(Bag([1, 2])),), (Holder(Bag([1, "x", 3])),), (Holder(Bag([None])),))
