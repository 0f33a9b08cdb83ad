"""Exits and snapshots: exit codes round-trip, and each virtual stack item flattens, maps and is rebuilt as the interpreter expects."""
from hypothesis import given, strategies as st

from tiered.compiler.exits import (NULL, REASONS, FrameState, Known, RangeIter, SeqIter, VTuple,
                                   decode_exit, exit_code, parts_of, slot_of)
from tiered.compiler.ir import Value
from tiered.compiler.ops import INT, OBJ


@given(st.integers(0, 10**6), st.booleans(), st.sampled_from(REASONS))
def test_exit_codes_round_trip(site, exc, reason):
    stub, k, e, r = decode_exit(exit_code(site, exc, reason))
    assert (k, e, r) == (site, exc, reason) and stub == 2 * site + exc


def _v(i, t=INT, **attrs):
    return Value(i, "const", [], t, attrs)


def test_frame_state_values_are_locals_then_each_items_parts():
    a, b, c, d, e, f = (_v(i) for i in range(6))
    state = FrameState(10, (("x", a),), (NULL, Known(len), RangeIter(b, c, d), VTuple((e,)), f))
    assert state.values() == [a, b, c, d, e, f]


def test_map_replaces_every_part_and_keeps_known_objects():
    a, b, c = _v(0), _v(1), _v(2)
    swap = {0: c}
    state = FrameState(4, (("x", a),), (Known(len), SeqIter(b, a), VTuple((a, b)), a))
    mapped = state.map(lambda v: swap.get(v.id, v))
    assert mapped.values() == [c, b, c, c, b, c]
    assert mapped.stack[0] == Known(len) and mapped.offset == 4


def test_slots_rebuild_what_the_interpreter_expects():
    def func():
        pass
    assert slot_of(NULL, func).skip and slot_of(NULL, func).arity == 0
    assert slot_of(Known(func), func).rebuild([], func) is func        # never stored
    assert slot_of(Known(len), func).rebuild([], func) is len
    it = slot_of(RangeIter(_v(0), _v(1), _v(2)), func).rebuild([5, 3, -2], func)
    assert list(it) == [5, 3, 1]
    assert list(slot_of(RangeIter(_v(0), _v(1), _v(2)), func).rebuild([5, 0, 1], func)) == []
    seq = slot_of(SeqIter(_v(0, OBJ), _v(1)), func)
    assert seq.arity == 2 and list(seq.rebuild([[1, 2, 3], 1], func)) == [2, 3]
    tup = slot_of(VTuple((_v(0), _v(1), _v(2))), func)
    assert tup.arity == 3 and tup.rebuild([1, 2, 3], func) == (1, 2, 3)
    assert slot_of(_v(0, OBJ, maybe_null=True), func).nullable
    assert not slot_of(_v(0), func).nullable and slot_of(_v(0), func).rebuild([7], func) == 7
    v = _v(3)
    assert parts_of(v) == [v]
