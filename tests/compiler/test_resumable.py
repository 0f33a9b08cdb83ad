"""Resumable callees: a method that changes objects, called natively, exits after its effects and
goes on in the interpreter in its own frame, exactly where it left (results, mutated arguments,
exceptions and tracebacks as in CPython; its effects happen once)."""
import contextlib
import copy
import inspect
import sys

import pytest

from tests.support import Exit, assert_same, check, exits_of, forced_exits, fresh_copy, outcome, warm
from tiered.runtime import manager

pytestmark = pytest.mark.usefixtures("object_tier")


class Box:
    def __init__(self):
        self.hops = 0
        self.items = [1]

    def __deepcopy__(self, memo):
        """A copy that keeps its attributes inline, as made by __init__ (copy's default
        goes through __dict__, and CPython then keeps a dict: other specialisations)."""
        b = Box()
        b.hops, b.items = self.hops, copy.deepcopy(self.items, memo)
        return b


class Slotted:
    __slots__ = ("hops", "items")

    def __init__(self):
        self.hops = 0
        self.items = [1]


def bump(p, k):
    p.hops += 1
    p.items.append(k)
    if p.hops % 5 == 0:
        p.items.pop()
        p.items.pop()
    if p.hops == 11:
        p.items.append(p.hops * 2 ** 62)        # an int overflow exit after the effects above
    if p.hops > 13:
        p.items.pop()
        p.items.pop()                           # IndexError, once the list is empty
        p.items.pop()
    return p.hops


def middle(p, k):
    p.items.append(-k)
    r = bump(p, k)
    p.items.append(r)
    return r + 1


def drive(p, n):
    s = 0
    for k in range(n):
        s += bump(p, k)
    return s


def drive_nested(p, n):
    s = 0
    for k in range(n):
        s += middle(p, k)
    return s


def _prepare(*funcs):
    """Warm the callees in CPython (the compiler reads their specialised instructions)."""
    for f in funcs:
        warm(f, Box(), 3)
    warm(drive, Box(), 4)


@contextlib.contextmanager
def compiled_copy(caller, callee):
    """A copy of caller compiled now for (Box, int) (before CPython runs anything more), and its
    record; the callee's record gets its original code back after."""
    jitted = fresh_copy(caller)
    rec = manager.record_for(jitted)
    rec.eager = True
    try:
        assert manager.compile_for(jitted, (Box, int)) is not None
        yield jitted, rec
    finally:
        if manager.RECORDS.get(callee) is not None:
            manager.RECORDS[callee].restore()


def _resumed(rec):
    """The caller's record took the resumed-callee exit (guards as compiled)."""
    if not forced_exits():
        assert exits_of(rec, Exit.CALLEE_RESUMED) > 0, dict(rec.exits)


def test_a_callee_that_exits_after_its_effects_goes_on_where_it_left():
    _prepare(bump)
    rec = check(drive, (Box(), 3), (Box(), 12), (Box(), 13), (Box(), 40))
    _resumed(rec)


def bump_slots(p, k):
    p.hops += 1
    p.items.append(k)
    if p.hops % 4 == 0:
        p.items.append(p.hops * 2 ** 62)
    return p.hops


def drive_slots(p, n):
    s = 0
    for k in range(n):
        s += bump_slots(p, k)
    return s


def test_a_callee_storing_into_slots_resumes_too():
    warm(bump_slots, Slotted(), 1)
    warm(drive_slots, Slotted(), 3)
    rec = check(drive_slots, (Slotted(), 3), (Slotted(), 9))
    _resumed(rec)


def test_the_callee_is_compiled_resumable_and_called_natively():
    _prepare(bump)
    with compiled_copy(drive, bump) as (jitted, rec):
        callee = manager.RECORDS[bump]
        assert [(s.resumable, s.callable) for s in callee.specs] == [(True, True)]
        assert bump.__code__ is callee.original_code          # too small to install: only called natively
        p = Box()
        assert jitted(p, 3) == 6 and p.items == [1, 0, 1, 2]
        assert rec.native_calls == 1


def test_nested_resumable_callees_each_go_on_in_their_own_frame():
    _prepare(bump, middle)
    warm(drive_nested, Box(), 4)
    rec = check(drive_nested, (Box(), 2), (Box(), 11), (Box(), 30))
    _resumed(rec)


def late(p, k):
    p.hops += 1
    if k == 7:
        p.label = "seven"            # a path CPython never specialised: handed over to it
        p.items.append(p.label)
    p.items.append(k)
    return p.hops


def drive_late(p, n):
    s = 0
    for k in range(n):
        s += late(p, k)
    return s


def test_a_cold_path_in_a_callee_is_handed_to_the_interpreter():
    warm(late, Box(), 3)
    warm(drive_late, Box(), 4)
    rec = check(drive_late, (Box(), 5), (Box(), 9))
    _resumed(rec)


def whose(p, k):
    p.items.append(k)
    if k > 2:
        p.items.append(k * 2 ** 62)                  # the int overflows: exits here
    if k > 6:                                        # never ran before: handed over
        p.items.append(sys._getframe().f_code.co_name)
        p.items.append(sys._getframe(1).f_code.co_name)
        p.items.append(sys._getframe().f_lineno)
        p.items.append(sys._getframe(1).f_lineno)
    return k


def drive_whose(p, n):
    s = 0
    for k in range(n):
        s += whose(p, k)
    return s


def _line_of(func, text):
    """The line number of the first line of func's source containing text."""
    src, first = inspect.getsourcelines(func)
    return first + next(k for k, line in enumerate(src) if text in line)


def test_the_resumed_frame_looks_like_the_callees_own():
    warm(whose, Box(), 1)
    warm(drive_whose, Box(), 5)
    with compiled_copy(drive_whose, whose) as (jitted, rec):     # before CPython ran the k > 6 path
        got = outcome(jitted, (Box(), 9))
    assert_same(outcome(drive_whose, (Box(), 9)), got, (Box(), 9))
    lines = [_line_of(whose, "sys._getframe().f_lineno"), _line_of(drive_whose, "whose(p, k)")]
    assert got[3][0].items[-4:] == ["whose", "drive_whose", *lines]
    assert rec.native_calls == 1
    _resumed(rec)


def fill(p, n):
    for k in range(n):                   # a loop that changes objects: not resumable
        p.items.append(k)
    return len(p.items)


def drive_fill(p, n):
    s = 0
    for k in range(n):
        s += fill(p, k)
    return s


def test_a_callee_with_a_loop_that_changes_objects_is_called_through_the_interpreter():
    warm(fill, Box(), 3)
    warm(drive_fill, Box(), 3)
    check(drive_fill, (Box(), 4), (Box(), 10))
    with compiled_copy(drive_fill, fill) as (jitted, rec):
        callee = manager.RECORDS.get(fill)
        assert callee is None or not any(s.frameless for s in callee.specs)     # no native call of it
        assert jitted(Box(), 4) == drive_fill(Box(), 4) and rec.native_calls == 1


def fresh(p, k):
    p.hops += k
    p.items.append(k)
    return p.hops


def drive_fresh(p, n):
    s = 0
    for k in range(n):
        s += fresh(p, k)
    return s


def test_a_callee_that_never_ran_is_called_through_the_interpreter():
    with compiled_copy(drive_fresh, fresh) as (jitted, rec):    # before either function ever ran
        callee = manager.RECORDS.get(fresh)
        assert callee is None or not any(s.frameless for s in callee.specs)
        got = outcome(jitted, (Box(), 30))
    assert_same(outcome(drive_fresh, (Box(), 30)), got, (Box(), 30))
    assert rec.native_calls == 1
    if not forced_exits():
        assert not rec.exits, dict(rec.exits)      # a generic call: the caller never left
