"""Exits: the interpreter resumes at the exact instruction; exceptions and tracebacks are CPython's."""
import traceback

from tests.support import Exit, check, exits_of, fresh_copy
from tiered.runtime import manager, records


def divide_all(n, d):
    s = 0
    for i in range(n):
        s += i // d
    return s


def guarded(n, d):
    s = 0
    for i in range(n):
        try:
            s += i // (d - i)
        except ZeroDivisionError:
            s -= 1000
    return s


def overflow_mid_loop(n):
    s = 1
    for i in range(n):
        s = s * 3 + i
    return s


def float_to_int(x):
    return int(x * 2.0)


def test_exception_traceback_matches():
    rec = check(divide_all, (10, 0), (10, 3))
    try:
        rec.func(10, 0)
    except ZeroDivisionError as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        assert frames[-1].name == "divide_all" and frames[-1].line == "s += i // d"
        assert len([f for f in frames if f.name == "divide_all"]) == 1      # one frame, no helpers


def test_try_except_inside_catches_after_exit():
    rec = check(guarded, (10, 4), (10, 20), (10, -1))
    if not exits_of(rec, Exit.FORCED):
        assert exits_of(rec, Exit.ZERO_DIVISION) >= 1


def test_overflow_mid_loop_continues_with_bigints():
    rec = check(overflow_mid_loop, (10,), (100,), (1000,))
    assert rec.func(100) > 2**63
    assert sum(rec.exits.values()) >= 1


def test_float_conversion_errors():
    check(float_to_int, (1.25,), (float("inf"),), (float("nan"),), (1e300,), (-3.75,))


def test_exit_storm_returns_function_to_cpython():
    rec = check(divide_all, (3, 1))
    for _ in range(records.EXIT_STORM + 5):
        try:
            rec.func(3, 0)
        except ZeroDivisionError:
            pass
    assert rec.func.__code__ is rec.original_code or exits_of(rec, Exit.FORCED)


def doubled(x):
    y = x * 2
    return y + y


def test_calls_with_types_nothing_compiles_for_stop_asking_the_runtime(monkeypatch):
    """After a miss with argument types that cannot or will not compile, later misses go
    straight to the interpreter (no Python call each), with CPython's results."""
    import ctypes
    monkeypatch.setenv("TIERED_OBJECTS", "0")
    rec = check(doubled, (3,), ([1],), ("ab",))
    assert rec.func([1]) == [1, 1, 1, 1]
    assert ctypes.c_int64.from_address(rec.quiet_misses).value == 1
    for _ in range(100):
        assert rec.func("ab") == "abababab"
    assert rec.func(5) == 20


def raise_in_finally(inner_exc, outer_exc):
    try:
        raise inner_exc
    finally:
        raise outer_exc                  # its __context__: inner_exc


def call_and_catch(cb, a, b):
    try:
        cb(a, b)                         # raises: native code exits with it pending
    except Exception as e:
        return e


def chain_while_handling(catch):
    """An exception a callee of compiled code raised while another is being handled: its
    context chain, and the traceback lines it went through, as CPython leaves them."""
    try:
        raise TypeError("handled")
    except TypeError:
        got = catch(raise_in_finally, ValueError("inner"), KeyError("outer"))
    chain, e = [], got
    while e is not None and len(chain) < 5:
        chain.append(repr(e))
        e = e.__context__
    return chain, [(f.name, f.line) for f in traceback.extract_tb(got.__traceback__)]


def test_an_exception_from_a_callee_keeps_its_context_through_an_exit(object_tier):
    # the interpreter once raised it again with RAISE_VARARGS, which chained it to the
    # exception being handled (ExitStack.__exit__'s callbacks in test_contextlib)
    jit = fresh_copy(call_and_catch)
    manager.record_for(jit).eager = True
    assert manager.compile_for(jit, (type(raise_in_finally), ValueError, KeyError)) is not None
    rec = manager.record_for(jit)
    before, exits = rec.native_calls, exits_of(rec, Exit.RAISED) + exits_of(rec, Exit.FORCED)
    got = chain_while_handling(rec.func)
    assert got == chain_while_handling(call_and_catch)
    assert got[0] == ["KeyError('outer')", "ValueError('inner')", "TypeError('handled')"]
    assert got[1][0] == ("call_and_catch", "cb(a, b)                         # raises: native code exits with it pending")
    assert rec.native_calls == before + 1
    assert exits_of(rec, Exit.RAISED) + exits_of(rec, Exit.FORCED) == exits + 1     # it left there
