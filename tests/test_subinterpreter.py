"""In a subinterpreter `import tiered` never raises, and enable() / @jit warn once and leave the JIT off."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parent.parent)
PROGRAM = '''
import _xxsubinterpreters as interpreters
inner = """
import warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import tiered                         # 3.12: _ctypes cannot load here
    on = tiered.enable()
    same = tiered.jit(len) is len
    print(on, same, tiered.stats(), tiered.totals()["compiled"])
    tiered.disable()
print(len(caught), caught[0].category.__name__, "main interpreter only" in str(caught[0].message))
"""
interpreters.run_string(interpreters.create(), inner)
import tiered
print("main", tiered.enable())
'''


def test_import_and_enable_in_a_subinterpreter():
    """The subinterpreter prints the JIT off with one RuntimeWarning; the main one still enables."""
    pytest.importorskip("_xxsubinterpreters")
    p = subprocess.run([sys.executable, "-c", PROGRAM], env=dict(os.environ, PYTHONPATH=ROOT),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["False True {} 0", "1 RuntimeWarning True", "main True"], p.stdout
