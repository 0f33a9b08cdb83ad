"""Code replaced at run time: `f.__code__ = ...` on a compiled function or on a natively called one takes effect at once, as in CPython."""
import tiered
from tests.support import forced_exits, fresh_copy
from tiered.reasons import Exit
from tiered.runtime import manager


def g(x):
    return x + 1


def h(x):
    return x * 1000


def caller(n):
    s = 0
    for i in range(n):
        s += g(i)
    return s


def k(n):
    s = 0
    for i in range(n):
        s += i * 2
    return s


def test_a_callees_code_replaced_reaches_its_native_caller():
    original = g.__code__
    try:
        f = fresh_copy(caller)
        manager.record_for(f).eager = True
        assert manager.compile_for(f, (int,)) is not None
        rec = manager.record_for(f)
        assert "call_native" in rec.specs[0].ops                   # g is called natively
        assert f(10) == 55
        g.__code__ = h.__code__
        before = rec.native_calls
        assert g(3) == 3000 and f(10) == 45000                      # CPython: 45000
        assert rec.native_calls == before + 1
        if not forced_exits():
            assert rec.exits[Exit.CODE_CHANGED] >= 1
    finally:
        manager.record_for(g).restore()
        g.__code__ = original


def test_a_compiled_functions_code_replaced_by_a_copy_runs_the_copy():
    f = fresh_copy(k)
    tiered.jit(f)
    f(3)
    rec = manager.record_for(f)
    assert rec.state == "compiled" and f(3) == 6 and rec.native_calls >= 1
    consts = tuple(3 if c == 2 else c for c in f.__code__.co_consts)
    f.__code__ = f.__code__.replace(co_consts=consts)       # still holds the native entry
    assert f(3) == 9                                          # CPython: 9
    calls = rec.native_calls
    assert f(4) == 18 and rec.native_calls == calls         # the copy ran (native code gives 12)


def scaled(x, k=3):
    return x * k


def sum_scaled(n):
    s = 0
    for i in range(n):
        s += scaled(i)                  # k from the defaults, passed natively as a constant
    return s


def test_a_callee_called_with_its_defaults_sees_them_replaced():
    original = scaled.__defaults__
    try:
        f = fresh_copy(sum_scaled)
        manager.record_for(f).eager = True
        assert manager.compile_for(f, (int,)) is not None
        rec = manager.record_for(f)
        assert "call_native" in rec.specs[0].ops and "obj_call" not in rec.specs[0].ops
        assert f(10) == 135
        scaled.__defaults__ = (100,)
        before = rec.native_calls
        assert f(10) == 4500                                          # CPython: 4500
        assert rec.native_calls == before + 1
        if not forced_exits():
            assert rec.exits[Exit.CODE_CHANGED] >= 1
    finally:
        manager.record_for(scaled).restore()
        scaled.__defaults__ = original
