"""Compiler stage 2, frameless rules: the ops a natively called specialisation may hold → refusals, cold-path hand-overs, frameless marks."""
from ..infer import Unsupported
from ..ops import OPS, RESUMABLE

# instructions with an adaptive counter: at one CPython has not specialised yet, a frameless
# specialisation hands over what it cannot do natively
COLD_HAND_OVER = ("load_attr", "store_attr", "call", "binary", "subscr", "store_subscr", "compare")


class HandOver(Unsupported):
    """A frameless specialisation cannot do this instruction natively, but the path is cold:
    the block exits there instead (the builder catches it)."""

    def __init__(self, op):
        super().__init__("NOT_FRAMELESS", op)


class NeedGenericSelfCalls(Exception):
    """The function calls itself but may not run frameless: build it again with its
    recursive calls made through the interpreter."""


def frameless_op(op, attrs):
    """Whether an op may be in a frameless specialisation (an attribute load only as CPython
    specialised it: its miss then exits; the builder marks an op `frameless` where its operands'
    classes make it so)."""
    return attrs.get("frameless", OPS[op].frameless) and not (op == "getattr" and attrs.get("cache") is None)


def resumable_op(op, attrs):
    """Whether an op may be in a resumable frameless specialisation: it may change objects the
    program sees, but runs no Python code there (a destructor aside), so an exit after it can be
    resumed in the interpreter (deopt.Resumer) instead of calling the function again."""
    return (not OPS[op].python or attrs.get("resumable", False)) and op != "loop_poll"


def mark_frameless(b):
    """A native call of itself is called again from the interpreter when it exits: it must
    be frameless (nothing seen changes, no Python code runs before an exit); a resumable
    one changes objects, without loops, and its exit is resumed instead."""
    ops = [v for b in b.made.fn.blocks for v in b.body]
    if not all(frameless_op(v.op, v.attrs) for v in ops):
        if b.made.made_self_call or b.opts.frameless != RESUMABLE or any(v.op == "loop_poll" for v in ops):
            raise NeedGenericSelfCalls()
        b.made.fn.attrs["resumable"] = True
    b.made.fn.attrs["frameless"] = True


def hand_over(b, block, i, undo, out_states):
    """End the block with an exit at instruction i, as if it had not begun: the interpreter
    does what a frameless specialisation cannot, on a path that has hardly run."""
    if block is b.made.fn.blocks[0]:
        # the function itself has hardly run: called natively, every call would exit
        raise Unsupported("NOT_FRAMELESS", f"a cold first block (offset {i.offset})")
    state, body, exits, edges = undo
    del block.body[body:]
    del b.made.exits[exits:]
    for key in set(out_states) - edges:
        del out_states[key]
    b.at.pre_state, b.at.pre_offset = state, i.offset
    b.emit("hand_over", [])
    block.term = ("exit",)
