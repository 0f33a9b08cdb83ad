"""Runtime manager: a hot function + observed argument types → compiled, installed specialisations and their stats."""
import ctypes
import logging
import threading
import time
from collections import Counter
from itertools import count

from .. import config
from ..compiler.infer import Unsupported
from ..compiler.ops import BOOL, FLOAT, INT
from ..reasons import Exit, Refusal
from . import deopt, tracing
from .callable import make_callable

log = logging.getLogger("tiered")
PY_TYPES = {int: INT, float: FLOAT, bool: BOOL}
EXIT_STORM = 1000            # exits at one site before the function goes back to CPython
_lock = threading.RLock()
_names = count()
RECORDS = {}                 # function -> Record
_installed = set()           # ids of code objects tiered installed (kept alive by their records)


class Spec:
    """One compiled type signature of a function."""

    def __init__(self, param_types, fn, exit_base):
        self.param_types, self.fn, self.exit_base = param_types, fn, exit_base
        self.return_type = fn.return_type
        self.quiet = fn.attrs.get("quiet", False)      # its native code never runs Python code
        self.address = None


class Record:
    """Everything tiered knows about one function: counts, state, specialisations, exits."""

    def __init__(self, func):
        self.func, self.original_code = func, func.__code__
        self.calls = 0
        self.state = "interpreted"
        self.specs = []
        self.compile_seconds = []
        self.exits = Counter()
        self.exit_sites = Counter()
        self.misses = Counter()
        self.refusal = None
        self.refusal_detail = None
        self.kept = []            # every compiled module's objects stay alive (callers may call it)
        self.compiling = False
        self.counters = []        # addresses of the native entry-call counters, one per module
        self.eager = False        # compiled on request (jit decorator, tests): always installed
        self.traced_calls = 0     # calls run in the interpreter because a tracer was active

    @property
    def native_calls(self):
        """Calls that entered native code (a specialisation matched), over all modules."""
        return sum(ctypes.c_int64.from_address(a).value for a in self.counters)

    def add_counter(self, address):
        """Remember the address of a module's native entry-call counter."""
        self.counters.append(address)

    def count_exit(self, reason, k):
        """Called on every exit; too many at one site sends the function back to CPython."""
        self.exits[reason] += 1
        self.exit_sites[k] += 1
        if self.exit_sites[k] == EXIT_STORM and reason not in (Exit.FORCED, Exit.SIGNAL):
            self.restore()
            self.refuse(Refusal.EXIT_STORM, f"exit {k} ({reason.name}) taken {EXIT_STORM} times")

    def count_miss(self, types_):
        """Called when no specialisation matches the argument types: maybe compile one more."""
        self.misses[types_] += 1
        if self.misses[types_] == max(2, config.get("TIERED_THRESHOLD") // 10) and self.state == "compiled":
            compile_for(self.func, types_)

    def refuse(self, reason, detail=""):
        """Record why the function stays in CPython (refused unless a spec is installed); log it."""
        self.refusal, self.refusal_detail = reason, detail
        if not self.specs or self.state != "compiled":
            self.state = "refused"
        log.info("tiered: %s stays in CPython: %s (%s)", self.func.__qualname__, reason.name, detail)

    def restore(self):
        """Put the original code object back."""
        if self.func.__code__ is not self.original_code:
            self.func.__code__ = self.original_code
        self.specs = []           # compiled code stays alive in `kept`: native callers may use it
        self.state = "interpreted" if self.refusal is None else "refused"


def record_for(func):
    """The record of a function, created on first use."""
    rec = RECORDS.get(func)
    if rec is None:
        rec = RECORDS[func] = Record(func)
    return rec


def ir_types(py_types):
    """IR types for a tuple of Python argument types, or None if one is unsupported."""
    out = tuple(PY_TYPES.get(t) for t in py_types)
    return None if None in out else out


_busy = [0]                  # compiles in progress (a signal handler must not start another)


def busy():
    """True while a compile is in progress in this process."""
    return _busy[0] > 0


def compile_for(func, py_types):
    """Compile and install a specialisation of func for these argument types; never raises."""
    with _lock, _counting():
        rec = record_for(func)
        types_ = ir_types(py_types) if py_types is not None else None
        try:
            return _compile(rec, types_)
        except Unsupported as exc:
            rec.refuse(Refusal[exc.reason], str(exc))
        except Exception as exc:          # LLVM, the installer, anything: never reaches the program
            log.debug("tiered: compile of %s failed", func.__qualname__, exc_info=True)
            rec.refuse(Refusal.BACKEND_ERROR, f"{type(exc).__name__}: {exc}")
        return None


class _counting:
    """Context manager counting compiles in progress."""

    def __enter__(self):
        _busy[0] += 1

    def __exit__(self, *exc):
        _busy[0] -= 1


def _compile(rec, types_):
    """Checks, then a timed build-and-install (the specialisation, or None)."""
    if types_ is None:
        raise Unsupported("UNSUPPORTED_TYPE", "argument types")
    if rec.state == "refused" and rec.refusal in (Refusal.EXIT_STORM,):
        return None
    for spec in rec.specs:
        if spec.param_types == types_:
            return spec
    if rec.compiling:
        return None                       # mutual recursion while compiling: call it generically
    if len(rec.specs) >= config.get("TIERED_MAX_SPECIALIZATIONS"):
        rec.refuse(Refusal.TOO_MANY_SPECIALIZATIONS, str(types_))
        return None
    if len(types_) != rec.original_code.co_argcount:
        raise Unsupported("UNSUPPORTED_TYPE", "argument count")
    started, outer_children = time.perf_counter(), _child_seconds[0]
    _child_seconds[0] = 0.0               # callees compiled on the way count as their own
    try:
        return _build_and_install(rec, types_, started)
    finally:
        total = time.perf_counter() - started
        _child_seconds[0] = outer_children + total


_child_seconds = [0.0]       # time spent in compiles nested inside the current one


def _build_and_install(rec, types_, started):
    """Build, optimise, lower and JIT all specialisations, then install the new code object."""
    from ..compiler import build as build_mod          # loaded on the first compile, not at import
    from ..compiler.passes import pipeline
    func = rec.func
    force = config.get("TIERED_FORCE_EXITS")
    rec.compiling = True
    try:
        fn = pipeline.run(build_mod.build(func, types_, _resolve_callee, force_exits=force,
                                          code=rec.original_code))
    finally:
        rec.compiling = False
    from ..compiler import engine                      # llvmlite: only once something will compile
    from ..compiler.lower_llvm import ModuleEmitter
    from . import install
    base = (max((s.exit_base + s.fn.attrs["exit_span"] for s in rec.specs), default=0))
    fn.attrs["exit_span"] = max((v.attrs["exit"] for v in fn.exits), default=-1) + 1
    new = Spec(types_, fn, base)
    specs = rec.specs + [new]
    layouts = {}
    for s in specs:
        for v in s.fn.exits:
            layouts[s.exit_base + v.attrs["exit"]] = deopt.Layout(v.state, v.op in ("loop_poll", "call_native"))
    helpers = deopt.make_helpers(rec, layouts)
    prefix = f"t{next(_names)}_{''.join(c if c.isalnum() else '_' for c in func.__name__)}"
    mod = ModuleEmitter(prefix, helpers, deopt.SENTINEL, force)
    text, entry, inner, counter = mod.emit([(s.fn, s.exit_base) for s in specs])
    addresses = engine.compile_module(text, [entry] + inner, config.get("TIERED_OPT_LEVEL"), [counter])
    rec.add_counter(addresses[counter])
    native = make_callable(addresses[entry], func.__name__, keep=mod.kept + [layouts])
    code = install.build_code(rec.original_code, native, layouts)
    for s, sym in zip(specs, inner):
        s.address = addresses[sym]
    rec.kept.append((native, mod.kept))
    rec.specs = specs
    # build, passes, LLVM and install, without the callees compiled on the way
    rec.compile_seconds.append(time.perf_counter() - started - _child_seconds[0])
    if not (rec.eager or worth_installing(specs)):
        # the prologue and boxing cost ~15 ns a call: a tiny body is faster interpreted; native
        # callers still call the compiled specialisation directly
        rec.refuse(Refusal.TOO_SMALL, f"{sum(_work(s.fn) for s in specs)} operations, no loop")
        return new
    _installed.add(id(code))
    rec.kept.append(code)
    func.__code__ = code
    rec.state = "compiled"
    log.info("tiered: compiled %s%s in %.1f ms", func.__qualname__, types_, rec.compile_seconds[-1] * 1e3)
    return new


SMALL_BODY = 4              # fewer operations than this and no loop: not worth a native entry
_FREE_OPS = {"const", "phi", "guard_global", "bool_to_int", "int_to_float", "select"}


def _work(fn):
    """Operations in a specialisation that do real work."""
    return sum(v.op not in _FREE_OPS for b in fn.blocks for v in b.body)


def worth_installing(specs):
    """True when native entry pays: a loop, a native call, or enough operations."""
    for s in specs:
        ops = {v.op for b in s.fn.blocks for v in b.body}
        if "loop_poll" in ops or "call_native" in ops or _work(s.fn) >= SMALL_BODY:
            return True
    return False


def _resolve_callee(fn, types_):
    """A compiled specialisation of another function for a direct native call, or None."""
    rec = record_for(fn)
    code = rec.original_code
    if code.co_flags & 0x0C or code.co_kwonlyargcount or fn.__closure__ or len(types_) != code.co_argcount:
        return None          # defaults, keywords and closures are bound by CPython: call it there
    if rec.compiling:
        return None
    py = {v: k for k, v in PY_TYPES.items()}
    spec = compile_for(fn, tuple(py[t] for t in types_))
    return spec if spec is not None and spec.address else None


def compile_on_first_call(func):
    """Install a hook so that func's first call compiles it for that call's argument types."""
    rec = record_for(func)
    rec.eager = True
    tracing.watch_monitoring()

    def hook(*args):
        """Compile func for this call's argument types and call it (interpret if traced or refused)."""
        if tracing.traced():          # stay interpreted for the tool; compile on a later call
            deopt.push_state(-1, ())
            return deopt.SENTINEL
        rec.func.__code__ = rec.original_code
        spec = compile_for(func, tuple(type(a) for a in args))
        if spec is None:
            deopt.push_state(-1, ())
            return deopt.SENTINEL
        return func(*args)
    try:
        from . import install
        code = install.build_code(rec.original_code, hook, {})
        _installed.add(id(code))
        rec.kept.append(code)
        func.__code__ = code
        rec.state = "profiling"
    except Exception as exc:              # the function simply stays interpreted
        rec.refuse(Refusal.BACKEND_ERROR, f"{type(exc).__name__}: {exc}")
    return func


def is_installed_code(code):
    """True for code objects that tiered put in place."""
    return id(code) in _installed


def restore_all():
    """Every function gets its original code back (disable())."""
    with _lock:
        for rec in RECORDS.values():
            rec.restore()
            if rec.state == "compiled":
                rec.state = "interpreted"
