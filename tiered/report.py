"""Report: records of compiled and refused functions → plain-data stats and a readable summary."""

NO_COUNTS = {"compiled": 0, "installed": 0, "exits": {}, "refusals": {}, "unrecorded": {}}  # tiered off


def stats(records):
    """Per function: calls, state, compiled signatures, compile times, exits per reason, refusal."""
    out = {}
    for func, rec in list(records.items()):
        name = f"{func.__module__}.{func.__qualname__}"
        key, n = name, 2
        while key in out:
            key, n = f"{name}#{n}", n + 1
        out[key] = {
            "calls": rec.calls,
            "native_calls": rec.native_calls,
            "traced_calls": rec.traced_calls,
            "state": rec.state,
            # names, as plain data: 'int', 'float', 'bool', or 'obj[Class]' on the object tier
            "signatures": [tuple(map(str, s.param_types)) for s in rec.specs],
            "compile_ms": [round(t * 1e3, 2) for t in rec.compile_seconds],
            "exits": {r.name: c for r, c in rec.exits.items()},
            "refusal": rec.refusal.name if rec.refusal else None,
            "refusal_detail": rec.refusal_detail,
        }
    return out


def totals(counts):
    """Process-wide counts (functions that died included): compiles, installs, exits, refusals."""
    return {"compiled": counts["compiled"], "installed": counts["installed"],
            "exits": dict(counts["exits"]), "refusals": dict(counts["refusals"]),
            "unrecorded": dict(counts["unrecorded"])}


def summary(data, counts=None):
    """A table of the stats for people, then the hot functions refused before any record was
    kept (`counts`: totals()), so that the table and the counters never disagree."""
    unrecorded = sorted((counts or {}).get("unrecorded", {}).items())
    if not data and not unrecorded:
        return "tiered: no function was compiled or refused"
    lines = []
    if data:
        width = max(len(name) for name in data)
        lines.append(f"{'function':{width}} {'state':12} {'signatures':24} {'compile ms':>10}  exits / reason")
        for name, s in sorted(data.items()):
            sigs = ", ".join("(" + ",".join(t) + ")" for t in s["signatures"]) or "-"
            ms = sum(s["compile_ms"])
            tail = ", ".join(f"{k}={v}" for k, v in sorted(s["exits"].items()))
            if s["refusal"]:
                tail = (tail + "; " if tail else "") + f"{s['refusal']}: {s['refusal_detail']}"
            lines.append(f"{name:{width}} {s['state']:12} {sigs:24} {ms:10.1f}  {tail}")
    if unrecorded:
        lines.append(f"hot but not compiled ({len(unrecorded)}):")
        lines += [f"  {name}: {why}" for name, why in unrecorded]
    return "\n".join(lines)
