"""Runtime gate: a Python callable → a native callable that skips it while a tool traces the thread.

Tiered's own Python code that runs inside the program's threads (the jit decorator's first-call
hook, the 3.11 sampler's signal handler) would otherwise show up in pdb, sys.settrace and
profilers, and a trace function that raises would raise inside it.  The gate is one small
native function, compiled once; a builtin callable is invisible to trace functions.
"""
from .. import compiler
from .manager import inside
from .markers import INTERPRET
from .callable import make_callable

_compiled = []               # the gate's machine code, shared by every gated callable


def gated(name, func):
    """A builtin that returns INTERPRET while a tracer, profiler or other monitoring tool
    is active in the calling thread, and func(*args) otherwise."""
    if not _compiled:
        with inside():
            _compiled.append(compiler.compile_gate(INTERPRET))
    return make_callable(_compiled[0]["tiered_gate"], name, keep=[_compiled[0]], self_obj=func)
