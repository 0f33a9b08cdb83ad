"""Arithmetic semantics: every numeric op against CPython, including edges and property-based cases."""
import math
import operator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import FLOAT_SPECIALS, INT_EDGES, Exit, check, exits_of
from tiered.compiler import build, ir
from tiered.compiler.passes import pipeline


def add(a, b): return a + b
def sub(a, b): return a - b
def mul(a, b): return a * b
def truediv(a, b): return a / b
def floordiv(a, b): return a // b
def mod(a, b): return a % b
def power(a, b): return a ** b
def band(a, b): return a & b
def bor(a, b): return a | b
def bxor(a, b): return a ^ b
def lshift(a, b): return a << b
def rshift(a, b): return a >> b
def neg(a): return -a
def pos(a): return +a
def inv(a): return ~a
def lnot(a): return not a
def absolute(a): return abs(a)


BINARY = [add, sub, mul, truediv, floordiv, mod, power]
INT_ONLY = [band, bor, bxor, lshift, rshift]
INTS = st.one_of(st.sampled_from(INT_EDGES), st.integers(-2**63, 2**63 - 1), st.integers(-50, 50))
FLOATS = st.one_of(st.sampled_from(FLOAT_SPECIALS), st.floats(allow_nan=True, allow_infinity=True))
FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


SMALL_EXPONENTS = [0, 1, -1, 2, -3, 63, 64]     # a ** 2**62 would take CPython forever


@pytest.mark.parametrize("op", BINARY + INT_ONLY)
def test_int_edges(op):
    seconds = SMALL_EXPONENTS if op in (power, lshift) else SMALL_EXPONENTS + [2**62, -2**63]
    check(op, *[(a, b) for a in INT_EDGES for b in seconds])


@pytest.mark.parametrize("op", BINARY)
def test_float_specials(op):
    pairs = [(a, b) for a in FLOAT_SPECIALS for b in FLOAT_SPECIALS]
    check(op, *pairs)


@pytest.mark.parametrize("op", BINARY)
def test_mixed_int_float(op):
    check(op, *[(a, b) for a in [0, 3, -3, 2**53 + 1, -2**63] for b in [0.0, 2.5, -0.0, math.inf, math.nan]])
    check(op, *[(a, b) for a in [0.0, -2.5, 1e300, math.nan] for b in [0, 3, -7, 2**60]])


@pytest.mark.parametrize("op", [add, sub, mul, floordiv, mod, band, bor, bxor])
def test_bool_operands(op):
    check(op, *[(a, b) for a in (True, False) for b in (True, False)])
    check(op, (True, 5), (False, -3), compile_with=(bool, int))


@pytest.mark.parametrize("op", [neg, pos, lnot, absolute])
def test_unary(op):
    check(op, *[(a,) for a in INT_EDGES])
    check(op, *[(a,) for a in FLOAT_SPECIALS])
    check(op, (True,), (False,))


def test_invert():
    check(inv, *[(a,) for a in INT_EDGES])


@FAST
@given(st.sampled_from(BINARY + INT_ONLY), INTS, INTS)
def test_int_property(op, a, b):
    if op in (power, lshift):
        b = b % 70 - 3
    check(op, (a, b))


@FAST
@given(st.sampled_from(BINARY), FLOATS, FLOATS)
def test_float_property(op, a, b):
    check(op, (a, b))


@FAST
@given(st.sampled_from(BINARY), INTS, FLOATS)
def test_mixed_property(op, a, b):
    check(op, (a, b))
    check(op, (b, a))


def test_overflow_exits_and_result_is_exact():
    rec = check(mul, (2**62, 4), (3, 5))
    if rec.specs and not exits_of(rec, Exit.FORCED):
        assert exits_of(rec, Exit.INT_OVERFLOW) >= 1


def test_zero_division_exits_and_cpython_raises():
    rec = check(floordiv, (7, 0), (7, 2))
    assert sum(rec.exits.values()) >= 1


@pytest.mark.parametrize("pred", ["<", "<=", ">", ">=", "==", "!="])
def test_comparisons(pred):
    fn = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
          "==": operator.eq, "!=": operator.ne}[pred]
    src = f"def cmp(a, b):\n    return a {pred} b\n"
    ns = {}
    exec(compile(src, "<cmp>", "exec"), ns)
    cmp = ns["cmp"]
    check(cmp, *[(a, b) for a in INT_EDGES for b in INT_EDGES[:6]])
    check(cmp, *[(a, b) for a in FLOAT_SPECIALS for b in FLOAT_SPECIALS])
    check(cmp, *[(a, b) for a in [2**53 + 1, 3, -2**63] for b in [float(2**53), 3.0, math.nan]])
    assert fn(1, 2) == cmp(1, 2)


def nan_signs(x):
    s = 0.0
    for _ in range(2):
        s += math.copysign(x, math.inf * 0)            # constants: a NaN with the processor's sign
        s += math.copysign(x, math.inf - math.inf) * 10
        s += math.copysign(x, -(math.inf * 0)) * 100
        s += math.copysign(x, 0.0 * -math.inf) * 1000
        s += math.copysign(x, math.inf / math.inf) * 10000
        s += math.copysign(x, math.inf % 3.0) * 100000
    return s


def test_a_nan_computed_from_constants_has_the_sign_cpython_gives_it():
    check(nan_signs, (1.0,), (2.5,))


def gcd(a, b):
    return math.gcd(a, b)


def gcd_sum(n, m):
    s = 0
    for i in range(n):
        s += math.gcd(i * m, m - i)
    return s


def test_gcd_is_the_op_int_gcd():
    # math.gcd of two ints was a generic call (refused without objects); the op int_gcd
    # declares the call beside its lowering (ops/numbers.py), and infer.CALLS reads it there
    assert "int_gcd(%0, %1)" in ir.fmt_function(pipeline.run(build.build(gcd, ("int", "int"))))
    check(gcd, *[(a, b) for a in INT_EDGES for b in INT_EDGES])     # gcd(-2**63, 0) is 2**63: an exit
    check(gcd, (True, 6), (False, False), (True, -2**63))
    check(gcd_sum, (60, 12), (0, 5), (40, -7), (9, 2**62))         # i * 2**62 overflows: an exit


def test_gcd_beyond_an_i64_exits():
    rec = check(gcd, (2**63 - 1, 1), (-2**63, 0), (-2**63, -2**63), (0, -2**63))
    assert exits_of(rec, Exit.INT_OVERFLOW) >= 3 or exits_of(rec, Exit.FORCED)


def isqrt_of(n):
    return math.isqrt(n)


def isqrt_sum(n):
    s = 0
    for i in range(n):
        s += math.isqrt(i * i + i)
    return s


ROOTS = [r for k in (1, 2, 3, 26, 27, 31, 32) for r in (2**k - 1, 2**k, 2**k + 1)] + [3037000499, 3037000500]


def test_isqrt_is_the_op_int_isqrt():
    # one file defines it: ops/numbers.py (spec, the math.isqrt rule, the lowering)
    assert "int_isqrt(%0)" in ir.fmt_function(pipeline.run(build.build(isqrt_of, ("int",))))
    squares = [r * r + d for r in ROOTS for d in (-1, 0, 1) if 0 <= r * r + d < 2**63]
    check(isqrt_of, *[(n,) for n in squares + [x for x in INT_EDGES if x >= 0] + [True, False]])
    check(isqrt_sum, (1000,), (0,))


def test_isqrt_of_a_negative_exits_to_the_valueerror():
    rec = check(isqrt_of, (-1,), (-2**63,), (5,))
    assert exits_of(rec, Exit.DOMAIN) >= 2 or exits_of(rec, Exit.FORCED)


def test_isqrt_matches_cpython_across_the_i64_range():
    import random
    rng = random.Random(19)
    values = [rng.randrange(2**k) for k in range(1, 64) for _ in range(20)]
    values += [r * r - 1 for r in (rng.randrange(1, 3037000500) for _ in range(500))]
    check(isqrt_of, *[(n,) for n in values])
