"""Comprehensions: 3.12 inlines them into the function (LOAD_FAST_AND_CLEAR, LIST_APPEND, MAP_ADD); 3.11 makes a function of each, which stays in CPython."""
import sys

import pytest

from tests.support import check, refused, warm

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
def test_comprehensions_compile_on_312_and_match_cpython(case):
    func, *arg_sets = case
    warm(func, *arg_sets[0])
    if not INLINED:
        refused(func, tuple(type(a) for a in arg_sets[0]))      # a function of its own each
        return
    rec = check(func, *arg_sets)
    assert ops_of(rec) & {"list_append", "obj_setitem"}


def over_range(s):
    return [i
            for i in range(len(s))]          # a new line between the call and its GET_ITER


def test_a_comprehension_over_range_on_its_own_line():
    warm(over_range, "abc")
    if not INLINED:
        return
    rec = check(over_range, ("abc",), ("",))
    assert "list_append" in ops_of(rec)
