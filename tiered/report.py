"""Report: records of compiled and refused functions → plain-data stats and the --stats summary for people."""

NO_COUNTS = {"compiled": 0, "installed": 0, "exits": {}, "refusals": {}, "unrecorded": {},   # tiered off
             "unrecorded_at": {}}


def stats(records):
    """Per function: calls, state, compiled signatures, compile times, exits per reason and per
    line, refusal (with its line and variable), where it is defined and which lines ran native."""
    out = {}
    for func, rec in list(records.items()):
        name = f"{func.__module__}.{func.__qualname__}"
        key, n = name, 2
        while key in out:
            key, n = f"{name}#{n}", n + 1
        code = rec.original_code
        lines = offset_lines(code)
        exits_at = {}
        for (offset, reason), count in list(rec.exits_at.items()):
            per = exits_at.setdefault(lines.get(offset), {})
            per[reason] = per.get(reason, 0) + count
        walked = set().union(*(s.walked for s in rec.specs)) if rec.specs else set()
        left = set().union(*(s.left for s in rec.specs)) if rec.specs else set()
        out[key] = {
            "calls": rec.calls,
            "native_calls": rec.native_calls,
            "traced_calls": rec.traced_calls,
            "state": rec.state,
            # names, as plain data: 'int', 'float', 'bool', or 'obj[Class]' on the object tier
            "signatures": [tuple(map(str, s.param_types)) for s in rec.specs],
            "compile_ms": [round(t * 1e3, 2) for t in rec.compile_seconds],
            # the same code compiled again with LLVM's whole pipeline once it proved hot
            "optimise_ms": [round(t * 1e3, 2) for t in rec.promote_seconds],
            "exits": {r.name: c for r, c in rec.exits.items()},
            "exits_at": exits_at,                  # source line → {reason: exits there}
            "refusal": rec.refusal.name if rec.refusal else None,
            "refusal_detail": rec.refusal_detail,
            "refusal_line": rec.refusal_line,
            "refusal_variable": rec.refusal_variable,
            # compiled callers asked to call it directly and could not (it changes objects or
            # runs Python code): they call it through the interpreter
            "callers_interpret": bool(rec.not_frameless) and rec.framed is None,
            # too small to install, but compiled for its native callers, which run it natively
            # in the frames they push for it (3.12); the interpreter runs its own code
            "framed": rec.framed is not None,
            "file": code.co_filename,
            "first_line": code.co_firstlineno,
            "code_lines": sorted(set(lines.values())),
            "native_lines": sorted({lines[o] for o in walked if lines.get(o)}),
            "interpreter_lines": sorted({lines[o] for o in left if lines.get(o)}),
        }
    return out


def offset_lines(code):
    """Bytecode offset → source line of a code object."""
    return {2 * k: pos[0] for k, pos in enumerate(code.co_positions()) if pos[0] is not None}


def totals(counts):
    """Process-wide counts (functions that died included): compiles, installs, exits, refusals,
    and the hot functions refused before a record was kept (name → reason, name → file:line)."""
    return {"compiled": counts["compiled"], "installed": counts["installed"],
            "exits": dict(counts["exits"]), "refusals": dict(counts["refusals"]),
            "unrecorded": dict(counts["unrecorded"]), "unrecorded_at": dict(counts["unrecorded_at"])}


def summary(data, counts=None, show_all=False):
    """The --stats text: every hot function of the program, compiled (native calls, exits by
    line and reason, compile time) or not compiled (why, where, what to do); standard-library
    functions as one line unless show_all; tiered's own never."""
    from . import explain           # start-up time: only at exit, when --stats asked
    every = [f for f in explain.functions(data, counts) if f.kind != "tiered"]
    shown = [f for f in every if show_all or f.kind == "user"]
    hidden = [f for f in every if f not in shown]
    if not every:
        return "tiered: no function was compiled or refused"
    done = sum(f.compiled for f in shown)
    lines = [f"tiered: {len(shown)} hot function{'s' * (len(shown) != 1)}: {done} compiled, "
             f"{len(shown) - done} not compiled",
             f"  (the counts are {explain.COUNTED})"]
    for f in sorted(shown, key=lambda f: (not f.compiled, -f.count, f.name)):
        lines += _function_lines(f)
    if hidden:
        lines.append(f"standard library: {len(hidden)} hot function{'s' * (len(hidden) != 1)} "
                     f"({sum(f.compiled for f in hidden)} compiled), not listed (--stats=all lists them)")
    return "\n".join(lines)


def _function_lines(f):
    """The summary's lines about one function."""
    from . import explain           # start-up time: only at exit, when --stats asked
    s = f.s
    head = f"{'compiled' if f.compiled else 'not compiled'}  {f.name}"
    where = f"  ({f.where})" if f.where else ""
    if f.compiled:
        ms, again = sum(s["compile_ms"]), sum(s.get("optimise_ms", ()))
        out = [f"{head}{f.signatures()}{where}",
               f"    {s['calls']} {explain.UNIT}, then {s['native_calls']} native calls; compiled in {ms:.1f} ms"
               + (f", optimised in {again:.1f} ms once hot" if again else "")]
        if not s["native_calls"]:
            out.append("    not called since it was compiled: the call that was running when it got hot "
                       "goes on in the interpreter")
            out.append("    what to do: for a loop in a function called once, like main(), put the loop's "
                       "body into a function of its own: the loop's calls of it run native")
        if s["traced_calls"]:
            out.append(f"    {s['traced_calls']} calls ran in the interpreter while a tracer was active")
        for line, reason, n in f.exits():
            at = f"line {line}" if line else "somewhere"
            out.append(f"    exited {n} time{'s' * (n != 1)} at {at}: {explain.exit_words(reason)}")
        if s["refusal"]:          # compiled, but a later signature or compile was refused
            out.append(f"    not compiled for other arguments: {f.why()}")
            if f.advice():
                out.append(f"    what to do: {f.advice()}")
        return out
    count = "" if s.get("unrecorded") else f"  [{s['calls']} {explain.UNIT}]"
    out = [f"{head}{where}{count}"] + ([f"    {f.why()}"] if f.why() else [])
    if s.get("framed"):
        out.append(f"    its compiled callers run it natively ({s['native_calls']} calls), in the frames "
                   "they push for it; the interpreter runs its own code")
    elif s.get("callers_interpret"):
        out.append("    its compiled callers call it through the interpreter: it changes objects or runs "
                   "other Python code, which native callers cannot resume")
    elif s["refusal"] == "TOO_SMALL":
        out.append("    (a compiled function that calls it still calls it natively)")
    if f.quote():
        out.append(f"        {s['refusal_line']} | {f.quote()}")
    if f.advice():
        out.append(f"    what to do: {f.advice()}")
    return out
