"""Calls: math functions, numeric builtins, direct native calls, recursion, global rebinding."""
import math
import sys

import pytest

from tests.support import FLOAT_SPECIALS, Exit, check, exits_of, fresh_copy
from tiered.runtime import manager

MATH1 = ["sqrt", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "exp",
         "expm1", "log", "log2", "log10", "log1p", "fabs", "floor", "ceil", "trunc", "isnan",
         "isinf", "isfinite", "degrees", "radians", "erf", "erfc", "cbrt", "asinh", "acosh", "atanh"]
MATH2 = ["pow", "atan2", "hypot", "copysign", "fmod"]
VALUES = FLOAT_SPECIALS + [0.3, -0.7, 2.0, 710.0, -710.0, 1e-10, 3.141592653589793]


def _fn(src):
    ns = {"math": math}
    exec(compile(src, "<gen>", "exec"), ns)
    return ns["f"]


@pytest.mark.parametrize("name", MATH1)
def test_math1(name):
    f = _fn(f"def f(x):\n    return math.{name}(x)\n")
    check(f, *[(v,) for v in VALUES])
    check(f, *[(v,) for v in (0, 1, -1, 3, 2**53 + 1)])


@pytest.mark.parametrize("name", MATH2)
def test_math2(name):
    f = _fn(f"def f(x, y):\n    return math.{name}(x, y)\n")
    vals = [0.0, -0.0, 1.0, -2.0, 0.5, 3.0, 1e308, math.inf, -math.inf, math.nan]
    check(f, *[(a, b) for a in vals for b in vals])


def builtins_mix(a, b):
    return (abs(a) + min(a, b) * max(a, b, 2.5) + round(a) + int(b) + float(a) + bool(b)
            + int() + float())


def test_builtins():
    vals = [0.0, -0.5, 1.5, 2.5, -2.5, 1e20, 3.7]
    check(builtins_mix, *[(a, b) for a in vals for b in vals])
    check(builtins_mix, (float("nan"), 1.0), (1.0, float("inf")), (1e300, 1.0))


def minmax_int(a, b, c):
    return min(a, b, c) * 10 + max(a, c)


def test_min_max_ints_and_rounding():
    check(minmax_int, *[(a, b, c) for a in (1, -2) for b in (3, -4) for c in (0, 7)])
    f = _fn("def f(x):\n    return round(x) + math.floor(x) + math.ceil(x)\n")
    check(f, *[(v,) for v in (0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, 1e18, 1e19, math.inf, math.nan)])


def sq(x):
    return x * x


def uses_sq(n):
    s = 0.0
    for i in range(n):
        s += sq(i * 0.5)
    return s


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def test_direct_native_call():
    rec = check(uses_sq, (10,), (0,))
    assert any("call_native" in s.ops for s in rec.specs)


def test_recursion_is_native():
    check(fib, (0,), (1,), (15,))


def fact(n):
    if n < 2:
        return 1
    return n * fact(n - 1)


def test_recursion_result_past_64_bits():
    rec = check(fact, (5,), (20,), (25,), (30,))
    assert rec.func(30) == math.factorial(30)


def deep(n):
    if n == 0:
        return 0
    return deep(n - 1) + 1


def test_recursion_limit_raises_not_crashes():
    jitted = fresh_copy(deep)
    globals()["deep"] = jitted            # the recursive call goes to the compiled copy
    try:
        rec = manager.record_for(jitted)
        assert manager.compile_for(jitted, (int,)) is not None, (rec.refusal, rec.refusal_detail)
        assert jitted(200) == 200
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(400)
        try:
            with pytest.raises(RecursionError):
                jitted(100_000)
        finally:
            sys.setrecursionlimit(old)
        assert jitted(300) == 300
    finally:
        globals()["deep"] = deep


SCALE = 3


def scaled(x):
    return x * SCALE


def test_global_rebinding_takes_effect():
    global SCALE
    rec = check(scaled, (2,))
    jitted = rec.func
    assert jitted(5) == 15
    SCALE = 4
    try:
        assert jitted(5) == 20
        if not exits_of(rec, Exit.FORCED):
            assert exits_of(rec, Exit.GLOBAL_CHANGED) >= 1
    finally:
        SCALE = 3


def calls_sqrt(x):
    return math.sqrt(x)


def test_module_attribute_rebinding():
    rec = check(calls_sqrt, (4.0,))
    orig = math.sqrt
    math.sqrt = lambda x: -1.0
    try:
        assert rec.func(4.0) == -1.0
    finally:
        math.sqrt = orig
    assert rec.func(9.0) == 3.0


def test_builtin_rebinding():
    import builtins
    rec = check(builtins_mix, (1.5, 2.5))
    orig = builtins.abs
    builtins.abs = lambda x: 100.0
    try:
        assert rec.func(1.5, 2.5) == builtins_mix(1.5, 2.5)
    finally:
        builtins.abs = orig


def always_raises(x):
    raise ValueError(x)


def calls_a_raiser(n):
    s = 0
    for i in range(n):
        s += i
    always_raises(s)


def test_a_callee_that_never_returns():
    rec = check(calls_a_raiser, (3,), (0,))
    assert rec.native_calls > 0
