"""Object tier, 3.12: a small callee that cannot run frameless is compiled for its native callers, which run it natively in the frame they push (runtime install.point_framed), while the interpreter keeps running its original code."""
import gc
import sys
import types

import pytest

from tests.support import check, forced_exits, warm
from tiered.compiler.ops.framecall import CALL_HELPER
from tiered.cpython import PY, pushframe
from tiered.reasons import Exit
from tiered.runtime import manager

pytestmark = [pytest.mark.usefixtures("object_tier"),
              pytest.mark.skipif(PY != (3, 12) or not CALL_HELPER,
                                 reason="3.11 calls Python functions through PyObject_Vectorcall")]


def helper(x):
    return x * 2


class Box:
    def __init__(self, v):
        self.v = v

    def scaled(self, k):             # no loop, and it calls Python code: not frameless
        return helper(self.v) + k.v


def sums_scaled(box, n):
    t = 0
    step = Box(1)
    for i in range(n):
        t += box.scaled(step)
    return t


def _framed_record(func):
    """The record of func once a native caller compiled it for its frames (asserted)."""
    rec = manager.record_for(func)
    assert rec.framed is not None and func.__code__ is rec.original_code
    assert pushframe.native_entry_of(rec.original_code) != 0
    return rec


def test_a_small_callee_runs_natively_in_its_native_callers_frames_only():
    warm(sums_scaled, Box(3), 4)
    try:
        rec0 = manager.record_for(Box.scaled)
        assert rec0.framed is None
        rec = check(sums_scaled, (Box(3), 50), (Box(1.5), 7), (Box("ab"), 3), (Box(None), 2),
                    (Box(2**62), 9))
        assert rec.native_calls > 0
        callee = _framed_record(Box.scaled)
        if not forced_exits():      # (forced exits leave the caller's loop to the interpreter)
            # it ran natively, and exited in its frame (a float from helper where an int was seen)
            assert callee.native_calls > 0 and callee.exits.get(Exit.TYPE_GUARD, 0) > 0
        before = callee.native_calls
        assert Box(5).scaled(Box(1)) == 11            # the interpreter runs the original code
        assert callee.native_calls == before
    finally:
        manager.record_for(Box.scaled).restore()
        manager.RECORDS.discard(Box.scaled)


def test_restoring_the_callee_stops_its_native_runs():
    warm(sums_scaled, Box(3), 4)
    manager.record_for(Box.scaled)        # known before check(), which restores callees it made
    try:
        check(sums_scaled, (Box(3), 20))
        callee = _framed_record(Box.scaled)
        code = callee.original_code
        callee.restore()
        assert callee.framed is None and pushframe.native_entry_of(code) == 0
        before = callee.native_calls
        jitted_again = check(sums_scaled, (Box(2), 20))       # compiles it for its frames again
        assert jitted_again.native_calls > 0 and callee.native_calls >= before
    finally:
        manager.record_for(Box.scaled).restore()
        manager.RECORDS.discard(Box.scaled)


SOURCE = '''
def helper(x):
    return x + OFFSET

class Cell:
    def __init__(self, v):
        self.v = v
    def shifted(self, k):
        return helper(self.v) - k.v

def sums(cell, n):
    t = 0
    for i in range(n):
        t += cell.shifted(Cell(i))
    return t

def calls(f, cell, n):
    t = 0
    for i in range(n):
        t += f(cell, Cell(i))
    return t
'''


def _module(offset):
    """A fresh namespace from SOURCE (its own code objects)."""
    g = {"__name__": "framed_probe", "OFFSET": offset}
    exec(compile(SOURCE, "<framed_probe>", "exec"), g)
    return g


def test_another_function_of_the_same_code_runs_its_own_globals():
    """The co_extra block names the function it was compiled for: a second function made from
    the same code object, with other globals, runs its own code through the same call helper."""
    g = _module(100)
    warm(g["sums"], g["Cell"](1), 4)
    warm(g["calls"], g["Cell"].shifted, g["Cell"](1), 4)
    rec = manager.compile_for(g["sums"], (g["Cell"], int))
    assert rec is not None
    callee = _framed_record(g["Cell"].shifted)
    twin_globals = dict(g, OFFSET=1000)
    twin = types.FunctionType(g["Cell"].shifted.__code__, twin_globals, "shifted")
    twin_globals["helper"] = types.FunctionType(g["helper"].__code__, twin_globals, "helper")
    assert manager.compile_for(g["calls"], (types.FunctionType, g["Cell"], int)) is not None
    before = callee.native_calls
    assert g["calls"](twin, g["Cell"](1), 10) == sum(1 + 1000 - i for i in range(10))
    assert g["calls"](g["Cell"].shifted, g["Cell"](1), 10) == sum(1 + 100 - i for i in range(10))
    assert callee.native_calls > before or forced_exits()     # the function it was made for: natively
    assert g["sums"](g["Cell"](2), 5) == sum(2 + 100 - i for i in range(5))


def test_the_callees_death_clears_its_codes_word():
    """A function compiled for native callers' frames dies while its code lives on (another
    function made from it): the code's word no longer points at the freed native code."""
    g = _module(7)
    warm(g["sums"], g["Cell"](1), 4)
    code = g["Cell"].shifted.__code__
    doomed = types.FunctionType(code, g, "shifted")
    for _ in range(40):
        doomed(g["Cell"](1), g["Cell"](2))
    assert manager.compile_for(doomed, (g["Cell"], g["Cell"]), for_caller=True) is not None
    _framed_record(doomed)
    del doomed
    gc.collect()
    assert pushframe.native_entry_of(code) == 0      # nothing points at the freed native code
    assert g["sums"](g["Cell"](1), 6) == sum(8 - i for i in range(6))


class Pair:
    def __init__(self, a, b):        # no loop: too small to install
        self.a = a * 2                # (numbers it stored as given would be new boxes: not
        self.b = -b                   # compiled for frames, see the test below)


def makes_pairs(n):
    out = []
    for i in range(n):
        out.append(Pair(i, i * 0.5))
    return [(p.a, p.b) for p in out]


class Keeps:
    def __init__(self, a):
        self.a = a                    # the caller's very object


def keeps_floats(n):
    out = []
    for i in range(n):
        x = i + 0.5
        k = Keeps(x)
        out.append(id(k.a) == id(x))
    return out


def test_a_constructor_runs_a_small_init_natively_in_the_frame_it_pushes():
    warm(makes_pairs, 4)
    manager.record_for(Pair.__init__)     # known before check(), which restores callees it made
    try:
        check(makes_pairs, (30,), (0,))
        init = _framed_record(Pair.__init__)
        if not forced_exits():
            assert init.native_calls > 0
        assert Pair(1, 2).b == -2
    finally:
        manager.record_for(Pair.__init__).restore()
        manager.RECORDS.discard(Pair.__init__)


def test_a_small_init_that_stores_its_number_arguments_is_not_run_natively():
    """Native code stores a new box of an unboxed number: CPython stores the caller's object."""
    warm(keeps_floats, 4)
    manager.record_for(Keeps.__init__)
    try:
        check(keeps_floats, (20,))
        assert manager.record_for(Keeps.__init__).framed is None
    finally:
        manager.record_for(Keeps.__init__).restore()
        manager.RECORDS.discard(Keeps.__init__)


class Node:
    def __init__(self, parent):
        self.parent, self.seen = parent, []

    def root(self, note):             # hands its bool on (a call, a store): True/False box to themselves
        self.seen.append(note)
        return self if self.parent is None else self.parent.root(note)


def roots(node, n):
    t = 0
    for i in range(n):
        t += node.root(i % 3 == 0) is node
    return t


def test_a_small_callee_that_hands_on_its_bool_argument_runs_natively_in_frames():
    # a bool's box is the caller's object itself (True or False): unlike a number's, handing
    # it on is exact, so go's Square.find(update) runs natively where it ran interpreted
    top = Node(None)
    warm(roots, Node(top), 2)
    manager.record_for(Node.root)
    try:
        rec = check(roots, (Node(top), 20), (Node(None), 3), (top, 5))
        assert rec.native_calls > 0
        callee = _framed_record(Node.root)
        if not forced_exits():
            assert callee.native_calls > 0
        assert all(x is True or x is False for x in top.seen)
    finally:
        manager.record_for(Node.root).restore()
        manager.RECORDS.discard(Node.root)
