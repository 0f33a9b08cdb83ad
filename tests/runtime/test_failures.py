"""Failure injection: a failure anywhere inside the JIT leaves the function interpreted, the program going, the reason counted."""
import sys

import pytest

import tiered
from tests.support import fresh_copy
from tiered.compiler import build, engine
from tiered.compiler.lower_module import ModuleEmitter
from tiered.compiler.passes import pipeline
from tiered.profiler import feedback, hooks, policy
from tiered.reasons import Refusal
from tiered.runtime import install, manager


def work(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def uses_import(n):
    import math
    return math.floor(n)


def _raise(exc):
    """A replacement for a JIT stage that fails with exc."""
    def fail(*args, **kwargs):
        """Raise the injected failure."""
        raise exc
    return fail


def _broken_emit(self, specs):
    """ModuleEmitter.emit producing IR that LLVM's parser rejects (a real LLVM error)."""
    text, entry, inner, counter = ModuleEmitter._real_emit(self, specs)
    return text.replace("define", "defne", 1), entry, inner, counter


def _assert_interpreted(f, reason):
    """The copy stayed interpreted, still computes the right thing, and the reason is counted."""
    rec = manager.record_for(f)
    assert f.__code__ is rec.original_code and rec.state == "refused" and rec.native_calls == 0
    assert f(10) == work(10) if f.__name__ == "work" else f(2.5) == 2
    assert rec.refusal is reason
    assert any(s["refusal"] == reason.name for s in tiered.stats().values())


INJECTIONS = {
    "llvm-parse": (lambda mp: mp.setattr(ModuleEmitter, "emit", _broken_emit), Refusal.LLVM_ERROR),
    "llvm-engine": (lambda mp: mp.setattr(engine, "compile_module", _raise(RuntimeError("LLVM ERROR: boom"))),
                    Refusal.LLVM_ERROR),
    "memory": (lambda mp: mp.setattr(build, "build", _raise(MemoryError())), Refusal.OUT_OF_MEMORY),
    "recursion": (lambda mp: mp.setattr(build, "build", _raise(RecursionError())), Refusal.RECURSION_LIMIT),
    "compiler-bug": (lambda mp: mp.setattr(pipeline, "run", _raise(KeyError("bug"))), Refusal.COMPILER_ERROR),
    "installer": (lambda mp: mp.setattr(install, "build_code", _raise(install.InstallError("no"))),
                  Refusal.INSTALL_ERROR),
}


@pytest.fixture(autouse=True)
def _real_emit(monkeypatch):
    monkeypatch.setattr(ModuleEmitter, "_real_emit", ModuleEmitter.emit, raising=False)


@pytest.mark.parametrize("where", sorted(INJECTIONS))
def test_compile_failure_leaves_function_interpreted(monkeypatch, where):
    inject, reason = INJECTIONS[where]
    inject(monkeypatch)
    f = fresh_copy(work)
    assert manager.compile_for(f, (int,)) is None            # no exception reaches the caller
    _assert_interpreted(f, reason)


@pytest.mark.parametrize("where", ["llvm-engine", "memory"])
def test_jit_decorator_call_still_returns_after_a_failed_compile(monkeypatch, where):
    inject, reason = INJECTIONS[where]
    inject(monkeypatch)
    f = tiered.jit(fresh_copy(work))
    assert f(10) == work(10) and f(7) == work(7)
    _assert_interpreted(f, reason)


def test_unsupported_opcode_is_refused_not_failed():
    f = fresh_copy(uses_import)
    assert manager.compile_for(f, (float,)) is None
    _assert_interpreted(f, Refusal.UNSUPPORTED_OPCODE)


def test_exception_inside_the_profiler_is_contained_and_counted(monkeypatch):
    f = fresh_copy(work)
    promoter = policy.Promoter(threshold=1, hz=100)
    monkeypatch.setattr(feedback, "arg_values", _raise(RuntimeError("profiler bug")))
    if hooks.HAS_MONITORING:
        # what sys.monitoring would call at f's start; the code is then never looked at again
        assert promoter.hook._on_start(f.__code__, 0) is sys.monitoring.DISABLE
    else:
        # the 3.11 sampler looking at a frame running f's code
        assert promoter.hook._count(_FakeFrame(f.__code__)) is False
    assert promoter.is_decided(f.__code__)
    rec = manager.record_for(f)
    assert rec.refusal is Refusal.PROFILER_ERROR and "profiler bug" in rec.refusal_detail
    assert f(10) == work(10) and f.__code__ is rec.original_code


class _FakeFrame:
    """A frame-like object (f_code, f_locals) for driving the 3.11 sampler directly."""

    def __init__(self, code):
        self.f_code, self.f_locals = code, {"n": 3}


def _at_depth(n, fn):
    """fn(10) called n frames deeper than here: its value, or 'RecursionError' (from wherever
    the limit was reached)."""
    try:
        return _at_depth(n - 1, fn) if n else fn(10)
    except RecursionError:
        return "RecursionError"


def test_a_first_call_at_the_bottom_of_a_deep_recursion_behaves_as_in_cpython():
    """The jit decorator's first call compiles in a hook: near the recursion limit that call
    still returns what CPython returns (or raises where CPython raises); where the compiler ran
    out of stack, the refusal says so."""
    reasons = set()
    for headroom in range(1, 90, 2):
        depth = sys.getrecursionlimit() - len(_frames()) - headroom
        plain = _at_depth(depth, fresh_copy(work))
        f = tiered.jit(fresh_copy(work))
        assert _at_depth(depth, f) == plain, headroom
        reasons.add(manager.record_for(f).refusal)
    assert Refusal.RECURSION_LIMIT in reasons and None in reasons, reasons


def _frames():
    """The frames on the stack now."""
    out, frame = [], sys._getframe()
    while frame is not None:
        out.append(frame)
        frame = frame.f_back
    return out
