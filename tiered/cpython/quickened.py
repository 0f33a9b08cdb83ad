"""Base layer: a code object's quickened bytecode → what CPython's specialising interpreter learned (hints and inline caches)."""
import dis
import weakref

from . import V


def hints(code, polymorphic=False):
    """What CPython's specialising interpreter learned about each instruction: offset → the
    specialised instruction name (e.g. BINARY_SUBSCR_LIST_INT), for those it specialised;
    with polymorphic=False, not for attribute, method and call sites whose specialisation
    missed POLYMORPHIC times or more (they see objects of several classes).  Remembered for
    as long as the quickened bytecode is the same (a build reads them once per try)."""
    try:
        raw = code._co_code_adaptive
        key = (id(code), polymorphic, POLYMORPHIC)
        seen = _HINTS.get(key)
        if seen is not None and seen[0]() is code and seen[1] == raw:
            return dict(seen[2])
        out = {}
        for i in dis.get_instructions(code, adaptive=True):
            if i.opname != i.baseopname if hasattr(i, "baseopname") else i.opname not in dis.opmap:
                if polymorphic or not (i.opname.startswith(_MISS_COUNTED) and _misses(raw, i) >= POLYMORPHIC):
                    out[i.offset] = i.opname
        if len(_HINTS) >= 256:             # a bound on what it keeps
            _HINTS.clear()
        _HINTS[key] = (weakref.ref(code), raw, out)
        return dict(out)
    except Exception:                      # noqa: BLE001 - a hint is only ever a hint
        return {}


_HINTS = {}                  # (id of a code, polymorphic) -> (weak ref to it, its quickened bytes, hints)


POLYMORPHIC = 26             # misses since CPython specialised a site that make it polymorphic (half its count:
                             # at 8, deltablue's mostly-one-class sites went generic and ran slower)
# specialised instructions whose first cache entry is their miss counter (3.11 and 3.12)
_MISS_COUNTED = ("LOAD_ATTR_", "LOAD_METHOD_", "STORE_ATTR_", "CALL_")


def _misses(raw, i):
    """How often the specialised instruction i missed since CPython specialised it (its miss
    counter, right after it, counts down from V.MISS_COUNTER's start; an adaptive one: 0)."""
    if i.opname.endswith("_ADAPTIVE"):
        return 0
    start, step = V.MISS_COUNTER
    counter = int.from_bytes(raw[i.offset + 2:i.offset + 4], "little")
    return max(0, start - counter) // step


ATTR_CACHED = ("LOAD_ATTR_INSTANCE_VALUE", "LOAD_ATTR_SLOT", "STORE_ATTR_INSTANCE_VALUE", "STORE_ATTR_SLOT",
               "LOAD_ATTR_WITH_HINT", "STORE_ATTR_WITH_HINT")


def attr_cache(code, offset, hint):
    """What CPython's specialised LOAD_ATTR at offset cached: (kind, type version, index) for
    an attribute in an instance's inline values (index: its slot), in a __slots__ member
    (index: its byte offset) or in its own __dict__ (index: the entry), else None.  Both versions lay the cache out alike: a counter,
    the type version as two 16-bit halves, the index."""
    if hint not in ATTR_CACHED:
        return None
    try:
        raw = code._co_code_adaptive
        u16 = [int.from_bytes(raw[offset + 2 * k:offset + 2 * k + 2], "little") for k in range(2, 6)]
    except (AttributeError, ValueError):
        return None
    version = u16[0] | (u16[1] << 16)
    return (hint, version, u16[2]) if version else None


# the binary operators CPython's BINARY_OP specialises on numbers (3.11 and 3.12): for the
# others its failure to specialise says nothing about the operands
SPECIALISED_BINARY = frozenset("+-*")


def specialisation_failed(code, offset):
    """Whether CPython tried to specialise the (still generic) instruction at offset and gave
    up at least twice: its adaptive counter, right after the instruction in both versions,
    keeps a back-off exponent in its low 4 bits (1 or less while it has not failed yet)."""
    try:
        counter = int.from_bytes(code._co_code_adaptive[offset + 2:offset + 4], "little")
    except (AttributeError, ValueError):
        return False
    return (counter & 15) >= 2


METHOD_NO_DICT = ("LOAD_ATTR_METHOD_NO_DICT", "LOAD_METHOD_NO_DICT")    # 3.12, 3.11


def method_cache_version(code, offset, hint):
    """The type version CPython's specialised method load at offset cached for a type whose
    instances have no __dict__ (the builtin types), or None.  Both versions put it right after
    the counter, as two 16-bit halves."""
    if hint not in METHOD_NO_DICT:
        return None
    try:
        raw = code._co_code_adaptive
        return int.from_bytes(raw[offset + 4:offset + 8], "little") or None
    except (AttributeError, ValueError):
        return None


METHOD_WITH_VALUES = ("LOAD_ATTR_METHOD_WITH_VALUES", "LOAD_METHOD_WITH_VALUES")    # 3.12, 3.11


def method_cache(code, offset, hint):
    """What CPython's method load specialised for instances of a plain class cached at offset:
    (type version, keys version of the class's shared keys, address of the method), or None.
    The address is only a number: the method is found again through the class."""
    if hint not in METHOD_WITH_VALUES:
        return None
    try:
        raw = code._co_code_adaptive
        word = lambda at, n: int.from_bytes(raw[offset + at:offset + at + n], "little")  # noqa: E731
        found = (word(4, 4), word(V.METHOD_KEYS, 4), word(V.METHOD_DESCR, 8))
    except (AttributeError, ValueError):
        return None
    return found if all(found) else None
