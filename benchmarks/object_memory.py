"""Memory of a long run on the object tier: one compiled function on objects called N times → RSS and Python memory samples.

The function reads attributes, indexes and builds lists and tuples, reads and writes a dict,
calls builtin methods and two Python methods (one pure, one that changes the instance, called
natively as a resumable callee), tests isinstance and catches an exception; one call in 20 000
passes an item of another type, and another makes the second method exit after its change, so the
function also exits to the interpreter (more often would send it back to CPython for good: an
exit storm).
Memory must stay flat: every reference taken natively, on every path, is given back.
Run: python benchmarks/object_memory.py [--calls N] [--json]
"""
import argparse
import gc
import json
import os
import sys
import time
import tracemalloc

os.environ["TIERED_OBJECTS"] = "1"

import tiered  # noqa: E402
from tiered.runtime import manager  # noqa: E402


class Particle:
    def __init__(self, x, y):
        self.x = x
        self.y = y
        self.n = 0
        self.last = 0

    def energy(self):
        return self.x * self.x + self.y * self.y

    def tally(self, k):
        self.n += 1                          # changes the instance: a resumable callee
        if k % 20_000 == 7:
            self.last = k * 2 ** 62          # an int overflow after that: resumed in the interpreter
        return self.n % 2


def step(p, items, counts, k):
    total = 0.0
    trail = []
    for item in items:
        if isinstance(item, float):
            total += item * p.x
        else:
            total -= 1.0
        trail.append((item, p.y))
    key = k % 7
    counts[key] = counts.get(key, 0) + len(trail)
    try:
        total += items[k % 3]
    except IndexError:
        total += 0.5
    return total + p.energy() + trail[-1][1] + p.tally(k)


def rss_kb():
    """Resident set size of this process, in KiB (Linux), or 0 when unknown."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * 4
    except OSError:
        return 0


def run(calls, on_sample=None):
    """Compile step() and call it `calls` times; samples of (calls so far, RSS KiB, traced
    Python KiB), each passed to on_sample as it is taken."""
    p, items, odd, counts = Particle(0.5, 1.5), [1.0, 2.5, 0.25], [1.0, 2], {}
    for k in range(50):                                  # CPython specialises it first
        step(p, items, counts, k)
    tiered.jit(step)
    step(p, items, counts, 0)
    rec = manager.record_for(step)
    if rec.state != "compiled":
        raise SystemExit(f"step() was not compiled: {rec.refusal} {rec.refusal_detail}")
    if rec.promotable:              # its optimised tier now, as after any warm-up: memory
        manager.promote(rec, force=True)       # traced from here on is the long run's own
    tracemalloc.start()
    samples, every, started = [], max(1, calls // 10), time.perf_counter()
    for k in range(1, calls + 1):
        step(p, odd if k % 20_000 == 1 else items, counts, k)
        if k % every == 0 or k == calls:
            gc.collect()
            samples.append((k, rss_kb(), tracemalloc.get_traced_memory()[0] // 1024))
            if on_sample:
                on_sample(samples[-1])
    seconds = time.perf_counter() - started
    tracemalloc.stop()
    return {"calls": calls, "seconds": round(seconds, 1), "samples": samples, "state": rec.state,
            "native_calls": rec.native_calls, "exits": sum(rec.exits.values()),
            "resumed": sum(n for r, n in rec.exits.items() if r.name == "CALLEE_RESUMED")}


def main():
    """Parse arguments, run, print a table (or JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = ap.parse_args()
    if args.json:
        print(json.dumps(run(args.calls)))
        return
    print(f"{'calls':>10} {'RSS MiB':>8} {'Python KiB':>10}", flush=True)
    out = run(args.calls, on_sample=lambda s: print(f"{s[0]:>10} {s[1] / 1024:8.1f} {s[2]:>10}",
                                                    flush=True))
    print(f"Python {sys.version.split()[0]}: {out['calls']} calls in {out['seconds']} s, "
          f"{out['native_calls']} native, {out['exits']} exits ({out['resumed']} of a resumed callee), "
          f"still {out['state']}")


if __name__ == "__main__":
    main()
