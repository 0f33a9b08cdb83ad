"""The jit decorator's first call: it compiles, and runs in the interpreter in its own frame (no frame of tiered's in tracebacks or f_back)."""
import sys
import traceback

import tiered
from tests.support import fresh_copy
from tiered.runtime import manager


def raiser(n):
    s = 0
    for i in range(n):
        s += i
    raise ValueError(s)


def frames_of(exc):
    """(function name, line) of each traceback entry."""
    return [(f.name, f.lineno) for f in traceback.extract_tb(exc.__traceback__)]


def test_a_raise_at_the_first_call_has_cpython_traceback():
    expected = None
    try:
        raiser(3)
    except ValueError as exc:
        expected = frames_of(exc)[1:]
    f = tiered.jit(fresh_copy(raiser))
    for _ in range(2):               # the compiling call, then a native one
        try:
            f(3)
        except ValueError as exc:
            assert frames_of(exc)[1:] == expected and exc.__traceback__.tb_next.tb_next is None
    rec = manager.record_for(f)
    assert rec.state == "compiled" and rec.native_calls == 1


def who_called():
    total = 0
    for i in range(3):
        total += i
    return sys._getframe().f_back.f_code.co_name, total


def caller(f):
    return f()


def test_the_first_call_sees_its_real_caller(object_tier):
    f = tiered.jit(fresh_copy(who_called))
    assert caller(f) == ("caller", 3) and manager.record_for(f).state == "compiled"


def small(n):
    return n + 1


def test_a_hooked_function_compiled_first_for_a_native_caller_loses_its_hook():
    f = tiered.jit(fresh_copy(small))
    hook = f.__code__
    rec = manager.record_for(f)
    rec.eager = False                # as the profiler's functions: a tiny body is not installed
    assert manager.compile_for(f, (int,), for_caller=True) is not None   # as a native caller asks
    assert rec.state == "refused" and f.__code__ is hook
    assert f(1) == 2                 # the hook's call: the function gets its own code back
    assert f.__code__ is rec.original_code and f(2) == 3


def summed(n):
    s = 0
    for i in range(n):
        s += i
    return s


def test_jit_on_a_function_compiled_already_keeps_it_native():
    f = fresh_copy(summed)
    assert manager.compile_for(f, (int,)) is not None          # as the profiler compiles it
    rec = manager.record_for(f)
    assert rec.state == "compiled" and f.__code__ is not rec.original_code
    before = rec.native_calls
    assert tiered.jit(f) is f
    assert f(10) == 45 and f(100) == 4950
    assert rec.state == "compiled" and rec.native_calls == before + 2


class _LoudKey:
    """A builtins key hashed like "len": every lookup of len compares with it (its __eq__ runs)."""

    def __init__(self, seen):
        self.seen = seen

    def __hash__(self):
        return hash("len")

    def __eq__(self, other):
        self.seen.append(other)
        return other == "len"


def _first_call_with_a_loud_builtin(f, seen):
    """f(Point) called while "len" is a _LoudKey in the builtins; what it compared with then."""
    import builtins
    d = builtins.__dict__
    real = d.pop("len")
    d[_LoudKey(seen)] = real
    try:
        return f(3), list(seen)
    finally:
        del d["len"]                   # compares with the loud key: the last of `seen`
        d["len"] = real


def test_nothing_compiles_while_a_builtins_key_would_run_the_programs_code(object_tier):
    # tiered's own code looks names up in the builtins: a key that is not an exact str would run
    # the program's __eq__ inside its call, where CPython runs nothing (CPython's test_iter
    # re-entered an iterator so, and freed it twice: a crash)
    expected = _first_call_with_a_loud_builtin(raiser_free, [])
    f = tiered.jit(fresh_copy(raiser_free))
    assert _first_call_with_a_loud_builtin(f, []) == expected == (3, [])
    assert manager.record_for(f).state == "profiling"      # the hook stays for a later call
    assert f(3) == 3 and f(4) == 6 and manager.record_for(f).native_calls == 1


def raiser_free(n):
    s = 0
    for i in range(n):
        s += i
    return s
