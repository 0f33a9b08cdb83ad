"""Compiler lowering helpers shared by the op domains: IR types and constants → LLVM text, and the
generic lowerings of a C-API call made from a cpython.capi.FUNCTIONS row; anything that raises
exits with the exception pending, for the interpreter to raise at that instruction."""
import struct

from ...reasons import Exit
from ...cpython import capi, dicts
from . import BOOL, FLOAT, INT, NONE, define, is_obj
from .frames import slot_object, synced_slots


class _LLTypes(dict):
    """IR type → LLVM type; every object type is a `ptr`."""

    def __missing__(self, t):
        if is_obj(t):
            return "ptr"
        raise KeyError(t)


LL = _LLTypes({INT: "i64", FLOAT: "double", BOOL: "i1", NONE: "i1"})


def fconst(x):
    """An LLVM double literal with the exact bits of x."""
    return "0x%016X" % struct.unpack("<Q", struct.pack("<d", x))[0]


def opaque(e, x):
    """x (a double) through an empty asm the optimiser cannot see into: LLVM treats a NaN's sign
    as unspecified and folds x * -1.0, -(a * b) or 0.0 - x into fneg forms whose NaN signs
    differ from the x86 instructions CPython's float ops run; behind the barrier it keeps the
    operation the program wrote (it costs no instruction)."""
    return e.op(f'call double asm "", "=x,0"(double {x})')


def float_literal_folds(value):
    """Whether LLVM may fold an operation with this constant into one that changes a NaN's sign
    (negative or zero constants, 1.0, infinities): such constants go through opaque()."""
    return not (value > 0.0 and value != 1.0 and value != float("inf"))


def literal(value, type_):
    """LLVM text of a constant of an IR type."""
    if type_ == FLOAT:
        return fconst(value)
    if type_ in (BOOL, NONE):
        return "true" if value else "false"
    if is_obj(type_):           # the only object constant: NULL, a local not bound yet
        assert value is None
        return "null"
    return str(int(value))


def result_type(ll):
    """The LLVM struct an inner function returns: value, status, exit state."""
    return f"{{{ll}, i32, ptr}}"


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


def branch_if(e, cond, label):
    """Go to `label` when i1 cond holds, else on here."""
    on = e.tmp()[1:]
    e.line(f"br i1 {cond}, label %{label}, label %{on}")
    e.label(on)


def entry_value(e, keys, index, name, miss_if):
    """The address of the value of entry `index` of a dict's table `keys`, checked as CPython's
    hinted reads check it (a table of str keys, that many entries, the very object `name` as
    that entry's key); miss_if(i1) leaves wherever a check fails."""
    e.m.keep(name)
    miss_if(e.op(f"icmp ne i8 {field(e, keys, capi.DICT_KEYS[1], 'i8')}, {dicts.UNICODE_KEYS}"))
    miss_if(e.op(f"icmp sle i64 {field(e, keys, dicts.DK_NENTRIES)}, {index}"))
    log2 = e.op(f"zext i8 {field(e, keys, dicts.DK_LOG2_INDEX_BYTES, 'i8')} to i64")
    start = e.op(f"add i64 {e.op(f'shl i64 1, {log2}')}, {dicts.DK_INDICES + 16 * index}")
    entry = e.op(f"getelementptr i8, ptr {keys}, i64 {start}")
    miss_if(e.op(f"icmp ne ptr {e.op(f'load ptr, ptr {entry}')}, {pointer(name)}"))
    return e.op(f"getelementptr i8, ptr {entry}, i64 8")


def box_call(e, x):
    """A new object for number value x (NULL when memory ran out).  True, False and None are
    objects that exist already: taken in place (a call to the shared helper cost a call per
    store of a constant flag, and hid from LLVM that the result is never NULL)."""
    if x.type in (BOOL, NONE):
        r = (e.op(f"select i1 {e.ref(x)}, ptr @_Py_TrueStruct, ptr @_Py_FalseStruct") if x.type == BOOL
             else "@_Py_NoneStruct")
        e.line(f"call void @tiered_incref(ptr {r})")
        return r
    return e.op(f"call ptr @tiered_box_{x.type}({LL[x.type]} {e.ref(x) if x.type != NONE else 'false'})")


def _row(fn, returns):
    """The C-API row of fn, which must return `returns` (capi.NEW or capi.STATUS)."""
    row = capi.FUNCTIONS[fn]
    assert row.returns == returns, f"{fn} does not return {returns}"
    return row


def capi_call(fn):
    """Lowering of a C-API call returning a new reference, NULL when it raised: exit with the
    exception pending, for the interpreter to raise at that instruction."""
    _row(fn, capi.NEW)

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
    lower.capi = (fn, capi.NEW)
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


def boxed_operands(e, args, slots={}):
    """The args as objects: (operands, the new objects boxed from numbers, NULL if that failed);
    a number that a frame slot holds (`slots`: frames.synced_slots) is passed as that object."""
    operands, temps = [], []
    for a in args:
        if is_obj(a.type):
            operands.append(e.ref(a))
        else:
            slot = slots.get(id(a))
            operands.append(box_call(e, a) if slot is None else slot_object(e, a, slot, lambda x: box_call(e, x)))
            temps.append(operands[-1])
    return operands, temps


def generic(e, v, call, force=True):
    """Call `call(operands)` on v's operands as objects (numbers boxed just for the call, and
    released right after it); its result (the caller checks it and exits on failure)."""
    if force:
        e.force_point(v)
    slots = synced_slots(e, v) if any(not is_obj(a.type) for a in v.args) else {}
    operands, temps = boxed_operands(e, v.args, slots)
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
    token = e.line_enter(v, sync=not slots)
    r = call(operands)
    e.line_leave(token)
    for t in temps:
        e.line(f"call void @tiered_decref(ptr {t})")
    return r


def join_slow_path(e, v, r, item, fast, done):
    """End a C-API slow path whose result is r (exit with its exception when NULL) and define v
    as the fast path's item or r."""
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    slow_end = e.cur
    e.line(f"br label %{done}")
    e.label(done)
    e.define(v, f"phi ptr [{item}, %{fast}], [{r}, %{slow_end}]")


def maybe_null_call(e, first, then, ty="ptr", failed="null"):
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


def status_call(fn, name=False):
    """Lowering of a C-API call on objects (numbers boxed for it) returning an int status,
    -1 when it raised: exit with the exception.  `name`: pass attrs['name'] second."""
    _row(fn, capi.STATUS)

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
    lower.capi = (fn, capi.STATUS)
    return lower


def capi_op(name, fn, arity, result, maker=capi_call, **flags):
    """A table row: op `name` is the C-API call fn (a new reference, or with maker=status_call
    an int status) on its operands; it exits with the exception when fn raised, and may run
    Python code exactly when fn's row says so."""
    return define(name, arity, result, Exit.RAISED, pure=False, raises=True, python=capi.FUNCTIONS[fn].python,
                  lower=maker(fn), **flags)


assert capi.OB_TYPE == 8
