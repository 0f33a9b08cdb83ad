"""Compiler ops on ints and bools: spec, Python operator or call and lowering of each → LLVM IR lines."""
import math

from ...reasons import Exit
from . import BOOL, FLOAT, INT, define, op
from .common import LL, float_literal_folds, literal, opaque
from .floats import MATH_LIBM

ICMP = {"<": "slt", "<=": "sle", ">": "sgt", ">=": "sge", "==": "eq", "!=": "ne"}
FCMP = {"<": "olt", "<=": "ole", ">": "ogt", ">=": "oge", "==": "oeq", "!=": "une"}
TWO53 = 2**53
II, BB = (INT, INT), (BOOL, BOOL)


def binop(instr, ty="i64"):
    """Lowering of a plain two-operand LLVM instruction."""
    def lower(e, v):
        """Define v as the instruction applied to its two operands."""
        e.define(v, f"{instr} {ty} {e.ref(v.args[0])}, {e.ref(v.args[1])}")
    return lower


def unop(text):
    """Lowering of a one-operand instruction: `text` with {x} the operand."""
    return lambda e, v: e.define(v, text.format(x=e.ref(v.args[0])))


@op("const", 0, None, attrs=("value",))
def _const(e, v):
    """A constant: refer to its LLVM literal (a float one that NaN-sign folds could use, through
    an opaque barrier)."""
    text = literal(v.attrs["value"], v.type)
    if v.type == FLOAT and float_literal_folds(v.attrs["value"]):
        text = opaque(e, text)
    e.alias(v, text)


def _ovf(kind):
    """Checked int add/sub/mul via an overflow intrinsic; exit on overflow."""
    def lower(e, v):
        """Define v as the checked operation of its two operands."""
        a, b = e.ref(v.args[0]), e.ref(v.args[1])
        p = e.tmp()
        e.line(f"{p} = call {{i64, i1}} @llvm.{kind}.with.overflow.i64(i64 {a}, i64 {b})")
        e.guard(e.op(f"extractvalue {{i64, i1}} {p}, 1"), v)
        e.define(v, f"extractvalue {{i64, i1}} {p}, 0")
    return lower


define("int_add", 2, INT, Exit.INT_OVERFLOW, py="+", operands=II, lower=_ovf("sadd"))
define("int_sub", 2, INT, Exit.INT_OVERFLOW, py="-", operands=II, lower=_ovf("ssub"))
define("int_mul", 2, INT, Exit.INT_OVERFLOW, py="*", operands=II, lower=_ovf("smul"))
define("int_add_wrap", 2, INT, lower=binop("add"))      # the passes prove it cannot overflow
define("int_sub_wrap", 2, INT, lower=binop("sub"))
define("int_and", 2, INT, py="&", operands=II, lower=binop("and"))
define("int_or", 2, INT, py="|", operands=II, lower=binop("or"))
define("int_xor", 2, INT, py="^", operands=II, lower=binop("xor"))
define("bool_and", 2, BOOL, py="&", operands=BB, lower=binop("and", "i1"))
define("bool_or", 2, BOOL, py="|", operands=BB, lower=binop("or", "i1"))
define("bool_xor", 2, BOOL, py="^", operands=BB, lower=binop("xor", "i1"))
define("int_invert", 1, INT, py="~", operands=(INT,), lower=unop("xor i64 {x}, -1"))
define("int_to_float", 1, FLOAT, lower=unop("sitofp i64 {x} to double"))
define("bool_to_int", 1, INT, lower=unop("zext i1 {x} to i64"))
define("int_truth", 1, BOOL, lower=unop("icmp ne i64 {x}, 0"))
define("bool_not", 1, BOOL, lower=unop("xor i1 {x}, true"))


def _int_divmod(mod):
    """Python int // or % (floor semantics); exit on a zero divisor or overflow."""
    def lower(e, v):
        """Define v as a // b (or a % b) of its operands."""
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
    return lower


define("int_floordiv", 2, INT, Exit.ZERO_DIVISION, py="//", operands=II, lower=_int_divmod(mod=False))
define("int_mod", 2, INT, Exit.ZERO_DIVISION, py="%", operands=II, lower=_int_divmod(mod=True))


@op("int_truediv", 2, FLOAT, Exit.ZERO_DIVISION, py="/", operands=II)
def _int_truediv(e, v):
    """int / int as a double; exit on a zero divisor or an operand beyond 2**53."""
    a, b = e.ref(v.args[0]), e.ref(v.args[1])
    e.guard(e.op(f"icmp eq i64 {b}, 0"), v)
    for x in (a, b):      # beyond 2**53 CPython rounds differently from double division
        e.guard(e.op(f"icmp ugt i64 {e.op(f'add i64 {x}, {TWO53}')}, {2 * TWO53}"), v)
    e.define(v, f"fdiv double {e.op(f'sitofp i64 {a} to double')}, {e.op(f'sitofp i64 {b} to double')}")


@op("int_pow", 2, INT, Exit.INT_OVERFLOW, py="**", operands=II)
def _int_pow(e, v):
    """int ** int via tiered_ipow; exit on a negative exponent or overflow."""
    a, b = e.ref(v.args[0]), e.ref(v.args[1])
    e.guard(e.op(f"icmp slt i64 {b}, 0"), v)             # negative exponent: a float result
    p = e.op(f"call {{i64, i1}} @tiered_ipow(i64 {a}, i64 {b})")
    e.guard(e.op(f"extractvalue {{i64, i1}} {p}, 1"), v)
    e.define(v, f"extractvalue {{i64, i1}} {p}, 0")


@op("int_neg", 1, INT, Exit.INT_OVERFLOW, py="-", operands=(INT,))
def _int_neg(e, v):
    """Integer negation; exit on -2**63."""
    a = e.ref(v.args[0])
    e.guard(e.op(f"icmp eq i64 {a}, {-2**63}"), v)
    e.define(v, f"sub i64 0, {a}")


@op("int_abs", 1, INT, Exit.INT_OVERFLOW)
def _int_abs(e, v):
    """Integer abs(); exit on -2**63."""
    a = e.ref(v.args[0])
    e.guard(e.op(f"icmp eq i64 {a}, {-2**63}"), v)
    e.define(v, f"select i1 {e.op(f'icmp slt i64 {a}, 0')}, i64 {e.op(f'sub i64 0, {a}')}, i64 {a}")


@op("int_lshift", 2, INT, Exit.INT_OVERFLOW, py="<<", operands=II)
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


@op("int_rshift", 2, INT, Exit.DOMAIN, py=">>", operands=II)
def _int_rshift(e, v):
    """int >> int (counts above 63 act as 63); exit on a negative count."""
    a, b = e.ref(v.args[0]), e.ref(v.args[1])
    e.guard(e.op(f"icmp slt i64 {b}, 0"), v)
    sb = e.op(f"select i1 {e.op(f'icmp sgt i64 {b}, 63')}, i64 63, i64 {b}")
    e.define(v, f"ashr i64 {a}, {sb}")


@op("int_gcd", 2, INT, Exit.INT_OVERFLOW, operands=II, calls=((math.gcd, (2,)),))
def _int_gcd(e, v):
    """math.gcd(a, b): Euclid's algorithm on the magnitudes (unsigned); exit when the result
    is 2**63 (gcd(-2**63, 0) or gcd(-2**63, -2**63): beyond an i64)."""
    a, b = e.ref(v.args[0]), e.ref(v.args[1])
    mag = [e.op(f"select i1 {e.op(f'icmp slt i64 {x}, 0')}, i64 {e.op(f'sub i64 0, {x}')}, i64 {x}")
           for x in (a, b)]
    before, loop, body, done = e.cur, e.tmp()[1:], e.tmp()[1:], e.tmp()[1:]
    x, y, r = e.tmp(), e.tmp(), e.tmp()
    e.line(f"br label %{loop}")
    e.label(loop)
    e.line(f"{x} = phi i64 [{mag[0]}, %{before}], [{y}, %{body}]")
    e.line(f"{y} = phi i64 [{mag[1]}, %{before}], [{r}, %{body}]")
    e.line(f"br i1 {e.op(f'icmp eq i64 {y}, 0')}, label %{done}, label %{body}")
    e.label(body)
    e.line(f"{r} = urem i64 {x}, {y}")
    e.line(f"br label %{loop}")
    e.label(done)
    e.guard(e.op(f"icmp slt i64 {x}, 0"), v)
    e.alias(v, x)


@op("int_isqrt", 1, INT, Exit.DOMAIN, operands=(INT,), calls=((math.isqrt, (1,)),))
def _int_isqrt(e, v):
    """math.isqrt(n): the double square root's floor, corrected by one either way (it is within
    one of the exact root for every n < 2**63); exit on a negative n (the ValueError)."""
    n = e.ref(v.args[0])
    e.guard(e.op(f"icmp slt i64 {n}, 0"), v)
    root = e.op(f"call double @llvm.sqrt.f64(double {e.op(f'uitofp i64 {n} to double')})")
    guess = e.op(f"fptoui double {root} to i64")
    over = e.op(f"icmp ugt i64 {e.op(f'mul i64 {guess}, {guess}')}, {n}")
    r = e.op(f"select i1 {over}, i64 {e.op(f'sub i64 {guess}, 1')}, i64 {guess}")
    up = e.op(f"add i64 {r}, 1")
    under = e.op(f"icmp ule i64 {e.op(f'mul i64 {up}, {up}')}, {n}")
    e.define(v, f"select i1 {under}, i64 {up}, i64 {r}")


def _cmp(kind, table, ty):
    """Lowering of a comparison: kind (icmp/fcmp) with the predicate table, on type ty."""
    def lower(e, v):
        """Define v as the comparison of its two operands by its pred."""
        e.define(v, f"{kind} {table[v.attrs['pred']]} {ty} {e.ref(v.args[0])}, {e.ref(v.args[1])}")
    return lower


define("int_cmp", 2, BOOL, attrs=("pred",), lower=_cmp("icmp", ICMP, "i64"))
define("float_cmp", 2, BOOL, attrs=("pred",), lower=_cmp("fcmp", FCMP, "double"))


@op("int_float_cmp", 2, BOOL, Exit.FLOAT_CONVERSION, attrs=("pred", "int_first"))
def _int_float_cmp(e, v):
    """Compare an int with a float; exit when the int is beyond 2**53 in magnitude."""
    i_first = v.attrs["int_first"]
    i = e.ref(v.args[0] if i_first else v.args[1])
    e.guard(e.op(f"icmp ugt i64 {e.op(f'add i64 {i}, {TWO53}')}, {2 * TWO53}"), v)
    f = e.op(f"sitofp i64 {i} to double")
    a, b = (f, e.ref(v.args[1])) if i_first else (e.ref(v.args[0]), f)
    e.define(v, f"fcmp {FCMP[v.attrs['pred']]} double {a}, {b}")


@op("select", 3, None)
def _select(e, v):
    """cond ? a : b, of any type."""
    e.define(v, f"select i1 {e.ref(v.args[0])}, {LL[v.type]} {e.ref(v.args[1])}, {LL[v.type]} {e.ref(v.args[2])}")


@op("range_len", 3, INT)
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


@op("int_bit_length", 1, INT, operands=(INT,))       # build/calls.py NUMBER_METHODS
def _int_bit_length(e, v):
    """n.bit_length(): 64 less the leading zeros of |n| (|-2**63| is 2**63 unsigned: 64)."""
    mag = e.op(f"call i64 @llvm.abs.i64(i64 {e.ref(v.args[0])}, i1 false)")
    e.define(v, f"sub i64 64, {e.op(f'call i64 @llvm.ctlz.i64(i64 {mag}, i1 false)')}")


@op("guard_nonzero", 1, None, Exit.DOMAIN, pure=False)
def _guard_nonzero(e, v):
    """Exit when the int operand is zero."""
    e.guard(e.op(f"icmp eq i64 {e.ref(v.args[0])}, 0"), v)


PRELUDE = """
declare {i64, i1} @llvm.sadd.with.overflow.i64(i64, i64)
declare {i64, i1} @llvm.ssub.with.overflow.i64(i64, i64)
declare {i64, i1} @llvm.smul.with.overflow.i64(i64, i64)
declare i64 @llvm.abs.i64(i64, i1)
declare i64 @llvm.ctlz.i64(i64, i1)
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
