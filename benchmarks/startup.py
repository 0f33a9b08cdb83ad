"""Start-up cost: wall time of whole processes that do nothing but start (plain, `import tiered`, `enable()`, `python -m tiered`).

Every variant runs in its own fresh process, all variants alternating, many times; the medians
(and quartiles) of wall time are printed, in milliseconds, and the median CPU time (user +
system: on a busy machine it moves far less than wall time).  With --against DIR, each tiered
variant also runs with the tiered package of another tree (a checkout of an older commit) first
on PYTHONPATH, in the same alternation, so that a busy machine slows both alike.  Compile the
.pyc files first (`python -m compileall -q tiered`, in each tree): the environment may forbid
writing them.
Run: python benchmarks/startup.py [--runs N] [--python PY ...] [--against DIR]
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VARIANTS = {
    "python empty.py": (["{empty}"], False),
    "python -m tiered empty.py": (["-m", "tiered", "{empty}"], True),
    "import tiered; enable()": (["-c", "import tiered; tiered.enable()"], True),
    "import tiered": (["-c", "import tiered"], True),
}


def wall(python, args, tree, cwd):
    """(wall, CPU) seconds of one process, with `tree`'s tiered first on PYTHONPATH (None: no
    tiered), in cwd (not a checkout: `-c` puts the current directory first on sys.path)."""
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = tree
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([python, *args], env=env, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    took = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return took, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main():
    """Time every variant on every Python, alternating, and print the medians."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--python", nargs="+", default=[sys.executable])
    ap.add_argument("--against", help="another tree (its tiered package) to time alongside")
    opts = ap.parse_args()
    trees = [os.path.abspath(opts.against), HERE] if opts.against else [HERE]
    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        empty = os.path.join(tmp, "empty.py")
        with open(empty, "w") as fh:
            fh.write("pass\n")
        for _ in range(opts.runs):
            for python in opts.python:
                for name, (args, with_tiered) in VARIANTS.items():
                    for tree in trees if with_tiered else [None]:
                        run = wall(python, [a.format(empty=empty) for a in args], tree, tmp)
                        times.setdefault((python, name, tree), []).append(run)
    for python in opts.python:
        print(python)
        for name, (_, with_tiered) in VARIANTS.items():
            cells = []
            for tree in trees if with_tiered else [None]:
                ts = sorted(w for w, _ in times[(python, name, tree)])
                cpu = statistics.median(c for _, c in times[(python, name, tree)])
                cells.append(f"{statistics.median(ts) * 1e3:6.1f} ms ({ts[len(ts) // 4] * 1e3:.0f}-"
                             f"{ts[3 * len(ts) // 4] * 1e3:.0f}, cpu {cpu * 1e3:.0f})")
            print(f"  {name:27s} " + "  ->  ".join(cells))
    if opts.against:
        print(f"(each tiered row: {opts.against}  ->  {HERE})")


if __name__ == "__main__":
    main()
