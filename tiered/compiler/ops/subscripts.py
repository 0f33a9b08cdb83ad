"""Compiler ops reading and writing items: x[i], x[i] = v, del x[i], k in d, slices → LLVM IR lines.

An int subscript of an exact list or tuple is read inline; a subscript the lookups pass paired
with the `k in d` test before it reuses the test's lookup when it can; anything else calls the
C-API, and exits with its exception when it raised.
"""
from ...reasons import Exit
from ...cpython import capi
from ...cpython import V
from . import BOOL, INT, NONE, OBJ, is_obj, op
from .common import (capi_call, capi_op, fail, field, generic, join_slow_path, maybe_null_call, status_call,
                     str_keys, type_of)
from .objects import store_new


def items_of(e, seq_value):
    """Pointer to the first item slot of a list or tuple value."""
    x = e.ref(seq_value)
    if seq_value.type.cls is tuple:
        return e.op(f"getelementptr i8, ptr {x}, i64 {capi.TUPLE_ITEMS}")
    return field(e, x, capi.LIST_ITEMS, "ptr")


def _index(e, v, seq_value, index_value):
    """The checked slot pointer of seq[index] (a negative index counts from the end); exit
    when it is out of range, where CPython raises IndexError."""
    n = field(e, e.ref(seq_value), capi.OB_SIZE)
    i = e.ref(index_value)
    if index_value.type == BOOL:
        i = e.op(f"zext i1 {i} to i64")
    k = e.op(f"select i1 {e.op(f'icmp slt i64 {i}, 0')}, i64 {e.op(f'add i64 {i}, {n}')}, i64 {i}")
    e.guard(e.op(f"icmp uge i64 {k}, {n}"), v)
    return e.op(f"getelementptr ptr, ptr {items_of(e, seq_value)}, i64 {k}")


@op("seq_getitem", 2, OBJ, Exit.INDEX, pure=False)     # list/tuple[int], a new reference
def _seq_getitem(e, v):
    """list/tuple[int]: a new reference to the item."""
    slot = _index(e, v, v.args[0], v.args[1])
    item = e.op(f"load ptr, ptr {slot}")
    e.line(f"call void @tiered_incref(ptr {item})")
    e.alias(v, item)


@op("list_setitem", 3, NONE, Exit.INDEX, pure=False, python=True)  # the old item is released
def _list_setitem(e, v):
    """list[int] = value: the list takes a new reference (a number is boxed), the old item
    is released after the store, as list_ass_item does."""
    store_new(e, v, _index(e, v, v.args[0], v.args[1]), v.args[2])


def subscript(e, v):
    """obj[key] through PyObject_GetItem (a number key boxed for it); an int key into an exact
    list or tuple, in range, is read inline first."""
    seq, key = v.args
    if v.attrs.get("frameless") and e.fn.attrs.get("frameless") and capi.DICT_KEYS is not None:
        return _dict_getitem_frameless(e, v)
    if key.type not in (INT, BOOL):
        if is_obj(key.type):
            return capi_call("PyObject_GetItem")(e, v)
        e.force_point(v)              # a float or None key, boxed for the call (`d[None]`)
        r = generic(e, v, lambda ops: e.op(f"call ptr @PyObject_GetItem(ptr {ops[0]}, ptr {ops[1]})"), force=False)
        fail(e, v, e.op(f"icmp eq ptr {r}, null"))
        return e.alias(v, r)
    e.force_point(v)
    x = e.ref(seq)
    i = e.ref(key) if key.type == INT else e.op(f"zext i1 {e.ref(key)} to i64")
    ty = type_of(e, x)
    is_list = e.op(f"icmp eq ptr {ty}, @PyList_Type")
    is_seq = e.op(f"or i1 {is_list}, {e.op(f'icmp eq ptr {ty}, @PyTuple_Type')}")
    check, fast, slow, done = (e.tmp()[1:] for _ in range(4))
    e.line(f"br i1 {is_seq}, label %{check}, label %{slow}")
    e.label(check)
    n = field(e, x, capi.OB_SIZE)
    k = e.op(f"select i1 {e.op(f'icmp slt i64 {i}, 0')}, i64 {e.op(f'add i64 {i}, {n}')}, i64 {i}")
    e.line(f"br i1 {e.op(f'icmp ult i64 {k}, {n}')}, label %{fast}, label %{slow}")
    e.label(fast)
    items = e.op(f"select i1 {is_list}, ptr {field(e, x, capi.LIST_ITEMS, 'ptr')}, "
                 f"ptr {e.op(f'getelementptr i8, ptr {x}, i64 {capi.TUPLE_ITEMS}')}")
    item = e.op(f"load ptr, ptr {e.op(f'getelementptr ptr, ptr {items}, i64 {k}')}")
    e.line(f"call void @tiered_incref(ptr {item})")
    e.line(f"br label %{done}")
    e.label(slow)
    r = generic(e, v, lambda ops: e.op(f"call ptr @PyObject_GetItem(ptr {ops[0]}, ptr {ops[1]})"), force=False)
    join_slow_path(e, v, r, item, fast, done)


def _dict_getitem_frameless(e, v):
    """d[key] in a frameless specialisation (d an exact dict): read only when every key of d
    and the key itself are exact strs, whose hashing and comparing run no Python code; a
    missing key or any other key exits (the interpreter raises the KeyError)."""
    d, key = (e.ref(a) for a in v.args)
    str_key = e.op(f"icmp eq ptr {type_of(e, key)}, @PyUnicode_Type")
    e.guard(e.op(f"xor i1 {e.op(f'and i1 {str_key}, {str_keys(e, d)}')}, true"), v, reason=Exit.TYPE_GUARD)
    item = e.op(f"call ptr @PyDict_GetItemWithError(ptr {d}, ptr {key})")      # borrowed
    fail(e, v, e.op(f"icmp eq ptr {item}, null"))
    e.line(f"call void @tiered_incref(ptr {item})")
    e.alias(v, item)


def _slots(e, test_id):
    """The stack slots (item, dict version) of one shared test, made at first use."""
    if test_id not in e.lookup_slots:
        e.lookup_slots[test_id] = (e.entry_alloca("ptr"), e.entry_alloca("i64"))
    return e.lookup_slots[test_id]


def _version(e, d):
    """The dict's version tag (a new one at every change)."""
    return field(e, d, capi.DICT_VERSION)


_plain_contains = status_call("PySequence_Contains")


@op("obj_contains", 2, BOOL, Exit.RAISED, pure=False, raises=True, python=True, attrs=("share",))
def _contains(e, v):
    """`k in d`; when shared, and k and every key of d are exact strs (nothing can run Python
    code), by PyDict_GetItemWithError, keeping the item (borrowed) and d's version."""
    if not v.attrs.get("share"):
        return _plain_contains(e, v)
    e.force_point(v)
    d, k = (e.ref(a) for a in v.args)
    item_slot, version_slot = _slots(e, v.id)
    str_key = e.op(f"icmp eq ptr {type_of(e, k)}, @PyUnicode_Type")
    ok = e.op(f"and i1 {str_key}, {str_keys(e, d)}")
    fast, slow, done = e.tmp()[1:], e.tmp()[1:], e.tmp()[1:]
    e.line(f"br i1 {ok}, label %{fast}, label %{slow}")
    e.label(fast)
    item = e.op(f"call ptr @PyDict_GetItemWithError(ptr {d}, ptr {k})")
    e.line(f"store ptr {item}, ptr {item_slot}")
    e.line(f"store i64 {_version(e, d)}, ptr {version_slot}")
    found = e.op(f"icmp ne ptr {item}, null")
    e.line(f"br label %{done}")
    e.label(slow)
    e.line(f"store ptr null, ptr {item_slot}")
    _plain_contains(e, v)
    r, slow_end = e.ref(v), e.cur
    e.line(f"br label %{done}")
    e.label(done)
    e.alias(v, e.op(f"phi i1 [{found}, %{fast}], [{r}, %{slow_end}]"))


@op("obj_getitem", 2, OBJ, Exit.RAISED, pure=False, raises=True, python=True, attrs=("shared", "frameless"))
def _getitem(e, v):
    """`d[k]`; when shared, the test's item (a new reference) if d's version is unchanged."""
    if "shared" not in v.attrs:
        return subscript(e, v)
    d = e.ref(v.args[0])
    item_slot, version_slot = _slots(e, v.attrs["shared"])
    item = e.op(f"load ptr, ptr {item_slot}")
    same = e.op(f"icmp eq i64 {_version(e, d)}, {e.op(f'load i64, ptr {version_slot}')}")
    ok = e.op(f"and i1 {e.op(f'icmp ne ptr {item}, null')}, {same}")
    fast, slow, done = e.tmp()[1:], e.tmp()[1:], e.tmp()[1:]
    e.line(f"br i1 {ok}, label %{fast}, label %{slow}")
    e.label(fast)
    e.line(f"call void @tiered_incref(ptr {item})")
    e.line(f"br label %{done}")
    e.label(slow)
    subscript(e, v)
    r, slow_end = e.ref(v), e.cur
    e.line(f"br label %{done}")
    e.label(done)
    e.alias(v, e.op(f"phi ptr [{item}, %{fast}], [{r}, %{slow_end}]"))


_plain_setitem = status_call("PyObject_SetItem")


@op("obj_setitem", 3, NONE, Exit.RAISED, pure=False, raises=True, python=True, attrs=("in_place",))
def _setitem(e, v):
    """`d[k] = n` of `d[k] ± m` (the lookups pass marks it): when d's version is unchanged since
    the shared test, its item is an exact int nobody else holds (one reference: d's), and both
    it and n are one positive digit past the small ints, n is written into that int and d is
    left alone (CPython would make a new int and store it: nothing can tell them apart).
    Otherwise the store, as before."""
    layout = capi.INT_ONE_DIGIT
    if "in_place" not in v.attrs or layout is None:
        return _plain_setitem(e, v)
    word, tag, digit = layout
    d, n = e.ref(v.args[0]), e.ref(v.args[2])
    item_slot, version_slot = _slots(e, v.attrs["in_place"])
    e.force_point(v)
    item = e.op(f"load ptr, ptr {item_slot}")
    same = e.op(f"icmp eq i64 {_version(e, d)}, {e.op(f'load i64, ptr {version_slot}')}")
    check, fast, slow, done = (e.tmp()[1:] for _ in range(4))
    found = e.op(f"icmp ne ptr {item}, null")
    e.line(f"br i1 {e.op(f'and i1 {same}, {found}')}, label %{check}, label %{slow}")
    e.label(check)
    count = field(e, item, 0, "i32" if V.IMMORTAL_OBJECTS else "i64")
    ok = [e.op(f"icmp eq {'i32' if V.IMMORTAL_OBJECTS else 'i64'} {count}, 1"),
          e.op(f"icmp eq ptr {type_of(e, item)}, @PyLong_Type"),
          e.op(f"icmp eq i64 {field(e, item, word)}, {tag}"),
          e.op(f"icmp ult i64 {e.op(f'sub i64 {n}, 257')}, {2 ** 30 - 257}")]
    both = ok[0]
    for c in ok[1:]:
        both = e.op(f"and i1 {both}, {c}")
    e.line(f"br i1 {both}, label %{fast}, label %{slow}")
    e.label(fast)
    e.line(f"store i32 {e.op(f'trunc i64 {n} to i32')}, ptr {e.op(f'getelementptr i8, ptr {item}, i64 {digit}')}")
    e.line(f"br label %{done}")
    e.label(slow)
    _plain_setitem(e, v)
    e.line(f"br label %{done}")
    e.label(done)


capi_op("obj_delitem", "PyObject_DelItem", 2, NONE, maker=status_call)


@op("build_slice", -1, OBJ, Exit.RAISED, pure=False, raises=True)              # start, stop[, step]
def _build_slice(e, v):
    """BUILD_SLICE: PySlice_New(start, stop, step or NULL) (numbers boxed for it)."""
    step = lambda ops: ops[2] if len(ops) > 2 else "null"  # noqa: E731
    r = generic(e, v, lambda ops: e.op(f"call ptr @PySlice_New(ptr {ops[0]}, ptr {ops[1]}, ptr {step(ops)})"))
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    e.alias(v, r)


@op("obj_getslice", 3, OBJ, Exit.RAISED, pure=False, raises=True, python=True)   # x, start, stop
def _getslice(e, v):
    """BINARY_SLICE: x[PySlice_New(start, stop)] through PyObject_GetItem."""
    def call(ops):
        """Make the slice, then index with it."""
        s = e.op(f"call ptr @PySlice_New(ptr {ops[1]}, ptr {ops[2]}, ptr null)")
        return maybe_null_call(e, s, lambda s: e.op(f"call ptr @PyObject_GetItem(ptr {ops[0]}, ptr {s})"))
    r = generic(e, v, call)
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    e.alias(v, r)


@op("obj_setslice", 4, NONE, Exit.RAISED, pure=False, raises=True, python=True)  # x, start, stop, v
def _setslice(e, v):
    """STORE_SLICE: x[PySlice_New(start, stop)] = value through PyObject_SetItem."""
    def call(ops):
        """Make the slice, then store with it (-1 for a failure either way)."""
        s = e.op(f"call ptr @PySlice_New(ptr {ops[1]}, ptr {ops[2]}, ptr null)")
        return maybe_null_call(e, s, lambda s: e.op(
            f"call i32 @PyObject_SetItem(ptr {ops[0]}, ptr {s}, ptr {ops[3]})"), "i32", "-1")
    r = generic(e, v, call)
    e.guard(e.op(f"icmp slt i32 {r}, 0"), v, with_exception=True, reason=v.spec.exit)
