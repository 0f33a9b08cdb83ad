"""Compiler stage 2: neutral instructions + argument types → SSA IR with a frame state on every op that may exit.

Blocks are processed in bytecode order; merge.py joins the states where paths meet.
"""
import builtins
import types

from .. import config
from . import infer
from .build_calls import Calls, NeedReturnType
from .build_cells import Cells, cell_names
from .build_composite import Composites
from .build_control import Control, NeedBoxedReturns
from .build_frameless import Frameless, HandOver, NeedGenericSelfCalls
from .build_methods import Methods
from .build_objects import Objects
from ..cpython.code import CO_GENERATOR_LIKE
from ..cpython.quickened import hints
from .decode import decode
from .exits import NULL, FrameState, Known, RangeArgs, SeqIter, VTuple
from .infer import Unsupported
from ..cpython.code import param_count
from .ir import Block, Function, Value
from .merge import Merging, NeedUnbound, State
from .ops import BOOL, FLOAT, INT, NONE, OBJ, OPS, is_obj


class Builder(Merging, Control, Calls, Objects, Methods, Composites, Cells, Frameless):
    """Builds one specialisation of one function."""

    def __init__(self, func, code, arg_types, resolve_callee, self_return=None, force_exits=False,
                 unbound=frozenset(), box_returns=False, frameless=False, self_calls=True):
        if code.co_flags & CO_GENERATOR_LIKE:
            raise Unsupported("GENERATOR", "generator or coroutine")
        self.func, self.code = func, code
        self.globals = func.__globals__
        self.builtins = self.globals.get("__builtins__", builtins)
        if isinstance(self.builtins, types.ModuleType):
            self.builtins = self.builtins.__dict__
        self.resolve_callee = resolve_callee
        self.self_return = self_return
        self.force_exits = force_exits
        self.ins = decode(code)
        self.hints = hints(code)          # what CPython's specialising interpreter saw
        self.unbound = unbound            # object locals that start as NULL (see NeedUnbound)
        self.objects = config.get("TIERED_OBJECTS")     # the object tier is on
        self.box_returns = box_returns    # numbers are returned as objects (see NeedBoxedReturns)
        self.frameless = frameless        # for native callers: only ops that may run frameless
        self.made_self_call = False
        self.next_id = 0
        self.blocks = {}
        self.current = None
        self.pre_state = None
        self.exits = []
        params = list(code.co_varnames[:param_count(code)])
        cells = cell_names(code)
        # recursion may call this specialisation natively (not with cells: it would need them)
        # and only with positional parameters: CPython binds the others)
        self.self_calls = self_calls and not cells and len(params) == code.co_argcount
        self.fn = Function(code.co_qualname, [], [])
        for name, t in zip(params, arg_types):        # captured: its frame slot holds a cell
            self.fn.params.append(self._new("phi", [], t, {"param": name, "captured": name in cells}))
        self._add_cell_params(cells)
        self.param_names = params

    # ---- values --------------------------------------------------------------------------
    def _new(self, op, args, type, attrs=None, state=None):
        """Make a new Value with the next id (not yet in any block)."""
        v = Value(self.next_id, op, args, type, attrs, state)
        self.next_id += 1
        return v

    def emit(self, op, args, attrs=None, type=None):
        """Append an op to the current block; ops that may exit capture the pre-instruction state."""
        spec = OPS[op]
        if not self.objects and (is_obj(type or spec.result)
                                 or any(is_obj(a.type) and not a.attrs.get("cell") for a in args)):
            raise Unsupported("UNSUPPORTED_TYPE", f"objects ({op}; TIERED_OBJECTS=1 compiles them)")
        if self.frameless:
            self._check_frameless(op, attrs or {})
        state = self._frame_state() if spec.exit is not None else None
        if spec.python:                 # it may set a tracer: checked before the next instruction
            self.pre_state.called = True
        v = self._new(op, args, type or spec.result, attrs, state)
        if state is not None:
            v.attrs["exit"] = len(self.exits)
            self.exits.append(v)
        v.block = self.current
        self.current.body.append(v)
        return v

    def const(self, value):
        """A constant value of a supported scalar type."""
        t = infer.type_of_constant(value)
        if t is None:
            raise Unsupported("UNSUPPORTED_TYPE", f"constant {value!r}")
        return self.emit("const", [], {"value": value}, type=t)

    def _frame_state(self):
        """The FrameState before the current instruction: its offset, bound locals and stack."""
        st = self.pre_state
        return FrameState(self.pre_offset, tuple((n, v) for n, v in st.locals.items() if v is not None),
                          tuple(st.stack))

    # ---- the walk ------------------------------------------------------------------------
    def build(self):
        """Walk the bytecode once and return the IR function (or raise Unsupported)."""
        ins = self.ins
        by_offset = {i.offset: k for k, i in enumerate(ins) if i.op != "nop" or k == 0
                     or ins[k - 1].offset != i.offset}
        leaders, edges = self._cfg(by_offset)
        preds = {o: [] for o in leaders}
        for src, dst in edges:
            preds[dst].append(src)
        self.leaders = leaders
        out_states = {}        # (src leader, dst leader) -> State at the edge
        entry = State({n: p for n, p in zip(self.param_names, self.fn.params) if not p.attrs.get("captured")}, [])
        for name in self.code.co_varnames[len(self.param_names):]:
            entry.locals[name] = None
        order = sorted(leaders)
        back_fill = []
        for off in order:
            incoming = [(s, out_states[(s, off)]) for s in preds[off] if (s, off) in out_states]
            backward = [s for s in preds[off] if s >= off]
            if off == order[0]:
                state = entry
                incoming = []
            elif not incoming:
                continue                      # unreachable from the compiled paths
            block = Block(len(self.fn.blocks), off)
            self.blocks[off] = block
            self.fn.blocks.append(block)
            block.preds = [self.blocks[s] for s, _ in incoming]
            if off != order[0]:
                state = self._merge(block, [st for _, st in incoming], loop=bool(backward))
            if backward:
                block.loop_header = True
                back_fill.append(block)
            self._walk_block(block, state, by_offset, out_states)
        for block in back_fill:
            self._fill_back_edges(block, out_states, preds)
        self.fn.exits = self.exits
        if self.made_self_call or self.frameless:
            self._mark_frameless()
        return self.fn

    def _walk_block(self, block, state, by_offset, out_states):
        """Interpret a block from its entry state until it ends; a loop header polls first."""
        block.header_state = state
        state = state.copy()
        self.current = block
        if block is self.fn.blocks[0]:    # the frame holds a reference to each argument
            for p in self.fn.params:
                if not (p.attrs.get("cell") or p.attrs.get("captured")):    # borrowed: no local
                    self._acquire(p)
            for name in self.unbound:
                state.locals[name] = self._unbound_local(name)
        k = self.first_k = by_offset[block.offset]
        if block.loop_header:           # polls signals and lets other threads run
            self.pre_state, self.pre_offset = state, self.ins[k].offset
            # a signal handler runs where CPython checks for it: at the loop's (last) back edge
            back = [i.offset for i in self.ins if i.target == block.offset and i.offset > block.offset]
            self.emit("loop_poll", [], {"at": max(back)} if back else None)
        leave = self._raise_block(k)
        if leave is not None:           # a raise: the interpreter runs the block and raises
            self.pre_state, self.pre_offset = state, self.ins[leave].offset
            self.emit("leave", [])
            block.term = ("exit",)
            return
        while True:
            i = self.ins[k]
            self.pre_state, self.pre_offset, self.k = state, i.offset, k
            undo = (state.copy(), len(block.body), len(self.exits), set(out_states)) if self.frameless else None
            try:
                if self._step(i, state, block, out_states):
                    return
            except HandOver:
                self._hand_over(block, i, undo, out_states)
                return
            k += 1
            nxt = self.ins[k].offset
            if nxt in self.leaders and nxt != i.offset:
                out_states[(block.offset, nxt)] = state
                block.term = ("br", nxt)
                return

    def _step(self, i, st, block, out_states):
        """Interpret one instruction; True when it ended the block."""
        if i.op in ("nop", "resume"):
            return False
        if ((st.called and i.starts_line and not any(isinstance(x, RangeArgs) for x in st.stack))
                or (block.loop_header and self.k == self.first_k)):
            # Python code ran (a call, a destructor...): if it set a tracer, continue in the
            # interpreter from the next line, whose line event the tracer sees as in CPython
            # (at loop headers always: a back edge may bring it; a pass drops these checks
            # where nothing runs Python code; not while range() waits for its GET_ITER, which
            # an exit could not hand over: the loop header after it checks)
            self.emit("trace_check", [])
            st.called = False
        handler = getattr(self, "_op_" + i.op, None)
        if handler is None:
            raise Unsupported("UNSUPPORTED_OPCODE", f"{i.arg or i.op} at offset {i.offset}")
        return handler(i, st, block, out_states)

    def _top(self, st, n):
        """The top n stack items as values, bottom first; a known object (a global) or a virtual
        tuple becomes an object value in its slot, which then owns a reference to it."""
        out = []
        for k in range(len(st.stack) - n, len(st.stack)):
            item = st.stack[k]
            if isinstance(item, Known):
                item = st.stack[k] = self._object_constant(item.obj)
            elif isinstance(item, VTuple):
                item = self._materialise(st, k)
            out.append(self._val(item))
        return out

    def _val(self, item):
        """The item as a Value; refuse other stack items (objects, tuples, iterators)."""
        if not isinstance(item, Value):
            raise Unsupported("UNSUPPORTED_TYPE", f"{item!r} used as a number")
        return item

    def _op_load_fast(self, i, st, block, out):
        """LOAD_FAST: push the local's value (refuses a possibly unbound local)."""
        v = st.locals.get(i.arg)
        if v is None or v.attrs.get("maybe_null"):
            raise Unsupported("UNBOUND_LOCAL", i.arg)
        self._acquire(v)
        st.stack.append(v)

    def _op_store_fast(self, i, st, block, out):
        """STORE_FAST: pop a value into the local (NULL, as a comprehension restores a local
        that was unbound, unbinds it); the old value is released after."""
        old = st.locals.get(i.arg)
        if st.stack[-1] is NULL:
            st.locals[i.arg] = self._unbound_local(i.arg)
        else:
            st.locals[i.arg] = self._top(st, 1)[0]
        st.stack.pop()
        if old is not None:
            self._release(old)

    def _op_delete_fast(self, i, st, block, out):
        """DELETE_FAST of a bound local: release it, leave it unbound (one that may be unbound
        already raises UnboundLocalError: the interpreter does that)."""
        v = st.locals.get(i.arg)
        if v is None or v.attrs.get("maybe_null"):
            raise Unsupported("UNBOUND_LOCAL", f"del {i.arg}")
        st.locals[i.arg] = self._unbound_local(i.arg)
        self._release(v)

    def _op_load_fast_and_clear(self, i, st, block, out):
        """LOAD_FAST_AND_CLEAR (3.12 inlines comprehensions): push the local, whose reference
        moves to the stack, or NULL when it is unbound; the local is left unbound."""
        v = st.locals.get(i.arg)
        if v is not None and v.op == "const" and v.attrs.get("maybe_null"):
            v = None                          # the NULL a local starts as (see NeedUnbound)
        st.stack.append(NULL if v is None else v)        # a value that may be NULL stays one
        st.locals[i.arg] = self._unbound_local(i.arg)

    def _unbound_local(self, name):
        """What an unbound local holds: the NULL constant for those that start as NULL (so
        that merges see a value), else nothing."""
        if name in self.unbound:
            return self.emit("const", [], {"value": None, "maybe_null": True}, type=OBJ)
        return None

    def _op_load_const(self, i, st, block, out):
        """LOAD_CONST: push a scalar constant, a tuple of them as a VTuple, or any other
        constant (a str, a tuple of objects) as an object value."""
        if type(i.arg) is tuple and all(infer.type_of_constant(x) for x in i.arg):
            st.stack.append(VTuple(tuple(self.const(x) for x in i.arg)))
        elif infer.type_of_constant(i.arg) is None:
            st.stack.append(self._object_constant(i.arg))
        else:
            st.stack.append(self.const(i.arg))

    def _op_build_tuple(self, i, st, block, out):
        """BUILD_TUPLE: replace the top arg values by one VTuple of them."""
        items = tuple(self._top(st, i.arg))
        del st.stack[len(st.stack) - i.arg:]
        st.stack.append(VTuple(items))

    def _op_unpack(self, i, st, block, out):
        """UNPACK_SEQUENCE: replace a VTuple of arg items by its items, the first on top."""
        t = st.stack.pop()
        if not isinstance(t, VTuple) or len(t.items) != i.arg:
            raise Unsupported("UNSUPPORTED_TYPE", "unpacking something other than a tuple of that size")
        st.stack.extend(reversed(t.items))

    def _op_pop_top(self, i, st, block, out):
        """POP_TOP: drop the top of the stack (and what it owns)."""
        self._release_item(st.stack.pop())

    def _op_push_null(self, i, st, block, out):
        """PUSH_NULL: push the NULL marker."""
        st.stack.append(NULL)

    def _op_copy(self, i, st, block, out):
        """COPY: push the arg-th item from the top again."""
        item = st.stack[-i.arg]
        if isinstance(item, (SeqIter, VTuple)):
            raise Unsupported("UNSUPPORTED_OPCODE", "COPY of an iterator or tuple")
        if isinstance(item, Value):
            self._acquire(item)
        st.stack.append(item)

    def _op_swap(self, i, st, block, out):
        """SWAP: exchange the top item with the arg-th from the top."""
        s = st.stack
        s[-1], s[-i.arg] = s[-i.arg], s[-1]

    def _op_binary(self, i, st, block, out):
        """BINARY_OP: replace the top two values by the specialised operation's result."""
        self._operate(i, st, infer.binary, "obj_binary")

    def _op_unary(self, i, st, block, out):
        """UNARY_*: replace the top value by the specialised operation's result (of an object:
        `not` of its truth, the others through the C-API; the object is released after)."""
        x = self._top(st, 1)[0]
        if not is_obj(x.type):
            r = infer.unary(self, i.arg, x)
        elif i.arg == "not":
            r = self.emit("bool_not", [self._object_truth(x)])
        else:
            r = self.emit("obj_unary", [x], {"sym": i.arg})
            self._release(x)
        st.stack[-1] = r

    def _op_compare(self, i, st, block, out):
        """COMPARE_OP: replace the top two values by the specialised comparison."""
        self._operate(i, st, infer.compare, "obj_compare")


def build(func, arg_types, resolve_callee=lambda fn, types_: None, force_exits=False, code=None,
          frameless=False):
    """IR for `func` (its original `code`) specialised on `arg_types`, frameless when asked (a
    native caller calls it); tries return types for self-recursion."""
    code = code or func.__code__
    try:
        return _build(func, code, arg_types, resolve_callee, None, force_exits, frameless)
    except NeedReturnType:
        pass
    last = None
    for guess in (INT, FLOAT, BOOL, NONE):
        try:
            fn = _build(func, code, arg_types, resolve_callee, guess, force_exits, frameless)
        except Unsupported as exc:
            last = exc
            continue
        if fn.return_type == guess or fn.attrs.get("generic_self_calls"):
            return fn
    raise last or Unsupported("UNSTABLE_TYPE", "recursive return type")


def _build(func, code, arg_types, resolve_callee, self_return, force_exits, frameless):
    """Build, again with more object locals starting unbound (NULL) while the merges ask, with
    numbers returned as objects when some returns are objects, and with recursive calls
    through the interpreter when the function cannot run frameless."""
    unbound, box_returns, self_calls = set(), False, True
    while True:
        try:
            fn = Builder(func, code, arg_types, resolve_callee, self_return, force_exits,
                         frozenset(unbound), box_returns, frameless, self_calls).build()
            fn.attrs["generic_self_calls"] = not self_calls
            return fn
        except NeedGenericSelfCalls:
            if frameless or not self_calls:
                raise Unsupported("NOT_FRAMELESS", "it cannot run frameless") from None
            self_calls = False
        except NeedUnbound as need:
            if need.name in unbound:
                raise Unsupported("UNBOUND_LOCAL", need.name) from None
            unbound.add(need.name)
        except NeedBoxedReturns:
            box_returns = True
