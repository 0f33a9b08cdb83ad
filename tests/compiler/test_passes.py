"""IR and passes: the built IR as text, and what each pass removes."""
import math

from tiered.compiler import build, ir
from tiered.compiler.decode import decode
from tiered.compiler.passes import dce, guards, phis, pipeline


def loop(n):
    s = 0
    k = 3
    for i in range(n):
        s += i * k
    return s


def sqrt_twice(x):
    return math.sqrt(x) + math.sqrt(x + 1.0)


def unused(x):
    x * 2.0           # unused: removed by dce (a local would be kept: a frame object shows it)
    return x


def divides(a, b):
    _ = a // b       # unused but kept: it may raise
    return b


def test_loop_ir_text():
    fn = pipeline.run(build.build(loop, ("int",)))
    text = ir.fmt_function(fn)
    assert text.startswith("func loop(%0: int) -> int")
    assert "loop:" in text and "loop_poll" in text and "range_len" in text
    assert "int_mul" in text and "int_add(" in text
    header = next(b for b in fn.blocks if b.loop_header)
    assert [p.type for p in header.phis] == ["int", "int", "int"]       # s, i's next, remaining


def test_trivial_phis_removed():
    raw = build.build(loop, ("int",))
    before = sum(len(b.phis) for b in raw.blocks)
    after = sum(len(b.phis) for b in phis.run(raw).blocks)
    assert after < before                       # k and n never change in the loop


def test_repeated_guards_dropped():
    raw = build.build(sqrt_twice, ("float",))
    count = lambda fn: sum(v.op == "guard_global" for b in fn.blocks for v in b.body)  # noqa: E731
    assert count(raw) == 4 and count(guards.run(raw)) == 2


def test_dead_pure_values_removed_but_exits_kept():
    fn = dce.run(build.build(unused, ("float",)))
    assert not any(v.op == "float_mul" for b in fn.blocks for v in b.body)
    fn = dce.run(build.build(divides, ("int", "int")))
    assert any(v.op == "int_floordiv" for b in fn.blocks for v in b.body)   # it may raise


def test_every_exit_has_a_frame_state():
    fn = pipeline.run(build.build(loop, ("int",)))
    offsets = {i.offset for i in decode(loop.__code__)}
    for v in fn.exits:
        assert v.state is not None and v.state.offset in offsets
        assert v.spec.exit is not None


def test_verify_refuses_an_attrs_key_its_op_does_not_declare():
    fn = build.build(loop, ("int",))
    assert ir.verify(fn)
    v = next(v for b in fn.blocks for v in b.body if v.op == "int_mul")
    v.attrs["pred"] = "<"                    # int_cmp's key, not int_mul's
    try:
        ir.verify(fn)
    except AssertionError as exc:
        assert "undeclared attrs ['pred']" in str(exc)
    else:
        raise AssertionError("verify accepted an undeclared attrs key")
