"""Base layer, C-API: names of the CPython C-API the generated code calls → their addresses and IR declarations; object layouts probed at import."""
import ctypes
import dis
import sys
import types
import weakref
from typing import NamedTuple, Optional

from . import frames
from .quickened import METHOD_WITH_VALUES, method_cache

_api = ctypes.pythonapi

class CFunction(NamedTuple):
    """One C function the generated code may call: its LLVM declaration, what it returns
    (NEW: a new reference, NULL when it raised; STATUS: an int, negative when it raised; None:
    anything else: a borrowed reference, a value, nothing) and whether it may run Python code
    (a destructor, a descriptor, a dunder method, a signal handler)."""
    decl: str
    returns: Optional[str] = None
    python: bool = False


NEW, STATUS, PY = "new", "status", True


def _rows(*rows):
    """FUNCTIONS from rows (name, return type, parameter types[, returns[, python]])."""
    return {name: CFunction(f"declare {ret} @{name}({params})", *flags) for name, ret, params, *flags in rows}


# name -> CFunction; the generated code may call exactly these (ops/common.py makes the
# generic lowerings of a C-API call from these rows: capi_call, status_call)
FUNCTIONS = _rows(
    ("PyFloat_FromDouble", "ptr", "double", NEW),
    ("PyLong_FromLongLong", "ptr", "i64", NEW),
    ("PyBytes_FromStringAndSize", "ptr", "ptr, i64", NEW),
    ("PyLong_AsLongLongAndOverflow", "i64", "ptr, ptr", None, PY),
    ("PyBool_FromLong", "ptr", "i64", NEW),
    ("Py_IncRef", "void", "ptr"),
    ("Py_DecRef", "void", "ptr", None, PY),
    ("PyErr_CheckSignals", "i32", "", STATUS, PY),
    ("PyErr_Occurred", "ptr", ""),
    ("PyErr_Clear", "void", ""),
    ("PyErr_ExceptionMatches", "i32", "ptr"),
    ("PyErr_Fetch", "void", "ptr, ptr, ptr"),
    ("PyErr_Restore", "void", "ptr, ptr, ptr"),
    ("PyErr_NormalizeException", "void", "ptr, ptr, ptr", None, PY),
    ("PyException_SetTraceback", "i32", "ptr, ptr", STATUS),
    ("PyObject_Vectorcall", "ptr", "ptr, ptr, i64, ptr", NEW, PY),
    ("_PyType_Lookup", "ptr", "ptr, ptr"),
    ("_PyObject_LookupSpecial", "ptr", "ptr, ptr", NEW, PY),
    ("PyErr_Format", "ptr", "ptr, ptr, ..."),
    ("PyFunction_New", "ptr", "ptr, ptr", NEW),
    ("PyTuple_New", "ptr", "i64", NEW),
    ("PyTuple_SetItem", "i32", "ptr, i64, ptr", STATUS),
    ("PyEval_SaveThread", "ptr", ""),
    ("PyEval_RestoreThread", "void", "ptr"),
    ("Py_GetRecursionLimit", "i32", ""),
    ("_Py_Dealloc", "void", "ptr", None, PY),
    ("PyObject_GetAttr", "ptr", "ptr, ptr", NEW, PY),
    ("_PyObject_GetMethod", "i32", "ptr, ptr, ptr", None, PY),   # 1: an unbound method found
    ("PyObject_GetItem", "ptr", "ptr, ptr", NEW, PY),
    ("PyObject_RichCompare", "ptr", "ptr, ptr, i32", NEW, PY),
    ("PyObject_IsTrue", "i32", "ptr", STATUS, PY),
    ("PyObject_Size", "i64", "ptr", STATUS, PY),
    ("PyObject_IsInstance", "i32", "ptr, ptr", STATUS, PY),
    ("PyType_IsSubtype", "i32", "ptr, ptr"),
    ("PyType_GetFlags", "i64", "ptr"),
    ("PySequence_Contains", "i32", "ptr, ptr", STATUS, PY),
    ("PyObject_SetAttr", "i32", "ptr, ptr, ptr", STATUS, PY),
    ("PyObject_SetItem", "i32", "ptr, ptr, ptr", STATUS, PY),
    ("PyList_New", "ptr", "i64", NEW),
    ("PyList_Append", "i32", "ptr, ptr", STATUS),
    ("PyList_SetSlice", "i32", "ptr, i64, i64, ptr", STATUS, PY),
    ("_PyList_Extend", "ptr", "ptr, ptr", NEW, PY),
    ("PySequence_Check", "i32", "ptr"),
    ("PyObject_Str", "ptr", "ptr", NEW, PY),
    ("PyObject_Repr", "ptr", "ptr", NEW, PY),
    ("PyObject_ASCII", "ptr", "ptr", NEW, PY),
    ("PyObject_Format", "ptr", "ptr, ptr", NEW, PY),
    ("PyUnicode_Join", "ptr", "ptr, ptr", NEW),
    ("PySlice_New", "ptr", "ptr, ptr, ptr", NEW),
    ("PyList_AsTuple", "ptr", "ptr", NEW),
    ("PySequence_Tuple", "ptr", "ptr", NEW, PY),
    ("PyObject_Call", "ptr", "ptr, ptr, ptr", NEW, PY),
    ("PyObject_DelItem", "i32", "ptr, ptr", STATUS, PY),
    ("PyDict_New", "ptr", "", NEW),
    ("PySet_New", "ptr", "ptr", NEW, PY),
    ("PySet_Add", "i32", "ptr, ptr", STATUS, PY),
    ("PyDict_SetItem", "i32", "ptr, ptr, ptr", STATUS, PY),
    ("PyDict_Update", "i32", "ptr, ptr", STATUS, PY),
    ("_PySet_Update", "i32", "ptr, ptr", STATUS, PY),
    ("PyObject_GetIter", "ptr", "ptr", NEW, PY),
    ("PyIter_Next", "ptr", "ptr", NEW, PY),
    ("PyNumber_Power", "ptr", "ptr, ptr, ptr", NEW, PY),
    *((f"PyNumber_{op}", "ptr", "ptr", NEW, PY) for op in ("Negative", "Positive", "Invert")),
    ("PyNumber_InPlacePower", "ptr", "ptr, ptr, ptr", NEW, PY),
    *((f"PyNumber_{kind}{op}", "ptr", "ptr, ptr", NEW, PY) for kind in ("", "InPlace")
      for op in ("Add", "Subtract", "Multiply", "TrueDivide", "FloorDivide", "Remainder", "Lshift",
                 "Rshift", "And", "Or", "Xor", "MatrixMultiply")),
    ("PyDict_GetItemWithError", "ptr", "ptr, ptr", None, PY),
    ("PyThreadState_Get", "ptr", ""),
    ("PyEval_GetFrame", "ptr", ""),
    ("PyThreadState_EnterTracing", "void", "ptr"),
    ("PyThreadState_LeaveTracing", "void", "ptr"),
    ("PyThreadState_GetInterpreter", "ptr", "ptr"),
    ("PyInterpreterState_ThreadHead", "ptr", "ptr"),
    ("PyThreadState_Next", "ptr", "ptr"),
    ("_PyFunction_Vectorcall", "ptr", "ptr, ptr, i64, ptr", NEW, PY),
    ("_PyInterpreterState_GetEvalFrameFunc", "ptr", "ptr"),
    ("_PyEval_EvalFrameDefault", "ptr", "ptr, ptr, i32", NEW, PY),
)

# data symbols (type objects and singletons): their address is the object's id().
DATA = {
    "PyFloat_Type": float, "PyLong_Type": int, "PyBool_Type": bool, "PyList_Type": list,
    "PyTuple_Type": tuple, "PyDict_Type": dict, "PyUnicode_Type": str, "PyFunction_Type": types.FunctionType,
    "_Py_NoneStruct": None, "_Py_TrueStruct": True, "_Py_FalseStruct": False,
}

# libc / libm helpers the lowering uses (resolved from the process).
LIBC = {
    "usleep": "declare i32 @usleep(i32)",
}


def function_address(name):
    """Address of one C-API (or libc) function exported by this process."""
    try:
        return ctypes.cast(getattr(_api, name), ctypes.c_void_p).value
    except AttributeError:
        libc = ctypes.CDLL(None)
        return ctypes.cast(getattr(libc, name), ctypes.c_void_p).value


def symbols():
    """Every symbol the generated code may reference: name -> address."""
    table = {name: function_address(name) for name in list(FUNCTIONS) + list(LIBC)}
    table.update({name: id(obj) for name, obj in DATA.items()})
    return table


def declarations():
    """IR text declaring every bound symbol (prepended to each module)."""
    lines = [f.decl for f in FUNCTIONS.values()] + list(LIBC.values())
    lines += [f"@{name} = external global i8" for name in DATA]
    return "\n".join(lines) + "\n"


def _ob_type_offset():
    """Offset of ob_type in an object header, found rather than assumed."""
    x = 1.5
    return next(k for k in range(0, 64, 8)
                if ctypes.c_void_p.from_address(id(x) + k).value == id(float))


OB_TYPE = _ob_type_offset()
OB_FVAL = float.__basicsize__ - ctypes.sizeof(ctypes.c_double)
assert ctypes.c_double.from_address(id(2.5) + OB_FVAL).value == 2.5
_probe = (2.5, [3.5])
TUPLE_ITEMS = tuple.__basicsize__        # ob_item[] of a tuple: right after the header
assert ctypes.c_void_p.from_address(id(_probe) + TUPLE_ITEMS).value == id(_probe[0])
BYTES_DATA = bytes.__basicsize__ - 1    # ob_sval[] of a bytes object (its size counts the NUL)
assert ctypes.string_at(id(b"probe") + BYTES_DATA, 5) == b"probe"
OB_SIZE = TUPLE_ITEMS - 8                # ob_size of a variable-size object (list, tuple)
assert ctypes.c_ssize_t.from_address(id(_probe[1]) + OB_SIZE).value == 1
LIST_ITEMS = OB_SIZE + 8                 # a list's pointer to its item array
assert ctypes.c_void_p.from_address(
    ctypes.c_void_p.from_address(id(_probe[1]) + LIST_ITEMS).value).value == id(_probe[1][0])
DICT_USED = next(k for k in range(16, 48, 8)          # ma_used: a dict's number of items
                 if ctypes.c_ssize_t.from_address(id({1: 1, 2: 2, 3: 3}) + k).value == 3)
HEAP_TYPE = 1 << 9                       # Py_TPFLAGS_HEAPTYPE: a class made by a class statement or type()
TYPE_NAME = 24                           # a type's tp_name (a C string)
assert ctypes.c_char_p.from_address(id(float) + TYPE_NAME).value == b"float"
TP_ITER = 216                            # a type's tp_iter (NULL: not iterable through it)
assert all(bool(ctypes.c_void_p.from_address(id(t) + TP_ITER).value) == it
           for t, it in ((list, True), (range, True), (int, False), (float, False), (type(_probe), True)))
TP_FLAGS = 168                           # a type's tp_flags (an unsigned long)
SUBCLASS_FLAGS = {list: 1 << 25, tuple: 1 << 26}     # Py_TPFLAGS_LIST_SUBCLASS, _TUPLE_SUBCLASS
assert all(ctypes.c_ulong.from_address(id(t) + TP_FLAGS).value & bit and
           not ctypes.c_ulong.from_address(id(dict) + TP_FLAGS).value & bit for t, bit in SUBCLASS_FLAGS.items())
TP_NEW = 312                             # a type's tp_new (object.__new__'s: object_new)
try:
    _get_slot = ctypes.pythonapi.PyType_GetSlot
    _get_slot.restype, _get_slot.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_int]
    if ctypes.c_void_p.from_address(id(object) + TP_NEW).value != _get_slot(object, 65):   # Py_tp_new
        TP_NEW = None
except (AttributeError, OSError):
    TP_NEW = None
CELL_REF = 16                            # a cell's content (NULL while empty)
_cell = types.CellType(_probe)
assert ctypes.c_void_p.from_address(id(_cell) + CELL_REF).value == id(_probe)
WEAKREF_OBJECT = 16                      # a weak reference's referent (None once it died)
assert ctypes.c_void_p.from_address(id(weakref.ref(float)) + WEAKREF_OBJECT).value == id(float)
POINTER_BITS = ctypes.sizeof(ctypes.c_void_p) * 8
assert POINTER_BITS == 64 and sys.maxsize == 2**63 - 1, "tiered needs a 64-bit CPython"


def _function_code_offset():
    """Offset of func_code in a function object: the word `f.__code__ = c` changes."""
    def f():
        pass
    def g():
        pass
    before = [ctypes.c_void_p.from_address(id(f) + k).value for k in range(16, 160, 8)]
    f.__code__ = g.__code__
    found = [16 + 8 * k for k, b in enumerate(before)
             if ctypes.c_void_p.from_address(id(f) + 16 + 8 * k).value == id(g.__code__) and b != id(g.__code__)]
    return found[0] if len(found) == 1 else None


FUNC_CODE = _function_code_offset()   # func_code in a function object, or None


METH_FASTCALL, METH_KEYWORDS = 0x80, 0x02


def fastcall_function(builtin):
    """(address of its C function, its self) for a builtin taking METH_FASTCALL arguments
    without keywords, called as `PyObject *f(self, PyObject *const *args, Py_ssize_t n)`; None
    for any other callable.  Read from the builtin's PyMethodDef (m_ml, then ml_meth, ml_flags)."""
    if not isinstance(builtin, types.BuiltinFunctionType):
        return None
    ml = ctypes.c_void_p.from_address(id(builtin) + 16).value
    name = ctypes.c_char_p.from_address(ml).value if ml else None
    if name is None or name.decode() != builtin.__name__:
        return None
    flags = ctypes.c_int.from_address(ml + 16).value
    if flags & (METH_FASTCALL | METH_KEYWORDS) != METH_FASTCALL:
        return None
    self_ = ctypes.c_void_p.from_address(id(builtin) + 24).value
    return ctypes.c_void_p.from_address(ml + 8).value, self_ or 0


def _dict_version_offset():
    """Offset of ma_version_tag in a dict: the word that changes on every mutation."""
    d = {}
    words = lambda: [ctypes.c_uint64.from_address(id(d) + k).value for k in range(16, 40, 8)]  # noqa: E731
    before = words()
    d["x"] = 1
    after = words()
    del d["x"]
    changed = [16 + 8 * k for k, (a, b) in enumerate(zip(before, after)) if a != b and k != 0]
    return changed[0]


DICT_VERSION = _dict_version_offset()


def _function_layout():
    """Offsets of func_defaults, func_kwdefaults and func_closure in a function object, found
    on a live one (MAKE_FUNCTION stores them there directly, as native code then does)."""
    def outer():
        cell = 1

        def f(a=1.5, *, b=2.5):
            return cell
        return f
    f = outer()
    want = (f.__defaults__, f.__kwdefaults__, f.__closure__)
    words = {k: ctypes.c_void_p.from_address(id(f) + k).value for k in range(16, type(f).__basicsize__, 8)}
    found = [next((k for k, w in words.items() if w == id(o)), None) for o in want]
    return tuple(found) if None not in found else None


FUNC_FIELDS = _function_layout()     # (defaults, kwdefaults, closure) offsets, or None


def _dict_keys_layout():
    """(offset of ma_keys in a dict, offset of dk_kind in its keys), checked on live dicts: the
    kind is 0 (DICT_KEYS_GENERAL) when a key may be of any class, else every key is an exact
    str, whose lookups run no Python code.  None when not found (no inline dict reads)."""
    class Probe:
        pass
    split = Probe().__dict__
    split["a"] = 1
    cases = [({"a": 1, "b": 2}, 1), ({1: 1, 2: 2}, 0), ({"x": 1, 2: 2}, 0), (split, 2)]
    keys = DICT_VERSION + 8          # ma_keys follows the version tag (3.11, 3.12): only read
    ptrs = [ctypes.c_void_p.from_address(id(d) + keys).value for d, _ in cases]   # as pointers
    if all(ptrs) and len(set(ptrs)) == len(ptrs) and all(
            ctypes.c_uint8.from_address(p + 10).value == kind for p, (_, kind) in zip(ptrs, cases)):
        return keys, 10
    return None


DICT_KEYS = _dict_keys_layout()


def dict_version(d):
    """The current version tag of a dict (changes whenever the dict is modified)."""
    return ctypes.c_uint64.from_address(id(d) + DICT_VERSION).value


def _attribute_layout():
    """Where CPython keeps what LOAD_ATTR_INSTANCE_VALUE reads, found on a live instance: the
    offset of tp_version_tag in a type, and how an instance points at its inline values
    ("tagged": a word before the object holding values - 1, as 3.12 does; "pointer": a plain
    pointer, as 3.11 does) with that word's offset.  None when not found: no fast path."""
    class Probe:
        def __init__(self):
            self.a, self.b = 1.5, 2.5

    def read(o):
        return o.b

    for _ in range(64):                              # let CPython specialise read()
        read(Probe())
    try:
        raw = read.__code__._co_code_adaptive
        at = next(i.offset for i in dis.get_instructions(read.__code__, adaptive=True)
                  if i.opname == "LOAD_ATTR_INSTANCE_VALUE")
    except (AttributeError, StopIteration):
        return None
    version = int.from_bytes(raw[at + 4:at + 6], "little") | (int.from_bytes(raw[at + 6:at + 8], "little") << 16)
    index = int.from_bytes(raw[at + 8:at + 10], "little")
    tags = [k for k in range(8 * 16, 8 * 80, 4) if ctypes.c_uint32.from_address(id(Probe) + k).value == version]
    if len(tags) != 1:
        return None
    p = Probe()
    for kind, offset in (("tagged", -24), ("pointer", -32)):
        word = ctypes.c_uint64.from_address(id(p) + offset).value
        values = word + 1 if kind == "tagged" and word & 1 else word if kind == "pointer" else 0
        if values and ctypes.c_void_p.from_address(values + 8 * index).value == id(p.b):
            return tags[0], kind, offset
    return None


ATTRIBUTES = _attribute_layout()     # (tp_version_tag offset, values kind, values word offset)


def type_with_version(version, candidates):
    """The one class among candidates whose current type version tag is `version`, or None."""
    if ATTRIBUTES is None or not version:
        return None
    found = [c for c in candidates if ctypes.c_uint32.from_address(id(c) + ATTRIBUTES[0]).value == version]
    return found[0] if len(found) == 1 else None


def class_with_version(version):
    """The class whose current type version tag is `version` (a walk over every class, done
    at compile time only, remembered while that class keeps the tag), or None.  Tags are
    unique: a class gets a new one when it changes."""
    if ATTRIBUTES is None or not version:
        return None
    ref = _by_version.get(version)
    cls = ref() if ref is not None else None
    if cls is not None and ctypes.c_uint32.from_address(id(cls) + ATTRIBUTES[0]).value == version:
        return cls
    cls = _walk_for_version(version)
    if cls is not None:
        if len(_by_version) >= 4096:      # a bound on what it keeps: start afresh
            _by_version.clear()
        try:
            _by_version[version] = weakref.ref(cls)
        except TypeError:                 # a class without weak references: not remembered
            pass
    return cls


_by_version = {}             # version tag -> weak reference to the class that had it


def _walk_for_version(version):
    """The class whose current tag is `version`, found by a walk over every class."""
    seen, todo = set(), [object]
    while todo:
        cls = todo.pop()
        if ctypes.c_uint32.from_address(id(cls) + ATTRIBUTES[0]).value == version:
            return cls
        for sub in type.__subclasses__(cls):
            if id(sub) not in seen:
                seen.add(id(sub))
                todo.append(sub)
    return None


DK_VERSION = 12      # dk_version in a dict's keys: after dk_refcnt (8) and three bytes


def _method_layout():
    """The offset of ht_cached_keys in a class (the shared keys of its instances' attributes),
    found on a live class (the field after ht_qualname) and checked against the keys version
    CPython's method load caches.  None when not found: method calls stay generic."""
    class Outer:
        class Probe:
            def __init__(self):
                self.a = 1

            def m(self):
                return 1

    def call(o):
        return o.m()

    cls = Outer.Probe
    for _ in range(64):                              # let CPython specialise call()
        call(cls())
    try:
        at, hint = next((i.offset, i.opname) for i in dis.get_instructions(call.__code__, adaptive=True)
                        if i.opname in METHOD_WITH_VALUES)
        _, keys_version, descr = method_cache(call.__code__, at, hint)
    except (StopIteration, TypeError):
        return None
    names = [k for k in range(8 * 40, type.__basicsize__ - 8, 8)
             if ctypes.c_void_p.from_address(id(cls) + k).value == id(cls.__qualname__)]
    if len(names) != 1 or descr != id(cls.__dict__["m"]):
        return None
    keys = ctypes.c_void_p.from_address(id(cls) + names[0] + 8).value
    if not keys or ctypes.c_uint32.from_address(keys + DK_VERSION).value != keys_version:
        return None
    return names[0] + 8


CACHED_KEYS = _method_layout()     # ht_cached_keys in a heap type, or None


def keys_version(cls):
    """The current version of a class's shared instance keys (0: none, or not assigned)."""
    if CACHED_KEYS is None or not cls.__flags__ & HEAP_TYPE:      # only heap types have the field
        return 0
    keys = ctypes.c_void_p.from_address(id(cls) + CACHED_KEYS).value
    return ctypes.c_uint32.from_address(keys + DK_VERSION).value if keys else 0


def _int_layout():
    """Where a positive one-digit int keeps its size (or tag) word, that word's value, and its
    digit, found on real ints; None when ints are laid out otherwise (15-bit digits, ...)."""
    if sys.int_info.bits_per_digit != 30:
        return None
    a, b, c = int("1000"), int("123456789"), int("-1000")       # new objects, not cached ones
    word = OB_SIZE                           # ob_size (3.11) or lv_tag (3.12): after the header
    digit = word + 8
    tag = ctypes.c_int64.from_address(id(a) + word).value
    if (ctypes.c_uint32.from_address(id(a) + digit).value != 1000
            or ctypes.c_uint32.from_address(id(b) + digit).value != 123456789
            or ctypes.c_int64.from_address(id(b) + word).value != tag
            or ctypes.c_int64.from_address(id(c) + word).value == tag):
        return None
    return word, tag, digit


INT_ONE_DIGIT = _int_layout()     # (size word offset, its value for 0 < x < 2**30, digit offset)

# where frames keep their current instruction, globals and code (probed on running frames)
FRAMES, CURRENT_FRAME, FRAME_GLOBALS = frames.FRAMES, frames.CURRENT_FRAME, frames.FRAME_GLOBALS
FRAME_CODE, FRAME_LOCALS = frames.FRAME_CODE, frames.FRAME_LOCALS
