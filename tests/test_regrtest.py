"""CPython's own regression tests: a quick subset through tests/regrtest.py, plain vs the JIT (everything compiled early)."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUICK = ["test_int", "test_bool", "test_augassign", "test_opcodes", "test_unpack", "test_keywordonlyarg",
         "test_raise", "test_sys_settrace"]


def test_quick_cpython_modules_have_no_new_failures_under_the_jit():
    """The whole list (python -m tests.regrtest [--eager]) takes minutes; this subset runs in CI."""
    p = subprocess.run([sys.executable, "-m", "tests.regrtest", "--eager", *QUICK], cwd=ROOT,
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    total = next(line for line in p.stdout.splitlines() if line.startswith("TOTAL"))
    run, compiled = int(total.split()[3]), int(total.split()[8])
    refusals = next(line for line in p.stdout.splitlines() if line.startswith("refusals by reason"))
    looked_at = compiled + sum(int(n) for n in re.findall(r": (\d+)", refusals))
    # the tests really ran, and tiered really took every function of them through its compiler
    # (3.11's samples find few of them hot; most test functions take `self` and are refused)
    assert run > 300 and looked_at > 100, total + "\n" + refusals
