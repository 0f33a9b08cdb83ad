"""Native calls of frameless functions and methods on objects: results, the guards of a method
load, exits inside the callee (the interpreter calls it again), and callees that cannot be frameless."""
import copy

import pytest

from tests.support import Exit, check, exits_of, forced_exits, fresh_copy, outcome, assert_same, warm
from tiered.runtime import manager


pytestmark = pytest.mark.usefixtures("object_tier")


def ops_of(rec):
    """The IR ops of every compiled specialisation."""
    return set().union(*(s.ops for s in rec.specs))


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y

    def __deepcopy__(self, memo):
        # shared by the CPython run and the JIT run (the functions here do not change it): a
        # deep copy of an instance has a __dict__ of its own, and CPython's method loads
        # (which the compiler reads) never specialise for those
        return self

    def dot(self, other):
        return self.x * other.x + self.y * other.y

    def norm2(self):
        return self.dot(self)              # a frameless callee calling another

    def ratio(self, other):
        return self.x * (1.0 / other.x)    # ZeroDivisionError inside the callee



class Bumper:
    def __init__(self, x):
        self.x = x

    def bump(self):
        self.x += 1.0                      # changes the object: resumable, not pure
        return self.x

    def __deepcopy__(self, memo):
        return Bumper(self.x)              # attributes inline, as __init__ makes them


def total_dot(points, q):
    s = 0.0
    for p in points:
        s += p.dot(q) + p.norm2()
    return s


def points(n):
    return [Point(i * 0.5, 1.0 - i) for i in range(n)]


def warm_up():
    """CPython specialises the method loads and the callees' attribute loads."""
    warm(total_dot, points(5), Point(0.25, 2.0))


def test_a_method_of_a_plain_class_is_called_natively():
    warm_up()
    rec = check(total_dot, (points(20), Point(0.25, 2.0)), (points(3), Point(-1.0, 0.5)), ([], Point(1.0, 1.0)))
    assert {"guard_method", "call_native"} <= ops_of(rec)
    assert "obj_call" not in ops_of(rec)           # no call went through the interpreter
    if not forced_exits():
        assert sum(rec.exits.values()) == 0         # the callees' native code produced every result


def each_dot(items, q):
    out = []
    for p in items:
        out.append(p.dot(q))
    return out


def shadowable_classes():
    """A new subclass of Point (and one of it) for each test run: an instance that gets an
    attribute named like a method changes its class's shared keys for good."""
    class Shadowable(Point):
        pass

    class SubShadowable(Shadowable):
        pass

    return Shadowable, SubShadowable


def test_the_method_guards_see_an_own_attribute_a_dict_and_a_subclass():
    cls, sub = shadowable_classes()
    warm(each_dot, [cls(1.0, 2.0)] * 3, Point(1.0, 1.0))
    rec = check(each_dot, ([cls(i, 1.0) for i in range(4)], Point(1.0, 1.0)))
    assert "guard_method" in ops_of(rec)
    p, q, r = cls(1.0, 2.0), cls(3.0, 4.0), sub(5.0, 6.0)
    vars(p)                                         # p's attributes move to a dict of its own
    q.dot = lambda other: "own attribute"          # the instance's own attribute wins
    before = exits_of(rec, Exit.TYPE_GUARD)
    for odd in (p, q, r):               # made after compiling: CPython's caches saw none of them
        args = ([cls(0.5, 1.5), odd, cls(7.0, 8.0)], Point(0.5, 0.5))
        assert_same(outcome(fresh_copy(each_dot), args), outcome(rec.func, args), args)
    if not forced_exits():
        assert exits_of(rec, Exit.TYPE_GUARD) == before + 3     # each left for the interpreter


def test_a_method_rebound_on_the_class_after_compiling_is_the_one_called():
    warm(each_dot, points(4), Point(1.0, 1.0))
    rec = check(each_dot, (points(4), Point(1.0, 1.0)))
    original = Point.dot
    try:
        Point.dot = lambda self, other: ("rebound", self.x)
        args = (points(3), Point(2.0, 2.0))
        assert_same(outcome(fresh_copy(each_dot), args), outcome(rec.func, args), args)
    finally:
        Point.dot = original
    args = (points(3), Point(2.0, 2.0))
    assert_same(outcome(fresh_copy(each_dot), args), outcome(rec.func, args), args)


def safe_ratios(items, q):
    out = []
    for p in items:
        try:
            out.append(p.ratio(q))
        except ZeroDivisionError as exc:
            out.append(str(exc))
    return out


def ratios(items, q):
    return [p.ratio(q) for p in items] if False else _ratios(items, q)


def _ratios(items, q):
    total = 0.0
    for p in items:
        total += p.ratio(q)
    return total


def test_an_exception_inside_the_callee_is_raised_by_the_interpreter_with_its_frame():
    warm(safe_ratios, points(3), Point(2.0, 1.0))
    warm(_ratios, points(3), Point(2.0, 1.0))
    rec = check(safe_ratios, (points(3), Point(2.0, 1.0)), (points(3), Point(0.0, 1.0)))
    assert "call_native" in ops_of(rec)
    if not forced_exits():
        assert exits_of(rec, Exit.CALLEE_EXITED) == 1      # the first division by zero: the rest runs in CPython
    # uncaught: the traceback shows the callee's line, as in CPython (check compares frames)
    check(_ratios, (points(3), Point(2.0, 1.0)), (points(3), Point(0.0, 1.0)))


def missing_attribute():
    p = Point(1.0, 2.0)
    del p.y                                      # the callee's attribute load misses
    return [Point(1.0, 1.0), p]


def test_an_attribute_load_that_misses_in_the_callee_exits_and_cpython_raises():
    warm(each_dot, points(4), Point(1.0, 1.0))
    check(each_dot, (points(2), Point(1.0, 1.0)), (missing_attribute(), Point(1.0, 1.0)))


def bump_all(items):
    s = 0.0
    for p in items:
        s += p.bump()
    return s


def test_a_method_that_changes_its_object_is_called_natively_as_a_resumable_callee():
    warm(bump_all, [Bumper(1.0), Bumper(2.0)])
    rec = check(bump_all, ([Bumper(1.0), Bumper(2.5)],))
    assert "call_native" in ops_of(rec) and "obj_call" not in ops_of(rec)   # tests/compiler/test_resumable.py


def dot_of(a, b):
    return a.x * b.x + a.y * b.y


def repeated_dots(a, b, n):
    s = 0.0
    for _ in range(n):
        s += dot_of(a, b)
    return s


def test_a_plain_function_of_objects_is_called_natively():
    warm(repeated_dots, Point(1.0, 2.0), Point(3.0, 4.0), 3)
    rec = check(repeated_dots, (Point(1.0, 2.0), Point(3.0, 4.0), 10), (Point(1.0, 2.0), Point(0.5, 4.0), 0))
    assert "call_native" in ops_of(rec) and "obj_call" not in ops_of(rec)


COUNT = [0]


def counted(n, x):
    COUNT[0] = COUNT[0] + 1                     # a side effect in a self-recursive function
    if n <= 0:
        return x
    return counted(n - 1, x * 3) + 1


def run_counted(n, x):
    COUNT[0] = 0
    r = counted(n, x)
    return r, COUNT[0]


def test_recursion_with_a_side_effect_is_not_repeated_by_an_exit():
    # an overflow deep in the recursion exits; a native self-call would be made again by the
    # interpreter and count twice, so the recursive calls go through the interpreter
    rec = check(counted, (5, 7), (5, 2 ** 58), (0, 1))
    assert "call_native" not in ops_of(rec)
    jitted = rec.func
    for args in ((5, 2 ** 58), (6, 3)):
        COUNT[0] = 0
        want = counted(*args), COUNT[0]
        COUNT[0] = 0
        assert (jitted(*args), COUNT[0]) == want


class Holder:
    def __init__(self, items):
        self.items = items

    def __deepcopy__(self, memo):
        return self                         # see Point.__deepcopy__

    def size(self):
        return len(self.items)              # frameless: a list, tuple or dict read inline

    def listy(self):
        return isinstance(self.items, list)     # frameless: exact, or a builtin's subtype test


class Sized:
    def __len__(self):
        print("__len__ ran")                # Python code: the interpreter runs it
        return 7


def sizes(holders):
    total = 0
    for h in holders:
        total += h.size()
    return total


def test_len_in_a_frameless_callee_reads_lists_tuples_dicts_and_exits_for_others():
    warm(sizes, [Holder([1, 2]), Holder((3,)), Holder({4: 5})])
    rec = check(sizes, ([Holder([1, 2]), Holder((3,)), Holder({4: 5, 6: 7}), Holder([])],),
                ([Holder([1]), Holder(Sized()), Holder("abc")],))
    assert "call_native" in ops_of(rec)
    if not forced_exits():
        assert exits_of(rec, Exit.CALLEE_EXITED) == 1          # the Sized(): then CPython goes on


class MyList(list):
    pass


def count_listy(holders):
    n = 0
    for h in holders:
        n += h.listy()
    return n


def test_isinstance_in_a_frameless_callee_answers_builtins_and_exits_for_other_classes():
    warm(count_listy, [Holder([1]), Holder((2,))])
    rec = check(count_listy, ([Holder([1]), Holder((2,)), Holder("s"), Holder({})],),
                ([Holder([]), Holder(MyList())],))
    assert "call_native" in ops_of(rec)
    if not forced_exits():
        assert exits_of(rec, Exit.CALLEE_EXITED) == 1        # MyList: CPython asks its class


def x_of(p):
    return p.x                             # a plain function (not a method) on an object


def sum_x(p, n):
    s = 0.0
    for _ in range(n):
        s += x_of(p)
    return s


def test_a_native_call_of_a_function_on_objects_releases_its_arguments():
    import sys
    p = Point(1.5, 0.0)
    warm(sum_x, p, 3)
    before = sys.getrefcount(p)
    rec = check(sum_x, (p, 50), (Point(2.0, 1.0), 0))
    assert "call_native" in ops_of(rec) and "obj_call" not in ops_of(rec)
    assert sys.getrefcount(p) == before                 # one reference per call leaked before


class Node:
    def __init__(self, parent=None):
        self.parent = parent
        self.timestamp = 0

    def __deepcopy__(self, memo):          # attributes inline, as __init__ makes them
        return Node(copy.deepcopy(self.parent, memo))

    def find(self, update=False):        # go's Square.find: called without its default
        if update:
            self.timestamp += 1
        return self if self.parent is None else self.parent


def finds(nodes):
    n = 0
    for node in nodes:
        if node.find() is node:
            n += 1
        node.find(True)
    return n


def test_a_method_called_without_its_defaults_is_called_natively():
    root = Node()
    nodes = [root, Node(root), Node(root), Node()]
    warm(finds, nodes)
    rec = check(finds, (nodes,), ([Node()],), ([],))
    assert "call_native" in ops_of(rec) and "obj_call" not in ops_of(rec)


class Cell:
    def __init__(self, v):
        self.v = v

    def get(self):
        return self.v + 1                  # too small to install: only native callers run it

    def __deepcopy__(self, memo):
        return self


class LeftCell(Cell):
    pass


class RightCell(Cell):
    pass


def sum_gets(cell, n):
    t = 0
    for i in range(n):
        t += cell.get() + i
    return t


def test_a_native_caller_asking_for_one_class_at_a_time_builds_only_that_class():
    # each specialisation of the caller asks for the callee frameless on its own class; the
    # callee, installed nowhere, gets each in a module of its own instead of all of them built
    # again each time (a compile per class, not a growing one)
    cells = [Cell(1), LeftCell(2), RightCell(3)]
    for c in cells:
        warm(sum_gets, c, 3)
    f = fresh_copy(sum_gets)
    rec = manager.record_for(f)
    rec.eager = True
    callee = manager.record_for(Cell.get)
    try:
        for c in cells:
            assert manager.compile_for(f, (type(c), int)) is not None, rec.refusal_detail
            for args in ((c, 5), (c, 0)):
                assert_same(outcome(sum_gets, args), outcome(f, args), args)
        assert "call_native" in ops_of(rec) and rec.native_calls > 0
        if forced_exits():
            assert sum(rec.exits.values()) > 0, "forced-exit mode but no exit was taken"
        mine = [s for s in callee.specs if s.param_types[0].cls in (Cell, LeftCell, RightCell)]
        assert sorted(s.param_types[0].cls.__name__ for s in mine) == ["Cell", "LeftCell", "RightCell"]
        assert all(s.callable and s.frameless for s in mine)
        assert len({id(s.compiled) for s in mine}) == 3          # one module each
        assert callee.state != "compiled"                         # nothing installed for the interpreter
    finally:
        rec.restore()
        callee.restore()
