"""The optimiser: LLVM's pipeline in this process, then in a helper process that is replaced, given up on, and never shared across fork."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import check
from tiered.compiler import optimiser

ROOT = Path(__file__).resolve().parent.parent.parent


def kernel(n, x):
    s = x
    for i in range(n):
        s = s + i * x
    return s


def reaped(pid):
    """Whether process pid is gone (exited and reaped), not a zombie left behind."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] == "X"
    except FileNotFoundError:
        return True


@pytest.fixture
def helper(monkeypatch):
    """Optimise in a helper from the first compile; a clean optimiser state before and after."""
    monkeypatch.setenv("TIERED_OPT_PROCESS_AFTER", "0")
    monkeypatch.setattr(optimiser, "_state", dict(optimiser._state, worker=None, failures=0))
    yield
    optimiser._retire()


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")


def test_compiles_in_process_first(monkeypatch):
    monkeypatch.setenv("TIERED_OPT_PROCESS_AFTER", "1000000")
    before = optimiser._state["in_process"]
    check(kernel, (100, 3), (7, -2))
    assert optimiser._state["in_process"] == before + 1


def test_helper_optimises_and_the_code_runs_native(helper):
    check(kernel, (100, 3), (7, -2))
    check(kernel, (100, 0.5), (7, -2.25))
    pid = optimiser.helper_pid()
    assert pid is not None and pid != os.getpid() and optimiser._state["worker_runs"] == 2


@needs_proc
def test_helper_is_replaced_and_reaped(helper, monkeypatch):
    monkeypatch.setattr(optimiser, "WORKER_RUNS", 2)
    check(kernel, (10, 3))
    first = optimiser.helper_pid()
    check(kernel, (10, 3))
    assert optimiser.helper_pid() == first
    check(kernel, (10, 3))
    assert optimiser.helper_pid() not in (None, first) and reaped(first)


@needs_proc
def test_a_killed_helper_falls_back_then_restarts(helper):
    check(kernel, (10, 3))
    first = optimiser.helper_pid()
    os.kill(first, 9)
    before = optimiser._state["in_process"]
    check(kernel, (20, 3))                          # this compile ran the pipeline in process
    assert optimiser._state["in_process"] == before + 1 and optimiser._state["failures"] == 1
    assert optimiser.helper_pid() is None and reaped(first)
    check(kernel, (30, 3))                          # and the next one has a new helper
    assert optimiser.helper_pid() not in (None, first)


def test_a_helper_that_never_starts_is_given_up_on(helper, monkeypatch):
    monkeypatch.setattr(sys, "executable", "/bin/false")
    before = optimiser._state["in_process"]
    for n in range(optimiser.MAX_FAILURES + 2):
        check(kernel, (n, 3))
    assert optimiser._state["failures"] == optimiser.MAX_FAILURES
    assert optimiser._state["in_process"] == before + optimiser.MAX_FAILURES + 2
    assert optimiser.helper_pid() is None


def test_a_pipeline_error_in_the_helper_raises_and_keeps_it(helper):
    check(kernel, (10, 3))
    worker = optimiser._state["worker"]
    with pytest.raises(RuntimeError, match="LLVM optimiser"):
        worker.optimise(b"not bitcode", 2)
    check(kernel, (10, 3))
    assert optimiser._state["worker"] is worker


def test_an_interrupt_mid_request_discards_the_helper(helper, monkeypatch):
    check(kernel, (10, 3))
    worker = optimiser._state["worker"]

    def interrupted(size, timeout):
        raise KeyboardInterrupt
    monkeypatch.setattr(worker, "_read", interrupted)
    with pytest.raises(KeyboardInterrupt):
        check(kernel, (10, 3))
    assert optimiser._state["worker"] is None and optimiser._state["failures"] == 0
    check(kernel, (10, 3))
    assert optimiser.helper_pid() is not None


FORK = '''
import json, os
import tiered
from tiered.compiler import optimiser
from tiered.runtime import manager

def f(n):
    s = 0
    for i in range(n):
        s += i * 3
    return s

def g(n):
    s = 0.0
    for i in range(n):
        s += i * 0.5
    return s

tiered.jit(f)
assert f(10) == 135
parent_helper = optimiser.helper_pid()
pid = os.fork()
if pid == 0:
    tiered.jit(g)
    ok = g(100) == sum(i * 0.5 for i in range(100))                 # compiles; interpreted
    ok &= g(100) == sum(i * 0.5 for i in range(100)) and manager.record_for(g).native_calls == 1
    child_helper = optimiser.helper_pid()
    ok &= child_helper not in (None, parent_helper)
    os._exit(0 if ok else 3)
_, status = os.waitpid(pid, 0)
print(json.dumps({"child": os.waitstatus_to_exitcode(status), "parent_f": f(3),
                  "same_helper": optimiser.helper_pid() == parent_helper,
                  "had_helper": parent_helper is not None}))
'''


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_starts_its_own_helper(tmp_path):
    (tmp_path / "child.py").write_text(FORK)
    env = dict(os.environ, PYTHONPATH=str(ROOT), TIERED_OPT_PROCESS_AFTER="0")
    p = subprocess.run([sys.executable, "child.py"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=240)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out == {"child": 0, "parent_f": 9, "same_helper": True, "had_helper": True}


IMPORTING = '''
import tiered
from tiered.compiler import optimiser

@tiered.jit
def f(n):
    s = 0
    for i in range(n):
        s += i
    return s

f(10)
print(f(10), optimiser.helper_pid())       # compiled in the middle of this module's import
'''


def test_no_helper_starts_in_the_middle_of_an_import(tmp_path):
    """The helper needs subprocess, imported with the first helper (start-up time): never while
    a module is half-imported, which that import could meet; the pipeline runs here then."""
    (tmp_path / "mod.py").write_text(IMPORTING)
    (tmp_path / "child.py").write_text('''
import mod
from tiered.compiler import optimiser
import tiered

def h(n):
    t = 0
    for i in range(n):
        t += 2 * i
    return t

h = tiered.jit(h)
h(10)
print(h(10), optimiser.helper_pid() is not None)
''')
    env = dict(os.environ, PYTHONPATH=str(ROOT), TIERED_OPT_PROCESS_AFTER="0")
    p = subprocess.run([sys.executable, "child.py"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=240)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["45", "None", "90", "True"]
