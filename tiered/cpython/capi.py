"""Base layer, C-API: names of the CPython C-API the generated code calls → their addresses and IR declarations; object layouts probed at import."""
import ctypes
import dis
import sys
import types
import weakref

from . import frames
from .quickened import METHOD_WITH_VALUES, method_cache

_api = ctypes.pythonapi

# name -> LLVM declaration; the generated code may call exactly these.
FUNCTIONS = {
    "PyFloat_FromDouble": "declare ptr @PyFloat_FromDouble(double)",
    "PyLong_FromLongLong": "declare ptr @PyLong_FromLongLong(i64)",
    "PyBytes_FromStringAndSize": "declare ptr @PyBytes_FromStringAndSize(ptr, i64)",
    "PyLong_AsLongLongAndOverflow": "declare i64 @PyLong_AsLongLongAndOverflow(ptr, ptr)",
    "PyBool_FromLong": "declare ptr @PyBool_FromLong(i64)",
    "Py_IncRef": "declare void @Py_IncRef(ptr)",
    "Py_DecRef": "declare void @Py_DecRef(ptr)",
    "PyErr_CheckSignals": "declare i32 @PyErr_CheckSignals()",
    "PyErr_Occurred": "declare ptr @PyErr_Occurred()",
    "PyErr_Clear": "declare void @PyErr_Clear()",
    "PyErr_ExceptionMatches": "declare i32 @PyErr_ExceptionMatches(ptr)",
    "PyErr_Fetch": "declare void @PyErr_Fetch(ptr, ptr, ptr)",
    "PyErr_Restore": "declare void @PyErr_Restore(ptr, ptr, ptr)",
    "PyErr_NormalizeException": "declare void @PyErr_NormalizeException(ptr, ptr, ptr)",
    "PyException_SetTraceback": "declare i32 @PyException_SetTraceback(ptr, ptr)",
    "PyObject_Vectorcall": "declare ptr @PyObject_Vectorcall(ptr, ptr, i64, ptr)",
    "_PyType_Lookup": "declare ptr @_PyType_Lookup(ptr, ptr)",
    "_PyObject_LookupSpecial": "declare ptr @_PyObject_LookupSpecial(ptr, ptr)",
    "PyErr_Format": "declare ptr @PyErr_Format(ptr, ptr, ...)",
    "PyFunction_New": "declare ptr @PyFunction_New(ptr, ptr)",
    "PyTuple_New": "declare ptr @PyTuple_New(i64)",
    "PyTuple_SetItem": "declare i32 @PyTuple_SetItem(ptr, i64, ptr)",
    "PyEval_SaveThread": "declare ptr @PyEval_SaveThread()",
    "PyEval_RestoreThread": "declare void @PyEval_RestoreThread(ptr)",
    "Py_GetRecursionLimit": "declare i32 @Py_GetRecursionLimit()",
    "_Py_Dealloc": "declare void @_Py_Dealloc(ptr)",
    "PyObject_GetAttr": "declare ptr @PyObject_GetAttr(ptr, ptr)",
    "PyObject_GetItem": "declare ptr @PyObject_GetItem(ptr, ptr)",
    "PyObject_RichCompare": "declare ptr @PyObject_RichCompare(ptr, ptr, i32)",
    "PyObject_IsTrue": "declare i32 @PyObject_IsTrue(ptr)",
    "PyObject_Size": "declare i64 @PyObject_Size(ptr)",
    "PyObject_IsInstance": "declare i32 @PyObject_IsInstance(ptr, ptr)",
    "PyType_IsSubtype": "declare i32 @PyType_IsSubtype(ptr, ptr)",
    "PySequence_Contains": "declare i32 @PySequence_Contains(ptr, ptr)",
    "PyObject_SetAttr": "declare i32 @PyObject_SetAttr(ptr, ptr, ptr)",
    "PyObject_SetItem": "declare i32 @PyObject_SetItem(ptr, ptr, ptr)",
    "PyList_New": "declare ptr @PyList_New(i64)",
    "PyList_Append": "declare i32 @PyList_Append(ptr, ptr)",
    "PyList_SetSlice": "declare i32 @PyList_SetSlice(ptr, i64, i64, ptr)",
    "PyObject_Str": "declare ptr @PyObject_Str(ptr)",
    "PyObject_Repr": "declare ptr @PyObject_Repr(ptr)",
    "PyObject_ASCII": "declare ptr @PyObject_ASCII(ptr)",
    "PyObject_Format": "declare ptr @PyObject_Format(ptr, ptr)",
    "PyUnicode_Join": "declare ptr @PyUnicode_Join(ptr, ptr)",
    "PySlice_New": "declare ptr @PySlice_New(ptr, ptr, ptr)",
    "PyList_AsTuple": "declare ptr @PyList_AsTuple(ptr)",
    "PyObject_Call": "declare ptr @PyObject_Call(ptr, ptr, ptr)",
    "PyObject_DelItem": "declare i32 @PyObject_DelItem(ptr, ptr)",
    "PyDict_New": "declare ptr @PyDict_New()",
    "PySet_New": "declare ptr @PySet_New(ptr)",
    "PySet_Add": "declare i32 @PySet_Add(ptr, ptr)",
    "PyDict_SetItem": "declare i32 @PyDict_SetItem(ptr, ptr, ptr)",
    "PyDict_Update": "declare i32 @PyDict_Update(ptr, ptr)",
    "_PySet_Update": "declare i32 @_PySet_Update(ptr, ptr)",
    "PyObject_GetIter": "declare ptr @PyObject_GetIter(ptr)",
    "PyIter_Next": "declare ptr @PyIter_Next(ptr)",
    "PyNumber_Power": "declare ptr @PyNumber_Power(ptr, ptr, ptr)",
    **{f"PyNumber_{op}": f"declare ptr @PyNumber_{op}(ptr)" for op in ("Negative", "Positive", "Invert")},
    "PyNumber_InPlacePower": "declare ptr @PyNumber_InPlacePower(ptr, ptr, ptr)",
    **{f"PyNumber_{kind}{op}": f"declare ptr @PyNumber_{kind}{op}(ptr, ptr)" for kind in ("", "InPlace")
       for op in ("Add", "Subtract", "Multiply", "TrueDivide", "FloorDivide", "Remainder", "Lshift",
                  "Rshift", "And", "Or", "Xor", "MatrixMultiply")},
    "PyDict_GetItemWithError": "declare ptr @PyDict_GetItemWithError(ptr, ptr)",
    "PyThreadState_Get": "declare ptr @PyThreadState_Get()",
    "PyEval_GetFrame": "declare ptr @PyEval_GetFrame()",
    "PyThreadState_EnterTracing": "declare void @PyThreadState_EnterTracing(ptr)",
    "PyThreadState_LeaveTracing": "declare void @PyThreadState_LeaveTracing(ptr)",
    "PyThreadState_GetInterpreter": "declare ptr @PyThreadState_GetInterpreter(ptr)",
    "PyInterpreterState_ThreadHead": "declare ptr @PyInterpreterState_ThreadHead(ptr)",
    "PyThreadState_Next": "declare ptr @PyThreadState_Next(ptr)",
}

# data symbols (type objects and singletons): their address is the object's id().
DATA = {
    "PyFloat_Type": float, "PyLong_Type": int, "PyBool_Type": bool, "PyList_Type": list,
    "PyTuple_Type": tuple, "PyDict_Type": dict, "PyUnicode_Type": str,
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
    lines = list(FUNCTIONS.values()) + list(LIBC.values())
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
OB_SIZE = TUPLE_ITEMS - 8                # ob_size of a variable-size object (list, tuple)
assert ctypes.c_ssize_t.from_address(id(_probe[1]) + OB_SIZE).value == 1
LIST_ITEMS = OB_SIZE + 8                 # a list's pointer to its item array
assert ctypes.c_void_p.from_address(
    ctypes.c_void_p.from_address(id(_probe[1]) + LIST_ITEMS).value).value == id(_probe[1][0])
DICT_USED = next(k for k in range(16, 48, 8)          # ma_used: a dict's number of items
                 if ctypes.c_ssize_t.from_address(id({1: 1, 2: 2, 3: 3}) + k).value == 3)
TYPE_NAME = 24                           # a type's tp_name (a C string)
assert ctypes.c_char_p.from_address(id(float) + TYPE_NAME).value == b"float"
CELL_REF = 16                            # a cell's content (NULL while empty)
_cell = types.CellType(_probe)
assert ctypes.c_void_p.from_address(id(_cell) + CELL_REF).value == id(_probe)
WEAKREF_OBJECT = 16                      # a weak reference's referent (None once it died)
assert ctypes.c_void_p.from_address(id(weakref.ref(float)) + WEAKREF_OBJECT).value == id(float)
POINTER_BITS = ctypes.sizeof(ctypes.c_void_p) * 8
assert POINTER_BITS == 64 and sys.maxsize == 2**63 - 1, "tiered needs a 64-bit CPython"


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
    at compile time only), or None.  Tags are unique: a class gets a new one when it changes."""
    if ATTRIBUTES is None or not version:
        return None
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
    if CACHED_KEYS is None or not cls.__flags__ & (1 << 9):       # only heap types have the field
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

# where frames keep their current instruction and globals (probed on running frames)
FRAMES, CURRENT_FRAME, FRAME_GLOBALS = frames.FRAMES, frames.CURRENT_FRAME, frames.FRAME_GLOBALS
