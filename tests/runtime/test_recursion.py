"""Recursion: native chains count their frames as CPython does and stay within a C stack allowance; deep recursion works to the Python limit, and RecursionError comes where CPython raises it."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parent.parent.parent)
PROGRAM = '''
import sys, traceback
import tiered

def depth(n):
    return 0 if n == 0 else 1 + depth(n - 1)

def even(n):
    return True if n == 0 else odd(n - 1)

def odd(n):
    return False if n == 0 else even(n - 1)

def run(f, n):
    try:
        return repr(f(n))
    except RecursionError as exc:
        return f"RecursionError {exc} frames={len(traceback.extract_tb(exc.__traceback__))}"

if sys.argv[1] == "jit":
    for f in (depth, even, odd):
        tiered.jit(f)
    depth(10), depth(10), even(10), even(10)
sys.setrecursionlimit(1_100_000)
print(run(depth, 1_000_000), run(even, 300_001))
sys.setrecursionlimit(200)
for n in (150, 196, 197, 250, 350):
    print(n, run(depth, n), run(even, n))
sys.setrecursionlimit(1000)
print(run(depth, 500))
if sys.argv[1] == "jit":
    st = tiered.stats()
    print("STATE", st["__main__.depth"]["state"], sorted(st["__main__.depth"]["exits"]),
          st["__main__.depth"]["native_calls"] >= 1, file=sys.stderr)
'''


@pytest.mark.parametrize("objects", ["0", "1"])
def test_deep_recursion_and_the_recursion_limit_are_cpythons(tmp_path, objects):
    (tmp_path / "prog.py").write_text(PROGRAM)
    env = dict(os.environ, PYTHONPATH=ROOT, TIERED_OBJECTS=objects)
    runs = [subprocess.run([sys.executable, "prog.py", mode], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=600) for mode in ("plain", "jit")]
    plain, jit = runs
    assert plain.returncode == 0, plain.stderr
    assert jit.returncode == 0, jit.stderr[-2000:]            # no crash (it used to segfault)
    assert jit.stdout == plain.stdout
    assert plain.stdout.startswith("1000000 False\n") and "RecursionError" in plain.stdout
    state = next(ln for ln in jit.stderr.splitlines() if ln.startswith("STATE"))
    assert state.startswith("STATE compiled") and state.endswith("True")   # it ran native
    assert "RECURSION" in state or "FORCED" in state          # and left native code for depth
