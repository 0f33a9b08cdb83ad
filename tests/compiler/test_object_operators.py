"""Object tier: unary operators on objects, and the truth of items of any class."""
import fractions

import pytest

from tests.compiler.test_objects import Truthy
from tests.support import check, forced_exits

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


class Score:
    def __init__(self, wins, losses):
        self.wins, self.losses = wins, losses


def best(items):
    top = -1                            # an int, then floats: CPython saw floats meet it
    ratio_sum = 0.0
    for s in items:
        r = s.wins / float(s.wins + s.losses)      # an int attribute over a float
        ratio_sum += s.wins * 0.5 + r               # int * float, float + float
        if r > top:
            top = r
        if s.wins >= 0.5:                           # an int compared with a float
            ratio_sum -= 1
    return top, ratio_sum


def test_ints_meet_floats_as_cpython_converts_them(object_tier):
    # an int operand where CPython saw floats (or where the other operand is a float) is
    # converted as float arithmetic converts it, instead of failing a float guard each time
    items = [Score(w, 3) for w in range(6)] * 20
    big = [Score(2**53 + 1, 1), Score(2**70, 1), Score(-(2**60), 2**60 + 7)]
    rec = check(best, (items,), ([],), ([Score(1.5, 2), Score(3, 0.5)],), (big,),
                ([Score(True, 1)],), ([Score(0, 0)],))
    assert rec.state == "compiled" and rec.refusal is None
    if not forced_exits():
        before, calls = dict(rec.exits), rec.native_calls
        assert rec.func(items) == best(items)
        assert rec.native_calls == calls + 1 and dict(rec.exits) == before     # native throughout
