"""Differential helpers: run a function under CPython and under the JIT, compare everything, prove it ran native."""
import contextlib
import copy
import inspect
import io
import math
import sys
import traceback
import types

from tiered.cpython.code import param_count
from tiered.reasons import Exit
from tiered.runtime import manager


def fresh_copy(func):
    """A new function object with func's code, globals, defaults and closure (the JIT's copy)."""
    rec = manager.RECORDS.get(func)
    code = rec.original_code if rec is not None else func.__code__
    g = types.FunctionType(code, func.__globals__, func.__name__, func.__defaults__, func.__closure__)
    g.__qualname__, g.__doc__, g.__kwdefaults__ = func.__qualname__, func.__doc__, func.__kwdefaults__
    return g


class Call(tuple):
    """An arg set with keyword arguments: Call(1, 2, c=3) calls func(1, 2, c=3)."""

    def __new__(cls, *args, **kwargs):
        return super().__new__(cls, (args, kwargs))

    def __deepcopy__(self, memo):
        args, kwargs = copy.deepcopy(tuple(self), memo)
        return Call(*args, **kwargs)

    def bound_types(self, func):
        """The types of func's parameters (in its frame's slot order) for this call."""
        bound = inspect.signature(func).bind(*self[0], **self[1])
        bound.apply_defaults()
        return tuple(type(bound.arguments[n]) for n in func.__code__.co_varnames[:param_count(func.__code__)])


def outcome(func, args):
    """(kind, payload, printed output, arguments after) of one call; payload: value or (type, message, frames)."""
    out = io.StringIO()
    args = copy.deepcopy(args)
    try:
        with contextlib.redirect_stdout(out):
            value = func(*args[0], **args[1]) if isinstance(args, Call) else func(*args)
        return "ok", value, out.getvalue(), args
    except Exception as exc:             # noqa: BLE001 - compared, not swallowed
        frames = [(f.name, f.lineno, f.line) for f in traceback.extract_tb(exc.__traceback__)[1:]]
        return "raise", (type(exc), str(exc), frames), out.getvalue(), args


class TooSlow(BaseException):
    """bounded_outcome(): the call ran too many lines or built too big a value."""


def bounded_outcome(func, args, max_lines=3000, max_bits=4096, max_len=1000):
    """outcome() traced (func's file only): TooSlow past max_lines lines, a max_bits int or a max_len list."""
    lines = [0]

    def local(frame, event, arg):
        """Count a line and check the frame's variables."""
        lines[0] += 1
        if lines[0] > max_lines or any(type(v) is int and v.bit_length() > max_bits
                                       or type(v) in (list, dict) and len(v) > max_len
                                       for v in frame.f_locals.values()):
            raise TooSlow
        return local

    filename, old = func.__code__.co_filename, sys.gettrace()
    sys.settrace(lambda frame, event, arg: local if frame.f_code.co_filename == filename else None)
    try:
        return outcome(func, args)
    finally:
        sys.settrace(old)


def same_value(a, b):
    """Same type and equal: floats by repr (-0.0, nan, inf count), containers by item, instances by
    __dict__ or __slots__."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (float, complex)):
        return repr(a) == repr(b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_value(a[k], b[k]) for k in a)
    if type(a).__module__ != "builtins" and hasattr(a, "__dict__") and not callable(a):
        return same_value(vars(a), vars(b))
    if type(a).__module__ != "builtins" and hasattr(type(a), "__slots__"):
        missing = object()
        return all(same_value(getattr(a, n, missing), getattr(b, n, missing)) for n in type(a).__slots__)
    return a == b


def assert_same(ref, got, args):
    kind_r, val_r, out_r, args_r = ref
    kind_g, val_g, out_g, args_g = got
    assert kind_r == kind_g, f"{args}: CPython {kind_r} {val_r!r}, JIT {kind_g} {val_g!r}"
    if kind_r == "ok":
        assert same_value(val_r, val_g), f"{args}: CPython {val_r!r}, JIT {val_g!r}"
    else:
        assert val_r == val_g, f"{args}: CPython raised {val_r}, JIT raised {val_g}"
    assert out_r == out_g and same_value(list(args_r), list(args_g))


_ALIVE = []     # records hold functions weakly; tests use rec.func after check() returns


def check(func, *arg_sets, native=True, compile_with=None):
    """Compile a copy of func for the types of the first arg set (or `compile_with`), then
    compare CPython and the JIT on every arg set.  Returns the JIT copy's record.

    With native=True it asserts the compiled entry really ran; in forced-exit mode it
    asserts exits really happened (when the function has any exit site)."""
    expected = [outcome(func, args) for args in arg_sets]      # pure CPython, before compiling
    jitted = fresh_copy(func)
    _ALIVE.append(jitted)
    own_name = func.__globals__.get(func.__name__) is func
    if own_name:                       # recursive calls by name reach the compiled copy
        func.__globals__[func.__name__] = jitted
    first = arg_sets[0]
    code = func.__code__
    if not isinstance(first, Call) and not len(first) == code.co_argcount == param_count(code):
        first = Call(*first)             # defaults, *args, **kwargs, keyword-only: bind as CPython
    types_ = compile_with or (first.bound_types(func) if isinstance(first, Call) else tuple(map(type, first)))
    known = set(manager.RECORDS)
    manager.record_for(jitted).eager = True        # installed however small the body
    try:
        spec = manager.compile_for(jitted, types_)
        rec = manager.record_for(jitted)
        if native:
            assert spec is not None, f"not compiled: {rec.refusal} {rec.refusal_detail}"
        before = rec.native_calls
        for args, ref in zip(arg_sets, expected):
            assert_same(ref, outcome(jitted, args), args)
    finally:       # callees compiled on the way get their original code back
        if own_name:
            func.__globals__[func.__name__] = func
        for f in set(manager.RECORDS) - known - {jitted}:
            manager.RECORDS[f].restore()
    if native:
        assert rec.native_calls > before, "the native entry never ran"
        if forced_exits() and any(s.exit_count for s in rec.specs):
            assert sum(rec.exits.values()) > 0, "forced-exit mode but no exit was taken"
    return rec


def warm(func, *args):
    """Run func in CPython until its instructions are specialised (the compiler reads them)."""
    for _ in range(40):
        try:
            func(*args)
        except Exception:          # noqa: BLE001 - only warming up
            pass


def refused(func, types_):
    """Try to compile a copy; return the refusal reason (asserts it was refused)."""
    jitted = fresh_copy(func)
    assert manager.compile_for(jitted, types_) is None
    rec = manager.record_for(jitted)
    assert rec.state == "refused" and jitted.__code__ is func.__code__
    return rec.refusal


def exits_of(rec, reason):
    """How many exits of this reason a record counted."""
    return rec.exits.get(reason, 0)


def forced_exits():
    from tiered import config
    return config.get("TIERED_FORCE_EXITS")


FLOAT_SPECIALS = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 1e300, -1e300, 5e-324, math.inf, -math.inf, math.nan]
INT_EDGES = [0, 1, -1, 2, -7, 7, 2**31, 2**53, 2**53 + 1, -2**53 - 1, 2**62, 2**63 - 1, -2**63]
__all__ = ["check", "refused", "outcome", "bounded_outcome", "TooSlow", "fresh_copy", "exits_of", "Exit",
           "FLOAT_SPECIALS", "INT_EDGES"]
