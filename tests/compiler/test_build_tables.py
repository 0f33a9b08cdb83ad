"""The builder's handler tables: one handler per neutral op, merged from the group modules; an op without one is refused."""
import pytest

from tiered.compiler import build
from tiered.compiler.build import core, walk
from tiered.compiler.infer import Unsupported
from tiered.compiler.ops import INT


def test_every_group_handler_is_in_the_merged_table():
    for group in walk.GROUPS:
        for op, handler in group.HANDLERS.items():
            assert walk.HANDLERS[op] is handler, op
    assert len(walk.HANDLERS) == sum(len(g.HANDLERS) for g in walk.GROUPS)


def test_an_op_handled_twice_is_an_error():
    handlers, handles = core.table()
    handles("load_fast")(lambda b, i, st, block, out: None)
    with pytest.raises(AssertionError):
        handles("load_fast")(lambda b, i, st, block, out: None)


def test_two_groups_handling_one_op_do_not_merge():
    class Twice:
        __name__ = "twice"
        HANDLERS = {"load_fast": None}
    with pytest.raises(ImportError):
        walk._merge_tables(walk.GROUPS + (Twice,))


def test_an_op_without_a_handler_is_refused(monkeypatch):
    def f(x):
        return x + 1
    monkeypatch.delitem(walk.HANDLERS, "binary")
    with pytest.raises(Unsupported) as exc:
        build.build(f, (INT,))
    assert exc.value.reason == "UNSUPPORTED_OPCODE"
