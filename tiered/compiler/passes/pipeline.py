"""Pass pipeline: built IR → optimised IR; the passes in order, verified after each."""
from .. import ir
from . import dce, fold, guards, lookups, phis, refcounts

PASSES = [("phis", phis.run), ("fold", fold.run), ("guards", guards.run), ("lookups", lookups.run),
          ("dce", dce.run), ("refcounts", refcounts.run)]


def run(fn):
    """Run every pass in order and verify the IR after each one."""
    ir.verify(fn)
    for name, p in PASSES:
        fn = p(fn)
        try:
            ir.verify(fn)
        except AssertionError as exc:
            raise AssertionError(f"after pass {name}: {exc}") from None
    fn.exits = live_exits(fn)
    return fn


def live_exits(fn):
    """The exit sites still present after the passes, in exit-number order."""
    return sorted((v for b in fn.blocks for v in b.body if v.state is not None), key=lambda v: v.attrs["exit"])
