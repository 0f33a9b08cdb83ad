"""Object tier: unary operators on objects, and the truth of items of any class."""
import fractions

import pytest

from tests.compiler.test_objects import Truthy
from tests.support import check

pytestmark = pytest.mark.usefixtures("object_tier")


class Signed:
    def __neg__(self):
        return "negated"

    def __pos__(self):
        raise ArithmeticError("no unary plus here")

    def __invert__(self):
        return ~3

    def __bool__(self):
        print("truth asked")
        return False


def unaries(items):
    out = []
    for x in items:
        out.append(not x)
        try:
            out.append(-x)
            out.append(+x)
            out.append(~x)
        except (TypeError, ArithmeticError) as exc:
            out.append(repr(exc))
    return out


def test_unary_operators_and_not_on_objects():
    items = [3, -2.5, fractions.Fraction(1, 3), Signed(), "text", [], 0, None]
    check(unaries, (items,), ([],))


def count_true(items):
    n = 0
    for x in items:
        if x:                          # True, False and None inline; the rest asked
            n += 1
        if not x:
            n -= 10
    return n


def test_truth_of_items_of_any_class():
    items = [True, False, None, 0, 1, 0.0, "", "a", [], [0], Truthy(1), Truthy(0)]
    check(count_true, (items,), ([True] * 5,), ([Truthy(None)],))
