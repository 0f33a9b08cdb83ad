"""Random small numeric functions (expressions, branches, loops), compared with CPython in both guard modes."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import check

VARS = ["a", "b", "c"]
BINOPS = ["+", "-", "*", "/", "//", "%", "**", "<", "<=", "==", "!=", "and", "or"]
CALLS = ["abs", "min", "max", "math.sqrt", "math.floor", "round", "float", "int"]


@st.composite
def expr(draw, depth=0):
    """A random expression over a, b, c and small constants."""
    if depth > 3 or draw(st.integers(0, 3)) == 0:
        return draw(st.one_of(st.sampled_from(VARS),
                              st.integers(-9, 9).map(str),
                              st.sampled_from(["0.5", "-2.25", "1e300", "3.0", "0.0"])))
    kind = draw(st.integers(0, 4))
    x, y = draw(expr(depth + 1)), draw(expr(depth + 1))
    if kind <= 2:
        op = draw(st.sampled_from(BINOPS))
        if op == "**":        # a small exponent: `a ** a` with a ~ 2**40 would take CPython forever
            y = draw(st.sampled_from(["2", "3", "-1", "0.5", "0"]))
        return f"({x} {op} {y})"
    if kind == 3:
        fn = draw(st.sampled_from(CALLS))
        return f"{fn}({x}, {y})" if fn in ("min", "max") else f"{fn}({x})"
    return f"({x} if {y} else -{x})"


@st.composite
def program(draw):
    """A function with an assignment, a branch and a range loop around random expressions."""
    e1, e2, e3 = draw(expr()), draw(expr()), draw(expr())
    n = draw(st.integers(0, 5))
    return (f"def f(a, b, c):\n"
            f"    s = {e1}\n"
            f"    if {e2}:\n"
            f"        s = {e3}\n"
            f"    for i in range({n}):\n"
            f"        s = s + ({e1}) * i\n"
            f"    return s\n")


def _compile(src):
    import math
    ns = {"math": math}
    exec(compile(src, "<random>", "exec"), ns)
    return ns["f"]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(program(), st.tuples(st.integers(-50, 50), st.floats(-1e3, 1e3), st.integers(-3, 3)),
       st.tuples(st.integers(-2**40, 2**40), st.sampled_from([0.0, -0.0, 1.5, float("nan")]),
                 st.integers(0, 2)))
def test_random_programs(src, args1, args2):
    f = _compile(src)
    from tests.support import fresh_copy
    from tiered.runtime import manager
    probe = fresh_copy(f)
    if manager.compile_for(probe, (int, float, int)) is None:
        return          # refused (a type changes on some path, ...): CPython runs it, nothing to compare
    check(f, args1, args2, compile_with=(int, float, int))
