"""Object values: lists, tuples, instances and other objects as arguments, their fast paths, guards and C-API paths."""
import gc
import sys
import warnings
import weakref

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tiered.runtime import manager
from tests.support import Exit, check, exits_of, fresh_copy, forced_exits, refused


@pytest.fixture(autouse=True)
def object_tier(monkeypatch):
    """These tests are about the object tier, which TIERED_OBJECTS=1 turns on."""
    monkeypatch.setenv("TIERED_OBJECTS", "1")


def warm(func, *args):
    """Run func in CPython until its instructions are specialised (the compiler reads them)."""
    for _ in range(40):
        try:
            func(*args)
        except Exception:          # noqa: BLE001 - only warming up
            pass


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
    if not forced_exits():
        assert exits_of(rec, Exit.TYPE_GUARD) == 3


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


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


class Slotted:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x, self.y = x, y


class Computed:
    @property
    def x(self):
        return 1.5

    def __getattr__(self, name):
        if name == "y":
            return 2.5
        raise AttributeError(f"no {name} here")


def dot(ps):
    s = 0.0
    for p in ps:
        s += p.x * p.y
    return s


def test_attribute_loads():
    warm(dot, [Point(1.0, 2.0)])
    check(dot, ([Point(1.0, 2.0), Point(3.0, 4.0)],), ([Slotted(1.0, 2.0)],), ([Computed()],), ([],))


def norm2(p):
    try:
        return p.x * p.x + p.y * p.y
    except AttributeError as e:
        return str(e)


def test_attribute_error_raised_at_the_instruction():
    warm(norm2, Point(1.0, 2.0))
    check(norm2, (Point(1.0, 2.0),), (Point(3.0, 4.0),))
    p = Point(1.0, 2.0)
    del p.y
    check(norm2, (p,), compile_with=(Point,))
    check(norm2, (Computed(),))


def bare_norm(p):
    return p.x * p.x + p.z


def test_uncaught_attribute_error_traceback():
    warm(bare_norm, Point(1.0, 2.0))
    check(bare_norm, (Point(1.0, 2.0),))


def test_class_change_after_compiling_is_seen():
    class K:
        scale = 2.0

    def f(o):
        return o.scale * 3.0

    k = K()
    warm(f, k)
    rec = check(f, (k,))
    g = rec.func
    assert g(k) == 6.0
    K.scale = 5.0
    assert g(k) == 15.0
    k.scale = 1.0
    assert g(k) == 3.0


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


def twice_x(p):
    return p.x * 2.0


def test_cached_attribute_read_sees_every_change():
    """The native read follows CPython's own specialisation; each way it can go stale is seen."""
    class Plain:
        def __init__(self, x):
            self.x = x

    class Sub(Plain):
        pass

    warm(twice_x, Plain(1.0))
    rec = check(twice_x, (Plain(1.5),), (Sub(2.0),), compile_with=(Plain,))
    g = rec.func
    p = Plain(3.0)
    assert g(p) == 6.0
    p.__dict__["x"] = 4.0                 # the instance's dict materialised and changed
    assert g(p) == 8.0
    q = Plain(5.0)
    del q.x
    try:
        g(q)
        raise AssertionError("no AttributeError")
    except AttributeError as e:
        assert "x" in str(e)
    r = Plain(1.0)
    Plain.x = property(lambda self: 7.0)  # a data descriptor now wins over the instance value
    assert g(r) == 14.0


def test_cached_slot_read_sees_deletion():
    warm(twice_x, Slotted(1.0, 2.0))
    rec = check(twice_x, (Slotted(1.5, 0.0),))
    s = Slotted(2.0, 0.0)
    assert rec.func(s) == 4.0
    del s.x
    try:
        rec.func(s)
        raise AssertionError("no AttributeError")
    except AttributeError:
        pass


def describe(o):
    if o is None:
        return "none"
    if o is not None and isinstance(o, Point):
        return "point " + str(o.x)
    return "other"


def test_is_none_isinstance_and_calls_of_builtins():
    check(describe, (None,), (Point(1, 2),), (3,), ("x",), compile_with=(Point,))


class Counter2:
    def __init__(self):
        self.n = 0
        self.seen = []

    def bump(self, k):
        self.n += k
        self.seen.append(k)
        return self.n


def use_methods(c, m):
    total = 0
    for k in range(m):
        total += c.bump(k)
    c.last = total
    return total


def test_method_calls_and_attribute_stores():
    check(use_methods, (Counter2(), 5), (Counter2(), 0))


def failing_call(c, k):
    try:
        return c.bump(k)
    except TypeError as e:
        return "caught " + str(e)


def test_exception_from_a_call_inside_try():
    check(failing_call, (Counter2(), 3), (Counter2(), "x"), compile_with=(Counter2, int))


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


def sets_tracer(f):
    sys.settrace(f)
    sys._getframe(1).f_trace = f


def traced_after_call(n):
    sets_tracer(tracer)
    a = n + 1
    b = a * 2
    sys.settrace(None)
    return b


EVENTS = []


def tracer(frame, event, arg):
    if frame.f_code.co_name == "traced_after_call":
        EVENTS.append((event, frame.f_lineno - frame.f_code.co_firstlineno))
    return tracer


def test_a_tracer_set_by_a_callee_sees_the_rest_of_the_function():
    EVENTS.clear()
    traced_after_call(1)
    expected = list(EVENTS)
    EVENTS.clear()
    rec = check(traced_after_call, (1,))          # runs it in CPython, then compiled
    assert expected and EVENTS == expected * 2, (EVENTS, expected)
    if not forced_exits():
        assert exits_of(rec, Exit.TRACED) == 1


def caller_line():
    f = sys._getframe(1)
    return f.f_code.co_name, f.f_lineno - f.f_code.co_firstlineno


def reports_lines(n):
    a = caller_line()
    total = 0
    for i in range(n):
        total += caller_line()[1]
    b = [caller_line(), caller_line()]
    return a, total, b


def test_the_caller_frame_shows_its_line_while_native_code_calls_out():
    check(reports_lines, (3,))


def warns(n):
    with_line = n + 1
    warnings.warn("careful", UserWarning, 1)
    return with_line


def test_warning_location_from_a_compiled_function():
    with warnings.catch_warnings(record=True) as plain:
        warnings.simplefilter("always")
        warns(1)
    g = fresh_copy(warns)
    manager.record_for(g).eager = True
    assert manager.compile_for(g, (int,)) is not None
    before = manager.record_for(g).native_calls
    with warnings.catch_warnings(record=True) as jit:
        warnings.simplefilter("always")
        g(1)
    assert manager.record_for(g).native_calls > before
    assert [(w.filename, w.lineno) for w in jit] == [(w.filename, w.lineno) for w in plain]


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
