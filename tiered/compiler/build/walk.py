"""Compiler stage 2, the walk: neutral instructions + argument types → the IR function, block by block, each instruction through its handler.

Each group module (stack, numbers, objects, attributes, calls, cells, containers, control) has a
HANDLERS table; they are merged here, and a neutral op handled by two groups is an import error.
"""
import builtins
import types

from ... import config
from ...cpython.code import CO_GENERATOR_LIKE, param_count, untouched_params
from ...cpython.quickened import hints
from ..decode import decode
from ..exits import RangeArgs
from ..infer import Unsupported
from ..ir import Block, Function
from ..ops import is_obj
from . import attributes, calls, cells, containers, control, numbers, objects, stack
from .cells import add_cell_params, cell_names
from .control import raise_block
from .core import Builder, Options, acquire, box_for, release, unbound_local
from .frameless import HandOver, hand_over, mark_frameless
from .merge import NeedBoxed, NeedUnbound, NeedWiden, State, cfg, fill_back_edges, merge

GROUPS = (stack, numbers, objects, attributes, calls, cells, containers, control)


def _merge_tables(groups):
    """One table of every group's handlers; an op two groups handle is an error."""
    merged = {}
    for group in groups:
        twice = merged.keys() & group.HANDLERS.keys()
        if twice:
            raise ImportError(f"{group.__name__} handles {sorted(twice)} again")
        merged.update(group.HANDLERS)
    return merged


HANDLERS = _merge_tables(GROUPS)


def start(func, code, arg_types, resolve_callee, self_return=None, force_exits=False,
          unbound=frozenset(), box_returns=False, frameless=False, self_calls=True, widened=frozenset(),
          boxed=frozenset(), generic_at=frozenset()):
    """A Builder for one specialisation of one function, with its parameters made."""
    if code.co_flags & CO_GENERATOR_LIKE:
        raise Unsupported("GENERATOR", "generator or coroutine")
    globals_ = func.__globals__
    builtins_ = globals_.get("__builtins__", builtins)
    if isinstance(builtins_, types.ModuleType):
        builtins_ = builtins_.__dict__
    params = list(code.co_varnames[:param_count(code)])
    cells_ = cell_names(code)
    opts = Options(
        # no hint where speculation failed too often: those instructions take the generic path
        func=func, code=code, ins=decode(code), globals=globals_, builtins=builtins_,
        hints={k: h for k, h in hints(code).items() if k not in generic_at},
        param_names=params, resolve_callee=resolve_callee, self_return=self_return,
        force_exits=force_exits, unbound=unbound, box_returns=box_returns, frameless=frameless,
        # recursion may call this specialisation natively (not with cells: it would need them)
        # and only with positional parameters: CPython binds the others)
        self_calls=self_calls and not cells_ and len(params) == code.co_argcount,
        objects=config.get("TIERED_OBJECTS"), widened=widened, boxed=boxed, generic_at=generic_at)
    b = Builder(opts, Function(code.co_qualname, [], []))
    # each local's slot in the frame (ops/frames.py keeps the frame's slots truthful)
    b.made.fn.attrs["slots"] = {n: k for k, n in enumerate(code.co_varnames)}
    # the parameters whose slots keep the caller's objects while the frame runs (no sync needed)
    b.made.fn.attrs["untouched"] = untouched_params(code)
    for name, t in zip(params, arg_types):        # captured: its frame slot holds a cell
        b.made.fn.params.append(b.new("phi", [], t, {"param": name, "captured": name in cells_}))
    add_cell_params(b, cells_)
    return b


def run(b):
    """Walk the bytecode once and return the IR function (or raise Unsupported, which then
    carries the offset of the instruction, or the join, where the walk stopped)."""
    try:
        return _run(b)
    except Unsupported as exc:
        if exc.offset is None:
            exc.offset = b.at.pre_offset
        raise


def _run(b):
    """Walk the bytecode once and return the IR function."""
    ins = b.opts.ins
    by_offset = {i.offset: k for k, i in enumerate(ins) if i.op != "nop" or k == 0
                 or ins[k - 1].offset != i.offset}
    leaders, edges = cfg(b, by_offset)
    preds = {o: [] for o in leaders}
    for src, dst in edges:
        preds[dst].append(src)
    b.at.leaders = leaders
    out_states = {}        # (src leader, dst leader) -> State at the edge
    entry = State({n: p for n, p in zip(b.opts.param_names, b.made.fn.params) if not p.attrs.get("captured")}, [])
    for name in b.opts.code.co_varnames[len(b.opts.param_names):]:
        entry.locals[name] = None
    order = sorted(leaders)
    back_fill = []
    try:
        _walk_blocks(b, order, entry, preds, by_offset, out_states, back_fill)
    except Unsupported:
        _ask_back_edges(b, back_fill, out_states, preds)
        raise
    for block in back_fill:
        b.at.pre_offset = block.offset
        fill_back_edges(b, block, out_states, preds)
    b.made.fn.attrs["walked"] = frozenset(b.made.walked)
    b.made.fn.attrs["left"] = frozenset(b.made.left)
    b.made.fn.exits = b.made.exits
    if b.made.made_self_call or b.opts.frameless:
        mark_frameless(b)
    return b.made.fn


def _ask_back_edges(b, headers, out_states, preds):
    """A walk refused: the loop headers' types were provisional, and a back edge already walked
    may widen or box them (a local None before its loop and an object after it: NeedBoxed),
    after which the refused block may compile.  Their requests (Need...) go up; anything else
    they find leaves the walk's own refusal standing."""
    at = b.at.pre_offset
    try:
        for block in headers:
            fill_back_edges(b, block, out_states, preds)
    except (NeedBoxed, NeedWiden, NeedUnbound):
        raise
    except (Unsupported, AssertionError):
        pass
    b.at.pre_offset = at


def _walk_blocks(b, order, entry, preds, by_offset, out_states, back_fill):
    """Walk the blocks in offset order from their merged entry states (loop headers, whose back
    edges are filled later, into back_fill)."""
    for off in order:
        incoming = [(s, out_states[(s, off)]) for s in preds[off] if (s, off) in out_states]
        backward = [s for s in preds[off] if s >= off]
        if off == order[0]:
            state = entry
            incoming = []
        elif not incoming:
            continue                      # unreachable from the compiled paths
        block = Block(len(b.made.fn.blocks), off)
        b.made.blocks[off] = block
        b.made.fn.blocks.append(block)
        block.preds = [b.made.blocks[s] for s, _ in incoming]
        if off != order[0]:
            b.at.pre_offset = off         # a join that fails is reported at the block's start
            state = merge(b, block, [st for _, st in incoming], loop=bool(backward))
        drops = [v for s, _ in incoming for v in b.made.drops.get((s, off), ())]
        if drops and (len(incoming) > 1 or backward):
            raise Unsupported("UNSTABLE_TYPE", "a value one edge drops is released where paths meet")
        if backward:
            block.loop_header = True
            back_fill.append(block)
        _walk_block(b, block, state, by_offset, out_states, drops)


def _walk_block(b, block, state, by_offset, out_states, drops=()):
    """Interpret a block from its entry state until it ends (first releasing the boxes its
    edge dropped); a loop header polls first."""
    block.header_state = state
    state = state.copy()
    b.at.block = block
    for v in drops:
        release(b, v)
    if block is b.made.fn.blocks[0]:    # the frame holds a reference to each argument
        for p in b.made.fn.params:
            if not (p.attrs.get("cell") or p.attrs.get("captured")):    # borrowed: no local
                acquire(b, p)
        for name in b.opts.unbound:       # (a parameter is bound: a comprehension's variable
            if state.locals.get(name) is None:    # of its name is cleared at the comprehension)
                state.locals[name] = unbound_local(b, name)
        for name in b.opts.boxed:       # a number parameter of a local that holds objects
            v = state.locals.get(name)
            if v is not None and not is_obj(v.type):    # (an exit resumes after RESUME)
                b.at.pre_state, b.at.pre_offset = state, _after_resume(b.opts.ins).offset
                state.locals[name] = b.emit("box", [v])
    k = b.at.first_k = by_offset[block.offset]
    if block.loop_header:           # polls signals and lets other threads run
        _loop_poll(b, block, state, k)
    leave = raise_block(b, k)
    if leave is not None:           # a raise: the interpreter runs the block and raises
        b.made.left.update(i.offset for i in b.opts.ins[leave:_raise_at(b.opts.ins, leave) + 1])
        b.at.pre_state, b.at.pre_offset = state, b.opts.ins[leave].offset
        b.emit("leave", [])
        block.term = ("exit",)
        return
    while True:
        i = b.opts.ins[k]
        b.at.pre_state, b.at.pre_offset, b.at.k = state, i.offset, k
        undo = (state.copy(), len(block.body), len(b.made.exits), set(out_states)) if b.opts.frameless else None
        try:
            if _step(b, i, state, block, out_states):
                b.made.walked.add(i.offset)
                return
        except HandOver:
            b.made.left.add(i.offset)
            hand_over(b, block, i, undo, out_states)
            return
        b.made.walked.add(i.offset)
        k += 1
        nxt = b.opts.ins[k].offset
        if nxt in b.at.leaders and nxt != i.offset:
            box_for(b, state, nxt)
            out_states[(block.offset, nxt)] = state
            block.term = ("br", nxt)
            return


def _after_resume(ins):
    """The first instruction after RESUME (MAKE_CELL and COPY_FREE_VARS come before it)."""
    k = next((k for k, i in enumerate(ins) if i.op == "resume"), -1)
    return ins[k + 1]


def _raise_at(ins, k):
    """The index of the first raise at or after instruction k."""
    while ins[k].op != "raise":
        k += 1
    return k


def _loop_poll(b, block, state, k):
    """The loop header's poll.  A handler that raises is raised where CPython raises it: at the
    loop's backward jump (the header's state is the state there: the jump changes nothing), or,
    after 3.11's conditional backward jump, at the instruction before the target (the loop's own
    test), whose stack differs: that state serves only to raise (raise_only, no forced exit)."""
    back = [i for i in b.opts.ins if i.target == block.offset and i.offset > block.offset]
    before = b.opts.ins[k - 1] if k else None
    attrs = {"at": max(i.offset for i in back)} if back else {}
    if back and all(i.op == "jump" for i in back):
        at = max(i.offset for i in back)
    elif back and before is not None and before.op == "branch":
        at, attrs["raise_only"] = before.offset, True
    else:
        at = b.opts.ins[k].offset
    b.at.pre_state, b.at.pre_offset = state, at
    b.emit("loop_poll", [], attrs or None)


def _step(b, i, st, block, out_states):
    """Interpret one instruction; True when it ended the block."""
    if i.op in ("nop", "resume"):
        return False
    if ((st.called and i.starts_line and not any(isinstance(x, RangeArgs) for x in st.stack))
            or (block.loop_header and b.at.k == b.at.first_k)):
        # Python code ran (a call, a destructor...): if it set a tracer, continue in the
        # interpreter from the next line, whose line event the tracer sees as in CPython
        # (at loop headers always: a back edge may bring it; a pass drops these checks
        # where nothing runs Python code; not while range() waits for its GET_ITER, which
        # an exit could not hand over: the loop header after it checks)
        b.emit("trace_check", [])
        st.called = False
    handler = HANDLERS.get(i.op)
    if handler is None:
        raise Unsupported("UNSUPPORTED_OPCODE", f"{i.arg or i.op} at offset {i.offset}")
    return handler(b, i, st, block, out_states)
