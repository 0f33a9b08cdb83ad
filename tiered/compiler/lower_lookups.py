"""Compiler lowering of `k in d` and `d[k]` → LLVM IR lines (merged into LOWER): a subscript the
lookups pass paired with the test before it reuses the test's lookup when it can."""
from ..cpython import capi
from ..cpython import V
from .lower_capi import field, status_call, str_keys, type_of
from .lower_objects import subscript

_plain_contains = status_call("PySequence_Contains")


def _slots(e, test_id):
    """The stack slots (item, dict version) of one shared test, made at first use."""
    if test_id not in e.lookup_slots:
        e.lookup_slots[test_id] = (e.entry_alloca("ptr"), e.entry_alloca("i64"))
    return e.lookup_slots[test_id]


def _version(e, d):
    """The dict's version tag (a new one at every change)."""
    return field(e, d, capi.DICT_VERSION)


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


LOWER = {"obj_contains": _contains, "obj_getitem": _getitem, "obj_setitem": _setitem}
