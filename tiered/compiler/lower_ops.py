"""Compiler lowering of single ops: one IR op → LLVM IR lines (the LOWER table, one entry per op)."""
import struct

from ..cpython import capi
from .ops import BOOL, FLOAT, INT, NONE, is_obj


class _LLTypes(dict):
    """IR type → LLVM type; every object type is a `ptr`."""

    def __missing__(self, t):
        if is_obj(t):
            return "ptr"
        raise KeyError(t)


LL = _LLTypes({INT: "i64", FLOAT: "double", BOOL: "i1", NONE: "i1"})
ICMP = {"<": "slt", "<=": "sle", ">": "sgt", ">=": "sge", "==": "eq", "!=": "ne"}
FCMP = {"<": "olt", "<=": "ole", ">": "ogt", ">=": "oge", "==": "oeq", "!=": "une"}
TWO53 = 2**53
MATH_LIBM = {"sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh",
             "atanh", "exp", "expm1", "log", "log2", "log10", "log1p", "erf", "erfc", "cbrt", "exp2",
             "pow", "atan2", "hypot", "fmod"}
INTRINSIC1 = {"sqrt": "llvm.sqrt.f64", "fabs": "llvm.fabs.f64"}


def fconst(x):
    """An LLVM double literal with the exact bits of x."""
    return "0x%016X" % struct.unpack("<Q", struct.pack("<d", x))[0]


def literal(value, type_):
    """LLVM text of a constant of an IR type."""
    if type_ == FLOAT:
        return fconst(value)
    if type_ in (BOOL, NONE):
        return "true" if value else "false"
    if is_obj(type_):           # the only object constant: NULL, a local not bound yet
        assert value is None
        return "null"
    return str(int(value))


def _ovf(e, v, kind):
    """Checked int add/sub/mul via an overflow intrinsic; exit on overflow."""
    a, b = e.ref(v.args[0]), e.ref(v.args[1])
    p = e.tmp()
    e.line(f"{p} = call {{i64, i1}} @llvm.{kind}.with.overflow.i64(i64 {a}, i64 {b})")
    e.guard(e.op(f"extractvalue {{i64, i1}} {p}, 1"), v)
    e.define(v, f"extractvalue {{i64, i1}} {p}, 0")


def _binop(instr, ty="i64"):
    """Lowering of a plain two-operand LLVM instruction."""
    def lower(e, v):
        """Define v as the instruction applied to its two operands."""
        e.define(v, f"{instr} {ty} {e.ref(v.args[0])}, {e.ref(v.args[1])}")
    return lower


def _int_divmod(e, v, mod):
    """Python int // or % (floor semantics); exit on a zero divisor or overflow."""
    a, b = e.ref(v.args[0]), e.ref(v.args[1])
    e.guard(e.op(f"icmp eq i64 {b}, 0"), v)
    minus1 = e.op(f"icmp eq i64 {b}, -1")
    if not mod:
        e.guard(e.op(f"and i1 {minus1}, {e.op(f'icmp eq i64 {a}, {-2**63}')}"), v)
    safe_b = e.op(f"select i1 {minus1}, i64 1, i64 {b}")    # srem/sdiv by -1 handled apart
    q = e.op(f"sdiv i64 {a}, {safe_b}")
    r = e.op(f"srem i64 {a}, {safe_b}")
    signs_differ = e.op(f"icmp slt i64 {e.op(f'xor i64 {r}, {b}')}, 0")
    adjust = e.op(f"and i1 {e.op(f'icmp ne i64 {r}, 0')}, {signs_differ}")
    if mod:
        fixed = e.op(f"select i1 {adjust}, i64 {e.op(f'add i64 {r}, {b}')}, i64 {r}")
        e.define(v, f"select i1 {minus1}, i64 0, i64 {fixed}")
    else:
        fixed = e.op(f"select i1 {adjust}, i64 {e.op(f'sub i64 {q}, 1')}, i64 {q}")
        e.define(v, f"select i1 {minus1}, i64 {e.op(f'sub i64 0, {a}')}, i64 {fixed}")


def _int_truediv(e, v):
    """int / int as a double; exit on a zero divisor or an operand beyond 2**53."""
    a, b = e.ref(v.args[0]), e.ref(v.args[1])
    e.guard(e.op(f"icmp eq i64 {b}, 0"), v)
    for x in (a, b):      # beyond 2**53 CPython rounds differently from double division
        e.guard(e.op(f"icmp ugt i64 {e.op(f'add i64 {x}, {TWO53}')}, {2 * TWO53}"), v)
    e.define(v, f"fdiv double {e.op(f'sitofp i64 {a} to double')}, {e.op(f'sitofp i64 {b} to double')}")


def _int_pow(e, v):
    """int ** int via tiered_ipow; exit on a negative exponent or overflow."""
    a, b = e.ref(v.args[0]), e.ref(v.args[1])
    e.guard(e.op(f"icmp slt i64 {b}, 0"), v)             # negative exponent: a float result
    p = e.op(f"call {{i64, i1}} @tiered_ipow(i64 {a}, i64 {b})")
    e.guard(e.op(f"extractvalue {{i64, i1}} {p}, 1"), v)
    e.define(v, f"extractvalue {{i64, i1}} {p}, 0")


def _int_neg(e, v):
    """Integer negation; exit on -2**63."""
    a = e.ref(v.args[0])
    e.guard(e.op(f"icmp eq i64 {a}, {-2**63}"), v)
    e.define(v, f"sub i64 0, {a}")


def _int_abs(e, v):
    """Integer abs(); exit on -2**63."""
    a = e.ref(v.args[0])
    e.guard(e.op(f"icmp eq i64 {a}, {-2**63}"), v)
    e.define(v, f"select i1 {e.op(f'icmp slt i64 {a}, 0')}, i64 {e.op(f'sub i64 0, {a}')}, i64 {a}")


def _int_lshift(e, v):
    """int << int; exit on a negative count or when bits are lost."""
    a, b = e.ref(v.args[0]), e.ref(v.args[1])
    e.guard(e.op(f"icmp slt i64 {b}, 0"), v)
    big = e.op(f"icmp sgt i64 {b}, 63")
    e.guard(e.op(f"and i1 {big}, {e.op(f'icmp ne i64 {a}, 0')}"), v)
    sb = e.op(f"select i1 {big}, i64 0, i64 {b}")
    r = e.op(f"shl i64 {a}, {sb}")
    e.guard(e.op(f"icmp ne i64 {e.op(f'ashr i64 {r}, {sb}')}, {a}"), v)
    e.define(v, f"select i1 {big}, i64 0, i64 {r}")


def _int_rshift(e, v):
    """int >> int (counts above 63 act as 63); exit on a negative count."""
    a, b = e.ref(v.args[0]), e.ref(v.args[1])
    e.guard(e.op(f"icmp slt i64 {b}, 0"), v)
    sb = e.op(f"select i1 {e.op(f'icmp sgt i64 {b}, 63')}, i64 63, i64 {b}")
    e.define(v, f"ashr i64 {a}, {sb}")


def _cmp(kind, table, ty):
    """Lowering of a comparison: kind (icmp/fcmp) with the predicate table, on type ty."""
    def lower(e, v):
        """Define v as the comparison of its two operands by its pred."""
        e.define(v, f"{kind} {table[v.attrs['pred']]} {ty} {e.ref(v.args[0])}, {e.ref(v.args[1])}")
    return lower


def _int_float_cmp(e, v):
    """Compare an int with a float; exit when the int is beyond 2**53 in magnitude."""
    i_first = v.attrs["int_first"]
    i = e.ref(v.args[0] if i_first else v.args[1])
    e.guard(e.op(f"icmp ugt i64 {e.op(f'add i64 {i}, {TWO53}')}, {2 * TWO53}"), v)
    f = e.op(f"sitofp i64 {i} to double")
    a, b = (f, e.ref(v.args[1])) if i_first else (e.ref(v.args[0]), f)
    e.define(v, f"fcmp {FCMP[v.attrs['pred']]} double {a}, {b}")


def _float_div(e, v):
    """float / float; exit on a zero divisor."""
    e.guard(e.op(f"fcmp oeq double {e.ref(v.args[1])}, 0.0"), v)
    e.define(v, f"fdiv double {e.ref(v.args[0])}, {e.ref(v.args[1])}")


def _float_mod_parts(e, v):
    """CPython's float_divmod: (mod, floordiv) with Python's signs."""
    x, w = e.ref(v.args[0]), e.ref(v.args[1])
    e.guard(e.op(f"fcmp oeq double {w}, 0.0"), v)
    m = e.op(f"frem double {x}, {w}")
    div = e.op(f"fdiv double {e.op(f'fsub double {x}, {m}')}, {w}")
    mnz = e.op(f"fcmp une double {m}, 0.0")
    signs = e.op(f"xor i1 {e.op(f'fcmp olt double {w}, 0.0')}, {e.op(f'fcmp olt double {m}, 0.0')}")
    fix = e.op(f"and i1 {mnz}, {signs}")
    m2 = e.op(f"select i1 {fix}, double {e.op(f'fadd double {m}, {w}')}, double {m}")
    d2 = e.op(f"select i1 {fix}, double {e.op(f'fsub double {div}, 1.0')}, double {div}")
    zero_m = e.op(f"call double @llvm.copysign.f64(double 0.0, double {w})")
    mod = e.op(f"select i1 {mnz}, double {m2}, double {zero_m}")
    fl = e.op(f"call double @llvm.floor.f64(double {d2})")
    up = e.op(f"fcmp ogt double {e.op(f'fsub double {d2}, {fl}')}, 0.5")
    fl2 = e.op(f"select i1 {up}, double {e.op(f'fadd double {fl}, 1.0')}, double {fl}")
    zero_d = e.op(f"call double @llvm.copysign.f64(double 0.0, double {e.op(f'fdiv double {x}, {w}')})")
    floordiv = e.op(f"select i1 {e.op(f'fcmp une double {d2}, 0.0')}, double {fl2}, double {zero_d}")
    return mod, floordiv


def _float_mod(e, v):
    """float % float with Python's sign (from _float_mod_parts)."""
    e.alias(v, _float_mod_parts(e, v)[0])


def _float_floordiv(e, v):
    """float // float with Python's rounding (from _float_mod_parts)."""
    e.alias(v, _float_mod_parts(e, v)[1])


def _finite(e, x):
    """An i1 that is true when x is finite (neither inf nor nan)."""
    return e.op(f"fcmp olt double {e.op(f'call double @llvm.fabs.f64(double {x})')}, {fconst(float('inf'))}")


def _pow_guard(e, v, r, x, y):
    """Exit unless CPython's pow would return r itself: finite in and out, real result."""
    ok = e.op(f"and i1 {_finite(e, x)}, {_finite(e, y)}")
    ok = e.op(f"and i1 {ok}, {_finite(e, r)}")
    y_floor = e.op(f"call double @llvm.floor.f64(double {y})")
    neg_frac = e.op(f"and i1 {e.op(f'fcmp olt double {x}, 0.0')}, {e.op(f'fcmp une double {y}, {y_floor}')}")
    zero_neg = e.op(f"and i1 {e.op(f'fcmp oeq double {x}, 0.0')}, {e.op(f'fcmp olt double {y}, 0.0')}")
    bad = e.op(f"or i1 {neg_frac}, {zero_neg}")
    e.guard(e.op(f"or i1 {e.op(f'xor i1 {ok}, true')}, {bad}"), v)


def _float_pow(e, v):
    """float ** float via libm pow; exit unless CPython would return the same value."""
    x, y = e.ref(v.args[0]), e.ref(v.args[1])
    r = e.op(f"call double @pow(double {x}, double {y})")
    _pow_guard(e, v, r, x, y)
    e.alias(v, r)


def _math1(e, v):
    """A one-argument math function; exit on a domain error or overflow (not for fabs)."""
    fn, x = v.attrs["fn"], e.ref(v.args[0])
    callee = INTRINSIC1.get(fn, fn)
    r = e.op(f"call double @{callee}(double {x})")
    if fn != "fabs":      # CPython: nan from non-nan is a domain error, inf from finite an overflow
        nan_from_num = e.op(f"and i1 {e.op(f'fcmp uno double {r}, 0.0')}, {e.op(f'fcmp ord double {x}, 0.0')}")
        inf_from_fin = e.op(f"and i1 {e.op(f'xor i1 {_finite(e, r)}, true')}, {_finite(e, x)}")
        e.guard(e.op(f"or i1 {nan_from_num}, {inf_from_fin}"), v)
    e.alias(v, r)


def _math2(e, v):
    """A two-argument math function (copysign inline); exit where CPython special-cases."""
    fn, x, y = v.attrs["fn"], e.ref(v.args[0]), e.ref(v.args[1])
    if fn == "copysign":
        e.define(v, f"call double @llvm.copysign.f64(double {x}, double {y})")
        return
    r = e.op(f"call double @{fn}(double {x}, double {y})")
    if fn == "pow":
        _pow_guard(e, v, r, x, y)
    else:                 # CPython special-cases non-finite inputs: leave those to it
        ok = e.op(f"and i1 {e.op(f'and i1 {_finite(e, x)}, {_finite(e, y)}')}, {_finite(e, r)}")
        e.guard(e.op(f"xor i1 {ok}, true"), v)
    e.alias(v, r)


def _to_int(e, v, intrinsic):
    """float to int, rounded first by an optional intrinsic; exit outside the i64 range."""
    x = e.ref(v.args[0])
    if intrinsic:
        x = e.op(f"call double @{intrinsic}(double {x})")
    ok = e.op(f"and i1 {e.op(f'fcmp oge double {x}, {fconst(-2.0**63)}')}, "
              f"{e.op(f'fcmp olt double {x}, {fconst(2.0**63)}')}")
    e.guard(e.op(f"xor i1 {ok}, true"), v)
    e.define(v, f"fptosi double {x} to i64")


def _float_test(e, v):
    """math.isnan/isinf/isfinite of a double."""
    x, fn = e.ref(v.args[0]), v.attrs["fn"]
    if fn == "isnan":
        e.define(v, f"fcmp uno double {x}, 0.0")
    elif fn == "isinf":
        e.define(v, f"fcmp oeq double {e.op(f'call double @llvm.fabs.f64(double {x})')}, {fconst(float('inf'))}")
    else:
        e.alias(v, _finite(e, x))


def _range_len(e, v):
    """The number of items of range(lo, hi, step) (the step is nonzero)."""
    lo, hi, step = (e.ref(a) for a in v.args)
    up = e.op(f"icmp sgt i64 {step}, 0")
    a = e.op(f"select i1 {up}, i64 {lo}, i64 {hi}")
    b = e.op(f"select i1 {up}, i64 {hi}, i64 {lo}")
    mag = e.op(f"select i1 {up}, i64 {step}, i64 {e.op(f'sub i64 0, {step}')}")
    span = e.op(f"sub i64 {e.op(f'sub i64 {b}, {a}')}, 1")
    n = e.op(f"add i64 {e.op(f'udiv i64 {span}, {mag}')}, 1")
    e.define(v, f"select i1 {e.op(f'icmp slt i64 {a}, {b}')}, i64 {n}, i64 0")


def _const(e, v):
    """A constant: refer to its LLVM literal."""
    e.alias(v, literal(v.attrs["value"], v.type))


def _guard_nonzero(e, v):
    """Exit when the int operand is zero."""
    e.guard(e.op(f"icmp eq i64 {e.ref(v.args[0])}, 0"), v)


LOWER = {
    "const": _const,
    "int_add": lambda e, v: _ovf(e, v, "sadd"),
    "int_sub": lambda e, v: _ovf(e, v, "ssub"),
    "int_mul": lambda e, v: _ovf(e, v, "smul"),
    "int_add_wrap": _binop("add"), "int_sub_wrap": _binop("sub"),
    "int_floordiv": lambda e, v: _int_divmod(e, v, mod=False),
    "int_mod": lambda e, v: _int_divmod(e, v, mod=True),
    "int_truediv": _int_truediv,
    "int_pow": _int_pow,
    "int_neg": _int_neg,
    "int_abs": _int_abs,
    "int_invert": lambda e, v: e.define(v, f"xor i64 {e.ref(v.args[0])}, -1"),
    "int_and": _binop("and"), "int_or": _binop("or"), "int_xor": _binop("xor"),
    "bool_and": _binop("and", "i1"), "bool_or": _binop("or", "i1"), "bool_xor": _binop("xor", "i1"),
    "int_lshift": _int_lshift,
    "int_rshift": _int_rshift,
    "int_cmp": _cmp("icmp", ICMP, "i64"),
    "float_cmp": _cmp("fcmp", FCMP, "double"),
    "int_float_cmp": _int_float_cmp,
    "float_add": _binop("fadd", "double"), "float_sub": _binop("fsub", "double"),
    "float_mul": _binop("fmul", "double"),
    "float_truediv": _float_div,
    "float_floordiv": _float_floordiv,
    "float_mod": _float_mod,
    "float_pow": _float_pow,
    "float_neg": lambda e, v: e.define(v, f"fneg double {e.ref(v.args[0])}"),
    "float_abs": lambda e, v: e.define(v, f"call double @llvm.fabs.f64(double {e.ref(v.args[0])})"),
    "int_to_float": lambda e, v: e.define(v, f"sitofp i64 {e.ref(v.args[0])} to double"),
    "bool_to_int": lambda e, v: e.define(v, f"zext i1 {e.ref(v.args[0])} to i64"),
    "float_to_int": lambda e, v: _to_int(e, v, None),
    "float_round": lambda e, v: _to_int(e, v, "llvm.roundeven.f64"),
    "float_floor": lambda e, v: _to_int(e, v, "llvm.floor.f64"),
    "float_ceil": lambda e, v: _to_int(e, v, "llvm.ceil.f64"),
    "int_truth": lambda e, v: e.define(v, f"icmp ne i64 {e.ref(v.args[0])}, 0"),
    "float_truth": lambda e, v: e.define(v, f"fcmp une double {e.ref(v.args[0])}, 0.0"),
    "bool_not": lambda e, v: e.define(v, f"xor i1 {e.ref(v.args[0])}, true"),
    "select": lambda e, v: e.define(v, f"select i1 {e.ref(v.args[0])}, {LL[v.type]} "
                                       f"{e.ref(v.args[1])}, {LL[v.type]} {e.ref(v.args[2])}"),
    "math1": _math1,
    "math2": _math2,
    "float_test": _float_test,
    "range_len": _range_len,
    "guard_nonzero": _guard_nonzero,
    "guard_global": lambda e, v: e.guard_global(v),
    "loop_poll": lambda e, v: e.loop_poll(v),
    "trace_check": lambda e, v: e.trace_check(v),
    "leave": lambda e, v: e.guard("true", v),
    "hand_over": lambda e, v: e.guard("true", v),
    "call_native": lambda e, v: e.call_native(v),
}

PRELUDE = """
declare {i64, i1} @llvm.sadd.with.overflow.i64(i64, i64)
declare {i64, i1} @llvm.ssub.with.overflow.i64(i64, i64)
declare {i64, i1} @llvm.smul.with.overflow.i64(i64, i64)
declare double @llvm.sqrt.f64(double)
declare double @llvm.fabs.f64(double)
declare double @llvm.floor.f64(double)
declare double @llvm.ceil.f64(double)
declare double @llvm.roundeven.f64(double)
declare double @llvm.copysign.f64(double, double)
""" + "".join(f"declare double @{f}(double)\n" for f in sorted(MATH_LIBM - {"pow", "atan2", "hypot", "fmod"})) + \
    "".join(f"declare double @{f}(double, double)\n" for f in ("pow", "atan2", "hypot", "fmod")) + """
define internal {i64, i1} @tiered_ipow(i64 %base, i64 %exp) alwaysinline {
entry:
  br label %loop
loop:
  %r = phi i64 [1, %entry], [%r2, %next]
  %b = phi i64 [%base, %entry], [%b2, %next]
  %e = phi i64 [%exp, %entry], [%e2, %next]
  %bad = phi i1 [false, %entry], [%bad3, %next]
  %done = icmp eq i64 %e, 0
  br i1 %done, label %out, label %body
body:
  %odd = trunc i64 %e to i1
  %m = call {i64, i1} @llvm.smul.with.overflow.i64(i64 %r, i64 %b)
  %mv = extractvalue {i64, i1} %m, 0
  %mo = extractvalue {i64, i1} %m, 1
  %r2 = select i1 %odd, i64 %mv, i64 %r
  %mo2 = and i1 %odd, %mo
  %e2 = lshr i64 %e, 1
  %more = icmp ne i64 %e2, 0
  %s = call {i64, i1} @llvm.smul.with.overflow.i64(i64 %b, i64 %b)
  %b2 = extractvalue {i64, i1} %s, 0
  %so = extractvalue {i64, i1} %s, 1
  %so2 = and i1 %more, %so
  %bad2 = or i1 %bad, %mo2
  %bad3 = or i1 %bad2, %so2
  br label %next
next:
  br label %loop
out:
  %res = insertvalue {i64, i1} undef, i64 %r, 0
  %res2 = insertvalue {i64, i1} %res, i1 %bad, 1
  ret {i64, i1} %res2
}
"""
assert capi.OB_TYPE == 8
