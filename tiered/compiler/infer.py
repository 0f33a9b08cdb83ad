"""Compiler typing: operand types observed or inferred → the specialised op that implements a Python operation."""
import builtins
import math

from .ops import BOOL, FLOAT, INT, NONE, OPS


class Unsupported(Exception):
    """The operation has no specialisation for these types (the builder refuses the function)."""

    def __init__(self, reason, detail, variable=None):
        super().__init__(detail)
        self.reason = reason
        # where the builder stopped, filled in once by the walk and build() (not at each raise):
        # the instruction's offset, its source line, and the variable concerned when known
        self.offset, self.line, self.variable = None, None, variable


def type_of_constant(value):
    """The IR type of a Python constant, or None when it is not a supported scalar."""
    if value is None:
        return NONE
    if type(value) is bool:
        return BOOL
    if type(value) is int:
        return INT if -2**63 <= value < 2**63 else None
    if type(value) is float:
        return FLOAT
    return None


def _as_int(b, v):
    """v as an int: a bool is widened, an int is returned unchanged."""
    return b.emit("bool_to_int", [v]) if v.type == BOOL else v


def as_float(b, v):
    """v converted to float the way CPython converts an int or bool operand."""
    if v.type == FLOAT:
        return v
    return b.emit("int_to_float", [_as_int(b, v)])


def truth(b, v):
    """The truth value of v, as a bool value."""
    if v.type == BOOL:
        return v
    if v.type == NONE:
        return b.const(False)
    if v.type not in (INT, FLOAT):
        raise Unsupported("UNSUPPORTED_TYPE", f"truth of {v.type}")
    return b.emit({INT: "int_truth", FLOAT: "float_truth"}[v.type], [v])


# (Python operator, operand type) → the op implementing it: each numeric op declares the
# operator (`py`) and operand types it implements beside its lowering (ops/numbers.py, floats.py)
BINARY = {(s.py, s.operands[0]): s.name for s in OPS.values() if s.py and s.arity == 2}
UNARY = {(s.py, s.operands[0]): s.name for s in OPS.values() if s.py and s.arity == 1}
NUMERIC = (INT, FLOAT, BOOL)


def binary(b, sym, x, y):
    """Specialise `x sym y` on the operand types."""
    if x.type not in NUMERIC or y.type not in NUMERIC:
        raise Unsupported("UNSUPPORTED_TYPE", f"{x.type} {sym} {y.type}")
    if x.type == BOOL and y.type == BOOL and (sym, BOOL) in BINARY:
        return b.emit(BINARY[sym, BOOL], [x, y])
    if FLOAT in (x.type, y.type):
        if (sym, FLOAT) not in BINARY:
            raise Unsupported("UNSUPPORTED_TYPE", f"float {sym}")
        return b.emit(BINARY[sym, FLOAT], [as_float(b, x), as_float(b, y)])
    if (sym, INT) not in BINARY:
        raise Unsupported("UNSUPPORTED_OPCODE", f"int {sym}")
    return b.emit(BINARY[sym, INT], [_as_int(b, x), _as_int(b, y)])


def unary(b, sym, x):
    """Specialise a unary operator."""
    if x.type not in NUMERIC:
        raise Unsupported("UNSUPPORTED_TYPE", f"{sym} {x.type}")
    if sym == "not":
        return b.emit("bool_not", [truth(b, x)])
    if sym == "+":
        return _as_int(b, x)
    if sym == "-" and x.type != FLOAT:
        x = _as_int(b, x)
    if (sym, x.type) not in UNARY:         # ~bool is deprecated in 3.12: leave it to CPython
        raise Unsupported("UNSUPPORTED_TYPE", f"{sym} {x.type}")
    return b.emit(UNARY[sym, x.type], [x])


def compare(b, sym, x, y):
    """Specialise a rich comparison of two numbers."""
    if x.type not in NUMERIC or y.type not in NUMERIC:
        raise Unsupported("UNSUPPORTED_TYPE", f"{x.type} {sym} {y.type}")
    if x.type == FLOAT and y.type == FLOAT:
        return b.emit("float_cmp", [x, y], {"pred": sym})
    if FLOAT in (x.type, y.type):      # exact int/float comparison; exits past 2**53
        return b.emit("int_float_cmp", [_as_int(b, x) if x.type != FLOAT else x,
                                        _as_int(b, y) if y.type != FLOAT else y],
                      {"pred": sym, "int_first": x.type != FLOAT})
    return b.emit("int_cmp", [_as_int(b, x), _as_int(b, y)], {"pred": sym})


# ---- calls to known builtins and math functions --------------------------------------------

def _call_abs(b, args):
    """abs(): float_abs on a float, int_abs on an int or bool."""
    (x,) = args
    return b.emit("float_abs", [x]) if x.type == FLOAT else b.emit("int_abs", [_as_int(b, x)])


def _call_minmax(pred):
    """Handler for min() or max() of 2+ same-typed numbers, comparing with pred."""
    def call(b, args):
        """Fold the arguments with compare and select, keeping the first of equal items."""
        if len(args) < 2 or len({a.type for a in args}) != 1 or args[0].type not in NUMERIC:
            raise Unsupported("UNSUPPORTED_CALL", "min/max needs 2+ arguments of one type")
        best = args[0]
        for a in args[1:]:                       # CPython keeps the first of equal items
            better = compare(b, pred, a, best)
            best = b.emit("select", [better, a, best], type=a.type)
        return best
    return call


def _call_int(b, args):
    """int(): 0 without arguments; truncate a float, widen a bool."""
    if not args:
        return b.const(0)
    (x,) = args
    return b.emit("float_to_int", [x]) if x.type == FLOAT else _as_int(b, x)


def _call_float(b, args):
    """float(): 0.0 without arguments, else the argument converted to float."""
    if not args:
        return b.const(0.0)
    return as_float(b, args[0])


def _call_bool(b, args):
    """bool(): the truth of the argument, False without one."""
    return truth(b, args[0]) if args else b.const(False)


def _call_round(b, args):
    """round(x) without ndigits: a float rounds half-even to int; an int stays (bool widened)."""
    if len(args) != 1:
        raise Unsupported("UNSUPPORTED_CALL", "round() with ndigits")
    (x,) = args
    return b.emit("float_round", [x]) if x.type == FLOAT else _as_int(b, x)


def _math1(name):
    """Handler for a one-argument math function on a float (op math1)."""
    def call(b, args):
        """Emit math1 of the argument converted to float."""
        return b.emit("math1", [as_float(b, args[0])], {"fn": name})
    return call


def _math2(name):
    """Handler for a two-argument math function on floats (op math2)."""
    def call(b, args):
        """Emit math2 of both arguments converted to float."""
        return b.emit("math2", [as_float(b, args[0]), as_float(b, args[1])], {"fn": name})
    return call


def _math_round(op):
    """Handler for floor/ceil/trunc: op on a float; an int (bool widened) stays as it is."""
    def call(b, args):
        """Emit op on a float argument; return an int argument (bool widened) unchanged."""
        (x,) = args
        return b.emit(op, [x]) if x.type == FLOAT else _as_int(b, x)
    return call


def _float_test(name):
    """Handler for isnan/isinf/isfinite (op float_test)."""
    def call(b, args):
        """Emit float_test of the argument converted to float."""
        return b.emit("float_test", [as_float(b, args[0])], {"fn": name})
    return call


def _call_op(spec):
    """Handler for a call an op implements (its `calls`): the arguments converted to its operand
    types (an int operand takes an int or a bool; a float, any number)."""
    def call(b, args):
        """Emit the op on the converted arguments, or refuse an int operand given a float."""
        if any(t == INT and a.type not in (INT, BOOL) for a, t in zip(args, spec.operands)):
            raise Unsupported("UNSUPPORTED_CALL", f"{spec.name} of {[a.type for a in args]}")
        return b.emit(spec.name, [as_float(b, a) if t == FLOAT else _as_int(b, a) for a, t in zip(args, spec.operands)])
    return call


MATH1_NAMES = ("sqrt", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
               "asinh", "acosh", "atanh", "exp", "expm1", "log2", "log10", "log1p", "fabs",
               "erf", "erfc", "cbrt", "exp2")
MATH2_NAMES = ("pow", "atan2", "hypot", "copysign", "fmod")

# object -> (allowed argument counts, handler(builder, args) -> value)
CALLS = {
    builtins.abs: ((1,), _call_abs),
    builtins.min: (range(2, 9), _call_minmax("<")),
    builtins.max: (range(2, 9), _call_minmax(">")),
    builtins.int: ((0, 1), _call_int),
    builtins.float: ((0, 1), _call_float),
    builtins.bool: ((0, 1), _call_bool),
    builtins.round: ((1, 2), _call_round),
    math.floor: ((1,), _math_round("float_floor")),
    math.ceil: ((1,), _math_round("float_ceil")),
    math.trunc: ((1,), _math_round("float_to_int")),
    math.log: ((1,), _math1("log")),
    math.isnan: ((1,), _float_test("isnan")),
    math.isinf: ((1,), _float_test("isinf")),
    math.isfinite: ((1,), _float_test("isfinite")),
    math.degrees: ((1,), lambda b, a: b.emit("float_mul", [as_float(b, a[0]), b.const(180.0 / math.pi)])),
    math.radians: ((1,), lambda b, a: b.emit("float_mul", [as_float(b, a[0]), b.const(math.pi / 180.0)])),
}
CALLS.update({getattr(math, n): ((1,), _math1(n)) for n in MATH1_NAMES if hasattr(math, n)})
CALLS.update({getattr(math, n): ((2,), _math2(n)) for n in MATH2_NAMES})
CALLS.update({fn: (counts, _call_op(s)) for s in OPS.values() for fn, counts in s.calls})


def call_known(b, fn, args):
    """Specialise a call to a known builtin or math function, or raise Unsupported."""
    entry = CALLS.get(fn) if _hashable(fn) else None
    if entry is None:
        raise Unsupported("UNSUPPORTED_CALL", f"calls {getattr(fn, '__qualname__', None) or fn!r}()")
    counts, handler = entry
    if len(args) not in counts or any(a.type not in NUMERIC for a in args):
        raise Unsupported("UNSUPPORTED_CALL", f"{getattr(fn, '__name__', fn)} with {[a.type for a in args]}")
    return handler(b, args)


def has_specialisation(fn):
    """True when calls of fn have a numeric specialisation here (CALLS)."""
    return _hashable(fn) and fn in CALLS


def _hashable(obj):
    """True when obj can be hashed (so it may be looked up in CALLS)."""
    try:
        hash(obj)
        return True
    except TypeError:
        return False
