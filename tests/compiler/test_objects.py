"""Object values: lists, tuples and other objects as arguments, their fast paths and guards, reference counts, and the C-API paths."""
import gc
import sys
import weakref

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiered.runtime import manager
from tests.support import Exit, check, exits_of, fresh_copy, forced_exits, refused, warm
from tests.compiler.test_object_attrs import Point, dot, norm2

pytestmark = pytest.mark.usefixtures("object_tier")


def total(xs):
    s = 0.0
    for x in xs:
        s += x
    return s


def test_without_the_object_tier_objects_are_refused(monkeypatch):
    monkeypatch.setenv("TIERED_OBJECTS", "0")
    assert refused(total, (list,)).name == "UNSUPPORTED_TYPE"
    assert refused(lengths, (int, int)).name == "UNSUPPORTED_TYPE"


def test_sum_over_list_and_tuple():
    warm(total, [1.0, 2.0])
    check(total, ([1.0, 2.5, -3.0],), ([],), ([1e308, 1e308],))
    check(total, ((1.0, 2.5, 0.25),), ((),))


def test_item_of_another_type_exits_and_cpython_continues():
    warm(total, [1.0, 2.0])
    rec = check(total, ([1.0, 2.0],), ([1.0, 2, 3.5],), ([1.0, "x"],), ([1.0, 2.0**0.5, 7],))
    if not forced_exits():          # the str (an int meeting the float total converts as CPython does)
        assert exits_of(rec, Exit.TYPE_GUARD) == 1


def indexing(xs, i):
    return xs[i] * 2.0 + xs[-1]


def test_indexing_negative_and_out_of_range():
    warm(indexing, [1.0, 2.0], 0)
    rec = check(indexing, ([1.0, 2.0, 3.0], 0), ([1.0, 2.0, 3.0], -3), ([1.0, 2.0, 3.0], 3),
                ([1.0, 2.0, 3.0], -4), ([], 0), ([1.0, 2.0], True))
    if not forced_exits():
        assert exits_of(rec, Exit.INDEX) == 3


def guarded_index(xs, i):
    try:
        return xs[i]
    except IndexError as e:
        return str(e)


def test_index_error_caught_in_the_same_function():
    check(guarded_index, ([1.0, 2.0], 1), ([1.0, 2.0], 5), ([1.0, 2.0], -9))
    check(guarded_index, ((1, "a"), 1), ((1, "a"), 2))


def first(xs):
    return xs[0]


def test_returns_the_same_object():
    rec = check(first, ([[1], 2],), ([3.5],))
    item = [1]
    assert rec.func([item, 2]) is item


def scale(xs, n, k):
    for i in range(n):
        xs[i] = xs[i] * k
    return n


def test_store_into_list_and_out_of_range():
    warm(scale, [1.0, 2.0], 2, 2.0)
    check(scale, ([1.0, 2.0, 3.0], 3, 0.5), ([1.0, 2.0], 3, 2.0), ([1.0, 2.0], -1, 2.0))


def grid(m):
    s = 0.0
    for row in m:
        for x in row:
            s += x
    return s


def test_nested_lists():
    warm(grid, [[1.0]])
    check(grid, ([[1.0, 2.0], [3.0], []],), ([],), ([[1.0], (2.0, 3.0)],))


def lengths(xs, t):
    return len(xs) * 10 + len(t)


def test_len_of_list_and_tuple():
    check(lengths, ([1, 2, 3], (4,)), ([], ()))


def lookup(d, k):
    try:
        return d[k]
    except KeyError:
        return -1


def test_generic_subscript_and_key_error():
    check(lookup, ({"a": 1}, "a"), ({"a": 1}, "b"), ({1: 2}, 1))


class Noisy:
    log = []

    def __init__(self, name):
        self.name = name

    def __del__(self):
        print("del", self.name)


def replace_first(xs, v):
    xs[0] = v
    return len(xs)


def test_destructor_runs_where_cpython_runs_it():
    check(replace_first, ([Noisy("a"), 1.0], 2.5), ([Noisy("b")], 0.5))


def keep_local(xs):
    y = xs[0]
    xs[0] = 0.0
    z = y
    y = 1.0
    return z


def test_local_rebinding_releases_in_order():
    check(keep_local, ([Noisy("c")],), ([2.0],), compile_with=(list,))


def test_no_reference_leaks_on_any_path():
    items = [object() for _ in range(3)]
    xs = [1.0, 2.0, 3.0]
    p = Point(1.0, 2.0)
    before = [sys.getrefcount(o) for o in items + [xs, p]]
    cases = [(total, (xs,)), (indexing, (xs, 1)), (indexing, (xs, 7)), (first, (items,)),
             (guarded_index, (items, 9)), (norm2, (p,)), (dot, ([p, p],))]
    for f, args in cases:
        warm(f, *args)
        g = fresh_copy(f)
        manager.record_for(g).eager = True
        assert manager.compile_for(g, tuple(type(a) for a in args)) is not None
        r = None
        for _ in range(200):
            try:
                r = g(*args)
            except IndexError:
                pass
        del r
        assert manager.record_for(g).native_calls >= 200, f"{f.__name__} did not run native"
    del cases, args
    after = [sys.getrefcount(o) for o in items + [xs, p]]
    assert after == before


def test_a_dead_class_is_freed():
    class Temp:
        def __init__(self):
            self.v = 2.0

    def f(t):
        return t.v * 2.0

    warm(f, Temp())
    rec = check(f, (Temp(),))
    alive = weakref.ref(Temp)
    del Temp
    gc.collect()
    assert alive() is None, "compiled code kept its argument's class alive"
    assert rec.func  # the function itself stays usable: another class simply misses

    class Other:
        v = 4.0
    assert rec.func(Other()) == 8.0
    # enough misses for a second specialisation: the dead class's is dropped, not rebuilt
    g = rec.func
    for _ in range(300):
        assert g(Other()) == 8.0
    assert rec.refusal is None and rec.state == "compiled", rec.refusal_detail
    assert [t.cls for s in rec.specs for t in s.param_types] == [Other]


def mixed(xs):
    return xs[0] * xs[1] + xs[2]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True), st.integers(-2**70, 2**70)), min_size=3, max_size=3))
def test_numbers_read_from_lists(values):
    warm(mixed, [1.0, 2.0, 3.0])
    check(mixed, (values,), compile_with=(list,))


def add(a, b):
    return a + b


def grow(xs, ys):
    xs += ys
    return len(xs)


def careful(a, b):
    try:
        return a - b
    except TypeError as e:
        return str(e)


def test_generic_operators_through_the_c_api():
    check(add, ("ab", "cd"), ("ab", 3), ([1], [2]))
    check(add, ([1], [2, 3]), ([1], (2,)))
    check(add, (Point(1, 2), 1))
    check(grow, ([1], [2, 3]), ([], []))         # += extends the list in place
    check(careful, ("a", "b"), ({1}, {1, 2}))


class Truthy:
    def __init__(self, v):
        self.v = v

    def __bool__(self):
        print("bool of", self.v)
        if self.v is None:
            raise ValueError("no truth")
        return bool(self.v)


def branch_on(o, n):
    if o:
        return n + 1
    return n - 1


def test_truth_of_objects_and_a_raising_bool():
    check(branch_on, (Truthy(1), 5), (Truthy(0), 5), (Truthy(None), 5), ([], 2), ([0], 2),
          compile_with=(Truthy, int))


def ordered(a, b):
    if a < b:
        return 1
    if a == b:
        return 0
    return -1


def test_rich_comparisons():
    check(ordered, ("a", "b"), ("b", "a"), ("a", "a"), ("a", 1))
    check(ordered, ((1, 2), (1, 3)), ((1,), (1,)))


def count_items(it):
    n = 0
    for x in it:
        n += 1
    return n


class Failing:
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return self

    def __next__(self):
        self.n -= 1
        print("next", self.n)
        if self.n < 0:
            raise RuntimeError("broken iterator")
        if self.n == 2:
            raise StopIteration
        return self.n


def test_iteration_over_any_iterable():
    check(count_items, ({"a": 1, "b": 2},), ({1, 2, 3},), ("abc",), (range(5),), ([1, 2],), compile_with=(dict,))
    check(count_items, (Failing(5),), (Failing(1),))


class Counting:
    def __init__(self, n):
        self.n = n

    def __iter__(self):                 # a generator: iteration resumes its frame
        for i in range(self.n):
            print("yield", i)
            yield i


def test_iteration_over_a_generator():
    check(count_items, (Counting(3),), (Counting(0),))


def describe(o):
    if o is None:
        return "none"
    if o is not None and isinstance(o, Point):
        return "point " + str(o.x)
    return "other"


def test_is_none_isinstance_and_calls_of_builtins():
    check(describe, (None,), (Point(1, 2),), (3,), ("x",), compile_with=(Point,))


def membership(xs, d, k):
    a = k in xs
    b = k not in d
    return a, b


def test_in_and_not_in():
    check(membership, ([1, 2], {"a": 1}, 2), ([1, 2], {"a": 1}, "a"), ([], {}, 0),
          compile_with=(list, dict, int))


def make_list(a, b):
    xs = [a, b, a * 2]
    xs[0] = "s"
    d = {}
    d["k"] = xs
    return d


def test_lists_built_and_stores_into_dicts():
    check(make_list, (1.5, 2.5), (1, 2), compile_with=(float, float))


def unhashable(d, k):
    try:
        d[k] = 1
    except TypeError as e:
        return str(e)
    return len(d)


def test_store_that_raises():
    check(unhashable, ({}, [1]), ({}, "a"), compile_with=(dict, list))


def generic_index(rows, i):
    r = rows[i]
    return r[0] + r[-1]


def test_int_index_into_an_object_of_unknown_class():
    # no warm-up: CPython has not specialised anything, so r is an object of unknown class
    check(generic_index, ([[1.0, 2.0], (3.0, 4.0), {0: 5.0, -1: 6.0}], 0), ([[1.0, 2.0], (3.0,)], 1),
          ([[1.0, 2.0], {0: 5.0, -1: 6.0}], 1), ([[1.0], []], 1), compile_with=(list, int))


def walk(node):
    if isinstance(node, dict):
        total = 0
        for key in node:
            total += walk(node[key])
        return total
    if isinstance(node, list):
        return len(node)
    return node


def test_numbers_and_objects_returned_from_one_function():
    tree = {"a": [1, 2], "b": {"c": 3, "d": "x"}, "e": 4.5}
    check(walk, (tree,), ({"a": 1, "b": 2},), ({},))
    check(walk, ({"z": "s", "y": "t"},), compile_with=(dict,))     # str + str: TypeError


def count_positive(xs):
    n = 0
    for x in xs:
        if x > 0:
            n += 1
    return n


def test_a_comparison_cpython_could_not_specialise_stays_generic():
    warm(count_positive, [0.5, -1.5, 2.0])          # float > int: CPython has no fast path
    rec = check(count_positive, ([0.5, -1.5, 2.0],), ([1, -2, 3.5],))
    if not forced_exits():
        assert exits_of(rec, Exit.TYPE_GUARD) == 0


def drops(xs):
    last = xs.pop()
    total = len(xs)
    del last                         # the destructor runs here, as in CPython
    print("after del", total)
    del total
    return xs


def test_del_of_a_local():
    rec = check(drops, ([1, Noisy("a")],), ([2.5],))
    assert rec.native_calls > 0



class Node:
    def __init__(self, val, next=None):
        self.val, self.next = val, next


def walks_a_list(head):
    total = 0
    node = head                        # a Node entering the loop, then whatever .next holds
    label = "start"                    # a str constant, then what formatting returns
    while node is not None:
        total += node.val
        label = "%s>%d" % (label, node.val)
        node = node.next
    return total, label


def test_a_loop_value_whose_class_changes_is_kept_as_any_object(object_tier):
    # once refused: "obj[Node] becomes obj in a loop"
    chain = Node(1, Node(2, Node(3)))
    rec = check(walks_a_list, (chain,), (Node(5),), (Node(1, "not a node"),))
    assert rec.state == "compiled" and rec.refusal is None


class Item:
    def __init__(self, v):
        self.v = v


def best_and_total(items):
    best = None                          # None, then an Item
    total = 0                            # an int, then an int or a float
    for it in items:
        if best is None or it.v > best.v:
            best = it
        total += it.v
    return (best.v if best is not None else None), total


def test_a_local_of_varying_kinds_is_kept_boxed(object_tier):
    # once refused: "['none', obj] meet" and "int becomes obj in a loop"
    rec = check(best_and_total, ([Item(1), Item(2.5), Item(3)],), ([],), ([Item(2)],),
                ([Item(1), Item(True), Item(-0.0)],))
    assert rec.state == "compiled" and rec.refusal is None


def param_of_varying_kinds(x, items):
    def inner():                        # a cell: MAKE_CELL comes before RESUME
        return len(items)
    for it in items:
        if it.v > 1:
            x = it                      # an int parameter, then an Item: kept boxed from entry
    return x if isinstance(x, int) else x.v, inner()


def test_a_number_parameter_boxed_at_entry_resumes_after_resume(object_tier):
    # the entry's box of x (an exit there resumes at the first instruction after RESUME, not at
    # a MAKE_CELL before it: that made the installer refuse the function with a backward jump)
    rec = check(param_of_varying_kinds, (1, [Item(1), Item(2), Item(3)]), (5, []), (2, [Item(0)]))
    assert rec.state == "compiled" and rec.refusal is None


def useful(items, limit):
    if not items:
        return True                     # a bool here, an int or a bool below (go's Board.useful)
    n = 0
    for it in items:
        n += it.v > limit
    return n > 3 and (n or limit)


def sign_or_none(x):
    x = abs(x)                          # a builtin called: a point where forced exits leave
    if x > 0:
        return 1
    if x < 0.5:
        return -1.0
    return None


def test_returns_of_two_kinds_of_number_are_boxed(object_tier):
    # once refused: "returns bool and int"
    rec = check(useful, ([Item(1)] * 5, 0), ([], 0), ([Item(1)] * 5, 7), ([Item(2)] * 2, 1))
    assert rec.state == "compiled" and rec.refusal is None
    rec = check(sign_or_none, *[(x,) for x in range(-20, 21)])
    assert rec.state == "compiled" and rec.refusal is None


DIRS = [(1, 0), (0, 1), (-1, 1)]


def walk_dirs(x, y):
    total = 0
    for dx, dy in DIRS:                 # a global list (hexiom's link_nodes)
        total += (x + dx) * (y + dy)
    for name in GLOBAL_NAMES:           # a global tuple
        total += len(name)
    return total


GLOBAL_NAMES = ("a", "bb", "ccc")


def test_a_for_loop_over_a_global_list_or_tuple(object_tier):
    # once refused: "a for loop over something other than range()"
    rec = check(walk_dirs, (2, 3), (0, 0), (-5, 7))
    assert rec.state == "compiled" and rec.refusal is None
    DIRS.append((2, 2))                 # the same list, longer: seen at once
    try:
        before = rec.native_calls
        assert rec.func(2, 3) == walk_dirs(2, 3) == 47         # walk_dirs: the original, in CPython
        assert rec.native_calls == before + 1
    finally:
        DIRS.pop()


def first_truthy(items, default):
    out = []
    for it in items:
        out.append(it.v and it)                # 3.11: JUMP_IF_FALSE_OR_POP keeps an object
        out.append(it.v or default)            # and JUMP_IF_TRUE_OR_POP
    return out


def test_and_or_keep_objects(object_tier):
    # once refused on 3.11: "an object kept by JUMP_IF_*_OR_POP"
    rec = check(first_truthy, ([Item(1), Item(0), Item(""), Item([2])], "d"), ([], None),
                ([Item(Item(0))], 5))
    assert rec.state == "compiled" and rec.refusal is None
