"""with statements on objects: __enter__ and __exit__ looked up and called as CPython does, the
body native, exceptions from the body, __enter__ or the lookups raised by the interpreter."""
import threading

import pytest

from tests.support import check, forced_exits, fresh_copy, outcome, warm
from tiered.runtime import manager

pytestmark = pytest.mark.usefixtures("object_tier")


class Recorder:
    """A context manager that logs its calls (compared after each run) and may swallow errors."""

    def __init__(self, swallow=False, fail_enter=False):
        self.log, self.swallow, self.fail_enter = [], swallow, fail_enter

    def __enter__(self):
        self.log.append("enter")
        if self.fail_enter:
            raise RuntimeError("enter failed")
        return len(self.log)

    def __exit__(self, kind, value, tb):
        self.log.append(("exit", kind.__name__ if kind else None, str(value) if value else None))
        return self.swallow

    def __deepcopy__(self, memo):
        return Recorder(self.swallow, self.fail_enter)


def summed(m, xs):
    s = 0
    for x in xs:
        with m as v:
            s += v + 10 // x                # ZeroDivisionError inside the body for x == 0
    return s


def test_a_with_in_a_loop_runs_native_and_calls_enter_and_exit_as_cpython():
    warm(summed, Recorder(), [1, 2])
    rec = check(summed, (Recorder(), [1, 2, 5]), (Recorder(), []), (Recorder(), [3, 0, 4]),
                (Recorder(swallow=True), [3, 0, 4]), (Recorder(fail_enter=True), [1]))
    assert {"before_with", "with_entered", "obj_call"} <= rec.specs[0].ops


def test_a_lock_is_released_on_every_path():
    lock = threading.Lock()
    warm(summed, lock, [1])
    jitted = fresh_copy(summed)
    manager.record_for(jitted).eager = True
    assert manager.compile_for(jitted, (type(lock), list)) is not None
    with pytest.raises(TypeError):                 # a lock's __enter__ returns True: True + 10 is fine,
        jitted(lock, [1, "x"])                     # 10 // "x" raises inside the with
    assert not lock.locked()
    assert jitted(lock, [1, 2]) == summed(lock, [1, 2]) and not lock.locked()
    assert manager.record_for(jitted).native_calls == 2


class NoExit:
    def __enter__(self):
        return 1


class Plain:
    pass


def test_objects_that_are_not_context_managers_raise_cpythons_type_error():
    warm(summed, Recorder(), [1])
    check(summed, (Recorder(), [1]), (NoExit(), [1]), (Plain(), [1]), (3, [1]), compile_with=(Recorder, list))


def early(m, xs):
    for x in xs:
        with m:
            if x > 2:
                return x                    # __exit__ runs before the return
    return -1


def test_a_return_inside_with_calls_exit_first():
    warm(early, Recorder(), [1, 3])
    check(early, (Recorder(), [1, 3, 5]), (Recorder(), [0]))


def sneaky_class():
    """A class whose __enter__ is a property that prints, and removes __exit__ from its class."""
    class Sneaky:
        @property
        def __enter__(self):
            print("binding __enter__")
            del Sneaky.__exit__
            return lambda: 1

        def __exit__(self, *a):
            return False
    return Sneaky


def test_binding_enter_runs_once_even_when_it_removes_exit():
    warm(summed, Recorder(), [1])
    jitted = fresh_copy(summed)
    manager.record_for(jitted).eager = True
    mine = sneaky_class()
    assert manager.compile_for(jitted, (mine, list)) is not None
    before = manager.record_for(jitted).native_calls
    ref = outcome(summed, (sneaky_class()(), [1]))
    got = outcome(jitted, (mine(), [1]))
    assert ref[:3] == got[:3]               # (each run has a class of its own: args differ by class)
    assert ref[0] == "raise" and ref[1][0] is TypeError and "missed __exit__" in ref[1][1]
    assert ref[2] == "binding __enter__\n"
    if not forced_exits():
        assert manager.record_for(jitted).native_calls > before


LOCK = threading.Lock()


def under_global_lock(xs):
    s = 0
    for x in xs:
        with LOCK:                           # the manager is a global: a known object
            s += x
    return s


def test_a_global_manager_is_used_as_a_value():
    warm(under_global_lock, [1, 2])
    rec = check(under_global_lock, ([1, 2, 3],), ([],), ([1, "x"],))
    assert "before_with" in rec.specs[0].ops and not LOCK.locked()
