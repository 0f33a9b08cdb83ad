"""Compiler lowering of object ops: one IR op on PyObject* values → LLVM IR lines (merged into LOWER).

Reference counts are changed inline, as CPython's own macros do (3.12: immortal objects are
left alone).  Every op here either cannot exit or exits before it changes any count.
"""
from ..reasons import Exit
from ..runtime import capi
from .decode import IMMORTAL_OBJECTS
from .ops import BOOL, FLOAT, INT, is_obj
from .lower_capi import LOWER as _CAPI
from .lower_capi import box_call, capi_call, field, generic, join_slow_path, pointer, type_of

_SKIP_IMMORTAL_INC = """  %low = load i32, ptr %o
  %low1 = add i32 %low, 1
  %immortal = icmp eq i32 %low1, 0
  br i1 %immortal, label %done, label %inc
inc:
  store i32 %low1, ptr %o
  br label %done
""" if IMMORTAL_OBJECTS else """  %rc = load i64, ptr %o
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
""" if IMMORTAL_OBJECTS else """  br label %dec
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
"""


def _guard_class(e, v):
    """Exit unless the object is exactly of the class; the value is then typed by it."""
    x = e.ref(v.args[0])
    e.guard(e.op(f"icmp ne ptr {type_of(e, x)}, {pointer(v.attrs['cls'])}"), v)
    e.alias(v, x)


def _guard_method(e, v):
    """Exit unless a method of the class is what CPython's method load would find: the object
    is exactly of the class (compared through a weak reference: once the class died nothing
    matches), the class has its version, the object keeps its attributes inline (no __dict__
    of its own) and the class's shared keys have their version (no attribute of that name)."""
    x = e.ref(v.args[0])
    ref = v.attrs["cls"]
    e.m.keep(ref)
    ty = type_of(e, x)
    cls = e.op(f"load ptr, ptr getelementptr (i8, ptr {pointer(ref)}, i64 {capi.WEAKREF_OBJECT})")
    e.guard(e.op(f"icmp ne ptr {ty}, {cls}"), v)
    e.guard(e.op(f"icmp ne i32 {field(e, ty, capi.ATTRIBUTES[0], 'i32')}, {v.attrs['version']}"), v)
    keys = field(e, ty, capi.CACHED_KEYS, "ptr")
    e.guard(e.op(f"icmp eq ptr {keys}, null"), v)
    e.guard(e.op(f"icmp ne i32 {field(e, keys, capi.DK_VERSION, 'i32')}, {v.attrs['keys']}"), v)
    e.guard(e.op(f"xor i1 {_has_inline_values(e, x)[0]}, true"), v)
    e.alias(v, x)


def _has_inline_values(e, x):
    """Whether an instance keeps its attributes inline (i1), and the pointer to them."""
    _, values_kind, values_offset = capi.ATTRIBUTES
    word = field(e, x, values_offset)
    if values_kind == "tagged":          # the word is values - 1, tagged by its low bit
        return (e.op(f"icmp ne i64 {e.op(f'and i64 {word}, 1')}, 0"),
                e.op(f"inttoptr i64 {e.op(f'add i64 {word}, 1')} to ptr"))
    return e.op(f"icmp ne i64 {word}, 0"), e.op(f"inttoptr i64 {word} to ptr")


def _unbox_float(e, v):
    """Exit unless the object is exactly a float; its double."""
    x = e.ref(v.args[0])
    e.guard(e.op(f"icmp ne ptr {type_of(e, x)}, @PyFloat_Type"), v)
    e.alias(v, field(e, x, capi.OB_FVAL, "double"))


def _unbox_int(e, v):
    """Exit unless the object is exactly an int that fits in 64 bits; its value."""
    x = e.ref(v.args[0])
    e.guard(e.op(f"icmp ne ptr {type_of(e, x)}, @PyLong_Type"), v)
    flag = e.entry_alloca("i32")
    e.line(f"store i32 0, ptr {flag}")
    r = e.op(f"call i64 @PyLong_AsLongLongAndOverflow(ptr {x}, ptr {flag})")
    e.guard(e.op(f"icmp ne i32 {e.op(f'load i32, ptr {flag}')}, 0"), v)
    e.alias(v, r)


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
    slot = _index(e, v, v.args[0], v.args[1])
    x = v.args[2]
    if is_obj(x.type):
        new = e.ref(x)
        e.line(f"call void @tiered_incref(ptr {new})")
    else:
        new = box_call(e, x)
        e.guard(e.op(f"icmp eq ptr {new}, null"), v, with_exception=True, reason=v.spec.exit)
    old = e.op(f"load ptr, ptr {slot}")
    e.line(f"store ptr {new}, ptr {slot}")
    e.line(f"call void @tiered_decref(ptr {old})")


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


def _release_unless(e, v):
    """Drop the object's reference when the condition is false."""
    x, cond = v.args
    drop, done = e.tmp()[1:], e.tmp()[1:]
    e.line(f"br i1 {e.ref(cond)}, label %{done}, label %{drop}")
    e.label(drop)
    e.line(f"call void @tiered_decref(ptr {e.ref(x)})")
    e.line(f"br label %{done}")
    e.label(done)


def _getattr(e, v):
    """obj.name: where CPython had specialised the instruction, read the attribute as it does
    (the same type-version, inline-values or slot guards); anything else, and every guard
    miss, calls PyObject_GetAttr, which raises exactly as CPython does."""
    cache = v.attrs.get("cache")
    if cache is None or capi.ATTRIBUTES is None:
        return capi_call("PyObject_GetAttr")(e, v)
    kind, version, index = cache
    if e.fn.attrs.get("frameless"):
        return _getattr_frameless(e, v, kind, version, index)
    e.force_point(v)
    x = e.ref(v.args[0])
    fast, slow, hit, done = (e.tmp()[1:] for _ in range(4))
    same = e.op(f"icmp eq i32 {field(e, type_of(e, x), capi.ATTRIBUTES[0], 'i32')}, {version}")
    e.line(f"br i1 {same}, label %{fast}, label %{slow}")
    e.label(fast)
    if kind.endswith("_SLOT"):
        slot = e.op(f"getelementptr i8, ptr {x}, i64 {index}")
    else:
        have, values = _has_inline_values(e, x)
        inline = e.tmp()[1:]
        e.line(f"br i1 {have}, label %{inline}, label %{slow}")
        e.label(inline)
        slot = e.op(f"getelementptr ptr, ptr {values}, i64 {index}")
    item = e.op(f"load ptr, ptr {slot}")
    e.line(f"br i1 {e.op(f'icmp ne ptr {item}, null')}, label %{hit}, label %{slow}")
    e.label(hit)
    e.line(f"call void @tiered_incref(ptr {item})")
    e.line(f"br label %{done}")
    e.label(slow)
    e.m.keep(v.attrs["name"])
    token = e.line_enter(v)
    r = e.op(f"call ptr @PyObject_GetAttr(ptr {x}, ptr {pointer(v.attrs['name'])})")
    e.line_leave(token)
    join_slow_path(e, v, r, item, hit, done)


def _getattr_frameless(e, v, kind, version, index):
    """obj.name in a frameless specialisation: CPython's specialised read, and an exit (no
    lookup that could run Python code) wherever it would miss."""
    x = e.ref(v.args[0])
    miss = Exit.TYPE_GUARD
    e.guard(e.op(f"icmp ne i32 {field(e, type_of(e, x), capi.ATTRIBUTES[0], 'i32')}, {version}"), v, reason=miss)
    if kind.endswith("_SLOT"):
        slot = e.op(f"getelementptr i8, ptr {x}, i64 {index}")
    else:
        have, values = _has_inline_values(e, x)
        e.guard(e.op(f"xor i1 {have}, true"), v, reason=miss)
        slot = e.op(f"getelementptr ptr, ptr {values}, i64 {index}")
    item = e.op(f"load ptr, ptr {slot}")
    e.guard(e.op(f"icmp eq ptr {item}, null"), v, reason=miss)
    e.line(f"call void @tiered_incref(ptr {item})")
    e.alias(v, item)


_SETATTR = _CAPI["obj_setattr"]       # the generic store


def _reuse_float(e, v, owner, version, index):
    """Before a float is boxed for a store: when the attribute holds an exact float that nothing
    else references (count 1), write the new value into it and skip the store (as CPython's
    BINARY_OP_ADD_FLOAT reuses an operand it owns alone: nobody can see the difference); the
    code after this continues with the ordinary store otherwise.  The label where the reused
    case joins the ordinary store's end."""
    check, inline, same_float, reuse, go = (e.tmp()[1:] for _ in range(5))
    same = e.op(f"icmp eq i32 {field(e, type_of(e, owner), capi.ATTRIBUTES[0], 'i32')}, {version}")
    e.line(f"br i1 {same}, label %{check}, label %{go}")
    e.label(check)
    have, values = _has_inline_values(e, owner)
    e.line(f"br i1 {have}, label %{inline}, label %{go}")
    e.label(inline)
    old = e.op(f"load ptr, ptr {e.op(f'getelementptr ptr, ptr {values}, i64 {index}')}")
    e.line(f"br i1 {e.op(f'icmp ne ptr {old}, null')}, label %{same_float}, label %{go}")
    e.label(same_float)
    count = field(e, old, 0, "i32" if IMMORTAL_OBJECTS else "i64")
    alone = e.op(f"icmp eq {'i32' if IMMORTAL_OBJECTS else 'i64'} {count}, 1")
    is_float = e.op(f"icmp eq ptr {type_of(e, old)}, @PyFloat_Type")
    e.line(f"br i1 {e.op(f'and i1 {alone}, {is_float}')}, label %{reuse}, label %{go}")
    e.label(reuse)
    e.line(f"store double {e.ref(v.args[1])}, ptr {e.op(f'getelementptr i8, ptr {old}, i64 {capi.OB_FVAL}')}")
    after = e.tmp()[1:]
    e.line(f"br label %{after}")
    e.label(go)
    return after


def _setattr(e, v):
    """obj.name = value: where CPython had specialised the instruction, store it as it does
    (the same type-version and inline-values or slot checks; the old value is released after
    the store); an attribute not yet set, anything else and every miss calls PyObject_SetAttr,
    which raises exactly as CPython does."""
    cache = v.attrs.get("cache")
    if cache is None or capi.ATTRIBUTES is None:
        return _SETATTR(e, v)
    kind, version, index = cache
    e.force_point(v)
    owner, x = e.ref(v.args[0]), v.args[1]
    after = _reuse_float(e, v, owner, version, index) if x.type == FLOAT and not kind.endswith("_SLOT") else None
    if is_obj(x.type):                      # the reference the attribute will own
        new = e.ref(x)
        e.line(f"call void @tiered_incref(ptr {new})")
    else:
        new = box_call(e, x)
        e.guard(e.op(f"icmp eq ptr {new}, null"), v, with_exception=True, reason=v.spec.exit)
    fast, slow, done = (e.tmp()[1:] for _ in range(3))
    same = e.op(f"icmp eq i32 {field(e, type_of(e, owner), capi.ATTRIBUTES[0], 'i32')}, {version}")
    e.line(f"br i1 {same}, label %{fast}, label %{slow}")
    e.label(fast)
    if kind.endswith("_SLOT"):
        slot = e.op(f"getelementptr i8, ptr {owner}, i64 {index}")
        old = e.op(f"load ptr, ptr {slot}")
        e.line(f"store ptr {new}, ptr {slot}")
        e.line(f"call void @tiered_xrelease(ptr {old})")
    else:
        have, values = _has_inline_values(e, owner)
        inline, store = e.tmp()[1:], e.tmp()[1:]
        e.line(f"br i1 {have}, label %{inline}, label %{slow}")
        e.label(inline)
        slot = e.op(f"getelementptr ptr, ptr {values}, i64 {index}")
        old = e.op(f"load ptr, ptr {slot}")
        # not set yet: CPython also records the insertion order then; PyObject_SetAttr does that
        e.line(f"br i1 {e.op(f'icmp eq ptr {old}, null')}, label %{slow}, label %{store}")
        e.label(store)
        e.line(f"store ptr {new}, ptr {slot}")
        e.line(f"call void @tiered_decref(ptr {old})")
    e.line(f"br label %{done}")
    e.label(slow)
    e.m.keep(v.attrs["name"])
    token = e.line_enter(v)
    r = e.op(f"call i32 @PyObject_SetAttr(ptr {owner}, ptr {pointer(v.attrs['name'])}, ptr {new})")
    e.line_leave(token)
    e.line(f"call void @tiered_discard(ptr {new})")      # an exception may be pending
    e.guard(e.op(f"icmp slt i32 {r}, 0"), v, with_exception=True, reason=v.spec.exit)
    e.line(f"br label %{done}")
    e.label(done)
    if after:
        e.line(f"br label %{after}")
        e.label(after)


def _obj_getitem(e, v):
    """obj[key] through PyObject_GetItem (a number key boxed for it); an int key into an exact
    list or tuple, in range, is read inline first."""
    seq, key = v.args
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


def _list_append(e, v):
    """list.append(item) on an exact list: PyList_Append (it takes its own reference; a number
    is boxed for it and released after); -1 is a MemoryError, left with the exception."""
    r = generic(e, v, lambda ops: e.op(f"call i32 @PyList_Append(ptr {ops[0]}, ptr {ops[1]})"))
    e.guard(e.op(f"icmp slt i32 {r}, 0"), v, with_exception=True, reason=v.spec.exit)


def _isinstance(e, v):
    """isinstance(x, cls): true at once when x's type is exactly cls (CPython's own first
    test), else PyObject_IsInstance (-1: it raised, exit with the exception)."""
    x, cls = (e.ref(a) for a in v.args)
    if e.fn.attrs.get("frameless"):        # no __instancecheck__ may run: anything else exits
        e.guard(e.op(f"icmp ne ptr {type_of(e, x)}, {cls}"), v, reason=Exit.TYPE_GUARD)
        return e.alias(v, "true")
    e.force_point(v)
    exact = e.op(f"icmp eq ptr {type_of(e, x)}, {cls}")
    fast, slow, done = e.cur, e.tmp()[1:], e.tmp()[1:]
    e.line(f"br i1 {exact}, label %{done}, label %{slow}")
    e.label(slow)
    token = e.line_enter(v)
    r = e.op(f"call i32 @PyObject_IsInstance(ptr {x}, ptr {cls})")
    e.line_leave(token)
    e.guard(e.op(f"icmp slt i32 {r}, 0"), v, with_exception=True, reason=v.spec.exit)
    answer, slow_end = e.op(f"icmp ne i32 {r}, 0"), e.cur
    e.line(f"br label %{done}")
    e.label(done)
    e.define(v, f"phi i1 [true, %{fast}], [{answer}, %{slow_end}]")


def _obj_const(e, v):
    """An object the module keeps alive, by its address."""
    e.m.keep(v.attrs["value"])
    e.alias(v, pointer(v.attrs["value"]))


LOWER = {
    "obj_const": _obj_const,
    "incref": lambda e, v: e.line(f"call void @tiered_incref(ptr {e.ref(v.args[0])})"),
    "decref": lambda e, v: e.line(f"call void @tiered_decref(ptr {e.ref(v.args[0])})"),
    "xdecref": lambda e, v: e.line(f"call void @tiered_xrelease(ptr {e.ref(v.args[0])})"),
    "box": _box,
    "guard_class": _guard_class,
    "guard_method": _guard_method,
    "unbox_float": _unbox_float,
    "unbox_int": _unbox_int,
    "seq_len": lambda e, v: e.alias(v, field(e, e.ref(v.args[0]), capi.OB_SIZE)),
    "seq_getitem": _seq_getitem,
    "seq_next": _seq_next,
    "release_unless": _release_unless,
    "list_setitem": _list_setitem,
    "getattr": _getattr,
    "obj_setattr": _setattr,
    "obj_getitem": _obj_getitem,
    "obj_isinstance": _isinstance,
    "list_append": _list_append,
    "is_null": lambda e, v: e.define(v, f"icmp eq ptr {e.ref(v.args[0])}, null"),
    "same_object": lambda e, v: e.define(v, f"icmp eq ptr {e.ref(v.args[0])}, {e.ref(v.args[1])}"),
}
