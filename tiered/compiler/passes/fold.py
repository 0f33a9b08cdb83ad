"""Pass: IR → IR where float operations on constants are computed now, the way CPython computes them.

LLVM folds such operations itself, and where the result is a NaN its NaN is positive while the
processor's (which CPython gets at run time) is negative: `math.copysign(x, math.inf * 0)` then
had the wrong sign.  Computed here with Python's own float operations, the constant carries the
exact bits CPython would produce, and LLVM keeps a constant's bits.
"""
import operator

from ..ops import FLOAT

# float ops → how Python computes them (the same C double operations; inf / inf is a NaN too)
FOLD = {"float_add": operator.add, "float_sub": operator.sub, "float_mul": operator.mul,
        "float_neg": operator.neg, "float_abs": abs, "int_to_float": float,
        "float_truediv": operator.truediv, "float_floordiv": operator.floordiv, "float_mod": operator.mod}


def run(fn):
    """Replace each foldable op whose operands are all constants by the constant it computes
    (a division only by a nonzero constant: its exit can then never be taken)."""
    for b in fn.blocks:
        for v in b.body:
            compute = FOLD.get(v.op)
            if compute is None or not all(a.op == "const" for a in v.args):
                continue
            operands = [a.attrs["value"] for a in v.args]
            if v.state is not None and operands[-1] == 0:
                continue                  # a division by zero: the interpreter raises it
            try:
                value = compute(*operands)
            except ArithmeticError:
                continue
            v.op, v.args, v.attrs, v.type, v.state = "const", [], {"value": value}, FLOAT, None
    return fn
