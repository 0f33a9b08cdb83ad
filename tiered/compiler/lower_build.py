"""Compiler lowering of objects built or entered: f-strings, slices, lists, tuples, dicts and sets
built, list extension, with statements → LLVM IR lines calling the C-API (merged into LOWER); a
failure exits with its exception, for the interpreter to raise at that instruction."""
from ..reasons import Exit
from ..cpython import capi
from .lower_capi import box_call, boxed_operands, capi_call, field, generic, pointer, str_keys, type_of
from .ops import is_obj


def _maybe_null_call(e, first, then, ty="ptr", failed="null"):
    """then(first) unless first is NULL (then `failed`, with first's exception pending); first
    is released after."""
    go, skip, done = e.tmp()[1:], e.cur, e.tmp()[1:]
    e.line(f"br i1 {e.op(f'icmp eq ptr {first}, null')}, label %{done}, label %{go}")
    e.label(go)
    r = then(first)
    e.line(f"call void @tiered_decref(ptr {first})")
    end = e.cur
    e.line(f"br label %{done}")
    e.label(done)
    return e.op(f"phi {ty} [{failed}, %{skip}], [{r}, %{end}]")


def _format(e, v):
    """FORMAT_VALUE: str()/repr()/ascii() of x when asked, then PyObject_Format with the spec
    or none (an exact str without a spec comes back as itself, as in the interpreter)."""
    conv = v.attrs["conv"]

    def call(ops):
        """The conversion, then the format."""
        spec = ops[1] if len(ops) > 1 else "null"
        fmt = lambda x: e.op(f"call ptr @PyObject_Format(ptr {x}, ptr {spec})")  # noqa: E731
        if conv is None:
            return fmt(ops[0])
        return _maybe_null_call(e, e.op(f"call ptr @{conv}(ptr {ops[0]})"), fmt)
    r = generic(e, v, call)
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    e.alias(v, r)


def _build_string(e, v):
    """BUILD_STRING: the parts (exact str) joined by PyUnicode_Join over a new tuple of them."""
    e.force_point(v)
    e.m.keep("")
    parts = [e.ref(a) for a in v.args]
    t = e.op(f"call ptr @PyTuple_New(i64 {len(parts)})")

    def join(t):
        """Fill the tuple with new references and join."""
        items = e.op(f"getelementptr i8, ptr {t}, i64 {capi.TUPLE_ITEMS}")
        for k, p in enumerate(parts):
            e.line(f"call void @tiered_incref(ptr {p})")
            e.line(f"store ptr {p}, ptr {e.op(f'getelementptr ptr, ptr {items}, i64 {k}')}")
        return e.op(f"call ptr @PyUnicode_Join(ptr {pointer('')}, ptr {t})")
    r = _maybe_null_call(e, t, join)
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    e.alias(v, r)


def _build_slice(e, v):
    """BUILD_SLICE: PySlice_New(start, stop, step or NULL) (numbers boxed for it)."""
    step = lambda ops: ops[2] if len(ops) > 2 else "null"  # noqa: E731
    r = generic(e, v, lambda ops: e.op(f"call ptr @PySlice_New(ptr {ops[0]}, ptr {ops[1]}, ptr {step(ops)})"))
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    e.alias(v, r)


def _getslice(e, v):
    """BINARY_SLICE: x[PySlice_New(start, stop)] through PyObject_GetItem."""
    def call(ops):
        """Make the slice, then index with it."""
        s = e.op(f"call ptr @PySlice_New(ptr {ops[1]}, ptr {ops[2]}, ptr null)")
        return _maybe_null_call(e, s, lambda s: e.op(f"call ptr @PyObject_GetItem(ptr {ops[0]}, ptr {s})"))
    r = generic(e, v, call)
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    e.alias(v, r)


def _setslice(e, v):
    """STORE_SLICE: x[PySlice_New(start, stop)] = value through PyObject_SetItem."""
    def call(ops):
        """Make the slice, then store with it (-1 for a failure either way)."""
        s = e.op(f"call ptr @PySlice_New(ptr {ops[1]}, ptr {ops[2]}, ptr null)")
        return _maybe_null_call(e, s, lambda s: e.op(
            f"call i32 @PyObject_SetItem(ptr {ops[0]}, ptr {s}, ptr {ops[3]})"), "i32", "-1")
    r = generic(e, v, call)
    e.guard(e.op(f"icmp slt i32 {r}, 0"), v, with_exception=True, reason=v.spec.exit)


def _list_extend(e, v):
    """LIST_EXTEND of a list or tuple: PyList_SetSlice at the end (-1: no memory)."""
    target, items = (e.ref(a) for a in v.args)
    e.force_point(v)
    end = "9223372036854775807"
    r = e.op(f"call i32 @PyList_SetSlice(ptr {target}, i64 {end}, i64 {end}, ptr {items})")
    e.guard(e.op(f"icmp slt i32 {r}, 0"), v, with_exception=True, reason=v.spec.exit)


_NO_EXIT = "'%.200s' object does not support the context manager protocol (missed __exit__ method)"


def _before_with(e, v):
    """BEFORE_WITH as CPython runs it: __enter__ and __exit__ bound from the manager's class,
    then __enter__() called (its result kept for with_entered); v is the bound __exit__.  A
    class without either exits before anything ran, for the interpreter to raise its TypeError;
    any later failure exits with its exception, what was bound released first."""
    e.force_point(v)
    mgr = e.ref(v.args[0])
    e.m.keep("__enter__", "__exit__")
    names = {n: pointer(n) for n in ("__enter__", "__exit__")}
    ty = type_of(e, mgr)
    for name in names.values():
        e.guard(e.op(f"icmp eq ptr {e.op(f'call ptr @_PyType_Lookup(ptr {ty}, ptr {name})')}, null"), v,
                reason=Exit.TYPE_GUARD)
    token = e.line_enter(v)
    enter = e.op(f"call ptr @_PyObject_LookupSpecial(ptr {mgr}, ptr {names['__enter__']})")
    e.guard(e.op(f"icmp eq ptr {enter}, null"), v, with_exception=True, reason=v.spec.exit)
    exit_ = e.op(f"call ptr @_PyObject_LookupSpecial(ptr {mgr}, ptr {names['__exit__']})")
    _release_on(e, e.op(f"icmp eq ptr {exit_}, null"), [enter], missing=(exit_, ty))
    e.guard(e.op(f"icmp eq ptr {exit_}, null"), v, with_exception=True, reason=v.spec.exit)
    r = e.op(f"call ptr @PyObject_Vectorcall(ptr {enter}, ptr null, i64 0, ptr null)")
    e.line(f"call void @tiered_discard(ptr {enter})")
    _release_on(e, e.op(f"icmp eq ptr {r}, null"), [exit_])
    e.line_leave(token)
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    slot = e.entry_alloca("ptr")
    e.line(f"store ptr {r}, ptr {slot}")
    v.attrs["entered_slot"] = slot
    e.alias(v, exit_)


def _release_on(e, cond, objs, missing=None):
    """When cond holds: release objs (an exception may be pending); with missing=(x, type),
    when x is NULL with no exception (a descriptor removed __exit__), set CPython's TypeError."""
    drop, go = e.tmp()[1:], e.tmp()[1:]
    e.line(f"br i1 {cond}, label %{drop}, label %{go}, !prof !0")
    e.label(drop)
    if missing is not None:
        name = e.op(f"load ptr, ptr {e.op(f'getelementptr i8, ptr {missing[1]}, i64 {capi.TYPE_NAME}')}")
        raised, set_, done = e.op("call ptr @PyErr_Occurred()"), e.tmp()[1:], e.tmp()[1:]
        e.line(f"br i1 {e.op(f'icmp eq ptr {raised}, null')}, label %{set_}, label %{done}")
        e.label(set_)
        e.line(f"call ptr (ptr, ptr, ...) @PyErr_Format(ptr {pointer(TypeError)}, ptr {e.m.c_string(_NO_EXIT)}, "
               f"ptr {name})")
        e.line(f"br label %{done}")
        e.label(done)
    for o in objs:
        e.line(f"call void @tiered_discard(ptr {o})")
    e.line(f"br label %{go}")
    e.label(go)


def _build_sequence(e, v):
    """A new list or tuple of the items: their references move into it (numbers are boxed
    first; when memory runs out nothing has moved, and the exit carries the MemoryError)."""
    e.force_point(v)
    boxed = []
    for a in v.args:
        if is_obj(a.type):
            boxed.append(e.ref(a))
            continue
        boxed.append(box_call(e, a))
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
    items = (field(e, seq, capi.LIST_ITEMS, "ptr") if v.type.cls is list
             else e.op(f"getelementptr i8, ptr {seq}, i64 {capi.TUPLE_ITEMS}"))
    for k, b in enumerate(boxed):
        e.line(f"store ptr {b}, ptr {e.op(f'getelementptr ptr, ptr {items}, i64 {k}')}")
    e.alias(v, seq)


def _fill(new, add, step):
    """Lowering of a new container (`new`: the C call making it) filled with the operands,
    `step` at a time, by `add(container, operands)` (an i32 status; it takes its own
    references, numbers are boxed for it); a failure (an unhashable key, no memory) drops the
    container and exits with the exception."""
    def lower(e, v):
        """Define v as the filled container."""
        e.force_point(v)
        fail = e.tmp()[1:]
        d = e.op(f"call ptr {new}")
        nxt = e.tmp()[1:]
        e.line(f"br i1 {e.op(f'icmp eq ptr {d}, null')}, label %{fail}, label %{nxt}, !prof !0")
        e.label(nxt)
        for k in range(0, len(v.args), step):
            ops, temps = boxed_operands(e, v.args[k:k + step])
            ok = "true"
            for t in temps:
                ok = e.op(f"and i1 {ok}, {e.op(f'icmp ne ptr {t}, null')}")
            put, after = e.tmp()[1:], e.tmp()[1:]
            before = e.cur
            e.line(f"br i1 {ok}, label %{put}, label %{after}")
            e.label(put)
            token = e.line_enter(v)
            r = e.op(add(d, ops))
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
    return lower


_NOT_A_MAPPING = "'%.200s' object is not a mapping"


def _dict_update(e, v):
    """DICT_UPDATE ({**x}): PyDict_Update; an AttributeError becomes the interpreter's
    TypeError naming x's class, and the exit carries it."""
    r = generic(e, v, lambda ops: e.op(f"call i32 @PyDict_Update(ptr {ops[0]}, ptr {ops[1]})"))
    failed = e.op(f"icmp slt i32 {r}, 0")
    check, convert, go = e.tmp()[1:], e.tmp()[1:], e.tmp()[1:]
    e.line(f"br i1 {failed}, label %{check}, label %{go}, !prof !0")
    e.label(check)
    matches = e.op(f"call i32 @PyErr_ExceptionMatches(ptr {pointer(AttributeError)})")
    e.line(f"br i1 {e.op(f'icmp ne i32 {matches}, 0')}, label %{convert}, label %{go}")
    e.label(convert)
    ty = type_of(e, e.ref(v.args[1]))
    name = e.op(f"load ptr, ptr {e.op(f'getelementptr i8, ptr {ty}, i64 {capi.TYPE_NAME}')}")
    e.line(f"call ptr (ptr, ptr, ...) @PyErr_Format(ptr {pointer(TypeError)}, "
           f"ptr {e.m.c_string(_NOT_A_MAPPING)}, ptr {name})")
    e.line(f"br label %{go}")
    e.label(go)
    e.guard(failed, v, with_exception=True, reason=v.spec.exit)


def _dict_merge(e, v):
    """DICT_MERGE (f(k=1, **x)) of an exact dict x into the call's new keyword dict, which
    holds only the constant names: when every key of x is an exact str and none is one of
    the names, nothing can collide or run Python code, so it is PyDict_Update (only a
    MemoryError can exit with it); otherwise it exits before anything is merged, for the
    interpreter's own checks and messages."""
    e.force_point(v)
    target, update = (e.ref(a) for a in v.args)
    e.guard(e.op(f"xor i1 {str_keys(e, update)}, true"), v, reason=Exit.KEYWORD_CLASH)
    clash = "false"
    for name in v.attrs["names"]:            # only str keys: the lookups run no Python code
        e.m.keep(name)
        found = e.op(f"call ptr @PyDict_GetItemWithError(ptr {update}, ptr {pointer(name)})")
        clash = e.op(f"or i1 {clash}, {e.op(f'icmp ne ptr {found}, null')}")
    e.guard(clash, v, reason=Exit.KEYWORD_CLASH)
    r = e.op(f"call i32 @PyDict_Update(ptr {target}, ptr {update})")
    e.guard(e.op(f"icmp slt i32 {r}, 0"), v, with_exception=True, reason=v.spec.exit)


def _set_update(e, v):
    """SET_UPDATE ({*x}): _PySet_Update, as the interpreter calls it."""
    r = generic(e, v, lambda ops: e.op(f"call i32 @_PySet_Update(ptr {ops[0]}, ptr {ops[1]})"))
    e.guard(e.op(f"icmp slt i32 {r}, 0"), v, with_exception=True, reason=v.spec.exit)


def _set_add(e, v):
    """set.add(item) for a set comprehension: PySet_Add (its own reference; a number is boxed
    for it); an unhashable item exits with the exception."""
    r = generic(e, v, lambda ops: e.op(f"call i32 @PySet_Add(ptr {ops[0]}, ptr {ops[1]})"))
    e.guard(e.op(f"icmp slt i32 {r}, 0"), v, with_exception=True, reason=v.spec.exit)


LOWER = {
    "obj_format": _format,
    "build_string": _build_string,
    "build_slice": _build_slice,
    "obj_getslice": _getslice,
    "obj_setslice": _setslice,
    "list_extend": _list_extend,
    "list_to_tuple": capi_call("PyList_AsTuple"),
    "before_with": _before_with,
    "with_entered": lambda e, v: e.alias(v, e.op(f"load ptr, ptr {v.args[0].attrs['entered_slot']}")),
    "build_list": _build_sequence,
    "build_tuple": _build_sequence,
    "build_map": _fill("@PyDict_New()", lambda d, ops: f"call i32 @PyDict_SetItem(ptr {d}, ptr {ops[0]}, ptr {ops[1]})", 2),
    "build_set": _fill("@PySet_New(ptr null)", lambda d, ops: f"call i32 @PySet_Add(ptr {d}, ptr {ops[0]})", 1),
    "set_add": _set_add,
    "set_update": _set_update,
    "dict_update": _dict_update,
    "dict_merge": _dict_merge,
}
