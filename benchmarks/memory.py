"""Memory over time: compile / exit / re-specialise / deopt cycles on functions that live and die → RSS and live engines.

Each cycle compiles a function for ints, runs it natively, makes it exit (an int overflows),
calls it with floats until a second specialisation is compiled, then gives it back to the
interpreter (deopt) and compiles it again for ints; every 10th cycle the function is replaced
by a new one (new code object) and the old one dies.  Memory must stay flat: machine code,
records and profiles of what died are freed.
Run: python benchmarks/memory.py [--cycles N] [--samples K] [--json] [--no-trace-python]
"""
import argparse
import ctypes
import gc
import json
import sys
import time
import tracemalloc
import weakref

import tiered
from tiered.compiler import engine, optimiser
from tiered.runtime import manager

SOURCE = '''
def kernel(n, x):
    s = x
    for i in range(n):
        s = s + i * x
    return s
'''


def new_function():
    """A fresh function (new code object each time) with the kernel's body."""
    ns = {}
    exec(compile(SOURCE, "<memory-bench>", "exec"), ns)
    return ns["kernel"]


def expected(n, x):
    """What the kernel computes, plainly."""
    s = x
    for i in range(n):
        s = s + i * x
    return s


def cycle(f):
    """One compile / native / exit / re-specialise / deopt / recompile round on f."""
    rec = manager.record_for(f)
    rec.eager = True
    assert manager.compile_for(f, (int, int)) is not None
    assert f(50, 3) == expected(50, 3)                       # native
    assert f(50, 2**62) == expected(50, 2**62)               # overflows: exits to the interpreter
    for _ in range(200):                                      # misses until a float spec exists
        assert f(50, 0.5) == expected(50, 0.5)
        if len(rec.specs) == 2:
            break
    assert len(rec.specs) == 2, "never re-specialised"
    rec.restore()                                             # deopt: back to CPython
    assert manager.compile_for(f, (int, int)) is not None     # and compiled again
    assert f(5, 1) == expected(5, 1)


def rss_kb(pid="self"):
    """Resident set size of a process (this one by default), in KiB (Linux), or 0 when unknown."""
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * 4
    except OSError:
        return 0


def mapped_kb():
    """Resident KiB of this process by kind of mapping (Linux; zeros elsewhere): anonymous data
    (malloc heap and arenas), anonymous executable (JIT machine code), and file-backed."""
    kinds = {"anon": 0, "code": 0, "file": 0}
    try:
        with open("/proc/self/smaps") as fh:
            kind = "file"
            for line in fh:
                head = line.split()
                if head and "-" in head[0] and len(head) >= 5:
                    path = head[5] if len(head) > 5 else ""
                    anon = not path or path.startswith("[")
                    kind = ("code" if "x" in head[1] else "anon") if anon else "file"
                elif head and head[0] == "Rss:":
                    kinds[kind] += int(head[1])
    except OSError:
        pass
    return kinds


class _MallInfo2(ctypes.Structure):
    """glibc's struct mallinfo2 (all size_t)."""
    _fields_ = [(name, ctypes.c_size_t) for name in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]


def _glibc():
    """The C library when it is glibc 2.33+ (it has mallinfo2), else None."""
    try:
        libc = ctypes.CDLL(None)
        libc.mallinfo2.restype = _MallInfo2
    except (OSError, AttributeError):
        return None
    return libc


_LIBC = _glibc()


def malloc_kb():
    """(KiB malloc has handed out and not had back, KiB it holds free) from glibc's mallinfo2,
    or (0, 0) without it.  Growth in the first is memory in use; in the second, fragmentation."""
    if _LIBC is None:
        return 0, 0
    info = _LIBC.mallinfo2()
    return (info.uordblks + info.hblkhd) // 1024, info.fordblks // 1024


def trimmed_rss_kb():
    """RSS KiB after glibc's malloc_trim returns its free pages to the system, 0 without glibc."""
    if _LIBC is None:
        return 0
    _LIBC.malloc_trim(0)
    return rss_kb()


def helper_rss_kb():
    """Resident set size of the optimiser's helper process in KiB, 0 while there is none."""
    pid = optimiser.helper_pid()
    return rss_kb(pid) if pid else 0


def run(cycles, on_sample=None, trace=True, samples=10):
    """Run the cycles; samples of (cycle, RSS KiB, Python memory, live engines, live records,
    RSS KiB of the optimiser's helper process or 0, anonymous data KiB, anonymous code KiB,
    KiB malloc has in use, KiB malloc holds free, most engines alive and most KiB malloc had in
    use after any cycle since the last sample), each also passed to on_sample as it is taken (a
    long soak shows its progress).  Python memory is tracemalloc's traced KiB, or without
    `trace` (a cycle then takes about a quarter less time) the number of blocks pymalloc holds.

    The peaks matter because a function that dies is usually in a reference cycle (with its
    module's globals), so its code is freed at Python's next full collection, not at once; the
    samples themselves are taken after gc.collect().  Samples fall every `samples`-th of the run,
    rounded to a multiple of 320 cycles (672 compiles, a whole number of engines of 32 modules),
    so each is taken at the same point of an engine's life."""
    if trace:
        tracemalloc.start()
    f, dead, taken = new_function(), [], []
    started = time.perf_counter()
    every = max(1, cycles // samples // 320 * 320 or cycles // samples)
    peak_engines = peak_used = 0
    for k in range(1, cycles + 1):
        cycle(f)
        peak_engines = max(peak_engines, engine.live_engines())
        peak_used = max(peak_used, malloc_kb()[0])
        if k % 10 == 0:
            dead.append(weakref.ref(f))
            f = new_function()
        if k % every == 0 or k == cycles:
            gc.collect()
            manager.RECORDS.prune()
            kinds = mapped_kb()
            python = tracemalloc.get_traced_memory()[0] // 1024 if trace else sys.getallocatedblocks()
            taken.append((k, rss_kb(), python,
                          engine.live_engines(), len(manager.RECORDS), helper_rss_kb(),
                          kinds["anon"], kinds["code"], *malloc_kb(), peak_engines, peak_used))
            peak_engines = peak_used = 0
            if on_sample:
                on_sample(taken[-1])
    seconds = time.perf_counter() - started
    if trace:
        tracemalloc.stop()
    return {"cycles": cycles, "seconds": round(seconds, 1), "samples": taken,
            "dead_functions_alive": sum(r() is not None for r in dead), "dead_functions": len(dead),
            "totals": tiered.totals()}


def print_sample(sample, trace=True):
    """One row of the table, printed at once."""
    k, rss, py, engines, records, helper, anon, code, used, free, most, peak = sample
    print(f"{k:>8} {rss / 1024:8.1f} {py / (1024 if trace else 1000):10.2f} {engines:>8} {records:>8} "
          f"{helper / 1024:10.1f} {anon / 1024:8.1f} {code / 1024:8.1f} {used / 1024:9.1f} "
          f"{free / 1024:9.1f} {most:>8} {peak / 1024:9.1f}", flush=True)


def main():
    """Parse arguments, run, print a table (or JSON)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cycles", type=int, default=2000)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--trace-python", action=argparse.BooleanOptionalAction, default=True,
                   help="measure Python memory with tracemalloc (default); --no-trace-python "
                        "counts pymalloc's blocks instead, a quarter faster, for long soaks")
    p.add_argument("--samples", type=int, default=10, help="rows to print over the run (default 10)")
    args = p.parse_args()
    trace, samples = args.trace_python, max(1, args.samples)
    if args.json:
        print(json.dumps(run(args.cycles, trace=trace)))
        return
    print(f"{'cycle':>8} {'RSS MiB':>8} {'Python MiB' if trace else 'Py blocks k':>10} {'engines':>8} "
          f"{'records':>8} {'helper MiB':>10} {'anon MiB':>8} {'code MiB':>8} {'malloc MiB':>9} "
          f"{'free MiB':>9} {'most eng':>8} {'peak MiB':>9}", flush=True)
    out = run(args.cycles, on_sample=lambda s: print_sample(s, trace), trace=trace, samples=samples)
    print(f"Python {sys.version.split()[0]}: {out['cycles']} cycles in {out['seconds']} s "
          f"({out['totals']['compiled']} compiles)")
    print(f"dead functions still alive: {out['dead_functions_alive']} of {out['dead_functions']}")
    trimmed = trimmed_rss_kb()
    if trimmed:
        print(f"RSS after giving malloc's free memory back (malloc_trim): {trimmed / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
