"""Differential fuzzer: random small Python functions → run under CPython, the JIT and the JIT with guards forced to fail, compared."""
import argparse
import linecache
import math
import os
import random
import re
import sys
import time
import traceback
import types
from collections import Counter
from unittest import mock

from hypothesis import HealthCheck, given, seed, settings

from tests.fuzz_programs import Ctx, Obj, Obj2, Obj3, cases
from tests.support import TooSlow, assert_same, bounded_outcome, outcome
from tiered import compiler
from tiered.compiler.ops import control, is_obj
from tiered.runtime import manager

FILENAME = "<fuzz>"
MODES = (("jit", "0"), ("forced", "1"))        # (name, TIERED_FORCE_EXITS at compile and run time)
STATS = Counter()
LAST = []           # --last FILE


def load(src):
    """A fresh namespace holding the program's functions (its lines known to linecache)."""
    linecache.cache[FILENAME] = (len(src), None, src.splitlines(True), FILENAME)
    ns = {"math": math, "Obj": Obj, "Obj2": Obj2, "Obj3": Obj3, "Ctx": Ctx}
    exec(compile(src, FILENAME, "exec"), ns)
    return ns


def run_case(case):
    """One program on each argument set: CPython, JIT, forced-exit JIT; counts; raises on a divergence."""
    counts = Counter() if STATS["divergences",] else STATS     # after a divergence: shrinking runs
    counts["programs", case.kind] += 1
    if LAST:                    # after a crash this file holds the program that crashed
        with open(LAST[0], "w") as out:
            out.write(f"{case.src}\n# kind {case.kind}, f(*args) for args in {case.args!r}\n")
    try:
        expected = [bounded_outcome(load(case.src)["f"], args) for args in case.args]
    except TooSlow:
        counts["skipped (too slow under CPython)", case.kind] += 1
        return
    for mode, force in MODES:
        ns = load(case.src)
        funcs = [ns[name] for name in ("f", "g") if name in ns]
        # warm: CPython specialises, the compiler reads that (3.11 quickens a code object at its
        # 8th call; a helper that has hardly run is not called natively)
        for _ in range(3 if case.kind == "numeric" else 10):
            outcome(funcs[0], case.args[0])
        for fn in funcs:
            manager.record_for(fn).eager = True        # installed however small the body
        # objects programs allow one signature, so that a second class of object gets the
        # specialisation for any object at once (specs.widened: after the limit)
        limit = "1" if case.kind == "objects" else os.environ.get("TIERED_MAX_SPECIALIZATIONS", "4")
        with mock.patch.dict(os.environ, TIERED_FORCE_EXITS=force,          # read when compiling
                             TIERED_MAX_SPECIALIZATIONS=limit):
            # each later signature compiled too, as the profiler would after its misses
            for args in case.args:
                manager.compile_for(funcs[0], tuple(type(a) for a in args))
            if case.helper:         # also when f is refused: the interpreter then enters g natively
                manager.compile_for(funcs[1], case.helper)
            got = [outcome(funcs[0], args) for args in case.args]
        count(counts, mode, case, funcs)
        if case.kind == "classes":
            count_callees(counts, mode, ns, funcs[0])
        for args, ref, res in zip(case.args, expected, got):
            try:
                assert_same(ref, res, args)
            except AssertionError:
                STATS["divergences",] += 1
                raise AssertionError(reproducer(case, mode, args, ref, res)) from None


def count(counts, mode, case, funcs):
    """Count what the JIT did with one program in one mode: native entry, refusal, helper, exits."""
    rec = manager.record_for(funcs[0])
    for fn in funcs:
        r = manager.record_for(fn)
        counts["tiers", mode, "promoted" if r.promoted else "first tier" if r.promotable else "one tier"] += 1
    kinds = ["any object" if any(is_obj(t) and t.ref is None for t in s.param_types) else "exact"
             for s in rec.specs]
    if len(kinds) > 1:              # later argument sets of other types compiled too
        counts["signatures", mode, " + ".join(kinds)] += 1
    if rec.native_calls:
        counts["compiled (native entry ran)", mode, case.kind] += 1
    else:
        reason = rec.refusal.name if rec.refusal else "compiled, native entry not taken"
        counts["refused", mode, reason] += 1
        if case.kind != "objects":
            counts[f"{case.kind} refused", mode, f"{reason}: {plain(rec.refusal_detail)}"] += 1
    for fn in funcs[1:]:
        g = manager.record_for(fn)
        counts["helper g", mode, g.state] += 1
        if any(s.frameless for s in g.specs):     # on objects, called natively by f
            counts["helper g", mode, "frameless"] += 1
        if any(s.resumable for s in g.specs):     # and changing objects: resumed when it exits
            counts["helper g", mode, "resumable"] += 1
    for fn in funcs:
        for reason, n in manager.record_for(fn).exits.items():
            counts["exits", mode, reason.name] += n


def count_callees(counts, mode, ns, f):
    """Count what became of the program's methods and functions f calls, and how f calls them."""
    ops = set().union(*(s.ops for s in manager.record_for(f).specs))
    for op in ("call_native", "obj_call"):      # methods called natively / through vectorcall
        counts["calls in f", mode, op] += op in ops
    methods = [v for c in ns.values() if isinstance(c, type) for v in vars(c).values()]
    for fn in methods + [ns[name] for name in ("h", "hv", "first", "num")]:
        g = manager.RECORDS.get(fn) if isinstance(fn, types.FunctionType) else None
        if g is not None:
            counts["callees", mode, g.state] += 1
            counts["callees", mode, "frameless"] += any(s.frameless for s in g.specs)
            counts["callees", mode, "resumable"] += any(s.resumable for s in g.specs)
            if g.refusal:
                counts["callee refused", mode, f"{g.refusal.name}: {plain(g.refusal_detail)}"] += 1


def plain(detail):
    """A refusal's detail with its numbers (offsets, counts) as N, so that alike ones count together."""
    return re.sub(r"\d+", "N", str(detail))


def reproducer(case, mode, args, ref, got):
    """The divergence report: program, arguments, both outcomes."""
    def show(o):
        """One outcome, readably."""
        kind, payload, printed, after = o
        return f"{kind} {payload!r}\n    printed {printed!r}\n    arguments after {after!r}"
    jit = "the JIT with guards forced to fail" if mode == "forced" else "the JIT"
    return (f"\nDIVERGENCE: CPython vs {jit}\n"
            f"{case.src}\nf(*{args!r})\nCPython: {show(ref)}\nJIT:     {show(got)}\n")


def run(n, seed_value):
    """Run n random programs from this seed (a divergence is shrunk and re-raised); returns STATS."""
    STATS.clear()
    test = settings(max_examples=n, deadline=None, database=None, report_multiple_bugs=False,
                    suppress_health_check=list(HealthCheck))(given(cases())(run_case))
    seed(seed_value)(test)()
    return STATS


def total(stats, *prefix):
    """The sum of the counts whose key starts with prefix."""
    return sum(v for k, v in stats.items() if k[:len(prefix)] == prefix)


def summary(stats):
    """The counts as text: programs, compiled fraction, refusals and exits per mode, divergences."""
    def ranked(key, mode):
        """(what, count) under (key, mode), most frequent first."""
        return sorted(((k[2], v) for k, v in stats.items() if k[:2] == (key, mode)), key=lambda kv: -kv[1])

    out = [f"programs: {total(stats, 'programs')} (numeric {total(stats, 'programs', 'numeric')}, objects "
           f"{total(stats, 'programs', 'objects')}, classes {total(stats, 'programs', 'classes')}); "
           f"skipped as too slow under CPython: {total(stats, 'skipped (too slow under CPython)')}"]
    ran = total(stats, "programs", "numeric") - stats["skipped (too slow under CPython)", "numeric"]
    for mode, _ in MODES:
        native = total(stats, "compiled (native entry ran)", mode, "numeric")
        compiled = total(stats, "compiled (native entry ran)", mode)
        out.append(f"[{mode}] compiled (native entry ran): {compiled}; "
                   f"numeric {native}/{ran} = {100 * native / max(ran, 1):.1f}%; classes "
                   f"{total(stats, 'compiled (native entry ran)', mode, 'classes')}")
        for key in ("refused", "exits", "helper g", "callees", "calls in f", "tiers", "signatures"):
            out.append(f"[{mode}] {key}: " + (", ".join(f"{k} {v}" for k, v in ranked(key, mode)) or "none"))
        for kind in ("numeric", "classes"):
            out += [f"[{mode}]   {kind} refused {v}x  {k}" for k, v in ranked(f"{kind} refused", mode)[:8]]
        out += [f"[{mode}]   callee refused {v}x  {k}" for k, v in ranked("callee refused", mode)[:8]]
    out.append(f"divergences: {stats['divergences',]}")
    return "\n".join(out)


def promote_early():
    """Test-only: thresholds so low that first-tier code is promoted within a program's few calls
    (at its 2nd native entry, or at its 2nd loop poll: every 4 loop iterations of any compiled
    code): the optimised tier runs in the fuzzer too, often from the middle of a loop."""
    manager.HOT_SIGNALS = 2
    compiler.PROMOTE_CALLS = 1                  # a power of two (the entry masks the count)
    control.TICK_SIGNALS = 3                    # a mask: polls every 4 iterations


def main(argv=None):
    """python -m tests.fuzz -n N [--seed S]: run, print the counts, exit status 1 on a divergence."""
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("-n", type=int, default=1000, help="programs to run (default 1000)")
    parser.add_argument("--seed", type=int, help="hypothesis seed (default: random, printed)")
    parser.add_argument("--last", metavar="FILE", help="write each program there before it runs (crashes)")
    parser.add_argument("--promote-early", action="store_true",
                        help="promote first-tier code after a few calls or loop iterations (both tiers run)")
    opts = parser.parse_args(argv)
    if opts.promote_early:
        promote_early()
    LAST[:] = [opts.last] if opts.last else []
    seed_value = random.randrange(2**32) if opts.seed is None else opts.seed
    print(f"fuzz: {opts.n} programs, seed {seed_value}, Python {sys.version.split()[0]}"
          f"{', promoting early' if opts.promote_early else ''}", flush=True)
    started, failed = time.perf_counter(), False
    try:
        run(opts.n, seed_value)
    except Exception as exc:              # noqa: BLE001 - the reproducer is printed, then the counts
        print(exc if isinstance(exc, AssertionError) else traceback.format_exc())
        failed = True
    print(summary(STATS))
    print(f"time: {time.perf_counter() - started:.0f} s")
    return 1 if failed or STATS["divergences",] else 0


if __name__ == "__main__":
    sys.exit(main())
