"""tiered's log: silent in the program's own logging unless TIERED_LOG asks, then on tiered's own stderr handler."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parent.parent)
PROGRAM = '''
import logging, sys
logging.basicConfig(level=logging.DEBUG, format="ROOT %(name)s %(message)s")
import tiered
@tiered.jit
def f(n):
    s = 0
    for i in range(n):
        s += i
    return s
@tiered.jit
def g(x):
    return f"{x}" * 2          # refused by default: objects
print(f(10), f(10), g(1), g(2))
st = tiered.stats()
print(st["__main__.f"]["state"], st["__main__.g"]["state"], file=sys.stderr)
'''


def run(tmp_path, **env):
    (tmp_path / "prog.py").write_text(PROGRAM)
    e = {k: v for k, v in os.environ.items() if not k.startswith("TIERED_")}
    e.update(PYTHONPATH=ROOT, **env)
    p = subprocess.run([sys.executable, "prog.py"], cwd=tmp_path, env=e, capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0 and p.stdout == "45 45 11 22\n", p.stderr
    return p.stderr


def test_nothing_reaches_the_programs_handlers_by_default(tmp_path):
    err = run(tmp_path)
    assert "compiled refused" in err                     # something was compiled and refused
    assert "tiered" not in err.replace("compiled refused", "")


def test_tiered_log_info_goes_to_its_own_handler_only(tmp_path):
    err = run(tmp_path, TIERED_LOG="info")
    lines = err.splitlines()
    assert any(ln.startswith("tiered: compiled f") for ln in lines)
    assert any(ln.startswith("tiered: g stays in CPython") for ln in lines)
    assert not any(ln.startswith("ROOT tiered") for ln in lines)         # never twice
