"""Compiler op table: every IR op with its operand count, result type, effects and exit reason."""
from dataclasses import dataclass
from typing import Optional

from ..reasons import Exit

INT, FLOAT, BOOL, NONE = "int", "float", "bool", "none"


@dataclass(frozen=True)
class OpSpec:
    """The static description of one IR op: arity, result type, exit reason, purity."""
    name: str
    arity: int              # -1: variable
    result: Optional[str]   # None: given by the builder (phi, const, calls)
    exit: Optional[Exit]    # the reason an exit from this op is counted under; None: never exits
    pure: bool = True       # no side effects: may be folded, moved or removed when unused


def _op(name, arity, result, exit=None, pure=True):
    """Make an OpSpec (shorthand for the OPS table)."""
    return OpSpec(name, arity, result, exit, pure)


# THE op table: adding an op is one line here plus one lowering in lower_llvm.py.
OPS = {o.name: o for o in [
    _op("const", 0, None),
    _op("phi", -1, None),
    _op("int_add", 2, INT, Exit.INT_OVERFLOW),
    _op("int_sub", 2, INT, Exit.INT_OVERFLOW),
    _op("int_add_wrap", 2, INT), _op("int_sub_wrap", 2, INT),
    _op("int_mul", 2, INT, Exit.INT_OVERFLOW),
    _op("int_floordiv", 2, INT, Exit.ZERO_DIVISION),
    _op("int_mod", 2, INT, Exit.ZERO_DIVISION),
    _op("int_truediv", 2, FLOAT, Exit.ZERO_DIVISION),
    _op("int_pow", 2, INT, Exit.INT_OVERFLOW),
    _op("int_neg", 1, INT, Exit.INT_OVERFLOW),
    _op("int_abs", 1, INT, Exit.INT_OVERFLOW),
    _op("int_invert", 1, INT),
    _op("int_and", 2, INT), _op("int_or", 2, INT), _op("int_xor", 2, INT),
    _op("int_lshift", 2, INT, Exit.INT_OVERFLOW),
    _op("int_rshift", 2, INT, Exit.DOMAIN),
    _op("bool_and", 2, BOOL), _op("bool_or", 2, BOOL), _op("bool_xor", 2, BOOL),
    _op("int_cmp", 2, BOOL),
    _op("float_cmp", 2, BOOL),
    _op("int_float_cmp", 2, BOOL, Exit.FLOAT_CONVERSION),
    _op("float_add", 2, FLOAT), _op("float_sub", 2, FLOAT), _op("float_mul", 2, FLOAT),
    _op("float_truediv", 2, FLOAT, Exit.ZERO_DIVISION),
    _op("float_floordiv", 2, FLOAT, Exit.ZERO_DIVISION),
    _op("float_mod", 2, FLOAT, Exit.ZERO_DIVISION),
    _op("float_pow", 2, FLOAT, Exit.DOMAIN),
    _op("float_neg", 1, FLOAT),
    _op("float_abs", 1, FLOAT),
    _op("int_to_float", 1, FLOAT),
    _op("bool_to_int", 1, INT),
    _op("float_to_int", 1, INT, Exit.FLOAT_CONVERSION),
    _op("float_round", 1, INT, Exit.FLOAT_CONVERSION),
    _op("float_floor", 1, INT, Exit.FLOAT_CONVERSION),
    _op("float_ceil", 1, INT, Exit.FLOAT_CONVERSION),
    _op("int_truth", 1, BOOL), _op("float_truth", 1, BOOL), _op("bool_not", 1, BOOL),
    _op("select", 3, None),
    _op("math1", 1, FLOAT, Exit.DOMAIN),          # attrs: fn (a name in lower_llvm.MATH1)
    _op("math2", 2, FLOAT, Exit.DOMAIN),          # attrs: fn (a name in lower_llvm.MATH2)
    _op("float_test", 1, BOOL),                   # attrs: fn isnan/isinf/isfinite
    _op("guard_global", 0, None, Exit.GLOBAL_CHANGED, pure=False),
    _op("call_native", -1, None, Exit.CALLEE_EXITED, pure=False),
    _op("range_len", 3, INT),                     # start, stop, step(!=0) -> number of items
    _op("guard_nonzero", 1, None, Exit.DOMAIN, pure=False),
    _op("loop_poll", 0, None, Exit.SIGNAL, pure=False),
]}
