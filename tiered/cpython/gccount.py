"""Base layer, the collector's count: where the interpreter keeps the count of tracked objects
that starts its next automatic collection (gc.get_count()[0]) → held still while tiered compiles
(probed at import, or None)."""
import ctypes
import gc
import struct
from contextlib import contextmanager

from .frames import readable_ranges

_FAR = -(1 << 30)            # a count that no compile's allocations bring to the threshold


def _young_count_address():
    """The address of the young generation's count: in the interpreter state, the three
    generations (threshold, count) are 24 bytes apart; the one whose writes gc.get_count()
    reads back, or None."""
    get_interp = ctypes.pythonapi.PyInterpreterState_Get
    get_interp.restype = ctypes.c_void_p
    base = get_interp()
    span = min([hi - base for lo, hi in readable_ranges() if lo <= base < hi] + [1 << 16])
    memory = ctypes.string_at(base, span) if span > 56 else b""
    thresholds = gc.get_threshold()
    marks = [struct.pack("=i", t) for t in thresholds]
    enabled = gc.isenabled()
    gc.disable()                 # no collection moves the counts while they are looked at
    try:
        found, at = [], memory.find(marks[0])
        while 0 <= at <= span - 56:
            if at % 4 == 0 and all(memory[at + 24 * k:at + 24 * k + 4] == marks[k] for k in (1, 2)):
                count = ctypes.c_int.from_address(base + at + 4)
                before = count.value
                count.value = before + 1000
                moved = gc.get_count()[0]
                count.value = before
                if abs(moved - (before + 1000)) <= 2:
                    found.append(base + at + 4)
            at = memory.find(marks[0], at + 1)
        return found[0] if len(found) == 1 else None
    finally:
        if enabled:
            gc.enable()


try:
    YOUNG_COUNT = _young_count_address()
except Exception:            # noqa: BLE001 - not found: compiles count like any other code
    YOUNG_COUNT = None


@contextmanager
def held_still(outermost=True):
    """Run a compile with the collector's count held: a compile allocates, and CPython counts
    every allocation toward its next automatic collection, which then ran inside the compile or
    right after it, where the program did not allocate (a dead cycle's weakref callbacks and
    finalizers ran earlier than in CPython).  The count is set far below the threshold while
    the (outermost) compile runs and put back as it was after."""
    if YOUNG_COUNT is None or not outermost:
        yield
        return
    count = ctypes.c_int.from_address(YOUNG_COUNT)
    saved = count.value
    count.value = _FAR
    try:
        yield
    finally:
        count.value = saved
