"""Compiler stage 2, control flow: jumps, branches, GET_ITER/FOR_ITER and returns → block terminators and the states along each edge."""
from .. import infer
from ..decode import ENDS_BLOCK
from ..exits import Known, RangeArgs, RangeIter, SeqIter, VTuple
from ..infer import Unsupported
from ..ir import Value
from ..ops import OBJ, ObjType, is_obj
from .containers import C_ITERATORS, HINT_CLASS, SEQUENCES
from .core import box_for, hint, materialise, object_constant, release, release_item, table, top
from .objects import is_none, object_truth

HANDLERS, handles = table()


class NeedBoxedReturns(Exception):
    """Returns of different kinds (objects and numbers, or two kinds of number): build again
    returning every number boxed."""


@handles("return_const")
def return_const(b, i, st, block, out):
    """RETURN_CONST: end the block returning the constant."""
    _check_tracing_before_return(b, st)
    c = b.const(i.arg) if infer.type_of_constant(i.arg) else object_constant(b, i.arg)
    if b.opts.box_returns and not is_obj(c.type):
        c = b.emit("box", [c])
    _ret(b, block, c, st)
    return True


@handles("return")
def return_value(b, i, st, block, out):
    """RETURN_VALUE: end the block returning the popped value."""
    _check_tracing_before_return(b, st)
    v = top(b, st, 1)[0]
    if b.opts.box_returns and not is_obj(v.type):      # boxed while still on the stack
        v = st.stack[-1] = b.emit("box", [v])
    st.stack.pop()
    _ret(b, block, v, st)
    return True


def _check_tracing_before_return(b, st):
    """A tracer set on this line sees the return event: check before anything is popped."""
    if st.called:
        b.emit("trace_check", [])


def _ret(b, block, v, st):
    """End the block with a return of v (an object's reference goes to the caller) after
    the frame releases its locals, in slot order; every return must have the same type."""
    for item in st.stack:
        release_item(b, item)
    # the frame points at the return, and, when it outlives the call, shows the locals' last values
    numbers = [(n, x) for n, x in st.locals.items() if x is not None and not is_obj(x.type)]
    b.emit("sync_frame", [x for _, x in numbers], {"names": [n for n, _ in numbers], "at": b.at.pre_offset})
    for local in st.locals.values():
        if local is not None:
            release(b, local)
    t = b.made.fn.return_type
    if t is None:
        b.made.fn.return_type = v.type
    elif is_obj(t) and is_obj(v.type):
        b.made.fn.return_type = t if t == v.type else OBJ
    elif t != v.type and b.opts.objects:
        raise NeedBoxedReturns()          # an object, or numbers of two kinds (True or an int)
    elif t != v.type:
        raise Unsupported("UNSTABLE_TYPE", f"returns {t} and {v.type}")
    block.term = ("ret", v)


def raise_block(b, k):
    """Where to leave for the interpreter when the block starting at instruction k ends in
    a raise: its first instruction (after the function's RESUME), so that the interpreter
    runs the whole block, building the exception too; None for other blocks."""
    j = k
    while b.opts.ins[j].op != "raise":
        if b.opts.ins[j].op in ENDS_BLOCK or b.opts.ins[j].target is not None or j + 1 == len(b.opts.ins):
            return None
        j += 1
        if b.opts.ins[j].offset in b.at.leaders and b.opts.ins[j].offset != b.opts.ins[j - 1].offset:
            return None
    resume = next((x for x in range(j) if b.opts.ins[x].op == "resume"), -1)
    return max(k, resume + 1)           # MAKE_CELL, COPY_FREE_VARS and RESUME ran already


@handles("jump")
def jump(b, i, st, block, out):
    """JUMP_*: end the block with a branch to the target, passing the state along."""
    box_for(b, st, i.target)
    out[(block.offset, i.target)] = st
    block.term = ("br", i.target)
    return True


@handles("branch")
def branch(b, i, st, block, out):
    """POP_JUMP_IF_*/JUMP_IF_*_OR_POP: branch on the top's truth, or on it being None (kept
    when an or_pop jumps)."""
    when, kind = i.arg
    cond = top(b, st, 1)[0]
    if kind == "none":
        t = is_none(b, cond)
    elif is_obj(cond.type) and kind == "pop":
        t = object_truth(b, cond)
    elif is_obj(cond.type):               # 3.11's JUMP_IF_*_OR_POP: the jump keeps the object,
        t = b.emit("obj_truth", [cond])   # the other edge releases it where it lands
        b.made.drops.setdefault((block.offset, _next_offset(b, i)), []).append(cond)
    else:
        t = infer.truth(b, cond)
    nxt = _next_offset(b, i)
    taken, fall = st.copy(), st.copy()
    fall.stack.pop()
    if kind != "or_pop":
        taken.stack.pop()
    if t.op == "const":             # known now (isinstance of a number): one way only, and
        jumps = bool(t.attrs["value"]) == bool(when)    # the other side is not compiled
        target = i.target if jumps else nxt
        out[(block.offset, target)] = taken if jumps else fall
        block.term = ("br", target)
        return True
    _box_on_both_edges(b, st, taken, fall, i.target, nxt)
    out[(block.offset, i.target)] = taken
    out[(block.offset, nxt)] = fall
    block.term = ("cbr", t, i.target, nxt) if when else ("cbr", t, nxt, i.target)
    return True


def _box_on_both_edges(b, st, taken, fall, target, nxt):
    """Box, before the branch, the numbers a merge at either target wants as objects.  A value
    both edges keep (3.12's `a and b` keeps it on both) is boxed for both; one only the taken
    edge keeps (3.11's JUMP_IF_FALSE_OR_POP) is released where the other edge lands."""
    for k, item in enumerate(taken.stack):
        wanted = (target, k) in b.opts.boxed or (nxt, k) in b.opts.boxed
        if not (wanted and isinstance(item, Value) and not is_obj(item.type)):
            continue
        b.at.pre_state = st.copy()
        boxed = b.emit("box", [item])
        taken.stack[k] = boxed
        if k < len(fall.stack) and fall.stack[k] is item:
            fall.stack[k] = boxed
        else:
            b.made.drops.setdefault((b.at.block.offset, nxt), []).append(boxed)


def _next_offset(b, i):
    """The offset of the instruction after the current one."""
    return b.opts.ins[b.at.k + 1].offset


@handles("get_iter")
def get_iter(b, i, st, block, out):
    """GET_ITER: turn range() arguments into a range iterator; on the object tier, an
    object or a tuple (`for x in (1, 2.5)`: a constant one when every item is) iterates."""
    r = st.stack[-1]
    if isinstance(r, Known) and b.opts.objects:
        r = top(b, st, 1)[0]              # a global's object (`for d in DIRS`): its value
    if isinstance(r, VTuple) and b.opts.objects:
        if all(isinstance(x, Value) and x.op == "const" for x in r.items):
            st.stack[-1] = object_constant(b, tuple(x.attrs["value"] for x in r.items))
        else:
            materialise(b, st, len(st.stack) - 1)
        return _seq_get_iter(b, st)
    if isinstance(r, Value) and is_obj(r.type):
        return _seq_get_iter(b, st)
    if not isinstance(r, RangeArgs):
        raise Unsupported("UNSUPPORTED_TYPE", "a for loop over something other than range()")
    n = b.emit("range_len", [r.start, r.stop, r.step])
    st.stack[-1] = RangeIter(r.start, n, r.step)


@handles("for_iter")
def for_iter(b, i, st, block, out):
    """FOR_ITER: branch on items left; the body gets the advanced iterator and the item."""
    it = st.stack[-1]
    if isinstance(it, SeqIter):
        return _seq_for_iter(b, i, st, block, out)
    if isinstance(it, Value) and is_obj(it.type):
        return _iter_for_iter(b, i, st, block, out)
    if not isinstance(it, RangeIter):
        raise Unsupported("UNSUPPORTED_TYPE", "a for loop over something other than range()")
    more = b.emit("int_cmp", [it.remaining, b.const(0)], {"pred": ">"})
    step_next = b.emit("int_add_wrap", [it.next, it.step])
    left = b.emit("int_sub_wrap", [it.remaining, b.const(1)])
    return _for_iter_edges(b, i, st, block, out, more, RangeIter(step_next, left, it.step), it.next)


def loop_over(b, k):
    """The FOR_ITER instruction that iterates what the GET_ITER at k makes (after 3.12's
    comprehension set-up: the saved variable and the new container), or None when the
    iterator goes elsewhere (to a generator expression or a 3.11 comprehension)."""
    if k >= len(b.opts.ins) or b.opts.ins[k].op != "get_iter":
        return None
    for i in b.opts.ins[k + 1:]:
        if i.op == "for_iter":
            return i
        if i.op not in ("load_fast_and_clear", "swap", "build_list", "build_map", "build_set"):
            return None
    return None


def _seq_get_iter(b, st):
    """GET_ITER on a list or tuple that a for loop runs over: a virtual iterator that takes
    over the slot's reference; anything else (an iterator handed to a generator
    expression or a 3.11 comprehension) is a real iterator object."""
    seq = st.stack[-1]
    loop = loop_over(b, b.at.k)
    # CPython's hint (FOR_ITER_LIST) also holds for a list's subclass, whose iterator is a
    # list's: the guard takes both; where it failed too often, the loop is generic
    hinted = loop is not None and b.at.pre_offset not in b.opts.generic_at
    cls = seq.type.cls or (HINT_CLASS.get(hint(b, loop.offset)) if hinted else None)
    base = next((c for c in SEQUENCES if isinstance(cls, type) and issubclass(cls, c)), None)
    if base is not None and loop is not None and (cls is base or hinted):
        if seq.type.cls is not base:
            seq = st.stack[-1] = b.emit("guard_sequence", [seq], {"cls": base}, type=ObjType(base))
        st.stack[-1] = SeqIter(seq, b.const(0))
        return
    it_cls = C_ITERATORS.get(seq.type.cls)  # any other iterable: its real iterator
    it = b.emit("obj_iter", [seq], {"frameless": True} if it_cls else None,
                type=ObjType(it_cls) if it_cls else None)
    release(b, seq)
    st.stack[-1] = it


def _iter_for_iter(b, i, st, block, out):
    """FOR_ITER over an iterator object: its next item, or the end (the iterator goes)."""
    it = st.stack[-1]
    item = b.emit("iter_next", [it], {"frameless": True} if it.type.cls in C_ITERATORS.values() else None)
    more = b.emit("bool_not", [b.emit("is_null", [item])])
    b.emit("release_unless", [it, more], {"at": b.at.pre_offset})
    return _for_iter_edges(b, i, st, block, out, more, it, item)


def _seq_for_iter(b, i, st, block, out):
    """FOR_ITER over a list or tuple: the length is read at every step (a list may change
    while it is iterated); when done, the iterator's reference to the sequence goes."""
    it = st.stack[-1]
    more = b.emit("int_cmp", [it.index, b.emit("seq_len", [it.seq])], {"pred": "<"})
    item = b.emit("seq_next", [it.seq, it.index, more])
    b.emit("release_unless", [it.seq, more], {"at": b.at.pre_offset})
    nxt = SeqIter(it.seq, b.emit("int_add_wrap", [it.index, b.const(1)]))
    return _for_iter_edges(b, i, st, block, out, more, nxt, item)


def _for_iter_edges(b, i, st, block, out, more, advanced, item):
    """End a FOR_ITER block: the body gets the advanced iterator and the item, the exit
    edge the stack without the iterator."""
    body = st.copy()
    body.stack[-1] = advanced
    body.stack.append(item)
    done = st.copy()
    done.stack.pop()
    nxt = _next_offset(b, i)
    out[(block.offset, nxt)] = body
    out[(block.offset, i.target)] = done
    block.term = ("cbr", more, nxt, i.target)
    return True
