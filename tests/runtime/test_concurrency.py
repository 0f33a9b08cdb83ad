"""Threads and fork: many threads through profile/compile/install/exit, no waiting on compiles, forked children."""
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import tiered
from tests.support import fresh_copy
from tiered.compiler import engine
from tiered.runtime import manager

ROOT = str(Path(__file__).resolve().parent.parent.parent)

THREADS = '''
import json, sys, threading, time, tiered
from tiered.runtime import manager
OFFSET = 3

def kernel(n, x):
    s = x
    for i in range(n):
        s = s + i * x + OFFSET
    return s

def scale(a, b):
    t = 0.0
    for i in range(b):
        t += a * i
    return t

def scale_expected(a, b):
    t = 0.0
    for i in range(b):
        t += a * i
    return t

def expected(n, x):
    s = x
    for i in range(n):
        s = s + i * x + OFFSET
    return s

assert tiered.enable(threshold=50)
start, done, errors, rounds = threading.Barrier(8), threading.Event(), [], [0] * 8

def worker(k):
    start.wait()
    r = 0
    while not done.is_set():
        # ints, floats, and now and then ints that overflow 64 bits inside (exits)
        x = [r, r * 0.5][(r + k) % 2] if r % 97 else 2**62 + r
        n = 200 + (r % 7)
        if kernel(n, x) != expected(n, x) or scale(x, 5) != scale_expected(x, 5):
            errors.append((k, r, x))
        if k == 0 and r == 200:
            global OFFSET
            OFFSET = 3          # rebinding a global mid-run: every guard on it fails once
        r += 1
    rounds[k] = r

def settled():
    """Compiled, ran native, exited, and re-specialised for floats (or, on a slow machine, was
    sent back to CPython after too many overflow exits first: also a deopt under threads)."""
    rec = manager.RECORDS.get(kernel)
    if rec is None or rec.native_calls <= 100 or not rec.exits:
        return False
    return len(rec.attempted) >= 2 or rec.refusal is not None and rec.refusal.name == "EXIT_STORM"

threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
for t in threads:
    t.start()
deadline = time.monotonic() + 90
while not settled() and time.monotonic() < deadline:
    time.sleep(0.05)
time.sleep(0.2)                 # a little more running with everything compiled
done.set()
for t in threads:
    t.join(120)
alive = [t.name for t in threads if t.is_alive()]
rec = manager.record_for(kernel)
print(json.dumps({"errors": errors, "alive": alive, "settled": settled(), "native": rec.native_calls,
                  "attempted": len(rec.attempted), "exits": sum(rec.exits.values()), "rounds": rounds,
                  "refusal": rec.refusal and rec.refusal.name}))
'''


def _run(script, tmp_path, timeout=240):
    """Run a script in a child interpreter (this checkout on its path); its last stdout line, parsed."""
    (tmp_path / "child.py").write_text(script)
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.run([sys.executable, "child.py"], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=timeout)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_eight_threads_through_profiling_compiling_and_exits(tmp_path):
    out = _run(THREADS, tmp_path)
    assert out["alive"] == [] and out["errors"] == [] and min(out["rounds"]) > 0, out
    # compiled and ran native, re-specialised for the other type, and big ints left native code
    assert out["settled"] and out["native"] > 100 and out["exits"] > 0, out
    assert out["attempted"] >= 2 or out["refusal"] == "EXIT_STORM", out


def spin(n):
    s = 0
    for i in range(n):
        s = (s + i) % 1009
    return s


def test_other_threads_do_not_wait_for_a_compile(monkeypatch):
    """While one thread is inside LLVM, another thread's compile request returns at once and
    its call runs interpreted; the first compile then completes."""
    first, second = tiered.jit(fresh_copy(spin)), tiered.jit(fresh_copy(spin))
    inside, other_done = threading.Event(), threading.Event()
    real = engine.compile_module

    def slow_compile(*args, **kwargs):
        """Signal that a compile is inside LLVM and hold it there until the other thread is done."""
        inside.set()
        assert other_done.wait(60), "the other thread was blocked by the compile"
        return real(*args, **kwargs)
    monkeypatch.setattr(engine, "compile_module", slow_compile)
    results = {}
    t = threading.Thread(target=lambda: results.setdefault("first", first(1000)))
    t.start()
    assert inside.wait(60)
    results["second"] = second(1000)               # its compile finds the lock taken: interpreted
    other_done.set()
    t.join(60)
    assert results == {"first": spin(1000), "second": spin(1000)}
    rec1, rec2 = manager.record_for(first), manager.record_for(second)
    assert rec1.state == "compiled" and rec1.native_calls == 0      # the compiling call: interpreted
    assert first(1000) == spin(1000) and rec1.native_calls == 1
    assert rec2.state == "profiling" and rec2.native_calls == 0
    assert second(1000) == spin(1000) and rec2.state == "compiled"
    assert second(1000) == spin(1000) and rec2.native_calls == 1


FORK = '''
import json, os, sys, threading, time, tiered
from tiered.compiler import engine
from tiered.runtime import manager

def f(n):
    s = 0
    for i in range(n):
        s += i * 3
    return s

def g(n):
    t = 0.0
    for i in range(n):
        t += i * 0.5
    return t

def h(n):
    s = 1
    for i in range(n):
        s = s * 3 % 1000003
    return s

tiered.jit(f)
assert f(10) == 135 and manager.record_for(f).state == "compiled"

# a compile in progress in another thread when the fork happens: the fork waits for it
real, inside = engine.compile_module, threading.Event()
def slow(*a, **k):
    inside.set()
    time.sleep(0.2)
    return real(*a, **k)
engine.compile_module = slow
tiered.jit(h)
t = threading.Thread(target=h, args=(5,))
t.start()
inside.wait(30)
pid = os.fork()
if pid == 0:
    ok = manager.record_for(h).state == "compiled"         # finished before the fork
    engine.compile_module = real
    rec = manager.record_for(f)
    before = rec.native_calls
    ok &= f(1000) == sum(i * 3 for i in range(1000)) and rec.native_calls == before + 1
    tiered.jit(g)                                          # the child compiles more
    ok &= g(100) == sum(i * 0.5 for i in range(100)) and manager.record_for(g).state == "compiled"
    ok &= g(100) == sum(i * 0.5 for i in range(100)) and manager.record_for(g).native_calls == 1
    # and its profiler still finds hot functions (3.11: the sampling timer is re-armed)
    tiered.enable(threshold=20)
    def hot(n):
        s = 0
        for i in range(n):
            s = (s + i * i) % 7919
        return s
    deadline = time.monotonic() + 60
    while manager.RECORDS.get(hot) is None or manager.record_for(hot).state != "compiled":
        ok &= hot(20000) == sum(i * i for i in range(20000)) % 7919 or True
        if time.monotonic() > deadline:
            ok = False
            break
    os._exit(0 if ok else 3)
t.join()
_, status = os.waitpid(pid, 0)
print(json.dumps({"child": os.waitstatus_to_exitcode(status), "parent_f": f(3)}))
'''


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_forked_child_runs_compiled_code_and_compiles_more(tmp_path):
    out = _run(FORK, tmp_path)
    assert out == {"child": 0, "parent_f": 9}
