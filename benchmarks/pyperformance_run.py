"""Runs pyperformance's workloads unmodified under plain CPython and under tiered, alternating: speed ratios, equal results, refusals."""
# Run: python benchmarks/pyperformance_run.py [--workloads NAME ...] [--repeats N] [--rounds N]
#      [--quick] [--objects] [--env KEY=VALUE] [--json OUT] [--venv DIR]
# A venv of its own (default ~/.cache/tiered-bench/pyperformance-1.14.0-py3.X, made from this
# Python's base interpreter) gets pyperformance 1.14.0, each workload's own requirements and
# tiered's dependencies. tiered itself is not installed there: every workload process runs with
# PYTHONPATH=benchmarks/pyperf_shim:<this checkout>, so the checkout's tiered is the one measured
# and benchmarks/pyperf_shim/pyperf.py stands in for pyperf. Each workload is calibrated in a
# plain process (loops per round of ~0.15 s; rounds up to --rounds within ~4 s), then runs as
# `python run_benchmark.py` and `python -m tiered --stats run_benchmark.py`, alternating, with
# the same loops, rounds and PYTHONHASHSEED=0. Ratios are plain / tiered: above 1, tiered is faster.
# The checkout's bytecode is written first, as pip writes an installed package's.
import argparse
import collections
import hashlib
import json
import math
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

try:
    import tomllib
except ImportError:                   # before 3.11: the runner then only says it cannot run
    tomllib = None

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHIM = os.path.join(HERE, "pyperf_shim")
PYPERFORMANCE = "pyperformance==1.14.0"
SUPPORTED = ((3, 11), (3, 12))
WORKLOADS = ["richards", "chaos", "raytrace", "nqueens", "float", "deltablue", "nbody", "go",
             "hexiom", "fannkuch", "spectral_norm", "unpack_sequence", "json_dumps"]
# Where a workload's function returns None or a time, an expression evaluated in its namespace
# after the timed rounds gives something to compare (func and args: those given to bench_*).
PROBES = {
    "chaos": "(func(args[0], args[1], args[2], probe_file, args[4]), read(probe_file))[1]",
    "raytrace": "(func(1, args[0], args[1], probe_file), read(probe_file))[1]",
    "nqueens": "list(n_queens(args[0]))",
    "nbody": "(report_energy(), BODIES)",
    "hexiom": "(lambda s: (solve_file(LEVELS[args[0]][0].strip(), Done.FIRST_STRATEGY, DESCENDING, s),"
              " s.getvalue())[1])(io.StringIO())",
    "spectral_norm": "eval_AtA_times_u(eval_AtA_times_u([1] * DEFAULT_N))",
    "json_dumps": "[json.dumps(obj) for obj, _ in args[0]]",
}
NORMAL = {"round_s": 0.15, "budget_s": 4.0, "rounds": 20, "repeats": 3}
QUICK = {"round_s": 0.05, "budget_s": 0.6, "rounds": 6, "repeats": 1}
MIN_ROUNDS = 6


def parse_args(argv):
    """The command line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", nargs="+", default=WORKLOADS, metavar="NAME",
                    help="pyperformance workloads (bm_NAME), default: the 13 of the issue")
    ap.add_argument("--repeats", type=int, help="plain/tiered process pairs per workload (3)")
    ap.add_argument("--rounds", type=int, help="timed rounds per process, at most (20)")
    ap.add_argument("--quick", action="store_true", help="1 pair, 6 short rounds: a smoke test")
    ap.add_argument("--objects", action="store_true", help="TIERED_OBJECTS=1 for the tiered runs")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                    help="extra environment for the tiered runs (repeatable)")
    ap.add_argument("--json", metavar="OUT", help="write every measurement to OUT")
    ap.add_argument("--venv", help="the venv to make or reuse")
    opts = ap.parse_args(argv)
    preset = QUICK if opts.quick else NORMAL
    opts.repeats = opts.repeats or preset["repeats"]
    opts.rounds = max(MIN_ROUNDS, opts.rounds or preset["rounds"])
    opts.round_s, opts.budget_s = preset["round_s"], preset["budget_s"]
    opts.workloads = [w for arg in opts.workloads for w in arg.split(",") if w]
    for item in opts.env:
        if "=" not in item:
            ap.error(f"--env wants KEY=VALUE, not {item!r}")
    return opts


def default_venv():
    """~/.cache/tiered-bench/pyperformance-1.14.0-py3.X (XDG_CACHE_HOME is honoured)."""
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    version = PYPERFORMANCE.split("==")[1]
    return os.path.join(cache, "tiered-bench", f"pyperformance-{version}-py{sys.version_info[0]}.{sys.version_info[1]}")


def tiered_requirements():
    """tiered's own dependencies, from this checkout's pyproject.toml."""
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["project"]["dependencies"]


def pip_install(python, venv, specs, requirements_files=()):
    """pip install into the venv what its record says is not there yet."""
    record = os.path.join(venv, "tiered-bench-installed.json")
    done = set(json.load(open(record))) if os.path.exists(record) else set()
    wanted = list(specs) + [f"-r {path}" for path in requirements_files]
    missing = [w for w in wanted if w not in done]
    if not missing:
        return
    args = [a for w in missing for a in (w.split(" ", 1) if w.startswith("-r ") else [w])]
    print(f"installing into {venv}: {' '.join(missing)}", flush=True)
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args],
                   check=True)
    with open(record, "w") as f:
        json.dump(sorted(done | set(missing)), f)


def ensure_venv(venv):
    """Make (or reuse) the venv with pyperformance and tiered's dependencies; its python."""
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        base = getattr(sys, "_base_executable", None) or sys.executable
        print(f"creating {venv} from {base}", flush=True)
        subprocess.run([base, "-m", "venv", venv], check=True)
    pip_install(python, venv, [PYPERFORMANCE, *tiered_requirements()])
    return python


def benchmarks_dir(python):
    """pyperformance's data-files/benchmarks directory, as installed in the venv."""
    code = "import os, pyperformance; print(os.path.dirname(pyperformance.__file__))"
    out = subprocess.run([python, "-I", "-c", code], check=True, capture_output=True, text=True).stdout
    return os.path.join(out.strip(), "data-files", "benchmarks")


def workload_setup(bm_dir):
    """A workload's requirements (pinned file or pyproject, pyperf left out) and its extra options."""
    with open(os.path.join(bm_dir, "pyproject.toml"), "rb") as f:
        meta = tomllib.load(f)
    files, specs = [], []
    pinned = os.path.join(bm_dir, "requirements.txt")
    if os.path.exists(pinned):
        files.append(pinned)
    else:
        specs = [d for d in meta.get("project", {}).get("dependencies", [])
                 if re.split(r"[\s<>=!~;\[]", d, maxsplit=1)[0].lower() != "pyperf"]
    return specs, files, list(meta.get("tool", {}).get("pyperformance", {}).get("extra_opts", []))


def run_process(cmd, env, timeout, cwd):
    """Run one workload process: wall seconds, exit status, output, and the stand-in's JSON."""
    out = os.path.join(cwd, "shim.json")
    if os.path.exists(out):
        os.remove(out)
    env = dict(env, PYPERF_SHIM=json.dumps(dict(json.loads(env["PYPERF_SHIM"]), out=out)))
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                           errors="backslashreplace")
        rc, stdout, stderr = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as exc:
        rc, stdout, stderr = "timeout", exc.stdout or "", f"timed out after {timeout:.0f} s"
        stdout, stderr = (s.decode(errors="replace") if isinstance(s, bytes) else s for s in (stdout, stderr))
    wall = time.perf_counter() - t0
    shim = json.load(open(out)) if os.path.exists(out) else None
    return {"wall_s": wall, "rc": rc, "stdout": stdout, "stderr": stderr, "shim": shim}


def failure(run):
    """Why a process does not count (None when it does)."""
    if run["rc"] != 0:
        lines = run["stderr"].strip().splitlines()
        return f"exit {run['rc']}: " + (lines[-1] if lines else "no output")
    if not run["shim"] or not run["shim"]["benches"]:
        return "the workload called no bench_* of pyperf"
    return None


def parse_stats(stderr):
    """The functions of tiered's --stats summary (tiered/explain.py): name, state, compile ms
    (a "compiled  NAME(...)" line, then "... compiled in X ms"; a "not compiled  NAME" line)."""
    rows = []
    for line in stderr.splitlines():
        m = re.match(r"(compiled|not compiled)  (\S+?)[( ]", line)
        if m:
            rows.append({"name": m.group(2), "state": "compiled" if m.group(1) == "compiled" else "refused",
                         "ms": 0.0, "opt_ms": 0.0, "exits": "", "refusal": None, "detail": None})
            continue
        t = re.search(r"compiled in ([0-9.]+) ms", line)
        if t and rows and rows[-1]["state"] == "compiled":
            rows[-1]["ms"] = float(t.group(1))
            again = re.search(r"optimised in ([0-9.]+) ms", line)     # the first tier, compiled again
            rows[-1]["opt_ms"] = float(again.group(1)) if again else 0.0
    return rows


def summarise_stats(rows, totals):
    """Compiled functions and compile ms from the summary rows; refusals by reason from tiered.totals()."""
    # totals() also counts code refused before it had a record (so absent from the summary), and
    # is process-wide: the stand-in's own code is in it. Without totals, the summary's rows count.
    own = [r for r in rows if not r["name"].startswith("pyperf.")]   # the stand-in's: harness
    compiled = [r for r in own if r["state"] == "compiled"]
    ms = [r["ms"] for r in compiled if r["ms"] > 0]
    listed = collections.Counter(r["refusal"] for r in own if r["state"] == "refused" and r["refusal"])
    reasons = collections.Counter(totals["refusals"]) if totals else listed
    return {"compiled": len(compiled), "refused": sum(reasons.values()),
            "reasons": dict(reasons.most_common()), "refused_rows": dict(listed.most_common()),
            "refused_functions": {r["name"]: f"{r['refusal']}: {r['detail']}" for r in own if r["refusal"]},
            "compiles": totals and totals["compiled"], "exits": totals and totals["exits"],
            "compile_ms_median": statistics.median(ms) if ms else None,
            "compile_ms_max": max(ms) if ms else None,
            # compiles again with the whole pipeline once hot (TIERED_QUICK_FIRST), all functions
            "optimise_ms_total": sum(r.get("opt_ms", 0.0) for r in compiled)}


def steady(run, rounds):
    """Steady state of one process: per bench, the median per-loop time of its last half of rounds."""
    keep = max(3, rounds // 2)
    return sum(statistics.median(b["times"][-keep:]) for b in run["shim"]["benches"])


def checksum(run):
    """The stand-in's checksum of results, probe and output, with what the process printed."""
    return f"{run['shim']['checksum'][:16]}/{hash_text(run['stdout'])}"


def hash_text(text):
    """A short stable hash of a text."""
    return hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()[:16]


def run_workload(name, bench_root, python, opts, base_env, tiered_env):
    """Calibrate, then alternate plain and tiered processes; the workload's results."""
    bm_dir = os.path.join(bench_root, f"bm_{name}")
    script = os.path.join(bm_dir, "run_benchmark.py")
    if not os.path.exists(script):
        return {"name": name, "error": f"no bm_{name}/run_benchmark.py in pyperformance 1.14.0"}
    specs, files, extra = workload_setup(bm_dir)
    try:
        pip_install(python, os.path.dirname(os.path.dirname(python)), specs, files)
    except subprocess.CalledProcessError as exc:
        return {"name": name, "error": f"installing its requirements failed: {exc}"}
    res = {"name": name, "plain": [], "tiered": [], "extra_opts": extra}
    with tempfile.TemporaryDirectory(prefix=f"tiered-bench-{name}-") as cwd:
        cal_env = dict(base_env, PYPERF_SHIM=json.dumps({"loops": None, "round_s": opts.round_s}))
        cal = run_process([python, script, *extra], cal_env, 600, cwd)
        if failure(cal):
            return dict(res, error=f"calibration: {failure(cal)}")
        loops = [b["loops"] for b in cal["shim"]["benches"]]
        round_s = sum(b["round_s"] for b in cal["shim"]["benches"])
        rounds = max(MIN_ROUNDS, min(opts.rounds, int(opts.budget_s / round_s)))
        res.update(loops=loops, rounds=rounds, round_s=round_s)
        cfg = json.dumps({"loops": loops, "rounds": rounds, "probe": PROBES.get(name)})
        timeout = max(120.0, 30 * rounds * round_s)
        kinds = {"plain": ([python, script, *extra], dict(base_env, PYPERF_SHIM=cfg)),
                 "tiered": ([python, "-m", "tiered", "--stats", script, *extra],
                            dict(base_env, **tiered_env, PYPERF_SHIM=cfg))}
        for _ in range(opts.repeats):
            for kind, (cmd, env) in kinds.items():          # A B A B ...
                run = run_process(cmd, env, timeout, cwd)
                run["failure"] = failure(run)
                res[kind].append(run)
    return finish(res)


def finish(res):
    """Ratios, result comparison and the tiered stats summary of one workload's runs."""
    for kind in ("plain", "tiered"):
        bad = [r["failure"] for r in res[kind] if r["failure"]]
        if bad:
            res["error"] = f"{kind}: {bad[0]}"
    ok = {k: [r for r in res[k] if not r["failure"]] for k in ("plain", "tiered")}
    if res["tiered"]:
        last = (ok["tiered"] or res["tiered"])[-1]
        totals = last["shim"] and last["shim"].get("tiered_totals")
        res["stats"] = summarise_stats(parse_stats(last["stderr"]), totals)
    if not (ok["plain"] and ok["tiered"]):
        return res
    for k in ("plain", "tiered"):
        res[f"{k}_steady_s"] = statistics.median(steady(r, res["rounds"]) for r in ok[k])
        res[f"{k}_wall_s"] = statistics.median(r["wall_s"] for r in ok[k])
    res["steady_ratio"] = res["plain_steady_s"] / res["tiered_steady_s"]
    res["whole_ratio"] = res["plain_wall_s"] / res["tiered_wall_s"]
    sums = {k: [checksum(r) for r in ok[k]] for k in ("plain", "tiered")}
    res["checksums"] = sums
    res["observed"] = sorted({o for k in ok for r in ok[k] for o in r["shim"]["observed"]})
    res["equal"] = len(set(sums["plain"]) | set(sums["tiered"])) == 1
    res["plain_deterministic"] = len(set(sums["plain"])) == 1
    return res


def geomean(values):
    """The geometric mean."""
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def row(res):
    """One line of the table for a workload."""
    st = res.get("stats") or {}
    reasons = ", ".join(f"{k} {v}" for k, v in list(st.get("reasons", {}).items())[:3]) or "-"
    ms = (f"{st['compile_ms_median']:.0f}/{st['compile_ms_max']:.0f}"
          if st.get("compile_ms_median") is not None else "-")
    ms += f" +{st['optimise_ms_total']:.0f}" if st.get("optimise_ms_total") else ""
    counts = f"{st.get('compiled', '-'):>4} {st.get('refused', '-'):>4}"
    if "steady_ratio" not in res:
        return f"{res['name']:16} {'FAILED':>38}  {counts} {ms:>9}  {res.get('error', '')}"
    equal = "equal" if res["equal"] else ("DIFFERENT" if res["plain_deterministic"] else "UNSTABLE")
    seen = "+".join(res["observed"]) or "-"          # None: the function returned None
    return (f"{res['name']:16} {res['plain_steady_s'] * 1e3:9.4g} {res['tiered_steady_s'] * 1e3:9.4g} "
            f"{res['steady_ratio']:6.2f}x {res['whole_ratio']:6.2f}x  {equal:9} {seen:13} {counts} {ms:>9}  "
            f"{reasons}" + (f"  [{res['error']}]" if res.get("error") else ""))


def report(results, opts):
    """The table, then the geometric means."""
    print(f"\nPython {sys.version.split()[0]}; tiered at {checkout()}; {opts.repeats} plain/tiered pairs per workload; "
          f"ratios plain/tiered (>1: tiered faster); steady = median ms per loop, last half of the rounds")
    print(f"{'workload':16} {'plain ms':>9} {'tiered ms':>9} {'steady':>7} {'whole':>7}  {'result':9} "
          f"{'compared':13} {'comp':>4} {'ref':>4} {'ms med/max':>9}  top refusals\n"
          "(ms med/max: each compiled function's compile time; +N: the ms all of them took to be "
          "optimised again once hot)")
    for res in results:
        print(row(res))
    good = [r for r in results if "steady_ratio" in r]
    print(f"geomean ({len(good)} workloads): steady {geomean([r['steady_ratio'] for r in good]):.3f}x, "
          f"whole-process {geomean([r['whole_ratio'] for r in good]):.3f}x; "
          f"results different: {sum(not r['equal'] for r in good)}")


def strip_runs(results):
    """The results for --json: outputs cut to their last lines."""
    for res in results:
        for run in res.get("plain", []) + res.get("tiered", []):
            run["stdout"] = run["stdout"][-2000:]
            run["stderr"] = run["stderr"][-20000:]
    return results


def checkout():
    """This checkout's commit, and whether its tiered/ has changes not committed."""
    git = ["git", "-C", ROOT]
    try:
        head = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(git + ["status", "--porcelain", "tiered"], capture_output=True, text=True).stdout
    except OSError:
        head = ""
    if not head:
        return "a tree that is not a git checkout"
    return head + (" with uncommitted changes in tiered/" if dirty.strip() else "")


def byte_compile(python):
    """Write the checkout's bytecode (and the shim's) before the runs, as pip does when it
    installs a package: where PYTHONDONTWRITEBYTECODE is set, every tiered process would
    otherwise compile tiered's sources again (~0.2 s each, counted as its start-up)."""
    subprocess.run([python, "-m", "compileall", "-q", os.path.join(ROOT, "tiered"), SHIM], check=False,
                   stdout=subprocess.DEVNULL)


def main(argv=None):
    """Set up the venv, run every workload, print the table; an exit status."""
    if sys.version_info[:2] not in SUPPORTED or tomllib is None:
        print(f"tiered supports Python 3.11 and 3.12, not {sys.version.split()[0]}: nothing to run")
        return 0
    opts = parse_args(argv)
    python = ensure_venv(os.path.abspath(opts.venv or default_venv()))
    bench_root = benchmarks_dir(python)
    byte_compile(python)
    base_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    base_env.update(PYTHONPATH=os.pathsep.join([SHIM, ROOT]), PYTHONHASHSEED="0")
    tiered_env = dict(item.split("=", 1) for item in opts.env)
    if opts.objects:
        tiered_env["TIERED_OBJECTS"] = "1"
    results = []
    for name in opts.workloads:
        t0 = time.perf_counter()
        res = run_workload(name, bench_root, python, opts, base_env, tiered_env)
        results.append(res)
        print(f"{name}: {time.perf_counter() - t0:.0f} s" + (f", {res['error']}" if res.get("error") else ""),
              flush=True)
    report(results, opts)
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"python": sys.version, "tiered_checkout": checkout(), "options": vars(opts), "tiered_env": tiered_env,
                       "results": strip_runs(results)}, f, indent=1, default=repr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
