"""Per-line report: stats() and totals() → each hot function's source with every line marked (native, exited here, handed to the interpreter, not compiled), as plain text or one self-contained HTML page."""
import html
import inspect
import linecache
import sys

from . import explain, report

MARKS = {   # mark → (text column, meaning for the legend)
    "native": ("N", "compiled to native code (runs native whenever the function is entered natively)"),
    "exit": ("E", "compiled, and native code left for the interpreter here (count and reason beside it)"),
    "interp": ("I", "handed to the interpreter on purpose (a raise, or a path that had hardly run)"),
    "stopped": ("X", "the compiler stopped here: why the function is not compiled"),
    "cold": ("-", "not compiled: runs in the interpreter"),
    "none": (" ", "no code on this line"),
}


def at_exit(show):
    """At the program's exit: the --stats summary to stderr and the --report file, as asked
    (a report that cannot be written is said on stderr; the program's exit is untouched)."""
    import tiered                          # the public face, loaded by now
    data, counts = tiered.stats(), tiered.totals()
    if show.get("stats"):
        print(report.summary(data, counts, show_all=show["stats"] == "all"), file=sys.stderr)
    path = show.get("report")
    if path:
        try:
            if path == "-":
                print(text(data, counts), file=sys.stderr)
            else:
                body = page(data, counts) if path.lower().endswith((".html", ".htm")) else text(data, counts)
                with open(path, "w", encoding="utf-8") as f:
                    f.write(body)
        except OSError as exc:
            print(f"tiered: could not write the report {path}: {exc}", file=sys.stderr)


def functions(data, counts):
    """The program's hot functions (not the standard library's, never tiered's), where the
    time went first: sorted by their counts (explain.COUNTED)."""
    every = [f for f in explain.functions(data, counts) if f.kind == "user"]
    return sorted(every, key=lambda f: (-f.count, f.name))


def source_of(f):
    """[(line number, text)] of a function's source ([] when the file cannot be read)."""
    if not f.file or not f.first_line:
        return []
    lines = linecache.getlines(f.file)
    if not lines or f.first_line > len(lines):
        return []
    try:
        block = inspect.getblock(lines[f.first_line - 1:])
    except Exception:                    # noqa: BLE001 - a source it cannot parse: one line
        block = lines[f.first_line - 1:f.first_line]
    return [(f.first_line + k, t.rstrip("\n")) for k, t in enumerate(block)]


def marks(f):
    """line → (mark, note) for every line of a function with code."""
    s = f.s
    code = set(s.get("code_lines") or [])
    out = {}
    if f.compiled:
        for line in code:
            out[line] = ("cold", "not on the compiled paths (the argument types seen never reach it)")
        for line in s.get("native_lines", []):
            out[line] = ("native", "")
        for line in s.get("interpreter_lines", []):
            out[line] = ("interp", "handed to the interpreter")
        notes = {}
        for line, reason, n in f.exits():
            notes.setdefault(line, []).append(f"exited {n}x: {explain.exit_words(reason)}")
        for line, texts in notes.items():
            if line is not None:
                out[line] = ("exit", "; ".join(texts))
    else:
        why = f.why() or "not compiled"
        for line in code or _lines_with_code(f):
            out[line] = ("cold", "")
        line = s.get("refusal_line") or f.first_line
        out[line] = ("stopped", why)
    return out


def _lines_with_code(f):
    """Lines of a function's source that hold code, guessed from the text (for functions
    refused before tiered kept their code): not blank, not a comment."""
    return [line for line, src in source_of(f) if src.strip() and not src.strip().startswith("#")]


def _totals_line(f):
    """One function's totals in words."""
    s = f.s
    if s.get("unrecorded"):
        return "refused when it got hot, before tiered kept any counts about it"
    exits = sum(s["exits"].values())
    native = len(s.get("native_lines", []))
    code = len(s.get("code_lines", []))
    parts = [f"{explain.UNIT} {s['calls']}", f"native calls {s['native_calls']}", f"exits {exits}",
             f"compile {sum(s['compile_ms']):.1f} ms"]
    if code:
        parts.append(f"lines native {native} of {code}")
    return ", ".join(parts)


def _state_words(f):
    """'compiled (int, float)' or 'not compiled: line N: why'."""
    if f.compiled:
        other = f"; not compiled for other arguments: {f.why()}" if f.s["refusal"] else ""
        return f"compiled for {f.signatures()}{other}"
    return f"not compiled: {f.why()}"


def _program(data, counts, funcs):
    """The program's totals: (label, value) pairs, from the same counters as --stats."""
    counts = counts or {}
    refusals = "; ".join(f"{v} x {explain.refusal_words(k, '')}" for k, v in
                         sorted(counts.get("refusals", {}).items(), key=lambda kv: -kv[1])) or "none"
    return [("hot functions in the program", str(len(funcs))),
            ("compiled", str(sum(f.compiled for f in funcs))),
            ("native calls", str(sum(f.s["native_calls"] for f in funcs))),
            ("exits", str(sum(sum(f.s["exits"].values()) for f in funcs))),
            ("compile time", f"{sum(sum(f.s['compile_ms']) for f in funcs):.1f} ms"),
            ("refusals, whole process", refusals),
            ("sorted by", explain.COUNTED + (" plus native calls" if sys.version_info >= (3, 12) else ""))]


def text(data, counts=None):
    """The report as plain text for a terminal."""
    funcs = functions(data, counts)
    out = ["tiered report"] + [f"  {k}: {v}" for k, v in _program(data, counts, funcs)]
    out.append("  marks: " + "; ".join(f"{c} {m}" for c, m in MARKS.values() if c != " "))
    if not funcs:
        out.append("no function of the program was hot")
    for f in funcs:
        out += ["", f"== {f.name}  ({f.where})", f"   {_state_words(f)}", f"   {_totals_line(f)}"]
        if f.advice():
            out.append(f"   what to do: {f.advice()}")
        m = marks(f)
        for line, src in source_of(f):
            mark, note = m.get(line, ("none", ""))
            out.append(f"{line:6} {MARKS[mark][0]} | {src}" + (f"    <- {note}" if note and mark != "cold" else ""))
    return "\n".join(out) + "\n"


CSS = """body{font-family:sans-serif;margin:1.5em;color:#222}
table.src{border-collapse:collapse;font-family:monospace;font-size:13px;margin-bottom:1.5em}
table.src td{padding:0 .6em;white-space:pre;vertical-align:top}
td.n{color:#888;text-align:right}
tr.native td.m,span.native{background:#b9e6b9}tr.exit td.m,span.exit{background:#ffcf8a}tr.interp td.m,span.interp{background:#b8d4f5}
tr.stopped td.m,span.stopped{background:#f2a3a3}tr.cold td.m,span.cold{background:#e4e4e4}
tr.stopped td.s,tr.exit td.s{font-weight:bold}td.note{font-family:sans-serif;color:#555;white-space:normal}
dl.totals dt{font-weight:bold;float:left;clear:left;width:16em}dl.totals dd{margin-left:16em}
h2{font-size:1.1em;border-top:1px solid #ccc;padding-top:.6em}.legend span{padding:0 .5em;margin-right:.4em}"""


def page(data, counts=None):
    """The report as one self-contained HTML page (inline CSS, no scripts, nothing fetched)."""
    e = html.escape
    funcs = functions(data, counts)
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>tiered report</title>", f"<style>{CSS}</style></head><body>", "<h1>tiered report</h1>",
           '<dl class="totals">']
    out += [f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in _program(data, counts, funcs)]
    out.append('</dl><p class="legend">' + "".join(
        f'<span class="{k}"><b>{e(c)}</b> {e(m)}</span><br>' for k, (c, m) in MARKS.items() if c != " ") + "</p>")
    if not funcs:
        out.append("<p>No function of the program was hot.</p>")
    for f in funcs:
        out.append(f'<section class="function"><h2>{e(f.name)} <small>{e(f.where)}</small></h2>')
        out.append(f'<p class="state">{e(_state_words(f))}</p><p class="totals">{e(_totals_line(f))}</p>')
        if f.advice():
            out.append(f'<p class="advice">What to do: {e(f.advice())}</p>')
        out.append('<table class="src">')
        m = marks(f)
        for line, src in source_of(f):
            mark, note = m.get(line, ("none", ""))
            out.append(f'<tr class="{mark}"><td class="n">{line}</td><td class="m">{e(MARKS[mark][0])}</td>'
                       f'<td class="s">{e(src)}</td><td class="note">{e(note)}</td></tr>')
        out.append("</table></section>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
