"""Base layer: where an instance keeps an attribute (its own __dict__, inline values, a __slots__ member) → the offsets and caches CPython's specialised instructions use, found on live objects."""
import array
import ctypes
import dis
import types

from . import capi

# bound at import: str_keys_only() runs when the builtins may hold a key that runs code
_all, _str, _type = all, str, type

DK_LOG2_INDEX_BYTES = 9     # in a dict's keys (3.11, 3.12): after dk_refcnt (8) and dk_log2_size
DK_NENTRIES = 24            # after dk_version (12) and dk_usable (16)
DK_INDICES = 32             # the index table; the entries follow it
UNICODE_KEYS = 1            # dk_kind of a combined table of str keys: entries are (key, value)
HINTED = ("LOAD_ATTR_WITH_HINT", "STORE_ATTR_WITH_HINT")
MANAGED_DICT = 1 << 4       # Py_TPFLAGS_MANAGED_DICT: instances keep their __dict__ word before them


def managed(cls):
    """Whether instances of cls keep their __dict__ (or inline values) in the words before
    them, where INSTANCE_DICT says (a class with __slots__ and no __dict__ has no such word)."""
    return INSTANCE_DICT is not None and bool(type.__getattribute__(cls, "__flags__") & MANAGED_DICT)


def _instance_dict_word():
    """(offset of the word before an instance that points at its own __dict__, whether that
    word is tagged: 3.12 keeps inline values there too, with the low bit set), checked by
    reading an attribute where LOAD_ATTR_WITH_HINT reads it; None when not found."""
    if capi.DICT_KEYS is None or capi.ATTRIBUTES is None:
        return None

    class Probe:
        def __init__(self):
            self.a, self.b = 1.5, 2.5

    def read(o):
        return o.b

    if not Probe.__flags__ & MANAGED_DICT:
        return None
    p = Probe()
    p.__dict__ = {"c": 0.5, "b": 3.5}              # its own dict: a combined table of str keys
    for _ in range(64):                              # let CPython specialise read()
        read(p)
    try:
        at = next(i.offset for i in dis.get_instructions(read.__code__, adaptive=True)
                  if i.opname == HINTED[0])
    except StopIteration:
        return None
    index = int.from_bytes(read.__code__._co_code_adaptive[at + 8:at + 10], "little")
    tagged = capi.ATTRIBUTES[1] == "tagged"
    offset = -24
    if ctypes.c_uint64.from_address(id(p) + offset).value != id(p.__dict__):
        return None
    keys = ctypes.c_void_p.from_address(id(p.__dict__) + capi.DICT_KEYS[0]).value
    if ctypes.c_uint8.from_address(keys + capi.DICT_KEYS[1]).value != UNICODE_KEYS or \
            not 0 <= index < ctypes.c_int64.from_address(keys + DK_NENTRIES).value:
        return None
    entry = keys + DK_INDICES + (1 << ctypes.c_uint8.from_address(keys + DK_LOG2_INDEX_BYTES).value) + 16 * index
    if ctypes.c_void_p.from_address(entry).value != id("b") or \
            ctypes.c_void_p.from_address(entry + 8).value != id(p.b):
        return None
    return offset, tagged


INSTANCE_DICT = _instance_dict_word()     # (offset, tagged) or None: no hinted reads


def str_keys_only(d):
    """Whether every key of dict d is an exact str: looking a name up in it then runs no Python
    code.  CPython's keys kind says so at once; a table that once held another key keeps the
    general kind, so then the keys are looked at (no Python code runs in that either)."""
    if capi.DICT_KEYS is not None:
        keys = ctypes.c_void_p.from_address(id(d) + capi.DICT_KEYS[0]).value
        if ctypes.c_uint8.from_address(keys + capi.DICT_KEYS[1]).value == UNICODE_KEYS:
            return True
    return _all(_type(k) is _str for k in d)


def entry_index(d, name):
    """The index of `name`'s entry in dict d's table of str keys, where CPython's LOAD_GLOBAL
    specialisations read it (the key must be that very object, as interned names are), or
    None: another kind of table, or not there.  A hint only: code that reads the entry checks
    its key again, so a table changed since is never misread."""
    if capi.DICT_KEYS is None:
        return None
    keys = ctypes.c_void_p.from_address(id(d) + capi.DICT_KEYS[0]).value
    if not keys or ctypes.c_uint8.from_address(keys + capi.DICT_KEYS[1]).value != UNICODE_KEYS:
        return None
    count = ctypes.c_int64.from_address(keys + DK_NENTRIES).value
    entries = keys + DK_INDICES + (1 << ctypes.c_uint8.from_address(keys + DK_LOG2_INDEX_BYTES).value)
    # (key, value) pairs, read as bytes: an array type per length (ctypes.c_uint64 * n) would be
    # a new class each time, garbage for the collector (CPython's test_gc counts it)
    words = array.array("Q", ctypes.string_at(entries, 16 * count))
    try:
        return words[0::2].index(id(name))
    except ValueError:
        return None


def versioned_value_offset(d, index):
    """(version, offset) of dict d's table of keys and of the value of its entry `index`, as
    CPython's LOAD_GLOBAL_MODULE reads it: while the table keeps that version (versions are
    unique, and a key added or removed sets it to 0) it is the same table, laid out the same.
    None when the table has no version (or changed while it was read)."""
    keys = ctypes.c_void_p.from_address(id(d) + capi.DICT_KEYS[0]).value
    if not keys:
        return None
    version = ctypes.c_uint32.from_address(keys + capi.DK_VERSION).value
    offset = DK_INDICES + (1 << ctypes.c_uint8.from_address(keys + DK_LOG2_INDEX_BYTES).value) + 16 * index + 8
    if not version or ctypes.c_void_p.from_address(id(d) + capi.DICT_KEYS[0]).value != keys or \
            ctypes.c_uint32.from_address(keys + capi.DK_VERSION).value != version:
        return None
    return version, offset


def table_version(d):
    """The version of dict d's table of keys (CPython's dk_version: set when a LOAD_GLOBAL is
    specialised on it, 0 again once a key is added or removed)."""
    keys = ctypes.c_void_p.from_address(id(d) + capi.DICT_KEYS[0]).value
    return ctypes.c_uint32.from_address(keys + capi.DK_VERSION).value if keys else 0


def shared_key_index(cls, name):
    """Where instances of cls that keep their attributes inline keep `name`: its index in the
    class's shared keys (a split table of str keys), or None when it is not there."""
    if CACHED_KEYS_OK is False or not managed(cls) or not type.__getattribute__(cls, "__flags__") & capi.HEAP_TYPE:
        return None
    keys = ctypes.c_void_p.from_address(id(cls) + capi.CACHED_KEYS).value
    if not keys or ctypes.c_uint8.from_address(keys + capi.DICT_KEYS[1]).value != SPLIT_KEYS:
        return None
    entries = keys + DK_INDICES + (1 << ctypes.c_uint8.from_address(keys + DK_LOG2_INDEX_BYTES).value)
    for k in range(ctypes.c_int64.from_address(keys + DK_NENTRIES).value):
        key = ctypes.c_void_p.from_address(entries + 16 * k).value
        if key and key == id(name):        # attribute names are interned: the same object
            return k
    return None


def _member_word(descr):
    """What a member descriptor's PyMemberDef holds after its name and type (its offset in the
    instance): the descriptor's type, name and qualname come first, then the PyMemberDef."""
    member = ctypes.c_void_p.from_address(id(descr) + 40).value
    return ctypes.c_ssize_t.from_address(member + 16).value if member else None


def _members_probe():
    """Whether _member_word reads what CPython's LOAD_ATTR_SLOT caches (checked on a probe)."""
    class Probe:
        __slots__ = ("a", "b")

    def read(o):
        return o.b

    p = Probe()
    p.a, p.b = 1, 2
    for _ in range(64):
        read(p)
    try:
        at = next(i.offset for i in dis.get_instructions(read.__code__, adaptive=True) if i.opname == "LOAD_ATTR_SLOT")
    except StopIteration:
        return False
    return _member_word(Probe.__dict__["b"]) == int.from_bytes(read.__code__._co_code_adaptive[at + 8:at + 10], "little")


MEMBERS_OK = _members_probe()


def _member_offset(descr):
    """The byte offset in the instance of a __slots__ member, or None (not a plain member)."""
    return _member_word(descr) if MEMBERS_OK and type(descr) is types.MemberDescriptorType else None


def own_attr_cache(cls, name, store=False):
    """What CPython's LOAD_ATTR (STORE_ATTR) would cache for an instance of exactly cls keeping
    `name` inline, worked out from the class: (kind, its version tag, the inline index), or
    None where CPython would not specialise so (a class attribute or descriptor of that name,
    an own __getattribute__ or __setattr__, no shared keys, no valid version tag)."""
    from .classes import version_tag     # noqa: PLC0415 - classes imports nothing of this module
    version = version_tag(cls)
    if not version or cls.__getattribute__ is not object.__getattribute__ \
            or (store and cls.__setattr__ is not object.__setattr__):
        return None
    found = next((vars(k)[name] for k in type.__getattribute__(cls, "__mro__") if name in vars(k)), _ABSENT)
    if found is not _ABSENT:              # a __slots__ member, or a class attribute: no instance value
        offset = _member_offset(found)
        if offset is None:
            return None
        return ("STORE_ATTR_SLOT" if store else "LOAD_ATTR_SLOT"), version, offset
    index = shared_key_index(cls, name)
    if index is None:
        return None
    return ("STORE_ATTR_INSTANCE_VALUE" if store else "LOAD_ATTR_INSTANCE_VALUE"), version, index


def own_method_cache(cls, name):
    """What CPython's method load would cache for an instance of exactly cls keeping its
    attributes inline: (its version tag, its shared keys' version, the function), or None
    where CPython would not specialise so (no plain function of that name in the class, the
    name among the shared keys, an own __getattribute__, no valid versions)."""
    from .classes import version_tag     # noqa: PLC0415 - classes imports nothing of this module
    version, keys = version_tag(cls), capi.keys_version(cls) if CACHED_KEYS_OK else 0
    func = next((vars(k)[name] for k in type.__getattribute__(cls, "__mro__") if name in vars(k)), None)
    if not (version and keys and isinstance(func, types.FunctionType)) or shared_key_index(cls, name) is not None \
            or cls.__getattribute__ is not object.__getattribute__:
        return None
    return version, keys, func


def no_dict_method(cls, name):
    """What CPython's LOAD_ATTR_METHOD_NO_DICT would cache for an instance of exactly cls, a
    plain class whose instances have no __dict__ (all __slots__): (its version tag, the
    function), or None (a dict, an own __getattribute__, no plain function of that name)."""
    from .classes import version_tag     # noqa: PLC0415 - classes imports nothing of this module
    flags = type.__getattribute__(cls, "__flags__")
    if not flags & capi.HEAP_TYPE or flags & MANAGED_DICT or type.__getattribute__(cls, "__dictoffset__") != 0 \
            or cls.__getattribute__ is not object.__getattribute__:
        return None
    func = next((vars(k)[name] for k in type.__getattribute__(cls, "__mro__") if name in vars(k)), None)
    version = version_tag(cls)
    return (version, func) if version and isinstance(func, types.FunctionType) else None


SPLIT_KEYS = 2              # dk_kind of a class's shared keys
_ABSENT = object()
CACHED_KEYS_OK = capi.CACHED_KEYS is not None and capi.DICT_KEYS is not None and INSTANCE_DICT is not None
