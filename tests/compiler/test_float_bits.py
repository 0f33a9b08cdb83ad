"""Floats bit for bit: every math function and float operation the compiler lowers gives CPython's exact bits (NaN signs included) over a million inputs, specials and random bit patterns."""
import math
import random
import struct

import pytest

from tiered.compiler.infer import MATH1_NAMES, MATH2_NAMES
from tests.support import fresh_copy
from tiered.runtime import manager, records

SPECIALS = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, math.inf, -math.inf, math.nan, -math.nan,
            5e-324, -5e-324, 2.2250738585072014e-308, -2.2250738585072014e-308, 1e-310, 1.7976931348623157e308,
            -1.7976931348623157e308, math.pi, -math.pi, 1e16, 2.0**53 + 1, 710.0, -745.2, 0.9999999999999999]
UNARY = list(MATH1_NAMES) + ["log", "degrees", "radians", "floor", "ceil", "trunc", "isnan", "isinf",
                             "isfinite"]
OPERATORS = ["+", "-", "*", "/", "//", "%", "**"]
PER_UNARY, PER_BINARY = 26_000, 26_000        # (30 + 12 functions) x 26 000 > 10**6 calls


@pytest.fixture(autouse=True)
def no_exit_storms(monkeypatch):
    """Domain errors are exits, and a thousand at one place would send the function back to
    CPython: here every input must run the native code."""
    monkeypatch.setattr(records, "EXIT_STORM", 10**9)


def _bits(x):
    """A float's exact bits (ints and bools as they are)."""
    return struct.pack("<d", x).hex() if type(x) is float else x


def _outcome(f, args):
    """What a call gives: ('ok', type, bits) or ('raise', type, message)."""
    try:
        r = f(*args)
    except Exception as exc:  # noqa: BLE001 - the outcome is what is compared
        return ("raise", type(exc), str(exc))
    return ("ok", type(r), _bits(r))


def _inputs(rng, n):
    """Specials, random bit patterns (NaN payloads, subnormals, every exponent) and moderate values."""
    xs = list(SPECIALS)
    while len(xs) < n:
        kind = rng.random()
        if kind < 0.4:
            xs.append(struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0])
        elif kind < 0.8:
            xs.append(rng.uniform(-10.0, 10.0))
        else:
            xs.append(rng.uniform(-1.0, 1.0) * 10.0 ** rng.randint(-320, 308))
    return xs


def _compiled(source, name, arity):
    """Compile the function in `source` (numbers only) for float arguments."""
    ns = {"math": math}
    exec(source, ns)
    f = fresh_copy(ns[name])
    manager.record_for(f).eager = True
    assert manager.compile_for(f, (float,) * arity) is not None, manager.record_for(f).refusal_detail
    return ns[name], f, manager.record_for(f)


def _check(plain, jitted, rec, arg_sets):
    """Every argument set gives CPython's outcome, bit for bit; native code really ran."""
    before = rec.native_calls
    bad = []
    for args in arg_sets:
        want, got = _outcome(plain, args), _outcome(jitted, args)
        if want != got:
            bad.append((args, want, got))
            if len(bad) > 5:
                break
    assert not bad, bad
    assert rec.native_calls >= before + len(arg_sets)


@pytest.mark.parametrize("name", UNARY)
def test_math_function_bits(name):
    plain, jitted, rec = _compiled(f"def f(x):\n    return math.{name}(x)\n", "f", 1)
    xs = _inputs(random.Random(hash(name) & 0xFFFF), PER_UNARY)
    _check(plain, jitted, rec, [(x,) for x in xs])


@pytest.mark.parametrize("name", list(MATH2_NAMES) + OPERATORS)
def test_two_argument_bits(name):
    body = f"math.{name}(x, y)" if name.isidentifier() else f"x {name} y"
    plain, jitted, rec = _compiled(f"def f(x, y):\n    return {body}\n", "f", 2)
    rng = random.Random(hash(name) & 0xFFFF)
    xs, ys = _inputs(rng, PER_BINARY), _inputs(rng, PER_BINARY)
    rng.shuffle(ys)
    pairs = [(x, y) for x in SPECIALS for y in SPECIALS] + list(zip(xs, ys))
    _check(plain, jitted, rec, pairs)


@pytest.mark.parametrize("source", ["-x", "abs(x)", "x * -1.0", "x / -1.0", "-(x * y)", "0.0 - x",
                                    "-0.0 - x", "x - (-y)", "(-x) * (-y)", "-(x + y)", "1.0 * x"])
def test_sign_sensitive_forms(source):
    # LLVM may rewrite these into forms whose NaN sign differs from the x86 instruction CPython runs
    plain, jitted, rec = _compiled(f"def f(x, y):\n    return {source}\n", "f", 2)
    xs = [x for x in SPECIALS] + [struct.unpack("<d", struct.pack("<Q", b))[0]
                                  for b in (0x7FF8000000000001, 0xFFF8000000000001, 0x7FF0000000000001)]
    _check(plain, jitted, rec, [(x, y) for x in xs for y in xs])
