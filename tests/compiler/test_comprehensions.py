"""Comprehensions and generator expressions: 3.12 inlines comprehensions into the function
(LOAD_FAST_AND_CLEAR, LIST_APPEND, MAP_ADD); 3.11 makes a function of each, which native code
makes and calls with a real iterator, as it does a generator expression's."""
import sys

import pytest

from tests.support import check, warm

pytestmark = pytest.mark.usefixtures("object_tier")
INLINED = sys.version_info >= (3, 12)


def ops_of(rec):
    """The IR ops of every compiled specialisation."""
    return set().union(*(s.ops for s in rec.specs))


def squares(xs, k):
    out = [x * k for x in xs if x]
    table = {x: x + 1 for x in xs}
    return out, table


def shadowing(xs):
    x = "outer"
    ys = [x * 2 for x in xs]
    return ys, x                    # the comprehension's x is its own: the outer one is back


x = "the module's x"


def global_after(xs):
    ys = [x for x in xs]
    return ys, x                    # the module's x: the comprehension's is its own


def numbers(n):
    return [i * i for i in range(n)], {i: i / 2 for i in range(n)}


def raising_inside(xs):
    try:
        return [10 // x for x in xs]
    except ZeroDivisionError as exc:
        return str(exc)


def nested(rows):
    return [[v + 1 for v in row] for row in rows]


CASES = [
    (squares, ([1, 0, 3.5], 2), ([], 3), (["a", "", "b"], 2)),
    (shadowing, ([1, 2],), ([],)),
    (global_after, ([1, 2],), ([],)),
    (numbers, (5,), (0,)),
    (raising_inside, ([1, 2, 5],), ([1, 0, 2],)),
    (nested, ([[1, 2], [3.5]],), ([],)),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0].__name__ for c in CASES])
def test_comprehensions_compile_and_match_cpython(case):
    func, *arg_sets = case
    warm(func, *arg_sets[0])
    rec = check(func, *arg_sets)
    if INLINED:
        assert ops_of(rec) & {"list_append", "obj_setitem"}
    else:                                  # a function of its own each, called with iter(xs)
        assert {"make_function", "obj_iter", "obj_call"} <= ops_of(rec)


def over_range(s):
    return [i
            for i in range(len(s))]          # a new line between the call and its GET_ITER


def test_a_comprehension_over_range_on_its_own_line():
    warm(over_range, "abc")
    rec = check(over_range, ("abc",), ("",))
    assert ("list_append" if INLINED else "obj_iter") in ops_of(rec)


def generators(xs, n):
    total = 0
    for k in range(n):
        total += sum(x * k for x in xs) + max((x for x in range(k + 1)), default=-1)
        total += len(list(x for x in xs if x > k))
    return total


def generator_raising(xs):
    try:
        return sum(10 // x for x in xs)
    except ZeroDivisionError as exc:
        return str(exc)


def test_generator_expressions_over_lists_and_ranges():
    rec = check(generators, ([1, 2, 3], 4), ([], 2), ([1.5, -2], 3), ([2**63], 2), ([1, "a"], 1))
    assert {"make_function", "obj_iter", "obj_call"} <= ops_of(rec)
    check(generator_raising, ([1, 2],), ([1, 0],), ([],))


@pytest.mark.skipif(not INLINED, reason="3.11 makes a comprehension a function of its own")
def test_312_comprehensions_iterate_lists_and_ranges_inline():
    # the iterator a 3.12 comprehension loops over stays virtual (its set-up comes between
    # GET_ITER and FOR_ITER); only a generator expression gets a real one
    for func, args, inline in ((squares, ([1, 2], 3), "seq_next"), (numbers, (4,), "range_len")):
        warm(func, *args)
        ops = ops_of(check(func, args))
        assert inline in ops and "obj_iter" not in ops
    assert "obj_iter" in ops_of(check(generators, ([1, 2], 3)))
