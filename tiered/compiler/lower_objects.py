"""Compiler lowering of object ops: one IR op on PyObject* values → LLVM IR lines (merged into LOWER).

Reference counts are changed inline, as CPython's own macros do (3.12: immortal objects are
left alone).  Every op here either cannot exit or exits before it changes any count.
"""
from ..reasons import Exit
from ..cpython import capi
from ..cpython import V
from .ops import BOOL, FLOAT, INT, PLAIN_INSTANCES, is_obj
from .lower_capi import box_call, capi_call, fail, field, generic, join_slow_path, pointer, str_keys, type_of

_SKIP_IMMORTAL_INC = """  %low = load i32, ptr %o
  %low1 = add i32 %low, 1
  %immortal = icmp eq i32 %low1, 0
  br i1 %immortal, label %done, label %inc
inc:
  store i32 %low1, ptr %o
  br label %done
""" if V.IMMORTAL_OBJECTS else """  %rc = load i64, ptr %o
  %rc1 = add i64 %rc, 1
  store i64 %rc1, ptr %o
  br label %done
"""


# 3.12: a mortal object's count lives in the low 32 bits (an increment that would reach bit 31
# makes it immortal, and only the low half is ever written by Py_INCREF), so the decrement is
# done on those 32 bits too: a 64-bit read right after a 32-bit write of the same count would
# stall the store forwarding on every incref/decref pair
_DEC = """  %low = load i32, ptr %o
  %immortal = icmp slt i32 %low, 0
  br i1 %immortal, label %done, label %dec
dec:
  %rc1 = sub i32 %low, 1
  store i32 %rc1, ptr %o
  %zero = icmp eq i32 %rc1, 0
""" if V.IMMORTAL_OBJECTS else """  br label %dec
dec:
  %rc = load i64, ptr %o
  %rc1 = sub i64 %rc, 1
  store i64 %rc1, ptr %o
  %zero = icmp eq i64 %rc1, 0
"""


PRELUDE = f"""
define internal void @tiered_xrelease(ptr %o) alwaysinline {{
entry:
  %null = icmp eq ptr %o, null
  br i1 %null, label %done, label %dec
dec:
  call void @tiered_decref(ptr %o)
  br label %done
done:
  ret void
}}

define internal void @tiered_incref(ptr %o) alwaysinline {{
entry:
{_SKIP_IMMORTAL_INC}done:
  ret void
}}

define internal void @tiered_decref(ptr %o) alwaysinline {{
entry:
{_DEC}  br i1 %zero, label %free, label %done, !prof !0
free:
  call void @_Py_Dealloc(ptr %o)
  br label %done
done:
  ret void
}}

define internal void @tiered_decref_at(ptr %o, ptr %site) alwaysinline {{
entry:
{_DEC}  br i1 %zero, label %free, label %done, !prof !0
free:
  call void @tiered_dealloc_at(ptr %o, ptr %site)
  br label %done
done:
  ret void
}}

define internal void @tiered_dealloc_at(ptr %o, ptr %site) cold noinline {{
entry:
  ; a destructor may run Python code that reads the running frame's line (inspect.stack()):
  ; point the frame at the instruction that let the object go, as CPython's frame would be
  %slot = call ptr @tiered_frame_slot()
  %addr = load i64, ptr %site
  %has = icmp ne ptr %slot, null
  %set = icmp ne i64 %addr, 0
  %ok = and i1 %has, %set
  br i1 %ok, label %point, label %plain
point:
  %saved = load ptr, ptr %slot
  %at = inttoptr i64 %addr to ptr
  store ptr %at, ptr %slot
  call void @_Py_Dealloc(ptr %o)
  store ptr %saved, ptr %slot
  ret void
plain:
  call void @_Py_Dealloc(ptr %o)
  ret void
}}
"""


def _guard_class(e, v):
    """Exit unless the object is exactly of the class; the value is then typed by it."""
    x = e.ref(v.args[0])
    e.guard(e.op(f"icmp ne ptr {type_of(e, x)}, {pointer(v.attrs['cls'])}"), v)
    e.alias(v, x)


_NUMBER_CLASS = {INT: "@PyLong_Type", FLOAT: "@PyFloat_Type", BOOL: "@PyBool_Type"}


def unbox(e, v, x, t, reason=None):
    """The number of type t in object x; exit (at v, for `reason`) unless x is exactly of its
    class and, for an int, fits in 64 bits."""
    e.guard(e.op(f"icmp ne ptr {type_of(e, x)}, {_NUMBER_CLASS[t]}"), v, reason=reason)
    if t == FLOAT:
        return field(e, x, capi.OB_FVAL, "double")
    if t == BOOL:
        return e.op(f"icmp eq ptr {x}, @_Py_TrueStruct")
    flag = e.entry_alloca("i32")
    e.line(f"store i32 0, ptr {flag}")
    r = e.op(f"call i64 @PyLong_AsLongLongAndOverflow(ptr {x}, ptr {flag})")
    e.guard(e.op(f"icmp ne i32 {e.op(f'load i32, ptr {flag}')}, 0"), v, reason=reason)
    return r


def _box(e, v):
    """A number as a new object (exit with the MemoryError when that fails)."""
    x = v.args[0]
    r = box_call(e, x)
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    e.alias(v, r)


def _items(e, seq_value):
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
    return e.op(f"getelementptr ptr, ptr {_items(e, seq_value)}, i64 {k}")


def _seq_getitem(e, v):
    """list/tuple[int]: a new reference to the item."""
    slot = _index(e, v, v.args[0], v.args[1])
    item = e.op(f"load ptr, ptr {slot}")
    e.line(f"call void @tiered_incref(ptr {item})")
    e.alias(v, item)


def _list_setitem(e, v):
    """list[int] = value: the list takes a new reference (a number is boxed), the old item
    is released after the store, as list_ass_item does."""
    store_new(e, v, _index(e, v, v.args[0], v.args[1]), v.args[2])


def store_new(e, v, slot, x, maybe_null=False):
    """Store a new reference to x (a number boxed: exit with the MemoryError when that fails)
    into slot, then release what the slot held (NULL allowed when maybe_null)."""
    if is_obj(x.type):
        new = e.ref(x)
        e.line(f"call void @tiered_incref(ptr {new})")
    else:
        new = box_call(e, x)
        e.guard(e.op(f"icmp eq ptr {new}, null"), v, with_exception=True, reason=v.spec.exit)
    old = e.op(f"load ptr, ptr {slot}")
    e.line(f"store ptr {new}, ptr {slot}")
    release(e, v, old, maybe_null=maybe_null)


def _seq_next(e, v):
    """seq[index] as a new reference when `more`, else NULL (the loop is done)."""
    seq, index, more = v.args
    load, done = e.tmp()[1:], e.tmp()[1:]
    before = e.cur
    e.line(f"br i1 {e.ref(more)}, label %{load}, label %{done}")
    e.label(load)
    item = e.op(f"load ptr, ptr {e.op(f'getelementptr ptr, ptr {_items(e, seq)}, i64 {e.ref(index)}')}")
    e.line(f"call void @tiered_incref(ptr {item})")
    e.line(f"br label %{done}")
    e.label(done)
    e.define(v, f"phi ptr [{item}, %{load}], [null, %{before}]")


def release(e, v, x, maybe_null=False):
    """Drop a reference to x (NULL allowed when maybe_null).  A destructor that runs sees the
    frame at v's instruction (attrs `at`, else its exit state's), except in a frameless
    specialisation, which may run inside another function's frame."""
    at = v.attrs.get("at", v.state.offset if v.state is not None else None)
    if at is None or capi.FRAMES is None or e.fn.attrs.get("frameless"):
        return e.line(f"call void @{'tiered_xrelease' if maybe_null else 'tiered_decref'}(ptr {x})")
    site = e.m.line_site(at)
    if not maybe_null:
        return e.line(f"call void @tiered_decref_at(ptr {x}, ptr {site})")
    drop, done = e.tmp()[1:], e.tmp()[1:]
    e.line(f"br i1 {e.op(f'icmp eq ptr {x}, null')}, label %{done}, label %{drop}")
    e.label(drop)
    e.line(f"call void @tiered_decref_at(ptr {x}, ptr {site})")
    e.line(f"br label %{done}")
    e.label(done)


def _release_unless(e, v):
    """Drop the object's reference when the condition is false."""
    x, cond = v.args
    drop, done = e.tmp()[1:], e.tmp()[1:]
    e.line(f"br i1 {e.ref(cond)}, label %{done}, label %{drop}")
    e.label(drop)
    release(e, v, e.ref(x))
    e.line(f"br label %{done}")
    e.label(done)


def subscript(e, v):
    """obj[key] through PyObject_GetItem (a number key boxed for it); an int key into an exact
    list or tuple, in range, is read inline first."""
    seq, key = v.args
    if v.attrs.get("frameless") and e.fn.attrs.get("frameless") and capi.DICT_KEYS is not None:
        return _dict_getitem_frameless(e, v)
    if key.type not in (INT, BOOL):
        return capi_call("PyObject_GetItem")(e, v)
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


def _list_append(e, v):
    """list.append(item) on an exact list: PyList_Append (it takes its own reference; a number
    is boxed for it and released after); -1 is a MemoryError, left with the exception."""
    r = generic(e, v, lambda ops: e.op(f"call i32 @PyList_Append(ptr {ops[0]}, ptr {ops[1]})"))
    e.guard(e.op(f"icmp slt i32 {r}, 0"), v, with_exception=True, reason=v.spec.exit)



def _isinstance(e, v):
    """isinstance(x, cls): true at once when x's type is exactly cls (CPython's own first
    test); for a plain class (no metaclass) and an object of a builtin class, the subtype
    test of its type; else PyObject_IsInstance (-1: it raised, exit with the exception).  In
    a frameless specialisation nothing that may run Python code is called: anything else exits."""
    x, cls = (e.ref(a) for a in v.args)
    frameless = e.fn.attrs.get("frameless")
    if not frameless:
        e.force_point(v)
    ty = type_of(e, x)
    exact = e.op(f"icmp eq ptr {ty}, {cls}")
    fast, done = e.cur, e.tmp()[1:]
    answers = [("true", fast)]
    if v.attrs.get("plain"):
        subtype, other = e.tmp()[1:], e.tmp()[1:]
        known = e.op(f"icmp eq ptr {ty}, {pointer(PLAIN_INSTANCES[0])}")
        for c in PLAIN_INSTANCES[1:]:
            known = e.op(f"or i1 {known}, {e.op(f'icmp eq ptr {ty}, {pointer(c)}')}")
        checked = e.tmp()[1:]
        e.line(f"br i1 {exact}, label %{done}, label %{checked}")
        e.label(checked)
        e.line(f"br i1 {known}, label %{subtype}, label %{other}")
        e.label(subtype)
        r = e.op(f"call i32 @PyType_IsSubtype(ptr {ty}, ptr {cls})")
        answers.append((e.op(f"icmp ne i32 {r}, 0"), e.cur))
        e.line(f"br label %{done}")
        e.label(other)
    else:
        slow = e.tmp()[1:]
        e.line(f"br i1 {exact}, label %{done}, label %{slow}")
        e.label(slow)
    if frameless:                   # no __instancecheck__ or __class__ may run here: exit
        e.guard("true", v, reason=Exit.TYPE_GUARD)
        e.line("unreachable")
    else:
        token = e.line_enter(v)
        r = e.op(f"call i32 @PyObject_IsInstance(ptr {x}, ptr {cls})")
        e.line_leave(token)
        e.guard(e.op(f"icmp slt i32 {r}, 0"), v, with_exception=True, reason=v.spec.exit)
        answers.append((e.op(f"icmp ne i32 {r}, 0"), e.cur))
        e.line(f"br label %{done}")
    e.label(done)
    e.define(v, "phi i1 " + ", ".join(f"[{a}, %{b}]" for a, b in answers))


def _obj_const(e, v):
    """An object the module keeps alive, by its address."""
    e.m.keep(v.attrs["value"])
    e.alias(v, pointer(v.attrs["value"]))


LOWER = {
    "obj_const": _obj_const,
    "incref": lambda e, v: e.line(f"call void @tiered_incref(ptr {e.ref(v.args[0])})"),
    "decref": lambda e, v: (release(e, v, e.ref(v.args[0])) if "borrowed" not in v.attrs
                            else release(e, v, e.op(f"load ptr, ptr {e.borrow_slots[v.attrs['borrowed']]}"),
                                         maybe_null=True)),
    "xdecref": lambda e, v: release(e, v, e.ref(v.args[0]), maybe_null=True),
    "box": _box,
    "guard_class": _guard_class,
    "unbox_float": lambda e, v: e.alias(v, unbox(e, v, e.ref(v.args[0]), FLOAT)),
    "unbox_int": lambda e, v: e.alias(v, unbox(e, v, e.ref(v.args[0]), INT)),
    "seq_len": lambda e, v: e.alias(v, field(e, e.ref(v.args[0]), capi.OB_SIZE)),
    "seq_getitem": _seq_getitem,
    "seq_next": _seq_next,
    "release_unless": _release_unless,
    "list_setitem": _list_setitem,
    "obj_isinstance": _isinstance,
    "list_append": _list_append,
    "is_null": lambda e, v: e.define(v, f"icmp eq ptr {e.ref(v.args[0])}, null"),
    "same_object": lambda e, v: e.define(v, f"icmp eq ptr {e.ref(v.args[0])}, {e.ref(v.args[1])}"),
}
