"""Compiler stage 2, the builder's core: its state (request, function made, cursor) and values → IR ops, with frame states where they may exit.

The reference rule is CPython's: every place that holds an object (a local, a stack slot,
a virtual iterator) owns one reference to it.  Pushing a local's value takes a reference,
popping releases one, an instruction releases its operands after its result exists, and
an exit hands every place's reference to the interpreter's frame.  Ops that may exit come
before any count changes of their instruction, so an exit always sees the state before it.
"""
import types
from typing import NamedTuple

from .. import infer
from ...cpython.quickened import specialisation_failed
from ..exits import FrameState, Known, SeqIter, VTuple
from ..infer import Unsupported
from ..ir import Value
from ..ops import OBJ, OPS, ObjType, RESUMABLE, is_obj
from .frameless import COLD_HAND_OVER, HandOver, frameless_op, resumable_op
from .merge import plain_type


class Options(NamedTuple):
    """What is built, fixed for one build: the function, its code and decoded instructions,
    CPython's hints, its namespaces, and how the retries of build() shaped this attempt."""
    func: object
    code: object
    ins: list                 # neutral instructions (decode.decode)
    hints: dict               # offset → what CPython's specialising interpreter saw
    globals: dict
    builtins: dict
    param_names: list         # positional and keyword parameters, in slot order
    resolve_callee: object    # (function, arg types) → a compiled callee or None
    self_return: object       # the return type guessed for self-recursion (None: not yet)
    force_exits: bool
    unbound: frozenset        # object locals that start as NULL (see merge.NeedUnbound)
    box_returns: bool         # numbers are returned as objects (see control.NeedBoxedReturns)
    frameless: object         # for native callers: only ops that may run frameless (or RESUMABLE)
    self_calls: bool          # recursion may call this specialisation natively
    objects: bool             # the object tier is on (TIERED_OBJECTS)
    widened: frozenset        # loop phis typed as any object (see merge.NeedWiden)
    boxed: frozenset          # locals (names) and merge stack slots that hold objects (merge.NeedBoxed)
    generic_at: frozenset     # offsets not to speculate at (their guards failed too often)


class Made:
    """The function under construction: the IR function, its blocks by offset, its exits in
    order, the next value id, the cell parameters by name, whether it calls itself natively,
    the keys of its loop phis, the module's rebound globals (looked up once: build/attributes.py),
    the offsets of the instructions walked natively and of those left to the interpreter, the
    boxes an edge drops (a branch's box its other edge pops: released where that edge lands),
    and the objects whose class varies with the offsets that speculate nothing on them."""
    __slots__ = ("fn", "blocks", "exits", "next_id", "cells", "made_self_call", "phi_keys", "rebound",
                 "walked", "left", "drops", "polymorphic", "generic")

    def __init__(self, fn):
        self.fn, self.blocks, self.exits, self.next_id = fn, {}, [], 0
        self.cells, self.made_self_call, self.rebound = {}, False, None
        self.phi_keys = {}            # a loop header phi's id -> its key (merge.NeedWiden)
        self.walked, self.left = set(), set()
        self.drops = {}               # (src leader, dst leader) -> values its destination releases
        # ids of objects a guard of their class failed too often for (read at an offset of
        # generic_at), and the offsets of other reads of them: no hint is used there either
        self.polymorphic, self.generic = set(), set()


class Cursor:
    """Where the walk is: the block leaders, the current block, the index of its first
    instruction and of the current one (k), and the state and offset before the current one."""
    __slots__ = ("leaders", "block", "first_k", "k", "pre_state", "pre_offset")

    def __init__(self):
        self.leaders, self.block, self.first_k, self.k = set(), None, 0, 0
        self.pre_state, self.pre_offset = None, None


class Builder:
    """One specialisation being built: `opts` (what), `made` (the function so far), `at` (the
    walk's cursor); emit and const are what infer's helpers call on it."""
    __slots__ = ("opts", "made", "at")

    def __init__(self, opts, fn):
        self.opts, self.made, self.at = opts, Made(fn), Cursor()

    def new(self, op, args, type, attrs=None, state=None):
        """Make a new Value with the next id (not yet in any block)."""
        v = Value(self.made.next_id, op, args, type, attrs, state)
        self.made.next_id += 1
        return v

    def emit(self, op, args, attrs=None, type=None):
        """Append an op to the current block; ops that may exit capture the pre-instruction state."""
        spec = OPS[op]
        if not self.opts.objects and (is_obj(type or spec.result)
                                      or any(is_obj(a.type) and not a.attrs.get("cell") for a in args)):
            held = [a.type for a in args if is_obj(a.type)] + [type or spec.result]
            raise Unsupported("UNSUPPORTED_TYPE", f"works on {_what(op, attrs, held[0])}, and "
                                                  "TIERED_OBJECTS is off")
        if self.opts.frameless:
            check_frameless(self, op, attrs or {})
        state = _frame_state(self) if spec.exit is not None else None
        if spec.python:                 # it may set a tracer: checked before the next instruction
            self.at.pre_state.called = True
        v = self.new(op, args, type or spec.result, attrs, state)
        if state is not None:
            v.attrs["exit"] = len(self.made.exits)
            self.made.exits.append(v)
        v.block = self.at.block
        self.at.block.body.append(v)
        return v

    def const(self, value):
        """A constant value of a supported scalar type."""
        t = infer.type_of_constant(value)
        if t is None:
            raise Unsupported("UNSUPPORTED_TYPE", f"constant {value!r}")
        return self.emit("const", [], {"value": value}, type=t)


def _what(op, attrs, t):
    """An object a refused op works on, in words: its class, and its name or text when it is a
    constant (a class, a function, a str); by exact classes only: no user code may run here."""
    value = (attrs or {}).get("value") if op == "obj_const" else None
    kind = type(value)
    if issubclass(kind, type):
        return f"the class {type.__dict__['__qualname__'].__get__(value)}"   # never a metaclass's
    if kind in (types.FunctionType, types.BuiltinFunctionType):
        return f"the function {value.__qualname__}"
    if kind is str:
        return f"a str ({value[:20]!r}{'...' if len(value) > 20 else ''})"
    return plain_type(t)


def table():
    """A group's handler table and the decorator that fills it: `@handles("load_fast")` over
    `def load_fast(b, i, st, block, out)` (b the Builder, i the instruction, st the State,
    block the current Block, out the states leaving along edges; True when the block ends)."""
    handlers = {}

    def handles(op):
        """Register the decorated function as the handler of the neutral op."""
        def register(f):
            """Add f to the table under op (once only)."""
            if op in handlers:
                raise AssertionError(f"{op} is handled twice in {f.__module__}")
            handlers[op] = f
            return f
        return register
    return handlers, handles


def _frame_state(b):
    """The FrameState before the current instruction: its offset, bound locals and stack."""
    st = b.at.pre_state
    return FrameState(b.at.pre_offset, tuple((n, v) for n, v in st.locals.items() if v is not None),
                      tuple(st.stack))


def top(b, st, n):
    """The top n stack items as values, bottom first; a known object (a global) or a virtual
    tuple becomes an object value in its slot, which then owns a reference to it."""
    out = []
    for k in range(len(st.stack) - n, len(st.stack)):
        item = st.stack[k]
        if isinstance(item, Known):
            item = st.stack[k] = object_constant(b, item.obj)
        elif isinstance(item, VTuple):
            item = materialise(b, st, k)
        out.append(val(item))
    return out


def val(item):
    """The item as a Value; refuse other stack items (objects, tuples, iterators)."""
    if not isinstance(item, Value):
        raise Unsupported("UNSUPPORTED_TYPE", f"{item!r} used as a number")
    return item


def acquire(b, v):
    """A new place holds v: take a reference when it is an object."""
    if is_obj(v.type):
        b.emit("incref", [v])


def release(b, v):
    """A place let go of v: release its reference when it is an object."""
    if is_obj(v.type):       # at: a destructor sees the frame at this instruction
        b.emit("xdecref" if v.attrs.get("maybe_null") else "decref", [v], {"at": b.at.pre_offset})


def release_item(b, item):
    """Release whatever a stack item owns (a value, a virtual tuple's items, an iterator's
    sequence)."""
    if isinstance(item, Value):
        release(b, item)
    elif isinstance(item, VTuple):
        for x in item.items:
            release(b, x)
    elif isinstance(item, SeqIter):
        release(b, item.seq)


def object_constant(b, obj):
    """A new place holding a constant object (a str, a global's value): an object value
    typed by its class, with its reference."""
    v = b.emit("obj_const", [], {"value": obj}, type=ObjType(type(obj)))
    acquire(b, v)
    return v


def materialise(b, st, k):
    """The virtual tuple at stack slot k as a real tuple (its items' references move in)."""
    t = st.stack[k]
    st.stack[k] = b.emit("build_tuple", list(t.items), type=ObjType(tuple))
    return st.stack[k]


def unbound_local(b, name):
    """What an unbound local holds: the NULL constant for those that start as NULL (so
    that merges see a value), else nothing."""
    if name in b.opts.unbound:
        return b.emit("const", [], {"value": None, "maybe_null": True}, type=OBJ)
    return None


def generic_here(b):
    """Whether this instruction speculates nothing (its guard failed too often: generic_at, or
    it reads an object whose guard did: Made.generic)."""
    return b.at.pre_offset in b.opts.generic_at or b.at.pre_offset in b.made.generic


def hint(b, offset=None):
    """CPython's specialised name for the instruction at offset (the current one by default);
    none where this walk speculates nothing (Made.generic)."""
    offset = b.at.pre_offset if offset is None else offset
    return "" if offset in b.made.generic else b.opts.hints.get(offset, "")


def as_class(b, st, pos, cls):
    """The stack item at pos (negative) guarded to be exactly of cls (exit if not); the
    guarded value replaces it in the slot, which keeps its one reference."""
    v = st.stack[pos]
    if v.type.cls is cls:
        return v
    if v.type != OBJ:
        raise Unsupported("UNSUPPORTED_TYPE", f"{v.type} used as {cls.__name__}")
    g = b.emit("guard_class", [v], {"cls": cls}, type=ObjType(cls))
    st.stack[pos] = g
    return g


def finish(b, st, operands, result, pops):
    """Release the operands, pop `pops` stack slots and push the result (if any)."""
    for v in operands:
        release(b, v)
    del st.stack[len(st.stack) - pops:]
    if result is not None:
        st.stack.append(result)


def check_frameless(b, op, attrs):
    """Refuse an op a frameless specialisation may not hold (hand it over on a cold path)."""
    if frameless_op(op, attrs) or b.opts.frameless == RESUMABLE and resumable_op(op, attrs):
        return
    if _cold(b):
        raise HandOver(op)
    raise Unsupported("NOT_FRAMELESS", op)


def _cold(b):
    """Whether the current instruction is one CPython specialises, and it has not (nor
    tried and failed): a path that has hardly run."""
    seen = hint(b)
    return (b.opts.ins[b.at.k].op in COLD_HAND_OVER and (not seen or seen.endswith("_ADAPTIVE"))
            and not specialisation_failed(b.opts.code, b.at.pre_offset))


def box_for(b, st, target):
    """Before a jump (or a fall-through) to `target`: box the numbers in the stack slots the
    merge there wants as objects (an exit resumes at the target with this state), and make
    known objects there values (`(A if c else B)(x)`: two classes meet as one object)."""
    for k, item in enumerate(st.stack):
        if (target, k) not in b.opts.boxed:
            continue
        if isinstance(item, Known):
            st.stack[k] = object_constant(b, item.obj)
        elif isinstance(item, Value) and not is_obj(item.type):
            b.at.pre_state, b.at.pre_offset = st.copy(), target
            st.stack[k] = b.emit("box", [item])
