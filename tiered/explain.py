"""Explain: stats() and totals() plain data → per-function words for users (whose code it is, why it was not compiled, where, what to do)."""
import linecache
import os
import sys
import sysconfig

from . import config
from .reasons import HINTS, Exit, Refusal

_OWN = os.path.dirname(os.path.abspath(__file__)) + os.sep
_PLAIN_DETAIL = ("holds ", "works on ", "unpacks ", "calls ", "reads ", "a for loop")
UNIT = "counted" if sys.version_info >= (3, 12) else "samples"
COUNTED = ("calls and loop iterations counted by the profiler until tiered decided"
           if sys.version_info >= (3, 12) else
           "profiler samples (about 5 ms of CPU each at the default TIERED_SAMPLE_HZ), not calls")


def _stdlib_dirs():
    """The standard library's directories (site-packages under them excluded by kind())."""
    paths = sysconfig.get_paths()
    return tuple({os.path.abspath(paths[k]) + os.sep for k in ("stdlib", "platstdlib") if k in paths})


_STDLIB = _stdlib_dirs()


def kind(filename):
    """'tiered' (tiered's own code), 'stdlib' (the standard library) or 'user' for a source file."""
    if not filename:
        return "user"
    if filename.startswith("<frozen "):
        return "stdlib"
    path = os.path.abspath(filename)
    if path.startswith(_OWN):
        return "tiered"
    if path.startswith(_STDLIB) and "-packages" + os.sep not in path:
        return "stdlib"
    return "user"


def source_line(filename, line):
    """The text of a source line, stripped ('' when unknown)."""
    return linecache.getline(filename, line).strip() if filename and line else ""


class Function:
    """One hot function as users see it: name, where, state, counts, and the words for its refusal."""

    def __init__(self, name, s):
        self.name, self.s = name, s
        self.file, self.first_line = s.get("file"), s.get("first_line")
        self.kind = kind(self.file)
        self.compiled = s["state"] == "compiled"
        # what the functions are sorted by: see COUNTED (3.11: samples only, native calls differ)
        self.count = s["calls"] + (s["native_calls"] if sys.version_info >= (3, 12) else 0)

    @property
    def where(self):
        """file:line of its definition, relative to the working directory when inside it."""
        if not self.file:
            return ""
        path = os.path.relpath(self.file) if not os.path.relpath(self.file).startswith("..") else self.file
        return f"{path}:{self.first_line}"

    def signatures(self):
        """Its compiled argument types, in full."""
        return ", ".join("(" + ", ".join(t) + ")" for t in self.s["signatures"])

    def why(self):
        """Why it is not (or no longer only) native: 'line N: ...' in plain words, or None."""
        return refusal_words(self.s.get("refusal"), self.s.get("refusal_detail"),
                             self.s.get("refusal_line"), self.s.get("refusal_variable"))

    def advice(self):
        """What the user can do about its refusal ('' when nothing)."""
        return advice(self.s.get("refusal"), self.s.get("refusal_detail"))

    def quote(self):
        """The source text of the line where the compiler stopped ('' when unknown)."""
        return source_line(self.file, self.s.get("refusal_line"))

    def exits(self):
        """[(line, reason name, count)] of its exits, most taken first."""
        rows = [(line, reason, n) for line, per in self.s.get("exits_at", {}).items() for reason, n in per.items()]
        return sorted(rows, key=lambda r: (-r[2], r[0] if r[0] is not None else -1))


def functions(data, counts=None):
    """Function entries for stats() data and, from totals(), the hot functions refused before a
    record was kept (so that the words and the counters never disagree)."""
    out = [Function(name, s) for name, s in data.items()]
    counts = counts or {}
    at = counts.get("unrecorded_at", {})
    for name, text in counts.get("unrecorded", {}).items():
        reason, _, detail = text.partition(": ")
        file, _, first = at.get(name, "").rpartition(":")
        s = {"calls": 0, "native_calls": 0, "traced_calls": 0, "state": "refused", "signatures": [],
             "compile_ms": [], "exits": {}, "refusal": reason, "refusal_detail": detail,
             "refusal_line": None, "refusal_variable": None, "file": file or None,
             "first_line": int(first) if first.isdigit() else None, "unrecorded": True}
        out.append(Function(name, s))
    return out


def refusal_words(reason, detail, line=None, variable=None):
    """A refusal in plain words, naming the line and the variable when known."""
    if not reason:
        return None
    r = Refusal[reason] if reason in Refusal.__members__ else None
    detail = (detail or "").strip()
    if reason == "UNSUPPORTED_TYPE" and detail.startswith("("):        # decided from the arguments
        words = f"it is called with arguments {detail}, which compiled code does not take"
        if not config.get("TIERED_OBJECTS"):
            words += " (only int, float and bool arguments compile while TIERED_OBJECTS is off)"
    elif reason in ("TOO_SMALL", "NO_FEEDBACK", "TRACED", "EXIT_STORM") or not detail:
        words = r.user if r else reason
    elif detail.startswith(_PLAIN_DETAIL):
        words = (f"'{variable}' " if variable and detail.startswith("holds ")
                 else "it has " if detail.startswith("a for loop") else "it ") + detail
    else:
        words = f"{r.user if r else reason} ({detail})"
    if variable and f"'{variable}'" not in words:
        words += f" (variable '{variable}')"
    return (f"line {line}: " if line else "") + words


def advice(reason, detail=""):
    """What to do about a refusal, without suggesting a setting that is already on."""
    r = Refusal[reason] if reason in Refusal.__members__ else None
    hint = next((h for phrase, h in HINTS.items() if phrase in (detail or "")), None)
    if hint is None and (r is None or not r.advice):
        return ""
    parts = (hint or r.advice).split("; ")
    if config.get("TIERED_OBJECTS"):
        parts = [p.replace(" with TIERED_OBJECTS=1", "") for p in parts
                 if "TIERED_OBJECTS=1" not in p.replace(" with TIERED_OBJECTS=1", "")]
    if parts and parts[0].startswith("or "):
        parts[0] = parts[0][3:]
    return "; ".join(parts)


def exit_words(reason):
    """An exit reason in plain words."""
    return Exit[reason].value if reason in Exit.__members__ else reason
