"""Compiler stage 2e: jumps, branches, for-loops and returns → IR block terminators (mixed into Builder)."""
from . import infer
from .decode import ENDS_BLOCK
from .exits import RangeArgs, RangeIter, SeqIter, VTuple
from .infer import Unsupported
from .ir import Value
from .ops import OBJ, is_obj


class NeedBoxedReturns(Exception):
    """Some returns are objects and some numbers: build again returning every number boxed."""


class Control:
    """The control-flow half of the builder: where blocks end and what flows along each edge."""

    def _op_return_const(self, i, st, block, out):
        """RETURN_CONST: end the block returning the constant."""
        self._check_tracing_before_return(st)
        c = self.const(i.arg) if infer.type_of_constant(i.arg) else self._object_constant(i.arg)
        if self.box_returns and not is_obj(c.type):
            c = self.emit("box", [c])
        self._ret(block, c, st)
        return True

    def _op_return(self, i, st, block, out):
        """RETURN_VALUE: end the block returning the popped value."""
        self._check_tracing_before_return(st)
        v = self._top(st, 1)[0]
        if self.box_returns and not is_obj(v.type):      # boxed while still on the stack
            v = st.stack[-1] = self.emit("box", [v])
        st.stack.pop()
        self._ret(block, v, st)
        return True

    def _check_tracing_before_return(self, st):
        """A tracer set on this line sees the return event: check before anything is popped."""
        if st.called:
            self.emit("trace_check", [])

    def _ret(self, block, v, st):
        """End the block with a return of v (an object's reference goes to the caller) after
        the frame releases its locals, in slot order; every return must have the same type."""
        for item in st.stack:
            self._release_item(item)
        for local in st.locals.values():
            if local is not None:
                self._release(local)
        t = self.fn.return_type
        if t is None:
            self.fn.return_type = v.type
        elif is_obj(t) and is_obj(v.type):
            self.fn.return_type = t if t == v.type else OBJ
        elif (is_obj(t) or is_obj(v.type)) and self.objects:
            raise NeedBoxedReturns()
        elif t != v.type:
            raise Unsupported("UNSTABLE_TYPE", f"returns {t} and {v.type}")
        block.term = ("ret", v)

    def _raise_block(self, k):
        """Where to leave for the interpreter when the block starting at instruction k ends in
        a raise: its first instruction (after the function's RESUME), so that the interpreter
        runs the whole block, building the exception too; None for other blocks."""
        j = k
        while self.ins[j].op != "raise":
            if self.ins[j].op in ENDS_BLOCK or self.ins[j].target is not None or j + 1 == len(self.ins):
                return None
            j += 1
            if self.ins[j].offset in self.leaders and self.ins[j].offset != self.ins[j - 1].offset:
                return None
        resume = next((x for x in range(j) if self.ins[x].op == "resume"), -1)
        return max(k, resume + 1)           # MAKE_CELL, COPY_FREE_VARS and RESUME ran already

    def _op_jump(self, i, st, block, out):
        """JUMP_*: end the block with a branch to the target, passing the state along."""
        out[(block.offset, i.target)] = st
        block.term = ("br", i.target)
        return True

    def _op_branch(self, i, st, block, out):
        """POP_JUMP_IF_*/JUMP_IF_*_OR_POP: branch on the top's truth, or on it being None (kept
        when an or_pop jumps)."""
        when, kind = i.arg
        cond = self._top(st, 1)[0]
        if kind == "none":
            t = self._is_none(cond)
        elif is_obj(cond.type):
            if kind != "pop":
                raise Unsupported("UNSUPPORTED_TYPE", "an object kept by JUMP_IF_*_OR_POP")
            t = self._object_truth(cond)
        else:
            t = infer.truth(self, cond)
        nxt = self._next_offset(i)
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
        out[(block.offset, i.target)] = taken
        out[(block.offset, nxt)] = fall
        block.term = ("cbr", t, i.target, nxt) if when else ("cbr", t, nxt, i.target)
        return True

    def _next_offset(self, i):
        """The offset of the instruction after the current one."""
        return self.ins[self.k + 1].offset

    def _op_get_iter(self, i, st, block, out):
        """GET_ITER: turn range() arguments into a range iterator; on the object tier, an
        object or a tuple (`for x in (1, 2.5)`: a constant one when every item is) iterates."""
        r = st.stack[-1]
        if isinstance(r, VTuple) and self.objects:
            if all(isinstance(x, Value) and x.op == "const" for x in r.items):
                st.stack[-1] = self._object_constant(tuple(x.attrs["value"] for x in r.items))
            else:
                self._materialise(st, len(st.stack) - 1)
            return self._seq_get_iter(st)
        if isinstance(r, Value) and is_obj(r.type):
            return self._seq_get_iter(st)
        if not isinstance(r, RangeArgs):
            raise Unsupported("UNSUPPORTED_TYPE", "iteration over something other than range()")
        n = self.emit("range_len", [r.start, r.stop, r.step])
        st.stack[-1] = RangeIter(r.start, n, r.step)

    def _op_for_iter(self, i, st, block, out):
        """FOR_ITER: branch on items left; the body gets the advanced iterator and the item."""
        it = st.stack[-1]
        if isinstance(it, SeqIter):
            return self._seq_for_iter(i, st, block, out)
        if isinstance(it, Value) and is_obj(it.type):
            return self._iter_for_iter(i, st, block, out)
        if not isinstance(it, RangeIter):
            raise Unsupported("UNSUPPORTED_TYPE", "for over a non-range iterator")
        more = self.emit("int_cmp", [it.remaining, self.const(0)], {"pred": ">"})
        step_next = self.emit("int_add_wrap", [it.next, it.step])
        left = self.emit("int_sub_wrap", [it.remaining, self.const(1)])
        return self._for_iter_edges(i, st, block, out, more, RangeIter(step_next, left, it.step), it.next)
