"""Compiler ops on any object: constants, reference counts, boxing, class guards, generic operators → LLVM IR lines.

Reference counts are changed inline, as CPython's own macros do (3.12: immortal objects are
left alone).  Every op here either cannot exit or exits before it changes any count; the
generic operators call the C-API, and exit with its exception when it raised.
"""
from ...reasons import Exit
from ...cpython import capi
from ...cpython import V
from . import BOOL, FLOAT, INT, NONE, OBJ, PLAIN_INSTANCES, define, is_obj, op
from .common import box_call, capi_call, field, generic, pointer, type_of

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


# the inline reference-count helpers (framecall's shared helper has them too)
REFCOUNTS = f"""
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

define internal void @tiered_xincref(ptr %o) alwaysinline {{
entry:
  %null = icmp eq ptr %o, null
  br i1 %null, label %done, label %inc
inc:
  call void @tiered_incref(ptr %o)
  br label %done
done:
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

PRELUDE = REFCOUNTS + f"""
define internal void @tiered_decref_at(ptr %o, ptr %site) alwaysinline {{
entry:
{_DEC}  br i1 %zero, label %free, label %done, !prof !0
free:
  call void @tiered_dealloc_at(ptr %o, ptr %site)
  br label %done
done:
  ret void
}}
"""


# the shared helper (runtime_ir) the last decref at a line site calls: a call by address, where a
# function of the module would be a call fast instruction selection cannot select (engine.absolute)
DEALLOC_AT = """
define void @tiered_dealloc_at(ptr %o, ptr %site) cold noinline {
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
}
"""


@op("obj_const", 0, None, attrs=("value",))     # the module keeps it alive
def _obj_const(e, v):
    """An object the module keeps alive, by its address."""
    e.m.keep(v.attrs["value"])
    e.alias(v, pointer(v.attrs["value"]))


define("incref", 1, NONE, pure=False,
       lower=lambda e, v: e.line(f"call void @tiered_incref(ptr {e.ref(v.args[0])})"))


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


# may run a destructor (never exits); at: the instruction it sees; borrowed: a getattr's id
@op("decref", 1, NONE, pure=False, python=True, frameless=True, attrs=("borrowed", "at"))
def _decref(e, v):
    """Drop the operand's reference (a borrowed read's: the reference its slow path owns, if any)."""
    if "borrowed" not in v.attrs:
        return release(e, v, e.ref(v.args[0]))
    release(e, v, e.op(f"load ptr, ptr {e.borrow_slots[v.attrs['borrowed']]}"), maybe_null=True)


# the same for a local that may be unbound
define("xdecref", 1, NONE, pure=False, python=True, frameless=True, attrs=("at",),
       lower=lambda e, v: release(e, v, e.ref(v.args[0]), maybe_null=True))


@op("release_unless", 2, NONE, pure=False, python=True, frameless=True, attrs=("at",))   # x, cond
def _release_unless(e, v):
    """Drop the object's reference when the condition is false."""
    x, cond = v.args
    drop, done = e.tmp()[1:], e.tmp()[1:]
    e.line(f"br i1 {e.ref(cond)}, label %{done}, label %{drop}")
    e.label(drop)
    release(e, v, e.ref(x))
    e.line(f"br label %{done}")
    e.label(done)


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


@op("box", 1, OBJ, Exit.RAISED, pure=False, raises=True)
def _box(e, v):
    """A number as a new object (exit with the MemoryError when that fails)."""
    x = v.args[0]
    r = box_call(e, x)
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    e.alias(v, r)


@op("guard_class", 1, None, Exit.TYPE_GUARD, pure=False, attrs=("cls",))   # the same pointer, typed
def _guard_class(e, v):
    """Exit unless the object is exactly of the class; the value is then typed by it."""
    x = e.ref(v.args[0])
    e.guard(e.op(f"icmp ne ptr {type_of(e, x)}, {pointer(v.attrs['cls'])}"), v)
    e.alias(v, x)


# the same pointer, typed as cls (list or tuple) for its items' layout only: a for loop's
# (build/control.py), whose value nothing but the loop's own item reads uses
@op("guard_sequence", 1, None, Exit.TYPE_GUARD, pure=False, attrs=("cls",))
def _guard_sequence(e, v):
    """Exit unless the object is a list (tuple) whose iterator is a list's (tuple's): exactly
    of the class, or of a subclass that keeps its tp_iter (no __iter__ of its own), which CPython's
    FOR_ITER_LIST (FOR_ITER_TUPLE) iterates the same, over the items in place."""
    x, cls = e.ref(v.args[0]), v.attrs["cls"]
    ty = type_of(e, x)
    exact, check, done = e.cur, e.tmp()[1:], e.tmp()[1:]
    e.line(f"br i1 {e.op(f'icmp eq ptr {ty}, {pointer(cls)}')}, label %{done}, label %{check}")
    e.label(check)
    flags = field(e, ty, capi.TP_FLAGS)
    sub = e.op(f"icmp ne i64 {e.op(f'and i64 {flags}, {capi.SUBCLASS_FLAGS[cls]}')}, 0")
    own = e.op(f"icmp eq ptr {field(e, ty, capi.TP_ITER, 'ptr')}, {field(e, pointer(cls), capi.TP_ITER, 'ptr')}")
    ok = e.op(f"and i1 {sub}, {own}")
    e.line(f"br label %{done}")
    e.label(done)
    e.guard(e.op(f"xor i1 {e.op(f'phi i1 [true, %{exact}], [{ok}, %{check}]')}, true"), v)
    e.alias(v, x)


@op("guard_bound", 1, None, Exit.UNBOUND, pure=False)   # the same pointer, known not NULL
def _guard_bound(e, v):
    """Exit when a local that may be unbound is NULL: the interpreter's LOAD_FAST_CHECK (3.12)
    or LOAD_FAST (3.11) then raises CPython's UnboundLocalError there."""
    x = e.ref(v.args[0])
    e.guard(e.op(f"icmp eq ptr {x}, null"), v)
    e.alias(v, x)


_NUMBER_CLASS = {INT: "@PyLong_Type", FLOAT: "@PyFloat_Type", BOOL: "@PyBool_Type"}


def unbox(e, v, x, t, reason=None):
    """The number of type t in object x; exit (at v, for `reason`) unless x is exactly of its
    class and, for an int, fits in 64 bits."""
    if t != INT:                         # an int's class is checked by tiered_unbox_int
        e.guard(e.op(f"icmp ne ptr {type_of(e, x)}, {_NUMBER_CLASS[t]}"), v, reason=reason)
    if t == FLOAT:
        return field(e, x, capi.OB_FVAL, "double")
    if t == BOOL:
        return e.op(f"icmp eq ptr {x}, @_Py_TrueStruct")
    r = e.op(f"call {{i64, i1}} @tiered_unbox_int(ptr {x})")
    e.guard(e.op(f"extractvalue {{i64, i1}} {r}, 1"), v, reason=reason)
    return e.op(f"extractvalue {{i64, i1}} {r}, 0")


# the shared helper (one copy, in runtime_ir's module of helpers) that reads an exact int
_ONE_DIGIT = """  %tagp = getelementptr i8, ptr %x, i64 {0}
  %tag = load i64, ptr %tagp
  %one = icmp eq i64 %tag, {1}
  br i1 %one, label %digit, label %call
digit:
  %dp = getelementptr i8, ptr %x, i64 {2}
  %d = load i32, ptr %dp
  %dv = zext i32 %d to i64
  %r0 = insertvalue {{i64, i1}} undef, i64 %dv, 0
  %r1 = insertvalue {{i64, i1}} %r0, i1 false, 1
  ret {{i64, i1}} %r1
""".format(*capi.INT_ONE_DIGIT) if capi.INT_ONE_DIGIT else "  br label %call\n"
UNBOX_INT = f"""
define {{i64, i1}} @tiered_unbox_int(ptr %x) {{
entry:
  ; an exact int's value, and whether it is not one or does not fit in 64 bits (then 0): a
  ; positive one-digit int read in place, any other through PyLong_AsLongLongAndOverflow
  %ovf = alloca i32
  %tp = getelementptr i8, ptr %x, i64 {capi.OB_TYPE}
  %ty = load ptr, ptr %tp
  %exact = icmp eq ptr %ty, @PyLong_Type
  br i1 %exact, label %int, label %bad
int:
{_ONE_DIGIT}call:
  store i32 0, ptr %ovf
  %v = call i64 @PyLong_AsLongLongAndOverflow(ptr %x, ptr %ovf)
  %o = load i32, ptr %ovf
  %big = icmp ne i32 %o, 0
  %c0 = insertvalue {{i64, i1}} undef, i64 %v, 0
  %c1 = insertvalue {{i64, i1}} %c0, i1 %big, 1
  ret {{i64, i1}} %c1
bad:
  ret {{i64, i1}} {{i64 0, i1 true}}
}}
"""


define("unbox_float", 1, FLOAT, Exit.TYPE_GUARD, pure=False,
       lower=lambda e, v: e.alias(v, unbox(e, v, e.ref(v.args[0]), FLOAT)))
define("unbox_int", 1, INT, Exit.TYPE_GUARD, pure=False,
       lower=lambda e, v: e.alias(v, unbox(e, v, e.ref(v.args[0]), INT)))
# exact: a comparison's operand (an int must convert exactly: |i| <= 2**53, else exit)
@op("unbox_to_float", 1, FLOAT, Exit.TYPE_GUARD, pure=False, attrs=("exact",))
def _unbox_to_float(e, v):
    """A float, or an int as float arithmetic converts it (CPython's float operations take an
    int operand so; a comparison only when the conversion is exact): exit unless x is an exact
    float or int, or when the int does not convert (the interpreter then does the operation)."""
    x = e.ref(v.args[0])
    ty = type_of(e, x)
    is_float = e.op(f"icmp eq ptr {ty}, @PyFloat_Type")
    fl, other, done = (e.tmp()[1:] for _ in range(3))
    e.line(f"br i1 {is_float}, label %{fl}, label %{other}")
    e.label(fl)
    f = field(e, x, capi.OB_FVAL, "double")
    e.line(f"br label %{done}")
    e.label(other)
    e.guard(e.op(f"icmp ne ptr {ty}, @PyLong_Type"), v)
    i = unbox(e, v, x, INT, Exit.FLOAT_CONVERSION)          # an exact int of 64 bits, else exit
    if v.attrs.get("exact"):
        big = e.op(f"icmp ugt i64 {e.op(f'add i64 {i}, 9007199254740992')}, 18014398509481984")
        e.guard(big, v, reason=Exit.FLOAT_CONVERSION)
    d = e.op(f"sitofp i64 {i} to double")
    from_int = e.cur
    e.line(f"br label %{done}")
    e.label(done)
    e.alias(v, e.op(f"phi double [{f}, %{fl}], [{d}, %{from_int}]"))


define("is_null", 1, BOOL, lower=lambda e, v: e.define(v, f"icmp eq ptr {e.ref(v.args[0])}, null"))
define("same_object", 2, BOOL,
       lower=lambda e, v: e.define(v, f"icmp eq ptr {e.ref(v.args[0])}, {e.ref(v.args[1])}"))


@op("obj_isinstance", 2, BOOL, Exit.RAISED, pure=False, raises=True, python=True, frameless=True,
    attrs=("plain",))       # x, cls
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


# generic operators through the C-API (a number operand is boxed for the call): attrs sym
NUMBER_FUNCTIONS = {"+": "Add", "-": "Subtract", "*": "Multiply", "/": "TrueDivide", "//": "FloorDivide",
                    "%": "Remainder", "<<": "Lshift", ">>": "Rshift", "&": "And", "|": "Or", "^": "Xor",
                    "@": "MatrixMultiply", "**": "Power"}


RICH_COMPARE = {"<": 0, "<=": 1, "==": 2, "!=": 3, ">": 4, ">=": 5}


@op("obj_binary", 2, OBJ, Exit.RAISED, pure=False, raises=True, python=True, attrs=("sym", "inplace"))
def _obj_binary(e, v):
    """x op y on objects: PyNumber_<Op> (InPlace for an augmented assignment)."""
    sym = v.attrs["sym"]
    fn = f"PyNumber_{'InPlace' if v.attrs['inplace'] else ''}{NUMBER_FUNCTIONS[sym]}"
    extra = ", ptr @_Py_NoneStruct" if sym == "**" else ""
    r = generic(e, v, lambda ops: e.op(f"call ptr @{fn}(ptr {ops[0]}, ptr {ops[1]}{extra})"))
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    e.alias(v, r)


UNARY_FUNCTIONS = {"-": "PyNumber_Negative", "+": "PyNumber_Positive", "~": "PyNumber_Invert"}


@op("obj_unary", 1, OBJ, Exit.RAISED, pure=False, raises=True, python=True, attrs=("sym",))   # - + ~
def _obj_unary(e, v):
    """-x, +x, ~x of an object: PyNumber_Negative / Positive / Invert."""
    capi_call(UNARY_FUNCTIONS[v.attrs["sym"]])(e, v)


@op("obj_compare", 2, OBJ, Exit.RAISED, pure=False, raises=True, python=True, attrs=("sym", "inplace"))
def _obj_compare(e, v):
    """x cmp y on objects: PyObject_RichCompare."""
    op = RICH_COMPARE[v.attrs["sym"]]
    r = generic(e, v, lambda ops: e.op(f"call ptr @PyObject_RichCompare(ptr {ops[0]}, ptr {ops[1]}, i32 {op})"))
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    e.alias(v, r)


def checked_call(e, v, call, ll):
    """Call a one-object C-API function returning `ll`, negative when it raised: exit with the
    exception then.  The result."""
    e.force_point(v)
    token = e.line_enter(v)
    r = e.op(f"call {ll} @{call}(ptr {e.ref(v.args[0])})")
    e.line_leave(token)
    e.guard(e.op(f"icmp slt {ll} {r}, 0"), v, with_exception=True, reason=v.spec.exit)
    return r


@op("obj_truth", 1, BOOL, Exit.RAISED, pure=False, raises=True, python=True)
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
    answer = e.op(f"icmp ne i32 {checked_call(e, v, 'PyObject_IsTrue', 'i32')}, 0")
    slow_end = e.cur
    e.line(f"br label %{done}")
    e.label(done)
    e.define(v, f"phi i1 [{is_true}, %{start}], [{answer}, %{slow_end}]")
