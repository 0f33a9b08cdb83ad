"""Compiler lowering of generic object ops: one IR op on PyObject* values → LLVM IR lines calling
the C-API (merged into LOWER); anything that raises exits with the exception pending, for the
interpreter to raise at that instruction."""
from ..reasons import Exit
from ..cpython import capi
from .ops import BOOL, NONE, is_obj
from .lower_ops import LL


def pointer(obj):
    """The LLVM operand for an object's address (the module or the runtime keeps it alive)."""
    return f"inttoptr (i64 {id(obj)} to ptr)"


def type_of(e, x):
    """Load an object's type pointer."""
    return e.op(f"load ptr, ptr {e.op(f'getelementptr i8, ptr {x}, i64 {capi.OB_TYPE}')}")


def field(e, x, offset, ty="i64"):
    """Load a field at a byte offset of an object."""
    return e.op(f"load {ty}, ptr {e.op(f'getelementptr i8, ptr {x}, i64 {offset}')}")


def str_keys(e, d):
    """i1: every key of the exact dict d is an exact str (its keys' kind is not general), so
    looking a str up in it runs no Python code (capi.DICT_KEYS must be known)."""
    keys_at, kind_at = capi.DICT_KEYS
    kind = field(e, field(e, d, keys_at, "ptr"), kind_at, "i8")
    return e.op(f"icmp ne i8 {kind}, 0")


def box_call(e, x):
    """A new object for number value x (NULL when memory ran out)."""
    return e.op(f"call ptr @tiered_box_{x.type}({LL[x.type]} {e.ref(x) if x.type != NONE else 'false'})")


def capi_call(fn):
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
        fail(e, v, e.op(f"icmp eq ptr {r}, null"))
        e.alias(v, r)
    return lower


def fail(e, v, failed):
    """Exit with the pending exception when `failed`, for the interpreter to raise it there.  In
    a frameless specialisation the exception is dropped instead and the exit is plain: its
    native caller exits at its call, and the interpreter calls the function again, and raises
    it with the callee's own frame in the traceback."""
    if not e.fn.attrs.get("frameless"):
        e.guard(failed, v, with_exception=True, reason=v.spec.exit)
        return
    clear, go = e.tmp()[1:], e.tmp()[1:]
    e.line(f"br i1 {failed}, label %{clear}, label %{go}, !prof !0")
    e.label(clear)
    e.line("call void @PyErr_Clear()")
    e.line(f"br label %{go}")
    e.label(go)
    e.guard(failed, v, reason=v.spec.exit, forced=False)      # v.force_point came before v


NUMBER_FUNCTIONS = {"+": "Add", "-": "Subtract", "*": "Multiply", "/": "TrueDivide", "//": "FloorDivide",
                    "%": "Remainder", "<<": "Lshift", ">>": "Rshift", "&": "And", "|": "Or", "^": "Xor",
                    "@": "MatrixMultiply", "**": "Power"}


RICH_COMPARE = {"<": 0, "<=": 1, "==": 2, "!=": 3, ">": 4, ">=": 5}


def boxed_operands(e, args):
    """The args as objects: (operands, the new objects boxed from numbers, NULL if that failed)."""
    operands, temps = [], []
    for a in args:
        if is_obj(a.type):
            operands.append(e.ref(a))
        else:
            operands.append(box_call(e, a))
            temps.append(operands[-1])
    return operands, temps


def generic(e, v, call, force=True):
    """Call `call(operands)` on v's operands as objects (numbers boxed just for the call, and
    released right after it); its result (the caller checks it and exits on failure)."""
    if force:
        e.force_point(v)
    operands, temps = boxed_operands(e, v.args)
    if temps:                 # a box failed: drop the others, exit with the MemoryError
        bad = e.op(f"icmp eq ptr {temps[0]}, null")
        for t in temps[1:]:
            bad = e.op(f"or i1 {bad}, {e.op(f'icmp eq ptr {t}, null')}")
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
    r = generic(e, v, lambda ops: e.op(f"call ptr @{fn}(ptr {ops[0]}, ptr {ops[1]}{extra})"))
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    e.alias(v, r)


UNARY_FUNCTIONS = {"-": "PyNumber_Negative", "+": "PyNumber_Positive", "~": "PyNumber_Invert"}


def _obj_unary(e, v):
    """-x, +x, ~x of an object: PyNumber_Negative / Positive / Invert."""
    capi_call(UNARY_FUNCTIONS[v.attrs["sym"]])(e, v)


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
    """len() of any object: PyObject_Size; in a frameless specialisation, of an exact list,
    tuple or dict read inline (no __len__ may run there: anything else exits)."""
    if not e.fn.attrs.get("frameless"):
        return e.alias(v, _checked_call(e, v, "PyObject_Size", "i64"))
    x = e.ref(v.args[0])
    ty = type_of(e, x)
    is_dict = e.op(f"icmp eq ptr {ty}, @PyDict_Type")
    is_seq = e.op(f"or i1 {e.op(f'icmp eq ptr {ty}, @PyList_Type')}, {e.op(f'icmp eq ptr {ty}, @PyTuple_Type')}")
    e.guard(e.op(f"xor i1 {e.op(f'or i1 {is_dict}, {is_seq}')}, true"), v, reason=Exit.TYPE_GUARD)
    e.alias(v, e.op(f"select i1 {is_dict}, i64 {field(e, x, capi.DICT_USED)}, i64 {field(e, x, capi.OB_SIZE)}"))


def join_slow_path(e, v, r, item, fast, done):
    """End a C-API slow path whose result is r (exit with its exception when NULL) and define v
    as the fast path's item or r."""
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    slow_end = e.cur
    e.line(f"br label %{done}")
    e.label(done)
    e.define(v, f"phi ptr [{item}, %{fast}], [{r}, %{slow_end}]")


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


def _obj_compare(e, v):
    """x cmp y on objects: PyObject_RichCompare."""
    op = RICH_COMPARE[v.attrs["sym"]]
    r = generic(e, v, lambda ops: e.op(f"call ptr @PyObject_RichCompare(ptr {ops[0]}, ptr {ops[1]}, i32 {op})"))
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    e.alias(v, r)


def _obj_truth(e, v):
    """The truth of an object: True, False and None answered inline (as PyObject_IsTrue's own
    first tests do), anything else by PyObject_IsTrue."""
    x = e.ref(v.args[0])
    is_true = e.op(f"icmp eq ptr {x}, @_Py_TrueStruct")
    is_false = e.op(f"icmp eq ptr {x}, @_Py_FalseStruct")
    is_none = e.op(f"icmp eq ptr {x}, @_Py_NoneStruct")
    known = e.op(f"or i1 {is_true}, {e.op(f'or i1 {is_false}, {is_none}')}")
    start, slow, done = e.cur, e.tmp()[1:], e.tmp()[1:]
    e.line(f"br i1 {known}, label %{done}, label %{slow}")
    e.label(slow)
    answer = e.op(f"icmp ne i32 {_checked_call(e, v, 'PyObject_IsTrue', 'i32')}, 0")
    slow_end = e.cur
    e.line(f"br label %{done}")
    e.label(done)
    e.define(v, f"phi i1 [{is_true}, %{start}], [{answer}, %{slow_end}]")


def status_call(fn, name=False):
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
        r = generic(e, v, call)
        e.guard(e.op(f"icmp slt i32 {r}, 0"), v, with_exception=True, reason=v.spec.exit)
        if v.type == BOOL:
            e.define(v, f"icmp ne i32 {r}, 0")
    return lower


def _call_ex(e, v):
    """callable(*args[, **kwargs]) for a tuple of args and an exact dict: PyObject_Call."""
    kw = lambda ops: ops[2] if len(ops) > 2 else "null"  # noqa: E731
    r = generic(e, v, lambda ops: e.op(f"call ptr @PyObject_Call(ptr {ops[0]}, ptr {ops[1]}, ptr {kw(ops)})"))
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    e.alias(v, r)


def _obj_call(e, v):
    """callable(*args, **dict(zip(kwnames, last args))) through PyObject_Vectorcall: the
    arguments in a stack array (numbers boxed for the call), the keyword names a constant tuple."""
    n = len(v.args) - 1
    kwnames = v.attrs.get("kwnames", ())
    names = "null"
    if kwnames:
        e.m.keep(kwnames)
        names = pointer(kwnames)
    argv = e.entry_alloca(f"[{max(n, 1)} x ptr]")

    def call(ops):
        """Store the arguments and call."""
        for k, o in enumerate(ops[1:]):
            e.line(f"store ptr {o}, ptr {e.op(f'getelementptr ptr, ptr {argv}, i64 {k}')}")
        return e.op(f"call ptr @PyObject_Vectorcall(ptr {ops[0]}, ptr {argv}, i64 {n - len(kwnames)}, "
                    f"ptr {names})")
    r = generic(e, v, call)
    fail(e, v, e.op(f"icmp eq ptr {r}, null"))
    e.alias(v, r)


LOWER = {
    "obj_call_ex": _call_ex,
    "obj_delitem": status_call("PyObject_DelItem"),
    "obj_binary": _obj_binary,
    "obj_unary": _obj_unary,
    "obj_compare": _obj_compare,
    "obj_truth": _obj_truth,
    "obj_len": _obj_len,
    "obj_iter": capi_call("PyObject_GetIter"),
    "iter_next": _iter_next,
    "obj_setattr": status_call("PyObject_SetAttr", name=True),
    "obj_setitem": status_call("PyObject_SetItem"),
    "obj_call": _obj_call,
}
