"""Profiler overhead: a string-processing program with nothing to compile, with and without tiered.enable().

Each variant runs in its own process (alternating, several times); each process times rounds of the
workload after a warm-up and reports its median round, so imports and warm-up are not counted.
Run: python benchmarks/overhead.py [--runs N]
"""
import argparse
import os
import statistics
import subprocess
import sys

WORKLOAD = r'''
import sys, time
if sys.argv[1] in ("tiered", "import"):
    import tiered
if sys.argv[1] == "tiered":
    assert tiered.enable()

def normalise(word):
    return word.strip(".,;:!?\"'()").lower()

def count(text, counts):
    for w in text.split():
        w = normalise(w)
        if w:
            counts[w] = counts.get(w, 0) + 1

def render(counts):
    return "|".join(f"{k}={v}" for k, v in sorted(counts.items())[:50])

TEXT = ("It was the best of times, it was the worst of times; it was the age of wisdom, "
        "it was the age of foolishness (it was the epoch of belief)! ") * 40

def one_round():
    counts = {}
    for _ in range(60):
        count(TEXT, counts)
    return render(counts)

for _ in range(5):
    one_round()
times = []
for _ in range(15):
    t0 = time.perf_counter()
    one_round()
    times.append(time.perf_counter() - t0)
times.sort()
print(times[len(times) // 2])
'''


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    opts = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    results = {"plain": [], "import": [], "tiered": []}
    for _ in range(opts.runs):
        for variant in results:
            out = subprocess.run([sys.executable, "-c", WORKLOAD, variant], env=env, check=True,
                                 capture_output=True, text=True).stdout
            results[variant].append(float(out))
    plain, imp, jit = (statistics.median(results[k]) for k in ("plain", "import", "tiered"))
    print(f"Python {sys.version.split()[0]}: median round {plain * 1e3:.2f} ms plain, {imp * 1e3:.2f} ms "
          f"after `import tiered` ({100 * (imp / plain - 1):+.1f}%), {jit * 1e3:.2f} ms with tiered.enable() "
          f"({100 * (jit / plain - 1):+.1f}%)")


if __name__ == "__main__":
    main()
