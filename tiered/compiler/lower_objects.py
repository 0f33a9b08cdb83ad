"""Compiler lowering of object ops: one IR op on PyObject* values → LLVM IR lines (merged into LOWER).

Reference counts are changed inline, as CPython's own macros do (3.12: immortal objects are
left alone).  Every op here either cannot exit or exits before it changes any count.
"""
from ..runtime import capi
from .decode import IMMORTAL_OBJECTS
from .ops import BOOL, INT, NONE, is_obj
from .lower_ops import LL

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

_SKIP_IMMORTAL_DEC = """  %low = load i32, ptr %o
  %immortal = icmp slt i32 %low, 0
  br i1 %immortal, label %done, label %dec
dec:
""" if IMMORTAL_OBJECTS else """  br label %dec
dec:
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
{_SKIP_IMMORTAL_DEC}  %rc = load i64, ptr %o
  %rc1 = sub i64 %rc, 1
  store i64 %rc1, ptr %o
  %zero = icmp eq i64 %rc1, 0
  br i1 %zero, label %free, label %done, !prof !0
free:
  call void @_Py_Dealloc(ptr %o)
  br label %done
done:
  ret void
}}
"""


def _type_of(e, x):
    """Load an object's type pointer."""
    return e.op(f"load ptr, ptr {e.op(f'getelementptr i8, ptr {x}, i64 {capi.OB_TYPE}')}")


def _field(e, x, offset, ty="i64"):
    """Load a field at a byte offset of an object."""
    return e.op(f"load {ty}, ptr {e.op(f'getelementptr i8, ptr {x}, i64 {offset}')}")


def pointer(obj):
    """The LLVM operand for an object's address (the module or the runtime keeps it alive)."""
    return f"inttoptr (i64 {id(obj)} to ptr)"


def _guard_class(e, v):
    """Exit unless the object is exactly of the class; the value is then typed by it."""
    x = e.ref(v.args[0])
    e.guard(e.op(f"icmp ne ptr {_type_of(e, x)}, {pointer(v.attrs['cls'])}"), v)
    e.alias(v, x)


def _unbox_float(e, v):
    """Exit unless the object is exactly a float; its double."""
    x = e.ref(v.args[0])
    e.guard(e.op(f"icmp ne ptr {_type_of(e, x)}, @PyFloat_Type"), v)
    e.alias(v, _field(e, x, capi.OB_FVAL, "double"))


def _unbox_int(e, v):
    """Exit unless the object is exactly an int that fits in 64 bits; its value."""
    x = e.ref(v.args[0])
    e.guard(e.op(f"icmp ne ptr {_type_of(e, x)}, @PyLong_Type"), v)
    flag = e.entry_alloca("i32")
    e.line(f"store i32 0, ptr {flag}")
    r = e.op(f"call i64 @PyLong_AsLongLongAndOverflow(ptr {x}, ptr {flag})")
    e.guard(e.op(f"icmp ne i32 {e.op(f'load i32, ptr {flag}')}, 0"), v)
    e.alias(v, r)


def _box(e, v):
    """A number as a new object (exit with the MemoryError when that fails)."""
    x = v.args[0]
    r = e.op(f"call ptr @tiered_box_{x.type}({LL[x.type]} {e.ref(x) if x.type != NONE else 'false'})")
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    e.alias(v, r)


def _items(e, seq_value):
    """Pointer to the first item slot of a list or tuple value."""
    x = e.ref(seq_value)
    if seq_value.type.cls is tuple:
        return e.op(f"getelementptr i8, ptr {x}, i64 {capi.TUPLE_ITEMS}")
    return _field(e, x, capi.LIST_ITEMS, "ptr")


def _index(e, v, seq_value, index_value):
    """The checked slot pointer of seq[index] (a negative index counts from the end); exit
    when it is out of range, where CPython raises IndexError."""
    n = _field(e, e.ref(seq_value), capi.OB_SIZE)
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
        new = e.op(f"call ptr @tiered_box_{x.type}({LL[x.type]} {e.ref(x) if x.type != NONE else 'false'})")
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


def _capi_call(fn):
    """Lowering of a C-API call returning a new reference, NULL when it raised: exit with the
    exception pending, for the interpreter to raise at that instruction."""
    def lower(e, v):
        """Define v as fn(args..., attrs['name'] when given)."""
        e.force_point(v)
        args = [f"ptr {e.ref(a)}" for a in v.args]
        if "name" in v.attrs:
            e.m.keep(v.attrs["name"])
            args.append(f"ptr {pointer(v.attrs['name'])}")
        token = e.line_enter(v)
        r = e.op(f"call ptr @{fn}({', '.join(args)})")
        e.line_leave(token)
        e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
        e.alias(v, r)
    return lower


NUMBER_FUNCTIONS = {"+": "Add", "-": "Subtract", "*": "Multiply", "/": "TrueDivide", "//": "FloorDivide",
                    "%": "Remainder", "<<": "Lshift", ">>": "Rshift", "&": "And", "|": "Or", "^": "Xor",
                    "@": "MatrixMultiply", "**": "Power"}
RICH_COMPARE = {"<": 0, "<=": 1, "==": 2, "!=": 3, ">": 4, ">=": 5}


def _generic(e, v, call, force=True):
    """Call `call(operands)` on v's operands as objects (numbers boxed just for the call, and
    released right after it); its result (the caller checks it and exits on failure)."""
    if force:
        e.force_point(v)
    operands, temps = [], []
    for a in v.args:
        if is_obj(a.type):
            operands.append(e.ref(a))
        else:
            t = e.op(f"call ptr @tiered_box_{a.type}({LL[a.type]} {e.ref(a) if a.type != NONE else 'false'})")
            operands.append(t)
            temps.append(t)
    if temps:                 # a box failed: drop the others, exit with the MemoryError
        nulls = [e.op(f"icmp eq ptr {t}, null") for t in temps]
        bad = nulls[0] if len(nulls) == 1 else e.op(f"or i1 {nulls[0]}, {nulls[1]}")
        drop, go = e.tmp()[1:], e.tmp()[1:]
        e.line(f"br i1 {bad}, label %{drop}, label %{go}, !prof !0")
        e.label(drop)
        for t in temps:
            e.line(f"call void @tiered_discard(ptr {t})")
        e.guard("true", v, with_exception=True, reason=v.spec.exit)
        e.line(f"br label %{go}")
        e.label(go)
    token = e.line_enter(v)
    r = call(operands)
    e.line_leave(token)
    for t in temps:
        e.line(f"call void @tiered_decref(ptr {t})")
    return r


def _obj_binary(e, v):
    """x op y on objects: PyNumber_<Op> (InPlace for an augmented assignment)."""
    sym = v.attrs["sym"]
    fn = f"PyNumber_{'InPlace' if v.attrs['inplace'] else ''}{NUMBER_FUNCTIONS[sym]}"
    extra = ", ptr @_Py_NoneStruct" if sym == "**" else ""
    r = _generic(e, v, lambda ops: e.op(f"call ptr @{fn}(ptr {ops[0]}, ptr {ops[1]}{extra})"))
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    e.alias(v, r)


def _checked_call(e, v, call, ll):
    """Call a one-object C-API function returning `ll`, negative when it raised: exit with the
    exception then.  The result."""
    e.force_point(v)
    token = e.line_enter(v)
    r = e.op(f"call {ll} @{call}(ptr {e.ref(v.args[0])})")
    e.line_leave(token)
    e.guard(e.op(f"icmp slt {ll} {r}, 0"), v, with_exception=True, reason=v.spec.exit)
    return r


def _obj_len(e, v):
    """len() of any object: PyObject_Size."""
    e.alias(v, _checked_call(e, v, "PyObject_Size", "i64"))


def _join_slow_path(e, v, r, item, fast, done):
    """End a C-API slow path whose result is r (exit with its exception when NULL) and define v
    as the fast path's item or r."""
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    slow_end = e.cur
    e.line(f"br label %{done}")
    e.label(done)
    e.define(v, f"phi ptr [{item}, %{fast}], [{r}, %{slow_end}]")


def _getattr(e, v):
    """obj.name: where CPython had specialised the instruction, read the attribute as it does
    (the same type-version, inline-values or slot guards); anything else, and every guard
    miss, calls PyObject_GetAttr, which raises exactly as CPython does."""
    cache = v.attrs.get("cache")
    if cache is None or capi.ATTRIBUTES is None:
        return _capi_call("PyObject_GetAttr")(e, v)
    kind, version, index = cache
    tag_offset, values_kind, values_offset = capi.ATTRIBUTES
    e.force_point(v)
    x = e.ref(v.args[0])
    fast, slow, hit, done = (e.tmp()[1:] for _ in range(4))
    same = e.op(f"icmp eq i32 {_field(e, _type_of(e, x), tag_offset, 'i32')}, {version}")
    e.line(f"br i1 {same}, label %{fast}, label %{slow}")
    e.label(fast)
    if kind == "LOAD_ATTR_SLOT":
        slot = e.op(f"getelementptr i8, ptr {x}, i64 {index}")
    else:
        word = _field(e, x, values_offset)
        if values_kind == "tagged":          # the word is values - 1, tagged by its low bit
            have = e.op(f"icmp ne i64 {e.op(f'and i64 {word}, 1')}, 0")
            values = e.op(f"inttoptr i64 {e.op(f'add i64 {word}, 1')} to ptr")
        else:
            have = e.op(f"icmp ne i64 {word}, 0")
            values = e.op(f"inttoptr i64 {word} to ptr")
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
    _join_slow_path(e, v, r, item, hit, done)


def _obj_getitem(e, v):
    """obj[key] through PyObject_GetItem (a number key boxed for it); an int key into an exact
    list or tuple, in range, is read inline first."""
    seq, key = v.args
    if key.type not in (INT, BOOL):
        return _capi_call("PyObject_GetItem")(e, v)
    e.force_point(v)
    x = e.ref(seq)
    i = e.ref(key) if key.type == INT else e.op(f"zext i1 {e.ref(key)} to i64")
    ty = _type_of(e, x)
    is_list = e.op(f"icmp eq ptr {ty}, @PyList_Type")
    is_seq = e.op(f"or i1 {is_list}, {e.op(f'icmp eq ptr {ty}, @PyTuple_Type')}")
    check, fast, slow, done = (e.tmp()[1:] for _ in range(4))
    e.line(f"br i1 {is_seq}, label %{check}, label %{slow}")
    e.label(check)
    n = _field(e, x, capi.OB_SIZE)
    k = e.op(f"select i1 {e.op(f'icmp slt i64 {i}, 0')}, i64 {e.op(f'add i64 {i}, {n}')}, i64 {i}")
    e.line(f"br i1 {e.op(f'icmp ult i64 {k}, {n}')}, label %{fast}, label %{slow}")
    e.label(fast)
    items = e.op(f"select i1 {is_list}, ptr {_field(e, x, capi.LIST_ITEMS, 'ptr')}, "
                 f"ptr {e.op(f'getelementptr i8, ptr {x}, i64 {capi.TUPLE_ITEMS}')}")
    item = e.op(f"load ptr, ptr {e.op(f'getelementptr ptr, ptr {items}, i64 {k}')}")
    e.line(f"call void @tiered_incref(ptr {item})")
    e.line(f"br label %{done}")
    e.label(slow)
    r = _generic(e, v, lambda ops: e.op(f"call ptr @PyObject_GetItem(ptr {ops[0]}, ptr {ops[1]})"), force=False)
    _join_slow_path(e, v, r, item, fast, done)


def _iter_next(e, v):
    """The next item of an iterator object (a new reference), NULL when it is exhausted; exit
    with the exception when it raised."""
    e.force_point(v)
    token = e.line_enter(v)
    r = e.op(f"call ptr @PyIter_Next(ptr {e.ref(v.args[0])})")
    e.line_leave(token)
    failed = e.op(f"icmp ne ptr {e.op('call ptr @PyErr_Occurred()')}, null")
    e.guard(e.op(f"and i1 {e.op(f'icmp eq ptr {r}, null')}, {failed}"), v, with_exception=True,
            reason=v.spec.exit)
    e.alias(v, r)


def _obj_compare(e, v):
    """x cmp y on objects: PyObject_RichCompare."""
    op = RICH_COMPARE[v.attrs["sym"]]
    r = _generic(e, v, lambda ops: e.op(f"call ptr @PyObject_RichCompare(ptr {ops[0]}, ptr {ops[1]}, i32 {op})"))
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    e.alias(v, r)


def _obj_truth(e, v):
    """The truth of an object: PyObject_IsTrue."""
    e.define(v, f"icmp ne i32 {_checked_call(e, v, 'PyObject_IsTrue', 'i32')}, 0")


def _status_call(fn, name=False):
    """Lowering of a C-API call on objects (numbers boxed for it) returning an int status,
    -1 when it raised: exit with the exception.  `name`: pass attrs['name'] second."""
    def lower(e, v):
        """Call fn; define v as the status being 1 (for the calls that answer a question)."""
        if name:
            e.m.keep(v.attrs["name"])

        def call(ops):
            """The call itself, with the name spliced in."""
            if name:
                ops = [ops[0], pointer(v.attrs["name"])] + ops[1:]
            return e.op(f"call i32 @{fn}({', '.join(f'ptr {o}' for o in ops)})")
        r = _generic(e, v, call)
        e.guard(e.op(f"icmp slt i32 {r}, 0"), v, with_exception=True, reason=v.spec.exit)
        if v.type == BOOL:
            e.define(v, f"icmp ne i32 {r}, 0")
    return lower


def _obj_call(e, v):
    """callable(*args) through PyObject_Vectorcall: the arguments in a stack array (numbers
    boxed for the call)."""
    n = len(v.args) - 1
    argv = e.entry_alloca(f"[{max(n, 1)} x ptr]")

    def call(ops):
        """Store the arguments and call."""
        for k, o in enumerate(ops[1:]):
            e.line(f"store ptr {o}, ptr {e.op(f'getelementptr ptr, ptr {argv}, i64 {k}')}")
        return e.op(f"call ptr @PyObject_Vectorcall(ptr {ops[0]}, ptr {argv}, i64 {n}, ptr null)")
    r = _generic(e, v, call)
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    e.alias(v, r)


def _build_sequence(e, v):
    """A new list or tuple of the items: their references move into it (numbers are boxed
    first; when memory runs out nothing has moved, and the exit carries the MemoryError)."""
    e.force_point(v)
    boxed = []
    for a in v.args:
        if is_obj(a.type):
            boxed.append(e.ref(a))
            continue
        boxed.append(e.op(f"call ptr @tiered_box_{a.type}({LL[a.type]} {e.ref(a) if a.type != NONE else 'false'})"))
    new = "PyList_New" if v.type.cls is list else "PyTuple_New"
    seq = e.op(f"call ptr @{new}(i64 {len(v.args)})")
    failed = e.op(f"icmp eq ptr {seq}, null")
    for b, a in zip(boxed, v.args):
        if not is_obj(a.type):
            failed = e.op(f"or i1 {failed}, {e.op(f'icmp eq ptr {b}, null')}")
    drop, go = e.tmp()[1:], e.tmp()[1:]
    e.line(f"br i1 {failed}, label %{drop}, label %{go}, !prof !0")
    e.label(drop)
    for b, a in zip(boxed, v.args):
        if not is_obj(a.type):
            e.line(f"call void @tiered_discard(ptr {b})")
    e.line(f"call void @tiered_discard(ptr {seq})")
    e.guard("true", v, with_exception=True, reason=v.spec.exit)
    e.line(f"br label %{go}")
    e.label(go)
    items = (_field(e, seq, capi.LIST_ITEMS, "ptr") if v.type.cls is list
             else e.op(f"getelementptr i8, ptr {seq}, i64 {capi.TUPLE_ITEMS}"))
    for k, b in enumerate(boxed):
        e.line(f"store ptr {b}, ptr {e.op(f'getelementptr ptr, ptr {items}, i64 {k}')}")
    e.alias(v, seq)


def _build_map(e, v):
    """A new dict of the pairs (PyDict_SetItem takes its own references; numbers are boxed
    for it); a key that cannot be hashed, or no memory, drops the dict and exits with the
    exception."""
    e.force_point(v)
    fail = e.tmp()[1:]
    d = e.op("call ptr @PyDict_New()")
    nxt = e.tmp()[1:]
    e.line(f"br i1 {e.op(f'icmp eq ptr {d}, null')}, label %{fail}, label %{nxt}, !prof !0")
    e.label(nxt)
    for k in range(0, len(v.args), 2):
        ops, temps = [], []
        for a in v.args[k:k + 2]:
            if is_obj(a.type):
                ops.append(e.ref(a))
            else:
                t = e.op(f"call ptr @tiered_box_{a.type}({LL[a.type]} {e.ref(a) if a.type != NONE else 'false'})")
                ops.append(t)
                temps.append(t)
        ok = "true"
        for t in temps:
            ok = e.op(f"and i1 {ok}, {e.op(f'icmp ne ptr {t}, null')}")
        put, after = e.tmp()[1:], e.tmp()[1:]
        before = e.cur
        e.line(f"br i1 {ok}, label %{put}, label %{after}")
        e.label(put)
        token = e.line_enter(v)
        r = e.op(f"call i32 @PyDict_SetItem(ptr {d}, ptr {ops[0]}, ptr {ops[1]})")
        e.line_leave(token)
        put_end = e.cur
        e.line(f"br label %{after}")
        e.label(after)
        status = e.op(f"phi i32 [{r}, %{put_end}], [-1, %{before}]")
        for t in temps:
            e.line(f"call void @tiered_discard(ptr {t})")
        nxt = e.tmp()[1:]
        e.line(f"br i1 {e.op(f'icmp slt i32 {status}, 0')}, label %{fail}, label %{nxt}, !prof !0")
        e.label(nxt)
    done = e.tmp()[1:]
    e.line(f"br label %{done}")
    e.label(fail)
    e.line(f"call void @tiered_discard(ptr {d})")
    e.guard("true", v, with_exception=True, reason=v.spec.exit)
    e.line(f"br label %{done}")
    e.label(done)
    e.alias(v, d)


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
    "unbox_float": _unbox_float,
    "unbox_int": _unbox_int,
    "seq_len": lambda e, v: e.alias(v, _field(e, e.ref(v.args[0]), capi.OB_SIZE)),
    "seq_getitem": _seq_getitem,
    "seq_next": _seq_next,
    "release_unless": _release_unless,
    "list_setitem": _list_setitem,
    "getattr": _getattr,
    "obj_getitem": _obj_getitem,
    "obj_binary": _obj_binary,
    "obj_compare": _obj_compare,
    "obj_truth": _obj_truth,
    "obj_len": _obj_len,
    "obj_iter": _capi_call("PyObject_GetIter"),
    "iter_next": _iter_next,
    "is_null": lambda e, v: e.define(v, f"icmp eq ptr {e.ref(v.args[0])}, null"),
    "same_object": lambda e, v: e.define(v, f"icmp eq ptr {e.ref(v.args[0])}, {e.ref(v.args[1])}"),
    "obj_contains": _status_call("PySequence_Contains"),
    "obj_setattr": _status_call("PyObject_SetAttr", name=True),
    "obj_setitem": _status_call("PyObject_SetItem"),
    "obj_call": _obj_call,
    "build_list": _build_sequence,
    "build_tuple": _build_sequence,
    "build_map": _build_map,
}
