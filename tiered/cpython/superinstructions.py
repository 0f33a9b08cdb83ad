"""Base layer, 3.12: a code object sys.monitoring instrumented → its superinstructions fused again in place.

CPython 3.12 fuses pairs of instructions (LOAD_FAST LOAD_FAST → LOAD_FAST__LOAD_FAST, ...)
when it first quickens a code object, and splits every pair again whenever it instruments
the code for a change of sys.monitoring events (`_Py_Instrument`), before it inserts any
event.  tiered's profiler keeps PY_START and JUMP events on, so every code object the
program runs loses its pairs for good: a loop of tuple unpackings into locals runs 30-50%
slower.  Once the profiler needs no more events from a code object, `fuse` writes the pairs
back exactly as `_PyCode_Quicken` makes them, only where both instructions are their plain
selves (no event of any tool there).  An instruction a pair covers raises nothing, and a
later change of events splits the pairs again before instrumenting, so nothing a program or
a tracer sees changes.  3.11 (no sys.monitoring) and unknown layouts: `fuse` does nothing.
"""
import ctypes
import dis
import opcode

from . import frames

_OP = getattr(dis, "_all_opmap", {})
# (first, second) plain opcodes → the superinstruction _PyCode_Quicken writes over the first
PAIRS = {(_OP[a], _OP[b]): _OP[f"{a}__{b}"] for a, b in (
    ("LOAD_CONST", "LOAD_FAST"), ("LOAD_FAST", "LOAD_CONST"), ("LOAD_FAST", "LOAD_FAST"),
    ("STORE_FAST", "LOAD_FAST"), ("STORE_FAST", "STORE_FAST")) if f"{a}__{b}" in _OP}
_CACHES = opcode._inline_cache_entries if PAIRS else ()


def fuse(code):
    """Write code's superinstructions back where instrumentation split them; the number
    written (0 when there is nothing to do, or this Python has no such pairs)."""
    if not PAIRS or frames.FRAMES is None:
        return 0
    base, live = code.co_code, code._co_code_adaptive     # plain opcodes; what runs
    if len(base) != len(live):
        return 0
    start = id(code) + frames.FRAMES[2]
    done, previous, k = 0, -1, 0
    while k < len(base):
        op = base[k]
        caches = _CACHES[op] if op < len(_CACHES) else 0
        fused = PAIRS.get((previous, op)) if not caches else None
        if fused is not None and live[k - 2] == previous and live[k] == op:
            ctypes.c_uint8.from_address(start + k - 2).value = fused
            done += 1
        previous = op
        k += 2 + 2 * caches
    return done
