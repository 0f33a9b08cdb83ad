"""Regression check: CPython's own test modules → run plain and under the JIT, compared.

Run from the repo root: python -m tests.regrtest [--timeout S] [MODULE ...]
Each module of the interpreter's `test` package runs in two child processes: plainly, and with
TIERED_THRESHOLD=1 and tiered.enable() called before the module is imported (with --eager, every
function the module defines is also compiled at its first call). Exit status 1 if a
test fails only under the JIT, or the JIT child crashed or timed out while the plain one did not.
"""
import argparse
import collections
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import types
import unittest

MODULES = [
    "test_int", "test_long", "test_float", "test_math", "test_bool", "test_complex", "test_list",
    "test_tuple", "test_dict", "test_set", "test_string", "test_augassign", "test_scope",
    "test_exceptions", "test_raise", "test_class", "test_descr", "test_grammar", "test_generators",
    "test_with", "test_contextlib", "test_functools", "test_itertools", "test_operator",
    "test_unpack", "test_keywordonlyarg", "test_opcodes", "test_sys_settrace",
    "test_weakref", "test_collections", "test_json", "test_re", "test_dataclasses", "test_copy",
    "test_heapq", "test_bisect", "test_enum", "test_textwrap", "test_property", "test_weakset",
    "test_deque", "test_userdict", "test_userlist", "test_fractions", "test_statistics",
    "test_string_literals", "test_structseq", "test_abc",
    "test_traceback", "test_inspect", "test_types", "test_global", "test_listcomps", "test_genexps",
    "test_iter",
]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def child(mode, module, out_path):
    """In the child: run test.<module> with unittest (JIT on if mode is 'jit'); write the JSON result."""
    if mode != "plain":
        import tiered
        if not tiered.enable():
            sys.exit("regrtest: tiered.enable() did not turn the JIT on")
    suite = unittest.defaultTestLoader.loadTestsFromName("test." + module)   # honours load_tests
    if mode == "eager":             # and every function of the module compiled at its first call
        jit_everything(sys.modules["test." + module], tiered.jit)
    result = unittest.TextTestRunner(stream=sys.stderr, verbosity=2).run(suite)
    failed = result.failures + [(t, "unexpected success") for t in result.unexpectedSuccesses]
    out = {"run": result.testsRun, "skipped": len(result.skipped),
           "failed": {t.id(): tb for t, tb in failed},
           "errored": {t.id(): tb for t, tb in result.errors}}
    if mode != "plain":
        out.update(jit_summary(tiered.stats(), tiered.totals()))
    with open(out_path, "w") as f:
        json.dump(out, f)


def jit_everything(module, jit):
    """Wrap each function and method defined in the module (classes nested 3 deep) with jit, so
    that it is compiled at its first call even where the profiler would not find it hot (3.11
    samples CPU time, and most of these tests are short)."""
    seen = set()

    def visit(namespace, depth):
        """Wrap the functions of one namespace and visit its classes."""
        for value in list(vars(namespace).values()):
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if id(value) in seen or getattr(value, "__module__", None) != module.__name__:
                continue
            seen.add(id(value))
            if isinstance(value, types.FunctionType):
                jit(value)
            elif isinstance(value, type) and depth < 3:
                visit(value, depth + 1)
    visit(module, 0)


def jit_summary(stats, totals):
    """Functions compiled, exits (total and per reason) and refusals over the whole run; native
    calls of the functions still alive at the end (a dead function's count goes with it); the
    refusals that are tiered's own failures, by function."""
    return {"compiled": totals["compiled"],
            "failures": {name: f"{s['refusal']}: {s['refusal_detail']}" for name, s in stats.items()
                         if s["refusal"] in ("COMPILER_ERROR", "LLVM_ERROR", "INSTALL_ERROR")},
            "native_calls": sum(s["native_calls"] for s in stats.values()),
            "exits": sum(totals["exits"].values()), "exit_reasons": totals["exits"],
            "refusals": totals["refusals"]}


def run_child(mode, module, timeout):
    """Run one child process; its result dict, or {'crash': description} with the stderr tail."""
    env = dict(os.environ, TIERED_THRESHOLD="1") if mode != "plain" else dict(os.environ)
    fd, out_path = tempfile.mkstemp(suffix=".json", prefix=f"regrtest-{mode}-")
    os.close(fd)
    cmd = [sys.executable, "-m", "tests.regrtest", "--child", mode, module, out_path]
    start = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                              errors="replace", timeout=timeout)
        with open(out_path) as f:
            text = f.read()
        if proc.returncode or not text:
            why = (f"was killed by {signal.Signals(-proc.returncode).name}" if proc.returncode < 0
                   else f"exited with status {proc.returncode}" + ("" if text else " and no result"))
            return {"crash": why, "stderr": proc.stderr}
        result = json.loads(text)
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr
        return {"crash": f"timed out after {timeout:g} s", "stderr": stderr or ""}
    finally:
        os.unlink(out_path)
    result["seconds"] = time.monotonic() - start
    return result


def bad(result):
    """The ids of the tests that failed or errored in one child's result."""
    return set(result["failed"]) | set(result["errored"])


def report_crash(module, mode, result):
    """Print a child's crash clearly: what happened and the tail of its stderr."""
    print(f"  CRASH {module}: the {mode} child {result['crash']}; its stderr ends:")
    for line in result["stderr"].splitlines()[-25:] or ["(nothing)"]:
        print(f"     | {line}")


def exception_line(tb):
    """The `Type: message` line of a formatted traceback (not the diff lines after it)."""
    lines = [ln for ln in tb.splitlines() if re.match(r"[A-Za-z_][\w.]*(:|$)", ln)]
    return lines[-1][:160] if lines else tb.strip()[-160:]


ROW = "{:22} {:>5} {:>4} {:>5} {:>4} {:>4} {:>8} {:>10} {:>8}  {}"
COLUMNS = ("module", "run", "skip", "plain", "jit", "NEW", "compiled", "native", "exits", "s plain/jit")


def compare(module, timeout, totals, jit_mode="jit"):
    """Run one module plain and under the JIT, print its row and add it to totals; its regressions."""
    plain, jit = run_child("plain", module, timeout), run_child(jit_mode, module, timeout)
    for mode, result in (("plain", plain), ("jit", jit)):
        if "crash" in result:
            report_crash(module, mode, result)
    if "crash" in jit:
        return [] if "crash" in plain else [f"{module}: the JIT child {jit['crash']}, plain did not"]
    plain_bad = None if "crash" in plain else bad(plain)
    new = sorted(bad(jit) - plain_bad) if plain_bad is not None else []
    print(ROW.format(module, jit["run"], jit["skipped"], "-" if plain_bad is None else len(plain_bad),
                     len(bad(jit)), len(new), jit["compiled"], jit["native_calls"], jit["exits"],
                     f"{plain.get('seconds', 0):.1f}/{jit['seconds']:.1f}"))
    for test_id in new:
        print(f"  NEW {test_id}: {exception_line({**jit['failed'], **jit['errored']}[test_id])}")
    for name, detail in sorted(jit["failures"].items()):     # degraded to "not compiled", but a bug
        print(f"  COMPILE FAILED {name}: {detail.splitlines()[0][:200]}")
    totals.update(modules=1, run=jit["run"], skip=jit["skipped"], plain=len(plain_bad or ()),
                  jit=len(bad(jit)), new=len(new), compiled=jit["compiled"], native=jit["native_calls"],
                  exits=jit["exits"], **{"exit " + k: v for k, v in jit["exit_reasons"].items()},
                  **{"refusal " + k: v for k, v in jit["refusals"].items()})
    return [f"{module}: {test_id}" for test_id in new]


def main(argv=None):
    """Parse arguments, compare every module, print the totals; the exit status."""
    p = argparse.ArgumentParser(prog="python -m tests.regrtest", description=__doc__.splitlines()[0])
    p.add_argument("--eager", action="store_true",
                   help="also compile every function of the test module at its first call")
    p.add_argument("--timeout", type=float, default=600, metavar="S", help="seconds per child process")
    p.add_argument("modules", nargs="*", default=MODULES, metavar="MODULE",
                   help="modules of the `test` package (default: %d of them)" % len(MODULES))
    args = p.parse_args(argv)
    print(f"Python {sys.version.split()[0]} ({sys.executable}), timeout {args.timeout:g} s per child")
    print(ROW.format(*COLUMNS))
    totals, regressions, start = collections.Counter(), [], time.monotonic()
    for module in args.modules:
        regressions += compare(module, args.timeout, totals, "eager" if args.eager else "jit")
    t = totals
    print(ROW.format(f"TOTAL ({t['modules']} modules)", t["run"], t["skip"], t["plain"], t["jit"],
                     t["new"], t["compiled"], t["native"], t["exits"],
                     f"{time.monotonic() - start:.0f} s wall"))
    for kind in ("exit", "refusal"):
        counts = {k.split()[1]: v for k, v in t.most_common() if k.startswith(kind + " ")}
        print(f"{kind}s by reason: {counts or 'none'}")
    if regressions:
        print(f"FAIL: {len(regressions)} regression(s) under the JIT:")
        print("\n".join("  " + r for r in regressions))
        return 1
    print("OK: no test fails under the JIT that passes plainly")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child(*sys.argv[2:5])
    else:
        sys.exit(main())
