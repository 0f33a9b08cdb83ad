"""Compiler ops on floats and math functions: spec, Python operator and lowering of each → LLVM IR lines."""
import math

from ...cpython import capi
from ...reasons import Exit
from . import BOOL, FLOAT, INT, define, op
from .common import fconst, opaque

FF = (FLOAT, FLOAT)
MATH_LIBM = {"sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh",
             "atanh", "exp", "expm1", "log", "log2", "log10", "log1p", "erf", "erfc", "cbrt", "exp2",
             "pow", "atan2", "hypot", "fmod"}
INTRINSIC1 = {"sqrt": "llvm.sqrt.f64", "fabs": "llvm.fabs.f64"}
NAN_AS_IS = {"log", "log2", "log10"}


def _plain(text):
    """Lowering of one instruction on doubles: `text` with {a} and {b} the operands."""
    return lambda e, v: e.define(v, text.format(**dict(zip("ab", (e.ref(x) for x in v.args)))))


define("float_add", 2, FLOAT, py="+", operands=FF, lower=_plain("fadd double {a}, {b}"))
define("float_sub", 2, FLOAT, py="-", operands=FF, lower=_plain("fsub double {a}, {b}"))
define("float_mul", 2, FLOAT, py="*", operands=FF, lower=_plain("fmul double {a}, {b}"))
@op("float_neg", 1, FLOAT, py="-", operands=(FLOAT,))
def _float_neg(e, v):
    """-x: a sign flip, kept apart from the operations around it (common.opaque)."""
    e.alias(v, opaque(e, e.op(f"fneg double {opaque(e, e.ref(v.args[0]))}")))


define("float_abs", 1, FLOAT, lower=_plain("call double @llvm.fabs.f64(double {a})"))
define("float_truth", 1, BOOL, lower=_plain("fcmp une double {a}, 0.0"))


@op("float_truediv", 2, FLOAT, Exit.ZERO_DIVISION, py="/", operands=FF)
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


@op("float_mod", 2, FLOAT, Exit.ZERO_DIVISION, py="%", operands=FF)
def _float_mod(e, v):
    """float % float with Python's sign (from _float_mod_parts)."""
    e.alias(v, _float_mod_parts(e, v)[0])


@op("float_floordiv", 2, FLOAT, Exit.ZERO_DIVISION, py="//", operands=FF)
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


@op("float_pow", 2, FLOAT, Exit.DOMAIN, py="**", operands=FF)
def _float_pow(e, v):
    """float ** float via libm pow; exit unless CPython would return the same value."""
    x, y = e.ref(v.args[0]), e.ref(v.args[1])
    r = e.op(f"call double @pow(double {x}, double {y})")
    _pow_guard(e, v, r, x, y)
    e.alias(v, r)


@op("math1", 1, FLOAT, Exit.DOMAIN, attrs=("fn",))         # fn: a name in infer.MATH1_NAMES
def _math1(e, v):
    """A one-argument math function; exit on a domain error or overflow (not for fabs)."""
    fn, x = v.attrs["fn"], e.ref(v.args[0])
    callee = INTRINSIC1.get(fn, fn)
    r = e.op(f"call double @{callee}(double {x})")
    if fn in NAN_AS_IS:   # CPython's m_log* give a NaN back as it came (libm quiets a signalling one)
        r = e.op(f"select i1 {e.op(f'fcmp uno double {x}, 0.0')}, double {x}, double {r}")
    if fn != "fabs":      # CPython: nan from non-nan is a domain error, inf from finite an overflow
        nan_from_num = e.op(f"and i1 {e.op(f'fcmp uno double {r}, 0.0')}, {e.op(f'fcmp ord double {x}, 0.0')}")
        inf_from_fin = e.op(f"and i1 {e.op(f'xor i1 {_finite(e, r)}, true')}, {_finite(e, x)}")
        e.guard(e.op(f"or i1 {nan_from_num}, {inf_from_fin}"), v)
    e.alias(v, r)


@op("math2", 2, FLOAT, Exit.DOMAIN, attrs=("fn",))         # fn: a name in infer.MATH2_NAMES
def _math2(e, v):
    """A two-argument math function (copysign inline); exit where CPython special-cases."""
    fn, x, y = v.attrs["fn"], e.ref(v.args[0]), e.ref(v.args[1])
    if fn == "copysign":
        e.define(v, f"call double @llvm.copysign.f64(double {x}, double {y})")
        return
    if fn == "hypot" and _HYPOT is not None:
        e.alias(v, _call_cpython(e, v, _HYPOT, (x, y)))
        return
    r = e.op(f"call double @{fn}(double {x}, double {y})")
    if fn == "pow":
        _pow_guard(e, v, r, x, y)
    else:                 # CPython special-cases non-finite inputs: leave those to it
        ok = e.op(f"and i1 {e.op(f'and i1 {_finite(e, x)}, {_finite(e, y)}')}, {_finite(e, r)}")
        e.guard(e.op(f"xor i1 {ok}, true"), v)
    e.alias(v, r)


# CPython's own math.hypot (its algorithm, not libm's hypot, whose last bit differs often)
_HYPOT = capi.fastcall_function(math.hypot)


def _call_cpython(e, v, function, xs):
    """The C function of a math builtin called as CPython calls it, on the doubles xs boxed (its
    float result unboxed): bit for bit CPython's result.  When memory runs out, or it raises,
    exit (DOMAIN) with no exception pending: the interpreter calls it again and raises there."""
    address, self_ = function
    argv = e.entry_alloca(f"[{len(xs)} x ptr]")
    boxed = [e.op(f"call ptr @PyFloat_FromDouble(double {x})") for x in xs]
    for k, b in enumerate(boxed):
        e.line(f"store ptr {b}, ptr {e.op(f'getelementptr ptr, ptr {argv}, i64 {k}')}")
    nulls = [e.op(f"icmp eq ptr {b}, null") for b in boxed]
    failed = e.op(f"or i1 {nulls[0]}, {nulls[1]}") if len(nulls) == 2 else nulls[0]
    call, after = e.tmp()[1:], e.tmp()[1:]
    before = e.cur
    e.line(f"br i1 {failed}, label %{after}, label %{call}")
    e.label(call)
    r = e.op(f"call ptr inttoptr (i64 {address} to ptr)(ptr inttoptr (i64 {self_} to ptr), ptr {argv}, "
             f"i64 {len(xs)})")
    e.line(f"br label %{after}")
    e.label(after)
    r = e.op(f"phi ptr [null, %{before}], [{r}, %{call}]")
    for b in boxed:
        e.line(f"call void @Py_DecRef(ptr {b})")       # Py_DecRef accepts NULL
    none = e.op(f"icmp eq ptr {r}, null")
    ok, bad = e.tmp()[1:], e.tmp()[1:]
    e.line(f"br i1 {none}, label %{bad}, label %{ok}, !prof !0")
    e.label(bad)
    e.line("call void @PyErr_Clear()")
    e.guard("true", v)
    e.line(f"br label %{ok}")
    e.label(ok)
    value = e.op(f"load double, ptr {e.op(f'getelementptr i8, ptr {r}, i64 {capi.OB_FVAL}')}")
    e.line(f"call void @Py_DecRef(ptr {r})")
    return value


def _to_int(intrinsic):
    """float to int, rounded first by an optional intrinsic; exit outside the i64 range."""
    def lower(e, v):
        """Define v as the (rounded) float operand as an i64."""
        x = e.ref(v.args[0])
        if intrinsic:
            x = e.op(f"call double @{intrinsic}(double {x})")
        ok = e.op(f"and i1 {e.op(f'fcmp oge double {x}, {fconst(-2.0**63)}')}, "
                  f"{e.op(f'fcmp olt double {x}, {fconst(2.0**63)}')}")
        e.guard(e.op(f"xor i1 {ok}, true"), v)
        e.define(v, f"fptosi double {x} to i64")
    return lower


define("float_to_int", 1, INT, Exit.FLOAT_CONVERSION, lower=_to_int(None))
define("float_round", 1, INT, Exit.FLOAT_CONVERSION, lower=_to_int("llvm.roundeven.f64"))
define("float_floor", 1, INT, Exit.FLOAT_CONVERSION, lower=_to_int("llvm.floor.f64"))
define("float_ceil", 1, INT, Exit.FLOAT_CONVERSION, lower=_to_int("llvm.ceil.f64"))


@op("float_is_integer", 1, BOOL, operands=(FLOAT,))    # build/calls.py NUMBER_METHODS
def _float_is_integer(e, v):
    """x.is_integer(): finite and equal to its floor."""
    x = e.ref(v.args[0])
    whole = e.op(f"fcmp oeq double {e.op(f'call double @llvm.floor.f64(double {x})')}, {x}")
    e.define(v, f"and i1 {_finite(e, x)}, {whole}")


@op("float_test", 1, BOOL, attrs=("fn",))                  # fn: isnan, isinf or isfinite
def _float_test(e, v):
    """math.isnan/isinf/isfinite of a double."""
    x, fn = e.ref(v.args[0]), v.attrs["fn"]
    if fn == "isnan":
        e.define(v, f"fcmp uno double {x}, 0.0")
    elif fn == "isinf":
        e.define(v, f"fcmp oeq double {e.op(f'call double @llvm.fabs.f64(double {x})')}, {fconst(float('inf'))}")
    else:
        e.alias(v, _finite(e, x))
