"""Memory over time: what compile/exit/deopt cycles and dying functions leave behind is freed (benchmarks/memory.py, short)."""
import gc
import json
import os
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

import tiered
from tests.support import fresh_copy
from tiered.runtime import manager

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.mark.parametrize("process_after", ["2000", "0"], ids=["in-process", "helper"])
def test_cycles_free_code_records_and_python_memory(process_after):
    # the helper run is measured as a long soak is: pymalloc's blocks instead of tracemalloc
    env = dict(os.environ, PYTHONPATH=str(ROOT), TIERED_OPT_PROCESS_AFTER=process_after)
    trace = ["--no-trace-python"] if process_after == "0" else []
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "memory.py"), "--cycles", "60", "--json",
                        *trace], env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["dead_functions"] == 6 and out["dead_functions_alive"] == 0
    assert out["totals"]["compiled"] >= 120                 # two compiles a cycle, all real
    samples = out["samples"]
    assert all(engines <= 1 and records <= 1 for _, _, _, engines, records, *_ in samples), samples
    if process_after == "0" and os.path.isdir("/proc/self"):     # the helper optimised them all
        assert all(helper > 0 for _, _, _, _, _, helper, *_ in samples), samples
    first, last = samples[1], samples[-1]
    # Python memory flat: KiB traced, or pymalloc's blocks
    assert last[2] - first[2] < (2000 if trace else 256), samples
    # LLVM side: an engine (750 KiB) per module would show; llvmlite's optimiser keeps ~60 KiB a run
    per_compile = (last[1] - first[1]) / (2 * (last[0] - first[0]))
    assert per_compile < 150, samples


def kernel(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def test_a_dead_compiled_function_frees_its_record_and_machine_code():
    f = tiered.jit(fresh_copy(kernel))
    assert f(10) == kernel(10) and f(10) == kernel(10) and manager.record_for(f).native_calls == 1
    handle = weakref.ref(manager.record_for(f).compiled)
    record = weakref.ref(manager.record_for(f))
    code = weakref.ref(f.__code__)
    del f
    gc.collect()
    manager.RECORDS.prune()
    assert code() is None and record() is None and handle() is None


def test_totals_outlive_the_functions():
    before = tiered.totals()["compiled"]
    f = tiered.jit(fresh_copy(kernel))
    f(5)
    del f
    gc.collect()
    assert tiered.totals()["compiled"] == before + 1


def test_an_object_function_called_many_times_keeps_memory_flat():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "object_memory.py"), "--calls", "40001",
                        "--json"], env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["state"] == "compiled" and out["native_calls"] >= 40001 and out["exits"] >= 2, out
    if os.environ.get("TIERED_FORCE_EXITS") != "1":
        assert out["resumed"] >= 2, out                      # the method that changes p exited
    first, last = out["samples"][0], out["samples"][-1]
    assert last[2] - first[2] < 64, out["samples"]          # Python memory (KiB): flat
