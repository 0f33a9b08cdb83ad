"""Debuggers and coverage: pdb steps through a compiled function and coverage measures it exactly as without the JIT."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tiered
from tests.support import fresh_copy
from tiered.runtime import manager

coverage = pytest.importorskip("coverage")
ROOT = str(Path(__file__).resolve().parent.parent.parent)

SCRIPT = '''\
import json, pdb
import tiered
from tiered.runtime import manager


def total(n):
    s = 0
    for i in range(n):
        if i % 2:
            s += i * i
        else:
            s -= i
    return s


def drive():
    pdb.Pdb(nosigint=True, readrc=False).set_trace()
    r = total(5)
    return r


tiered.jit(total)
rec = manager.record_for(total)
print("warm", total(7), total(7), total(7))   # the first call compiles it (interpreted)
before = [rec.state, rec.native_calls, rec.traced_calls]
print("result", drive())
during = [rec.native_calls, rec.traced_calls]
print("again", total(5))
print("STATS", json.dumps({"before": before, "during": during, "after": rec.native_calls}))
'''
# pdb sessions on stdin, starting at the set_trace stop in drive() just before `r = total(5)`
BREAKPOINTS = ["break total", "continue", "p n", "break 10", "continue", "where", "p s, i", "args",
               "ll", "next", "next", "p s, i", "clear 1", "clear 2", "continue"]
STEPPING = ["step", "step", "next", "next", "p s, i", "args", "break 10", "continue", "where",
            "p s, i", "ll", "clear 1", "continue"]
JUMPING = ["break 10", "continue", "where", "jump 12", "next", "p s, i", "jump 7", "next", "jump 13",
           "next", "clear 1", "continue"]


def debug_session(tmp_path, commands, disable):
    """(pdb transcript, tiered stats) of the script run with the commands on stdin."""
    script = tmp_path / "debugged.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=ROOT, TIERED_DISABLE="1" if disable else "0")
    p = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, text=True, timeout=300,
                       input="\n".join(commands) + "\n", capture_output=True)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert lines[-1].startswith("STATS "), p.stdout
    return "\n".join(lines[:-1]), json.loads(lines[-1][6:])


@pytest.mark.parametrize("commands", [
    pytest.param(BREAKPOINTS, id="breakpoints"),
    pytest.param(JUMPING, id="jumping"),
    pytest.param(STEPPING, id="stepping"),
])
def test_pdb_session_same_as_without_the_jit(tmp_path, commands):
    expected, plain = debug_session(tmp_path, commands, disable=True)
    got, jit = debug_session(tmp_path, commands, disable=False)
    assert plain == {"before": ["interpreted", 0, 0], "during": [0, 0], "after": 0}   # jit was a no-op
    assert got == expected
    assert "debugged.py(10)total()\n-> s += i * i" in got and "tiered" not in got
    assert "drive()\n-> r = total(5)\n> " in got and got.endswith("\nagain 4")
    state, native, traced = jit["before"]
    assert state == "compiled" and native >= 2 and traced == 0       # it ran native before pdb
    assert jit["during"] == [native, 1]                # the debugged call ran in the interpreter
    assert jit["after"] == native + 1                  # and the next plain call is native again


MODULE = '''\
def classify(n):
    s = 0
    for i in range(n):
        if i % 3 == 0:
            s += i
        elif i > 100:
            s -= 1              # never
        else:
            s *= 2
    if s < 0:
        return -1               # never
    return s
'''
CORES = [("ctrace", True), ("ctrace", False), ("pytrace", True), pytest.param(
    "sysmon", False, marks=pytest.mark.skipif(not hasattr(sys, "monitoring"), reason="3.12+"))]


def load_classify(tmp_path):
    """(path, classify) of MODULE written to tmp_path and imported from there."""
    path = tmp_path / "covered.py"
    path.write_text(MODULE)
    spec = importlib.util.spec_from_file_location("covered", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return str(path), mod.classify


def measure(path, func, arg, branch):
    """(result, executed lines, arcs, tracer kind seen) of one call of func under coverage."""
    cov = coverage.Coverage(data_file=None, branch=branch, include=[path], config_file=False)
    cov.start()
    try:
        result = func(arg)
        mon = getattr(sys, "monitoring", None)
        seen = (sys.gettrace() is not None, mon and mon.get_tool(mon.COVERAGE_ID))
    finally:
        cov.stop()
    data = cov.get_data()
    return result, sorted(data.lines(path) or []), sorted(data.arcs(path) or []), seen


@pytest.mark.parametrize("core,branch", CORES)
def test_coverage_same_as_without_the_jit(tmp_path, monkeypatch, core, branch):
    monkeypatch.setenv("COVERAGE_CORE", core)
    path, plain = load_classify(tmp_path)
    jitted = tiered.jit(fresh_copy(plain))
    assert jitted(9) == plain(9) and jitted(9) == plain(9)     # compiled at the first, native at the second
    rec = manager.record_for(jitted)
    native = rec.native_calls
    assert rec.state == "compiled" and native == 1 and rec.traced_calls == 0
    expected = measure(path, plain, 9, branch)
    got = measure(path, jitted, 9, branch)
    assert got == expected
    result, lines, arcs, seen = got
    assert seen == ((False, "coverage.py") if core == "sysmon" else (True, None))
    never = {k for k, text in enumerate(MODULE.splitlines(), 1) if "# never" in text}
    body = set(range(2, len(MODULE.splitlines()) + 1)) - never - {8}           # 8: `else:`
    assert set(lines) == body, (lines, body)
    if branch:
        assert (10, 12) in arcs and (4, 5) in arcs and (4, 6) in arcs and (6, 7) not in arcs
    else:
        assert arcs == []
    assert rec.native_calls == native and rec.traced_calls == 1   # measured in the interpreter
    assert jitted(9) == result and rec.native_calls == native + 1   # native again afterwards
