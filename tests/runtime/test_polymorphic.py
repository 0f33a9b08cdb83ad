"""Signatures that differ in objects' classes (specs.widened): a parameter seen as None and as
an object gets one specialisation for any object at once, and so does a parameter beside a
receiver of the same class; distinct classes of the receiver keep one each up to
TIERED_MAX_SPECIALIZATIONS, and one more then serves every other class (no refusal, no more
compiles)."""
import sys

import pytest

from tests.support import assert_same, forced_exits, fresh_copy, outcome, warm
from tiered import config
from tiered.compiler.ops import OBJ
from tiered.runtime import manager, records

pytestmark = pytest.mark.usefixtures("object_tier")


class Square:
    def __init__(self, side):
        self.side = side

    def size(self):
        return self.side * self.side


class Rect(Square):
    def __init__(self, side, other):
        self.side, self.other = side, other

    def size(self):
        return self.side * self.other


class Named:
    side = 3                      # read through the class: no attribute of its own

    def size(self):
        return len(type(self).__name__)


class Broken(Square):
    def size(self):
        raise ValueError(f"no size for {self.side}")


def measure(shape, n):
    t = 0
    for i in range(n):
        t += shape.size() + shape.side + i
    return t


class Peek(Square):
    def size(self):
        caller = sys._getframe(1)             # the compiled caller's frame: its locals and line
        return caller.f_locals["i"] * 100 + caller.f_locals["t"] + caller.f_lineno


SHAPES = [Square(4), Rect(2, 5), Named(), Broken(7), Square(10**20), Peek(3)]


class Circle(Square):
    def size(self):
        return 3 * self.side * self.side


def test_classes_keep_their_own_up_to_the_limit_then_one_serves_every_other_class():
    for s in SHAPES[:3]:
        warm(measure, s, 3)                   # CPython's caches see several classes
    f = fresh_copy(measure)
    rec = manager.record_for(f)
    rec.eager = True
    limit = config.get("TIERED_MAX_SPECIALIZATIONS")
    classes = [Square, Rect, Circle, Named, Broken, Node][:limit + 2]
    made = [manager.compile_for(f, (cls, int)) for cls in classes[:limit + 1]]
    assert None not in made, f"not compiled: {rec.refusal} {rec.refusal_detail}"
    int_type = records.PY_TYPES[int]
    assert [s.param_types[0] for s in rec.specs[:limit]] == [records.ir_types((c,))[0] for c in classes[:limit]]
    assert len(rec.specs) == limit + 1 and rec.specs[-1].param_types == (OBJ, int_type)   # any object
    compiles = len(rec.compile_seconds)
    assert manager.compile_for(f, (classes[limit + 1], int)) is rec.specs[-1]     # no compile, no refusal
    assert len(rec.compile_seconds) == compiles and rec.refusal is None
    before = rec.native_calls
    for shape in SHAPES + [Circle(2)]:
        for n in (0, 1, 5):
            assert_same(outcome(measure, (shape, n)), outcome(f, (shape, n)), (shape, n))
    assert rec.native_calls >= before + 3 * (len(SHAPES) + 1)       # every class ran native code
    assert len(rec.compile_seconds) == compiles
    if forced_exits():
        assert sum(rec.exits.values()) > 0                # its exits were taken


class Node:
    def __init__(self, v, nxt=None):
        self.v, self.nxt = v, nxt


def chain_sum(node, k):
    t = 0
    for _ in range(k):
        t += node.v if node is not None else -1
    return t


def test_none_then_an_object_makes_one_specialisation_for_any_object():
    f = fresh_copy(chain_sum)
    rec = manager.record_for(f)
    rec.eager = True
    assert manager.compile_for(f, (type(None), int)) is not None, rec.refusal_detail
    general = manager.compile_for(f, (Node, int))
    assert general is not None and general.param_types[0] == OBJ
    assert [s.param_types for s in rec.specs] == [general.param_types]    # it replaced the None one
    before = rec.native_calls
    for args in ((None, 3), (Node(4), 2), (Node(2**70), 1), (Square(1), 2)):
        assert_same(outcome(chain_sum, args), outcome(f, args), args)
    assert rec.native_calls >= before + 4
    if forced_exits():
        assert sum(rec.exits.values()) > 0


def test_numbers_of_another_type_still_get_their_own_specialisation():
    f = fresh_copy(measure)
    rec = manager.record_for(f)
    rec.eager = True
    assert manager.compile_for(f, (Square, int)) is not None
    assert manager.compile_for(f, (Square, bool)) is not None
    assert [s.param_types[1] for s in rec.specs] == [records.PY_TYPES[int], records.PY_TYPES[bool]]
    for args in ((Square(3), 4), (Square(3), True), (Rect(1, 2), 2)):
        assert_same(outcome(measure, args), outcome(f, args), args)


def first_or_none(xs, k):
    t = 0
    for i in range(k):
        t += len(xs) if xs is not None else -1
    return t


def test_builtin_types_keep_their_own_specialisations_and_none_widens():
    f = fresh_copy(first_or_none)
    rec = manager.record_for(f)
    rec.eager = True
    for types_ in ((list, int), (tuple, int)):
        assert manager.compile_for(f, types_) is not None, rec.refusal_detail
    assert [s.param_types[0].cls for s in rec.specs] == [list, tuple]     # exact: their own fast paths
    g = fresh_copy(first_or_none)
    grec = manager.record_for(g)
    grec.eager = True
    assert manager.compile_for(g, (type(None), int)) is not None
    assert manager.compile_for(g, (Square, int)).param_types[0] == OBJ      # None, then a class
    before = rec.native_calls + grec.native_calls
    for args in (([1, 2], 3), ((1,), 2), (None, 2), (Square(1), 0)):
        for fn in (f, g):
            assert_same(outcome(first_or_none, args), outcome(fn, args), args)
    assert rec.native_calls + grec.native_calls > before + 4


def test_the_signatures_a_profile_saw_compile_together_in_one_module():
    for s in SHAPES[:3]:
        warm(measure, s, 3)
    f = fresh_copy(measure)
    rec = manager.record_for(f)
    rec.eager = True
    seen = [(Rect, int), (Square, int), (type(None), int), (Named, int), (Circle, int), (Node, int)]
    assert manager.compile_for(f, (Square, int), also=seen) is not None, rec.refusal_detail
    limit = config.get("TIERED_MAX_SPECIALIZATIONS")
    # one compile: the asked signature, then those seen that would each get their own (None
    # would widen the parameter, so it is left to its own call), up to the limit
    expected = [(Square, int), (Rect, int), (Named, int), (Circle, int), (Node, int)][:limit]
    assert [s.param_types for s in rec.specs] == [records.ir_types(t) for t in expected]
    assert len(rec.compile_seconds) == 1
    before = rec.native_calls
    for shape in SHAPES[:3]:
        for n in (0, 1, 5):
            assert_same(outcome(measure, (shape, n)), outcome(f, (shape, n)), (shape, n))
    assert rec.native_calls >= before + 9           # each class ran its own native code
    assert len(rec.compile_seconds) == 1            # and none of them needed a compile
    if forced_exits():
        assert sum(rec.exits.values()) > 0


def scaled(x, scale, k):
    t = 0
    for i in range(k):
        t += x * i if scale is None else x * i * scale
    return t


def test_a_number_parameter_seen_as_none_too_gets_one_specialisation_for_either():
    f = fresh_copy(scaled)
    rec = manager.record_for(f)
    rec.eager = True
    int_type = records.PY_TYPES[int]
    assert manager.compile_for(f, (int, int, int)) is not None, rec.refusal_detail
    general = manager.compile_for(f, (int, type(None), int))
    assert general is not None and general.param_types == (int_type, OBJ, int_type)
    assert [s.param_types for s in rec.specs] == [general.param_types]    # it replaced the int one
    compiles = len(rec.compile_seconds)
    assert manager.compile_for(f, (int, int, int)) is general              # no compile for it again
    assert manager.compile_for(f, (int, float, int)) is general
    assert len(rec.compile_seconds) == compiles
    before = rec.native_calls
    for args in ((3, None, 4), (3, 2, 4), (3, 0.5, 4), (2**40, 2**40, 3), (3, "s", 2)):
        assert_same(outcome(scaled, args), outcome(f, args), args)
    assert rec.native_calls >= before + 5                # every kind ran native code
    if forced_exits():
        assert sum(rec.exits.values()) > 0


class Scale:
    def __init__(self, k):
        self.k = k


def weigh(scale, shape, n):
    t = 0
    for i in range(n):
        t += scale.k * shape.size() + i
    return t


def test_a_parameter_beside_the_same_receiver_serves_any_object_from_its_second_class():
    for s in SHAPES[:2]:
        warm(weigh, Scale(2), s, 3)
    f = fresh_copy(weigh)
    rec = manager.record_for(f)
    rec.eager = True
    first = manager.compile_for(f, (Scale, Square, int))
    assert first is not None, f"not compiled: {rec.refusal} {rec.refusal_detail}"
    general = manager.compile_for(f, (Scale, Rect, int))
    int_type = records.PY_TYPES[int]
    assert general.param_types == (records.ir_types((Scale,))[0], OBJ, int_type)
    assert [s.param_types for s in rec.specs] == [first.param_types, general.param_types]   # Square keeps its own
    compiles = len(rec.compile_seconds)
    assert manager.compile_for(f, (Scale, Circle, int)) is general and manager.compile_for(f, (Scale, Named, int)) \
        is general and len(rec.compile_seconds) == compiles    # no compile for any other class
    before = rec.native_calls
    for shape in SHAPES + [Circle(2)]:
        for n in (0, 1, 4):
            assert_same(outcome(weigh, (Scale(3), shape, n)), outcome(f, (Scale(3), shape, n)), (shape, n))
    assert rec.native_calls >= before + 3 * (len(SHAPES) + 1)       # every class ran native code
    if forced_exits():
        assert sum(rec.exits.values()) > 0
