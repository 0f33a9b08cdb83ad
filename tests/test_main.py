"""`python -m tiered` behaves like `python` for scripts and modules: argv, __main__, exit codes, tracebacks."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parent.parent)
SCRIPT = '''
import sys

def work(n):
    s = 0
    for i in range(n):
        s += i * i % 7
    return s

def boom(x):
    return 10 // x

if __name__ == "__main__":
    print(sys.argv, __name__, __file__.endswith("prog.py"))
    for _ in range(400):      # long enough for 3.11's sampling profiler too
        work(2000)
    print(work(1000))
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "raise":
        boom(0)
    if mode == "exit":
        sys.exit(3)
'''


def run(args, cwd):
    env = dict(os.environ, PYTHONPATH=ROOT, TIERED_THRESHOLD="5")
    p = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


@pytest.mark.parametrize("mode", ["", "raise", "exit", "many args here"])
def test_script_like_python(tmp_path, mode):
    (tmp_path / "prog.py").write_text(SCRIPT)
    args = ["prog.py"] + mode.split()
    assert run(["-m", "tiered"] + args, tmp_path) == run(args, tmp_path)


@pytest.mark.parametrize("mode", ["", "raise", "exit"])
def test_module_like_python(tmp_path, mode):
    (tmp_path / "prog.py").write_text(SCRIPT)
    args = ["-m", "prog"] + mode.split()
    assert run(["-m", "tiered"] + args, tmp_path) == run(args, tmp_path)


def test_stats_flag_reports_compiled_function(tmp_path):
    (tmp_path / "prog.py").write_text(SCRIPT)
    rc, out, err = run(["-m", "tiered", "--stats", "prog.py"], tmp_path)
    assert rc == 0
    line = next(ln for ln in err.splitlines() if "__main__.work" in ln)
    assert "compiled" in line and "(int)" in line


def test_usage_without_arguments(tmp_path):
    rc, out, err = run(["-m", "tiered"], tmp_path)
    assert rc == 2 and "usage" in err


OBJECTS_SCRIPT = '''
class Box:
    def __init__(self):
        self.n = 0

def fill(boxes):
    for b in boxes:
        b.n += 1
    return len(boxes)

if __name__ == "__main__":
    boxes = [Box() for _ in range(200)]
    for _ in range(10000):     # long enough for 3.11's sampling profiler too
        fill(boxes)
    print(boxes[0].n)
'''


def test_stats_flag_reports_object_signatures(tmp_path):
    (tmp_path / "prog.py").write_text(OBJECTS_SCRIPT)
    env = dict(os.environ, PYTHONPATH=ROOT, TIERED_THRESHOLD="5", TIERED_OBJECTS="1")
    p = subprocess.run([sys.executable, "-m", "tiered", "--stats", "prog.py"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout == "10000\n" and "Traceback" not in p.stderr, p.stderr
    line = next(ln for ln in p.stderr.splitlines() if "__main__.fill" in ln)
    assert "compiled" in line and "(obj[list])" in line
