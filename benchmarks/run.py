"""Benchmarks: each kernel under plain CPython and under tiered in the same process, alternating.

Prints median steady-state times, their ratio, the first (warm-up) call under tiered, and the
compile time; checks both give the same result.  Run: python benchmarks/run.py [--rounds N]
[--suite numeric|objects] [names].  The numeric suite compiles each kernel at its first call; the
objects suite (TIERED_OBJECTS=1) runs each kernel once in the interpreter, so that CPython's own
specialisations can be read, then compiles every function and method at its next call.
"""
import argparse
import importlib.util
import math
import os
import statistics
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
SUITES = {"numeric": "kernels.py", "objects": "objects.py"}
sys.path.insert(0, os.path.dirname(HERE))

import tiered  # noqa: E402
from tiered.profiler import policy  # noqa: E402
from tiered.runtime import manager  # noqa: E402
from tiered.runtime.specs import looks_tiny  # noqa: E402


def load(name, suite):
    """A fresh copy of the suite's kernels as its own module (plain and tiered copies never share code)."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, SUITES[suite]))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def timed(fn, args):
    t0 = time.perf_counter()
    r = fn(*args)
    return time.perf_counter() - t0, r


def same(a, b):
    return type(a) is type(b) and (a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b)))


def functions_of(module):
    """The functions a module defines, and the methods of its classes."""
    for obj in vars(module).values():
        if isinstance(obj, types.FunctionType):
            yield obj
        elif isinstance(obj, type):
            yield from (m for m in vars(obj).values() if isinstance(m, types.FunctionType))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--suite", choices=sorted(SUITES), default="numeric")
    ap.add_argument("names", nargs="*")
    opts = ap.parse_args()
    if not policy.supported():
        print(f"Python {sys.version.split()[0]}: tiered supports 3.11 and 3.12, so the JIT stays off "
              "here and there is nothing to compare; run this with Python 3.11 or 3.12.")
        return
    plain, jitted = load("kernels_plain", opts.suite), load("kernels_tiered", opts.suite)
    functions = list(functions_of(jitted))
    names = opts.names or list(plain.KERNELS)
    if opts.suite == "objects":
        os.environ["TIERED_OBJECTS"] = "1"          # the suite measures the object tier
        for name in names:                          # one round in the interpreter (as the profiler
            pf, args = plain.KERNELS[name]          # waits for hot code), then everything is
            getattr(jitted, pf.__name__)(*args)     # compiled at its next call
        for f in functions:                         # compiled at the next call, under the
            if not looks_tiny(f.__code__):          # profiler's rules: tiny bodies and code
                tiered.jit(f)                       # not worth a native entry stay in CPython
                manager.record_for(f).eager = False
    print(f"Python {sys.version.split()[0]}, tiered {tiered.__version__}, {opts.suite} suite; "
          f"medians of {opts.rounds} rounds")
    print(f"{'kernel':14} {'CPython ms':>11} {'tiered ms':>10} {'speed-up':>9} {'first call ms':>14} "
          f"{'compile ms':>11}  result")
    ratios, compiles = [], []
    for name in names:
        pf, args = plain.KERNELS[name]
        jf = getattr(jitted, pf.__name__)
        if opts.suite == "numeric":
            tiered.jit(jf)
        first, r_jit = timed(jf, args)
        t_plain, t_jit = [], []
        for _ in range(opts.rounds):
            tp, r_plain = timed(pf, args)
            tj, r_jit = timed(jf, args)
            t_plain.append(tp)
            t_jit.append(tj)
        ok = same(r_plain, r_jit)
        recs = [manager.RECORDS[f] for f in functions if f in manager.RECORDS]
        comp = sum(sum(r.compile_seconds) for r in recs)
        compiled = [r.name.rsplit(".", 1)[-1] for r in recs
                    if r.state == "compiled" and r.specs and r.compile_seconds]     # in this kernel
        mp, mj = statistics.median(t_plain), statistics.median(t_jit)
        ratios.append(mp / mj)
        compiles += [t for r in recs for t in r.compile_seconds if r.func is jf or r.func is not jf]
        for r in recs:           # each kernel's compile time counts once
            r.compile_seconds = []
        print(f"{name:14} {mp * 1e3:11.1f} {mj * 1e3:10.2f} {mp / mj:8.1f}x {first * 1e3:14.1f} "
              f"{comp * 1e3:11.1f}  {'equal' if ok else 'DIFFERENT'}"
              f"{'' if compiled else ' (NOT COMPILED)'}{' ' + ','.join(compiled) if opts.suite == 'objects' else ''}")
        if not ok:
            print(f"   CPython {r_plain!r} vs tiered {r_jit!r}")
    if ratios:
        geo = math.exp(sum(map(math.log, ratios)) / len(ratios))
        print(f"geometric mean speed-up {geo:.1f}x; median compile time per function "
              f"{statistics.median(compiles) * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
