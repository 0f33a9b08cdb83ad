"""Runtime eager compiles: a function (jit decorator, tests) → compiled at its first call, for that call's types."""
from ..cpython.code import param_count
from .scope import never_counted
from ..reasons import Refusal
from . import disview, manager, records, tracing
from .markers import INTERPRET
from .gate import gated


def compile_on_first_call(func):
    """Install a hook so that func's first call compiles it for that call's argument types."""
    rec = manager.record_for(func)
    rec.eager = True
    if rec.state == "compiled" and func.__code__ is not rec.original_code:
        return func                       # compiled already (by the profiler): keep its code
    if never_counted(rec.original_code):      # generators, coroutines: no prologue at all
        rec.refuse(Refusal.GENERATOR, "generators and coroutines run in CPython")
        return func
    tracing.watch_monitoring()
    try:
        gate = gated(func.__name__, _make_hook(rec))
    except Exception as exc:              # noqa: BLE001 - the function simply stays interpreted
        rec.refuse(Refusal.LLVM_ERROR, f"{type(exc).__name__}: {exc}")
        return func
    try:
        with manager.inside():     # the profiler compiles nothing from the bytecode package's
            # code while it loads: that compile would meet this half-made module
            from . import install      # start-up time: the installer loads bytecode on first use
        hook_code = install.build_code(rec.original_code, gate, {})
    except Exception as exc:              # noqa: BLE001 - the function simply stays interpreted
        rec.refuse(Refusal.INSTALL_ERROR, f"{type(exc).__name__}: {exc}")
        return func
    records.mark_installed(hook_code, rec.original_code)
    disview.show_originals()
    rec.put_code(hook_code)
    rec.state = "profiling"
    return func


def _make_hook(rec):
    """The prologue callable: compile for this call's types; the call itself is interpreted,
    and the next ones enter the native code.

    It holds the record, never the function (the function holds this through its code), so
    a decorated function that dies is freed.  A thread that finds another thread compiling
    does not wait: that call runs in the interpreter and a later call compiles."""
    def hook(*args):
        """Compile the function for this call's argument types; this call is interpreted."""
        func = rec.func
        if func is None or not manager.can_compile_now() or not manager.compile_lock.acquire(blocking=False):
            return INTERPRET              # the hook stays: a later call compiles
        try:
            if func.__code__ is not rec.original_code and rec.state != "compiled":
                # this hook goes (stays interpreted if the compile fails); a compile for a
                # native caller may have come first and left the function uninstalled
                rec.put_code(rec.original_code)
            # the arguments (the prologue passes the frame's cells after them)
            manager.compile_for(func, tuple(type(a) for a in args[:param_count(rec.original_code)]))
        finally:
            manager.compile_lock.release()
        # this call goes on in the interpreter, in its own frame: calling the function again
        # from here would add this hook's frame to tracebacks and to what f_back shows
        return INTERPRET
    return hook

