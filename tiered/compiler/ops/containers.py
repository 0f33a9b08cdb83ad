"""Compiler ops building and walking containers: lists, tuples, dicts, sets, strings, iterators → LLVM IR lines.

A failure exits with its exception, for the interpreter to raise at that instruction.
"""
from ...reasons import Exit
from ...cpython import capi
from . import INT, NONE, OBJ, define, is_obj, op
from .common import (box_call, boxed_operands, capi_op, fail, field, generic, maybe_null_call, pointer, str_keys,
                     type_of)
from .objects import checked_call
from .subscripts import items_of

# the builder types these by the container they build (attrs none: the items move in)
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


define("build_list", -1, None, Exit.RAISED, pure=False, raises=True, lower=_build_sequence)
define("build_tuple", -1, None, Exit.RAISED, pure=False, raises=True, lower=_build_sequence)


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


define("build_map", -1, None, Exit.RAISED, pure=False, raises=True, python=True, attrs=("merged",),  # k, v...
       lower=_fill("@PyDict_New()", lambda d, ops: f"call i32 @PyDict_SetItem(ptr {d}, ptr {ops[0]}, ptr {ops[1]})", 2))
define("build_set", -1, None, Exit.RAISED, pure=False, raises=True, python=True,     # items (hashed)
       lower=_fill("@PySet_New(ptr null)", lambda d, ops: f"call i32 @PySet_Add(ptr {d}, ptr {ops[0]})", 1))


@op("set_add", 2, NONE, Exit.RAISED, pure=False, raises=True, python=True)     # set, item
def _set_add(e, v):
    """set.add(item) for a set comprehension: PySet_Add (its own reference; a number is boxed
    for it); an unhashable item exits with the exception."""
    r = generic(e, v, lambda ops: e.op(f"call i32 @PySet_Add(ptr {ops[0]}, ptr {ops[1]})"))
    e.guard(e.op(f"icmp slt i32 {r}, 0"), v, with_exception=True, reason=v.spec.exit)


@op("set_update", 2, NONE, Exit.RAISED, pure=False, raises=True, python=True)  # set, iterable
def _set_update(e, v):
    """SET_UPDATE ({*x}): _PySet_Update, as the interpreter calls it."""
    r = generic(e, v, lambda ops: e.op(f"call i32 @_PySet_Update(ptr {ops[0]}, ptr {ops[1]})"))
    e.guard(e.op(f"icmp slt i32 {r}, 0"), v, with_exception=True, reason=v.spec.exit)


_NOT_A_MAPPING = "'%.200s' object is not a mapping"


@op("dict_update", 2, NONE, Exit.RAISED, pure=False, raises=True, python=True)  # dict, mapping
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


# a call's new dict of the constant keyword names (attrs names), an exact dict
@op("dict_merge", 2, NONE, Exit.RAISED, pure=False, raises=True, attrs=("names",))
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


@op("list_append", 2, NONE, Exit.RAISED, pure=False, raises=True, frameless=False)  # list, item (a new ref)
def _list_append(e, v):
    """list.append(item) on an exact list: PyList_Append (it takes its own reference; a number
    is boxed for it and released after); -1 is a MemoryError, left with the exception."""
    r = generic(e, v, lambda ops: e.op(f"call i32 @PyList_Append(ptr {ops[0]}, ptr {ops[1]})"))
    e.guard(e.op(f"icmp slt i32 {r}, 0"), v, with_exception=True, reason=v.spec.exit)


@op("list_extend", 2, NONE, Exit.RAISED, pure=False, raises=True, frameless=False)  # list, a list or tuple
def _list_extend(e, v):
    """LIST_EXTEND of a list or tuple: PyList_SetSlice at the end (-1: no memory)."""
    target, items = (e.ref(a) for a in v.args)
    e.force_point(v)
    end = "9223372036854775807"
    r = e.op(f"call i32 @PyList_SetSlice(ptr {target}, i64 {end}, i64 {end}, ptr {items})")
    e.guard(e.op(f"icmp slt i32 {r}, 0"), v, with_exception=True, reason=v.spec.exit)


def _exit_unless_iterable(e, v, items):
    """Exit (before any effect) unless `items` is iterable the way CPython's LIST_EXTEND and
    CALL_FUNCTION_EX ask before they iterate (its class has tp_iter, or it is a sequence): the
    interpreter then raises its own "... must be an iterable" message."""
    it = field(e, type_of(e, items), capi.TP_ITER, "ptr")
    seq = e.op(f"call i32 @PySequence_Check(ptr {items})")
    iterable = e.op(f"or i1 {e.op(f'icmp ne ptr {it}, null')}, {e.op(f'icmp ne i32 {seq}, 0')}")
    e.guard(e.op(f"xor i1 {iterable}, true"), v, reason=Exit.TYPE_GUARD)


@op("list_extend_any", 2, NONE, Exit.RAISED, pure=False, raises=True, python=True)   # list, any object
def _list_extend_any(e, v):
    """LIST_EXTEND of any other object (`f(x, *colour)`): exit unless it is iterable, then
    _PyList_Extend, which raises what iterating it raises."""
    _exit_unless_iterable(e, v, e.ref(v.args[1]))
    r = generic(e, v, lambda ops: e.op(f"call ptr @_PyList_Extend(ptr {ops[0]}, ptr {ops[1]})"))
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    e.line(f"call void @tiered_decref(ptr {r})")                    # its None


@op("args_tuple_any", 1, OBJ, Exit.RAISED, pure=False, raises=True, python=True)   # any object
def _args_tuple_any(e, v):
    """CALL_FUNCTION_EX's *args of any object but a tuple or list (`f(*gen)`, `f(*a_list_subclass)`):
    exit unless it is iterable, then PySequence_Tuple, as CPython's instruction does, which
    raises what iterating it raises."""
    _exit_unless_iterable(e, v, e.ref(v.args[0]))
    r = generic(e, v, lambda ops: e.op(f"call ptr @PySequence_Tuple(ptr {ops[0]})"))
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    e.alias(v, r)


capi_op("list_to_tuple", "PyList_AsTuple", 1, OBJ)
define("seq_len", 1, INT, pure=False,                # a list's or tuple's size (a list's changes)
       lower=lambda e, v: e.alias(v, field(e, e.ref(v.args[0]), capi.OB_SIZE)))


@op("guard_len", 1, NONE, Exit.UNPACK_SIZE, pure=False, attrs=("n",))   # a list or tuple
def _guard_len(e, v):
    """Exit unless the list or tuple has exactly n items (UNPACK_SEQUENCE: CPython raises)."""
    e.guard(e.op(f"icmp ne i64 {field(e, e.ref(v.args[0]), capi.OB_SIZE)}, {v.attrs['n']}"), v)


@op("seq_next", 3, OBJ, pure=False)              # seq, index, more: seq[index] (new) if more else NULL
def _seq_next(e, v):
    """seq[index] as a new reference when `more`, else NULL (the loop is done)."""
    seq, index, more = v.args
    load, done = e.tmp()[1:], e.tmp()[1:]
    before = e.cur
    e.line(f"br i1 {e.ref(more)}, label %{load}, label %{done}")
    e.label(load)
    item = e.op(f"load ptr, ptr {e.op(f'getelementptr ptr, ptr {items_of(e, seq)}, i64 {e.ref(index)}')}")
    e.line(f"call void @tiered_incref(ptr {item})")
    e.line(f"br label %{done}")
    e.label(done)
    e.define(v, f"phi ptr [{item}, %{load}], [null, %{before}]")


@op("obj_len", 1, INT, Exit.RAISED, pure=False, raises=True, python=True, frameless=True)
def _obj_len(e, v):
    """len() of any object: PyObject_Size; in a frameless specialisation, of an exact list,
    tuple or dict read inline (no __len__ may run there: anything else exits)."""
    if not e.fn.attrs.get("frameless"):
        return e.alias(v, checked_call(e, v, "PyObject_Size", "i64"))
    x = e.ref(v.args[0])
    ty = type_of(e, x)
    is_dict = e.op(f"icmp eq ptr {ty}, @PyDict_Type")
    is_seq = e.op(f"or i1 {e.op(f'icmp eq ptr {ty}, @PyList_Type')}, {e.op(f'icmp eq ptr {ty}, @PyTuple_Type')}")
    e.guard(e.op(f"xor i1 {e.op(f'or i1 {is_dict}, {is_seq}')}, true"), v, reason=Exit.TYPE_GUARD)
    e.alias(v, e.op(f"select i1 {is_dict}, i64 {field(e, x, capi.DICT_USED)}, i64 {field(e, x, capi.OB_SIZE)}"))


capi_op("obj_iter", "PyObject_GetIter", 1, OBJ, attrs=("frameless",))   # frameless: of a C iterator


@op("iter_next", 1, OBJ, Exit.RAISED, pure=False, raises=True, python=True, attrs=("frameless",))  # NULL: exhausted
def _iter_next(e, v):
    """The next item of an iterator object (a new reference), NULL when it is exhausted; exit
    with the exception when it raised."""
    e.force_point(v)
    token = e.line_enter(v)
    r = e.op(f"call ptr @PyIter_Next(ptr {e.ref(v.args[0])})")
    e.line_leave(token)
    failed = e.op(f"icmp ne ptr {e.op('call ptr @PyErr_Occurred()')}, null")
    fail(e, v, e.op(f"and i1 {e.op(f'icmp eq ptr {r}, null')}, {failed}"))
    e.alias(v, r)


# f-strings (build/objects.py)
@op("obj_format", -1, OBJ, Exit.RAISED, pure=False, raises=True, python=True, attrs=("conv",))  # x[, spec]
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
        return maybe_null_call(e, e.op(f"call ptr @{conv}(ptr {ops[0]})"), fmt)
    r = generic(e, v, call)
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    e.alias(v, r)


@op("build_string", -1, OBJ, Exit.RAISED, pure=False, raises=True)             # str parts
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
    r = maybe_null_call(e, t, join)
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    e.alias(v, r)
