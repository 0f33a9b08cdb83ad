"""cpython/superinstructions.py, 3.12: a code that sys.monitoring's instrumentation split gets its superinstructions back exactly, tracers still see every line, and the profiler does it when it is done with a code."""
import dis
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tiered.cpython import superinstructions

pytestmark = pytest.mark.skipif(not superinstructions.PAIRS or not hasattr(sys, "monitoring"),
                                reason="3.12: sys.monitoring splits superinstructions")
ROOT = str(Path(__file__).resolve().parent.parent.parent)
TOOL = 4                      # a tool id neither tiered (tracing.OWN_TOOL) nor pytest uses


def make():
    """A fresh function with every kind of pair (a new code object each time)."""
    ns = {}
    exec("def f(n, t):\n"
         "    s = 0\n"
         "    for k in range(n):\n"
         "        a, b, c = t\n"
         "        s = s + a + b * c + k\n"
         "        x = 2\n"
         "        y = x\n"
         "    return s, y\n", ns)
    return ns["f"]


def pairs(f):
    """Where CPython runs a superinstruction, and which."""
    return [(i.offset, i.opname) for i in dis.get_instructions(f, adaptive=True) if "__" in i.opname]


def with_tool(events, run, callbacks=()):
    """run() while TOOL has these global events (callbacks: (event, function) pairs)."""
    mon = sys.monitoring
    mon.use_tool_id(TOOL, "test")
    try:
        for event, fn in callbacks:
            mon.register_callback(TOOL, event, fn)
        mon.set_events(TOOL, events)
        return run()
    finally:
        mon.set_events(TOOL, 0)
        for event, _ in callbacks:
            mon.register_callback(TOOL, event, None)
        mon.free_tool_id(TOOL)


def test_an_instrumented_code_gets_back_exactly_what_cpython_quickened():
    f = make()
    before = pairs(f)
    assert len(before) >= 4                                # CPython's own pairs
    mon = sys.monitoring

    def instrumented():
        assert f(3, (1, 2, 3)) == (24, 2)                  # instruments it at its RESUME
        assert not pairs(f)
        assert superinstructions.fuse(f.__code__) == len(before)
        assert pairs(f) == before
        assert superinstructions.fuse(f.__code__) == 0     # nothing left to do
        return f(50, (1, 2, 3))
    r = with_tool(mon.events.PY_START, instrumented, [(mon.events.PY_START, lambda *a: mon.DISABLE)])
    assert r == f(50, (1, 2, 3)) == (sum(7 + k for k in range(50)), 2)


def lines_seen(f, fuse):
    """The LINE events of one call of f, with f's pairs fused back first or not."""
    mon = sys.monitoring
    seen = []

    def run():
        f(1, (1, 2, 3))                                    # instrumented for PY_START only
        if fuse:
            assert superinstructions.fuse(f.__code__) > 0
        mon.set_events(TOOL, mon.events.PY_START | mon.events.LINE)
        f(2, (1, 2, 3))
    with_tool(mon.events.PY_START, run,
              [(mon.events.PY_START, lambda *a: mon.DISABLE),
               (mon.events.LINE, lambda code, line: seen.append(line) if code is f.__code__ else None)])
    return seen


def test_a_tracer_that_starts_after_the_pairs_are_fused_sees_every_line():
    plain, fused = lines_seen(make(), False), lines_seen(make(), True)
    assert fused == plain and len(plain) == 13             # 1 + 2 iterations of 5 lines + 2


def test_settrace_after_fusing_sees_the_lines_it_sees_without():
    def traced(fuse):
        f, seen = make(), []
        mon = sys.monitoring

        def run():
            f(1, (1, 2, 3))
            if fuse:
                assert superinstructions.fuse(f.__code__) > 0
        with_tool(mon.events.PY_START, run, [(mon.events.PY_START, lambda *a: mon.DISABLE)])

        def tracer(frame, event, arg):
            if frame.f_code is f.__code__:
                seen.append((event, frame.f_lineno))
            return tracer
        sys.settrace(tracer)
        try:
            f(2, (1, 2, 3))
        finally:
            sys.settrace(None)
        return seen
    assert traced(True) == traced(False)


PROGRAM = '''
import dis
import tiered
tiered.enable()

def unpack(n, t):
    s = 0
    for _ in range(n):
        a, b, c, d = t
        s += a + d
    return s

for k in range(3):
    unpack(2000, (1, 2, 3, 4))
assert "__main__.unpack" in tiered.totals()["unrecorded"]     # decided: left to the interpreter
names = [i.opname for i in dis.get_instructions(unpack.__code__, adaptive=True)]
print(sum("__" in n for n in names))
'''


def test_the_profiler_fuses_the_pairs_of_a_code_it_is_done_with(tmp_path):
    script = tmp_path / "p.py"
    script.write_text(PROGRAM)
    env = dict(os.environ, PYTHONPATH=ROOT, TIERED_THRESHOLD="100")
    out = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) >= 4        # the original code's pairs, split when it was instrumented
