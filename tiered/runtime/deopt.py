"""Runtime exits: an exit record from native code → the values the interpreter resumes with, per thread."""
import types
import weakref

from ..compiler.exits import Virtual, decode_exit, slot_of
from ..compiler.ops import is_obj
from ..cpython.code import param_count
from ..reasons import Exit
from . import lineskip
from .markers import INTERPRET, STATES
# bound at import: exits and misses run inside the program, which may rebind builtins
from builtins import ValueError, enumerate, getattr, id, isinstance, len, list, sorted, tuple, type  # noqa: A004
from sys import _getframe, gettrace



def _stack():
    """This thread's stack of pending (stub, values) resume states (the installed prologue
    pops it with attribute loads and list.pop: no Python frame a tracer could see)."""
    s = getattr(STATES, "stack", None)
    if s is None:
        s = STATES.stack = []
    return s


class Layout:
    """How one exit's flat values map back to the frame: stack items first, then locals.

    The function itself, when on the stack (a recursive call), is not stored but taken from
    the record at the exit: the installed code holds layouts, and nothing it holds may lead
    back to the function (see manager)."""
    __slots__ = ("offset", "local_names", "maybe_unbound", "slots", "raises", "callee", "callee_at", "same",
                 "from_params")

    def __init__(self, state, raises, func, call=None, untouched=frozenset()):
        self.offset = state.offset
        self.raises = raises
        self.local_names = [n for n, _ in state.locals]
        self.maybe_unbound = {n for n, v in state.locals if v.attrs.get("maybe_null")}
        self.slots = [slot_of(x, func) for x in state.stack]
        # stack items and locals that are a parameter's value, which the frame's slot of that
        # parameter still holds (untouched: the code never rebinds it): the caller's very object,
        # which native code may have unboxed; the stub reads them from that slot (install._stub)
        # by name: 'stack', position among the stack items, or 'local', name -> the parameter
        self.from_params = tuple(
            [("stack", k, x.attrs["param"]) for k, x in enumerate(state.stack)
             if not isinstance(x, Virtual) and x.attrs.get("param") in untouched]
            + [("local", n, x.attrs["param"]) for n, x in state.locals if x.attrs.get("param") in untouched])
        # the exit of a native call of a resumable callee: the callee's Resumer, and where the
        # function called sits on the stack (below its arguments: the call's operands)
        target = call.attrs["target"] if call is not None and not call.attrs["self"] else None
        self.callee = target.resumer if target is not None and target.resumable else None
        self.callee_at = len(state.stack) - len(call.args) - 1 if self.callee is not None else None
        # (position, earlier position) of flat values that are one number value (`y = x`, a
        # local and its copy on the stack): native code boxed each, CPython holds one object
        first, self.same = {}, ()
        for k, x in enumerate(state.values()):
            if not is_obj(x.type) and first.setdefault(id(x), k) != k:
                self.same += ((k, first[id(x)]),)

    def shape(self):
        """What the installed code's stub for this exit does: exits of one shape share a stub."""
        return (self.offset, self.raises, tuple((s.skip, s.nullable) for s in self.slots), tuple(self.local_names),
                tuple(sorted(self.maybe_unbound)), self.from_params)

    def values(self, flat, exc, func, callee=None):
        """The tuple the installed code's stub unpacks (install._stub): the locals, the exception
        (None: none), then the stack items top to bottom, None for each NULL below a callable
        (callee: the function that replaces the one called, to resume that callee's frame)."""
        nloc = len(self.local_names)
        if self.same:
            flat = list(flat)
            for k, j in self.same:
                flat[k] = flat[j]
        rest = flat[nloc:]
        stack = []
        for at, slot in enumerate(self.slots):
            taken, rest = rest[:slot.arity], rest[slot.arity:]
            if at == self.callee_at and callee is not None:
                stack.append(callee)
            else:
                stack.append(None if slot.skip else slot.rebuild(taken, func))
        stack.reverse()
        return tuple(flat[:nloc]) + (exc,) + tuple(stack)


def stub_numbers(layouts):
    """{exit: the number of its stub in the installed code}: one stub per shape, numbered in
    the order of the exits (the installed prologue dispatches on it)."""
    numbers, shapes = {}, {}
    for k, lay in sorted(layouts.items()):
        numbers[k] = shapes.setdefault(lay.shape(), len(shapes))
    return numbers


def make_helpers(record, layouts, promote=None):
    """The Python callables native code calls: on an exit, when no specialisation matches, and
    (first-tier code) when it proved hot: promote(record) compiles it again, fully optimised.

    They hold the record weakly (the installed code holds them).  Native code passes a tuple
    (code, live values...); compiler/exits.py encodes and decodes the code.
    """
    record_ref = weakref.ref(record)
    resumer = Resumer(record_ref, layouts)

    def on_exit(state, exc=None):
        """Decode an exit's code, push the resume state built from its values, count the exit."""
        resumer.push(state, exc)
        if lineskip.ACTIVE and gettrace() is not None:     # 3.11: a callee set a tracer
            resumer.traced(state, exc)

    def on_miss(*args):
        """No specialisation matched: count the argument types and resume in the interpreter."""
        rec = record_ref()
        if rec is not None:       # the arguments: the frame's cells come after them
            rec.count_miss(tuple(type(a) for a in args[:param_count(rec.original_code)]))
        return INTERPRET

    def on_hot():
        """First-tier code proved hot: have it optimised (never raises)."""
        rec = record_ref()
        if rec is not None and promote is not None:
            promote(rec)

    return on_exit, on_miss, resumer, on_hot


class Resumer:
    """A module's exit states → the resume states its installed code's prologue pops, and for a
    resumable specialisation (one a native caller calls without a frame, that may change objects
    before it exits) a function object that runs its resumption: the function's original code
    with this module's stubs and no native entry.

    The native caller of a resumable callee exits at its call with the callee's state inside
    its own; the caller's state then replaces the function called by that function object, so
    the interpreter, going on at the call, makes the callee's frame and goes on in it exactly
    where native code left (the callee's resume state is pushed below the caller's)."""

    def __init__(self, record_ref, layouts):
        self.record_ref, self.layouts = record_ref, layouts
        self.stubs = stub_numbers(layouts)
        self.code = None              # the resumption code (prepare)

    def push(self, state, exc=None):
        """Push the resume states of an exit (the callees' it carries first), count the exit;
        its reason (a resumed callee's own, innermost)."""
        _, k, _, reason = decode_exit(state[0])
        layout = self.layouts[k]
        rec = self.record_ref()      # alive: the function runs, and its record lives as long
        flat, callee = state[1:], None
        if reason is Exit.CALLEE_RESUMED:
            flat, inner = flat[:-1], flat[-1]
            inner_reason = layout.callee.push(inner)
            callee = layout.callee.function()
            if inner_reason is Exit.FORCED:      # testing: a forced exit, not a real one
                reason = Exit.FORCED
        _stack().append((self.stubs[k], layout.values(flat, exc, rec.func, callee)))
        rec.count_exit(reason, k, layout.offset)
        return reason

    def traced(self, state, exc):
        """A tracer is active as the exit's frame (the one that called on_exit's native code)
        resumes: have the line event its stub would make and CPython does not send dropped
        (lineskip).  Never raises: at worst the event is sent."""
        rec = self.record_ref()
        func = rec.func if rec is not None else None
        try:
            frame = _getframe(2)
        except ValueError:            # no Python frame there: nothing resumes in one
            return
        if func is not None and frame.f_code is func.__code__:
            offset = self.layouts[decode_exit(state[0])[1]].offset
            lineskip.after_exit(frame, rec.original_code, offset, exc is not None)

    def prepare(self, original_code, build_code):
        """Make the resumption code now, with the installer's build_code (when compiling: an
        exit must not fail to resume)."""
        self.code = build_code(original_code, None, self.layouts)

    def function(self):
        """A function like the one compiled, whose code resumes from the pushed state."""
        func = self.record_ref().func
        f = types.FunctionType(self.code, func.__globals__, func.__name__, func.__defaults__,
                               func.__closure__)
        f.__qualname__, f.__kwdefaults__ = func.__qualname__, func.__kwdefaults__
        return f

