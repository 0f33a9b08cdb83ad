"""Runtime manager: a hot function + observed argument types → compiled, installed specialisations and their stats."""
import builtins
import importlib
import logging
import os
import threading
import time
import weakref
from contextlib import contextmanager
from itertools import count

from .. import config
from .. import compiler
from ..compiler import Unsupported
from ..compiler.ir import released_after
from ..compiler.ops import RESUMABLE, is_obj
from ..compiler.ops.framecall import CALL_HELPER
from ..cpython.code import never_frameless, param_count, untouched_params
from ..reasons import Refusal
from ..cpython import dicts, gccount
from . import deopt, disview
from .markers import INTERPRET, SENTINEL, UNBOUND
from .callable import make_callable
from .records import PY_TYPES, RECORDS, TOTALS, ir_types, mark_installed, record_for, set_compiler
from .specs import Spec, compiled_with, covers, widened, worth_installing

log = logging.getLogger("tiered")
compile_lock = threading.RLock()    # one compile at a time; threads that find it taken do not wait
_names = count()


def preload():
    """Import the whole compiler now (enable()): a compile can start while the program is in the
    middle of importing a module, and importing llvmlite there could meet that half-made module.
    The installer is not among them: it loads the bytecode package at the first install, which
    imports no module that these have not (start-up time: ~5 ms, and most runs install nothing)."""
    for name in ("compiler.build", "compiler.passes.pipeline", "compiler.engine", "compiler.lower_module"):
        importlib.import_module(f"tiered.{name}")


_busy = [0]                  # compiles in progress (a signal handler must not start another)


def busy():
    """True while a compile is in progress in this process."""
    return _busy[0] > 0


_here = threading.local()


def active_here():
    """True while this thread runs tiered's compiler: the profiler must not start another compile
    from the library code it calls (re, enum, ...): the engine's lock is not re-entrant."""
    return getattr(_here, "depth", 0) > 0


@contextmanager
def inside():
    """Mark this thread as running tiered's compiler."""
    _here.depth = getattr(_here, "depth", 0) + 1
    try:
        yield
    finally:
        _here.depth -= 1


def can_compile_now():
    """Whether compiling now runs none of the program's code: tiered's own code looks names up
    in the builtins, and a key there that is not an exact str (a program can put one there)
    would run its __eq__ inside the program's call, where CPython runs nothing (CPython's
    test_iter test_reduce_mutating_builtins_iter: its __eq__ re-entered an iterator)."""
    return dicts.str_keys_only(builtins.__dict__)


def compile_for(func, py_types, wait=True, for_caller=False, frameless=False, optimise=False, also=()):
    """Compile and install a specialisation of func for these argument types; never raises.
    With wait=False it returns None at once when another thread is compiling; for_caller: a
    native caller needs it, so it is compiled even when too small to install (frameless: on
    objects, and then it must run frameless, see compiler/build/frameless.py); optimise: its
    first-tier code is compiled again with LLVM's whole pipeline (promote); also: other
    argument types the profile saw, compiled in the same module where each would get its own
    specialisation (specs.compiled_with).  None, with nothing recorded, while compiling would
    run the program's code (can_compile_now)."""
    if not can_compile_now() or not compile_lock.acquire(blocking=wait):
        return None
    try:
        with _counting(), gccount.held_still(not active_here()), inside(), released_after():
            rec = record_for(func)
            types_ = ir_types(py_types) if py_types is not None else None
            try:
                seen = [ir_types(t) for t in also]
                return _compile(rec, types_, for_caller, frameless, optimise, seen)
            except Unsupported as exc:
                if exc.reason == Refusal.NOT_FRAMELESS.name:   # still fine for the interpreter
                    rec.attempted.discard(types_)
                    rec.not_frameless.add(types_)
                    TOTALS["refusals"][exc.reason] += 1
                    return None
                rec.refuse(Refusal[exc.reason], str(exc), exc.line, exc.variable)
            except _Failed as exc:        # LLVM, the installer, anything: never reaches the program
                log.debug("tiered: compile of %s failed", rec.name, exc_info=True)
                rec.refuse(exc.reason, exc.detail)
            except Exception as exc:      # noqa: BLE001 - a bug outside the stages: still contained
                log.debug("tiered: compile of %s failed", rec.name, exc_info=True)
                rec.refuse(_reason_for(exc, Refusal.COMPILER_ERROR), f"{type(exc).__name__}: {exc}")
            return None
    finally:
        compile_lock.release()


class _Failed(Exception):
    """A compile stage failed: the refusal reason to record, and what went wrong."""

    def __init__(self, reason, exc):
        super().__init__(reason.name)
        self.reason, self.detail = reason, f"{type(exc).__name__}: {exc}"


def _reason_for(exc, reason):
    """The refusal for an exception raised in a stage whose own reason is `reason` (running
    out of memory or of stack is no fault of the stage)."""
    return {MemoryError: Refusal.OUT_OF_MEMORY, RecursionError: Refusal.RECURSION_LIMIT}.get(type(exc), reason)


@contextmanager
def _stage(reason):
    """Turn any failure inside a compile stage (other than a refusal) into _Failed(reason)."""
    try:
        yield
    except (Unsupported, _Failed):
        raise
    except Exception as exc:              # noqa: BLE001 - classified and recorded, never re-raised
        raise _Failed(_reason_for(exc, reason), exc) from exc


class _counting:
    """Context manager counting compiles in progress."""

    def __enter__(self):
        _busy[0] += 1

    def __exit__(self, *exc):
        _busy[0] -= 1


def _compile(rec, types_, for_caller=False, frameless=False, optimise=False, seen=()):
    """Checks, then a timed build-and-install (the specialisation, or None)."""
    if types_ is None:
        raise Unsupported("UNSUPPORTED_TYPE", "argument types")
    if rec.state == "refused" and rec.refusal in (Refusal.EXIT_STORM,):
        return None
    before = rec.specs
    # (not for a native caller's frameless call: such code reads attributes only where its
    # class puts them, and exits on any other class)
    asked, replaces = types_, False
    if not frameless:
        types_, replaces = widened([s.param_types for s in rec.specs], types_,
                                   config.get("TIERED_MAX_SPECIALIZATIONS"))
    for spec in rec.specs:
        if spec.param_types == types_:
            if optimise and rec.promotable and not rec.compiling and rec.code_in_place():
                # first-tier code made hot: all its specialisations built again, in its mode
                frameless = RESUMABLE if spec.resumable else spec.frameless
                rec.specs = [s for s in rec.specs if s is not spec]
                break
            if not (frameless and not spec.callable and types_ not in rec.not_frameless):
                return spec
            # a native caller wants it frameless: it replaces the one built for the interpreter
            rec.specs = [s for s in rec.specs if s is not spec]
    if rec.compiling:
        return None                       # mutual recursion while compiling: call it generically
    if replaces:                          # it replaces the ones it covers (specs.widened)
        rec.specs = [s for s in rec.specs if not covers(types_, s.param_types)]
    rec.attempted.update((asked, types_))
    if len(rec.specs) >= config.get("TIERED_MAX_SPECIALIZATIONS") + (types_ != asked):   # + one for any object
        rec.refuse(Refusal.TOO_MANY_SPECIALIZATIONS, str(types_))
        return None
    if len(types_) != param_count(rec.original_code):
        raise Unsupported("UNSUPPORTED_TYPE", "argument count")
    rec.promoted = rec.promoted or optimise   # compiled in a promotion: the whole pipeline
    extra = [] if frameless or optimise else compiled_with(
        [s.param_types for s in rec.specs], types_, [t for t in seen if t not in rec.attempted],
        config.get("TIERED_MAX_SPECIALIZATIONS"))
    started, outer_children = time.perf_counter(), _child_seconds[0]
    _child_seconds[0] = 0.0               # callees compiled on the way count as their own
    try:
        if frameless and for_caller and rec.specs and not optimise and rec.state != "compiled":
            spec = _build_alone(rec, types_, started, frameless)
            if spec is not None:
                return spec
        return _build_and_install(rec, types_, started, for_caller, frameless, not optimise, extra)
    except BaseException:
        rec.specs = before                # nothing replaced: what was installed stays as it was
        raise
    finally:
        total = time.perf_counter() - started
        _child_seconds[0] = outer_children + total


_child_seconds = [0.0]       # time spent in compiles nested inside the current one


def _build_ir(rec, func, types_, force, frameless):
    """The optimised IR of func for these argument types (Unsupported if it cannot compile)."""
    rec.compiling = True
    _building.append(rec)                 # the caller of the callees it resolves
    try:
        with _stage(Refusal.COMPILER_ERROR):
            return compiler.specialise(func, types_, _resolve_callee, force_exits=force,
                                       code=rec.original_code, frameless=frameless,
                                       generic_at=frozenset(rec.generic_at))
    finally:
        _building.pop()
        rec.compiling = False


_building = []               # records whose IR is being built, innermost last


def _build_and_install(rec, types_, started, for_caller=False, frameless=False, first_tier=True, extra=()):
    """Build the new specialisation (and those for `extra` signatures that build) and rebuild
    the others, lower and JIT them into one module (first-tier code when the functions work on
    objects and it was never promoted), then install the new code object."""
    RECORDS.prune()                       # records (and machine code) of functions that died
    func = rec.func
    force = config.get("TIERED_FORCE_EXITS")
    fn = _build_ir(rec, func, types_, force, frameless)
    built = []
    for s in rec.specs:
        if any(is_obj(t) and t.ref is not None and t.cls is None for t in s.param_types):
            continue                      # typed by a class that died: nothing can match it
        try:
            built.append((s, _build_ir(rec, func, s.param_types, force,
                                       RESUMABLE if s.resumable else s.frameless)))
        except (Unsupported, _Failed):    # no longer compiles (a global changed): interpreted
            log.debug("tiered: %s%s dropped on rebuild", rec.name, s.param_types)
    new = Spec(types_, fn)
    built.append((new, fn))
    for t in extra:
        try:
            f = _build_ir(rec, func, t, force, frameless)
        except (Unsupported, _Failed):    # its own call will compile it, or say why not
            continue
        rec.attempted.add(t)
        built.append((Spec(t, f), f))
    built = _frameless_for_dispatch(rec, func, built, force)
    if not (rec.eager or for_caller or rec.for_frames or worth_installing([s for s, _ in built])):
        # a tiny body is faster interpreted (the prologue and boxing cost ~15 ns a call): no
        # LLVM work for it unless a native caller asks (each LLVM compile also keeps memory)
        rec.refuse(Refusal.TOO_SMALL, f"{new.work} operations, no loop")
        return None
    if _too_big(rec, [f for _, f in built]):
        return None
    objects = any(not s.numeric for s, _ in built)
    mod, helpers, layouts, keep = _jit(rec, [f for _, f in built], first_tier, objects)
    compiled, entry, inner, counters = mod.compiled, mod.entry, mod.inner, mod.counters
    with _stage(Refusal.INSTALL_ERROR):
        from . import install      # start-up time: the installer loads bytecode on the first compile
        block = install.entry_block()
        native = make_callable(compiled[entry], func.__name__, keep=keep + [layouts, compiled, block])
        installed = {}
        code = install.build_code(rec.original_code, native, layouts, installed)
        install.point_entry_block(code, block, compiled[entry], native)
        if any(f.attrs.get("resumable") for _, f in built):
            helpers[2].prepare(rec.original_code, install.build_code)
        install.point_line_sites(mod.line_sites, compiled, code, installed)
    for (s, f), sym in zip(built, inner):
        s.describe(f)
        _place(rec, s, compiled, sym, helpers)
    specs = [s for s, _ in built]
    rec.set_module(compiled, dict(zip(("native_calls", "traced_calls"), map(compiled.__getitem__, counters))))
    rec.quiet_misses = compiled[counters[2]]      # set: unmatched calls stop calling on_miss
    rec.specs = specs
    rec.promotable = mod.promotable
    # build, passes, LLVM and install, without the callees compiled on the way
    (rec.compile_seconds if first_tier else rec.promote_seconds).append(time.perf_counter() - started - _child_seconds[0])
    TOTALS["compiled"] += 1
    if not (rec.eager or worth_installing(specs)):
        # compiled for a native caller, which calls the specialisation directly; native callers
        # that push its frame run it there (3.12), the interpreter its original code
        rec.refuse(Refusal.TOO_SMALL, f"{sum(s.work for s in specs)} operations, no loop")
        # (not when it would hand on new boxes of the caller's numbers: CPython passes its objects)
        if (func.__code__ is rec.original_code and not any(s.hands_on_numbers for s in specs)
                and install.point_framed(func, code, block)):
            mark_installed(code, rec.original_code)
            rec.set_framed(code, block, native)
        return new
    rec.unframe()
    mark_installed(code, rec.original_code)
    disview.show_originals()
    rec.put_code(code)
    TOTALS["installed"] += 1
    rec.state = "compiled"
    log.info("tiered: compiled %s%s in %.1f ms%s", rec.name, types_,
             (rec.compile_seconds if first_tier else rec.promote_seconds)[-1] * 1e3,
             " (first tier)" if rec.promotable else " (optimised)" if rec.promoted else "")
    return new


def promote(rec, force=False):
    """First-tier code of rec proved hot (its native code asks): compile it again with LLVM's
    whole pipeline, and the first-tier callees it calls natively with it; then its first-tier
    native callers, which call its first-tier code until they are compiled again.  Never
    raises; not while this thread compiles (the engine's lock is not re-entrant)."""
    func = rec.func
    if not rec.promotable or func is None or not rec.specs or active_here() or busy():
        return
    if not rec.code_in_place():           # the program replaced its code: installing would undo that
        return
    rec.hot_signals += 1
    if rec.hot_signals < HOT_SIGNALS and not force:
        return
    rec.promoted = True
    _promoting[0] = True
    try:
        types_ = rec.specs[0].param_types
        py = {v: k for k, v in PY_TYPES.items()}
        compile_for(func, tuple(py.get(t) or t.cls for t in types_), wait=False,
                    for_caller=rec.state != "compiled", optimise=True)
    except Exception:                     # noqa: BLE001 - compile_for never raises; belt and braces
        log.debug("tiered: promotion of %s failed", rec.name, exc_info=True)
    finally:
        _promoting[0] = False
    for ref in list(rec.callers):
        caller = ref()
        if caller is not None and caller.promotable:
            promote(caller, force=True)


_promoting = [False]         # a promotion is compiling: the callees it resolves are promoted too
# signals of first-tier code before it is promoted (a signal: compiler.PROMOTE_CALLS calls of its
# entry, or 2**16 iterations of its loops)
HOT_SIGNALS = 4


def _build_alone(rec, types_, started, frameless):
    """A frameless specialisation that native callers of a function never installed ask for,
    in a module of its own: a native caller asks for one class at a time, and building the
    others again each time made the function's compiles grow with the square of its classes
    (richards' TaskState methods: four classes, ten specialisations built).  None when it
    recurses through the module's dispatcher (all specialisations must then be in one module)."""
    func = rec.func
    force = config.get("TIERED_FORCE_EXITS")
    fn = _build_ir(rec, func, types_, force, frameless)
    if fn.attrs.get("dispatch"):
        return None
    if _too_big(rec, [fn]):
        return None
    mod, helpers, _, _ = _jit(rec, [fn], True, True)
    if fn.attrs.get("resumable"):
        with _stage(Refusal.INSTALL_ERROR):
            from . import install      # start-up time: the installer loads bytecode on the first compile
            helpers[2].prepare(rec.original_code, install.build_code)
    spec = Spec(types_, fn)
    _place(rec, spec, mod.compiled, mod.inner[0], helpers)
    rec.specs = rec.specs + [spec]
    rec.promotable = rec.promotable or mod.promotable     # its loops' polls may promote them all
    rec.compile_seconds.append(time.perf_counter() - started - _child_seconds[0])
    TOTALS["compiled"] += 1
    return spec


def _too_big(rec, fns):
    """Refuse the function (True) when these specialisations' IR is too big for LLVM to pay:
    LLVM takes seconds per such module (pyperformance's unpack_sequence: 17,665 ops, 6.7 MB of
    LLVM IR, 23 s to compile), more than its calls could ever win back."""
    ops = sum(len(b.body) for f in fns for b in f.blocks)
    if ops > MAX_OPS and not rec.eager:
        rec.refuse(Refusal.TOO_BIG, f"{ops} operations")
        return True
    return False


def _jit(rec, fns, first_tier, objects):
    """Lower and JIT these IR functions into one module, their exits numbered one after the
    other: (the module, its exit helpers, the exit layouts, what its machine code keeps alive).
    First-tier code when the functions work on objects and the function was never promoted;
    lean optimised code when it was, and this is not its promotion (compiler.LEAN)."""
    func = rec.func
    bases, layouts, base = [], {}, 0
    untouched = untouched_params(rec.original_code)
    for f in fns:
        bases.append(base)
        for v in f.exits:
            layouts[base + v.attrs["exit"]] = deopt.Layout(v.state, v.spec.raises, func,
                                                           v if v.op == "call_native" else None, untouched)
        base += max((v.attrs["exit"] for v in f.exits), default=-1) + 1
    with _stage(Refusal.LLVM_ERROR):
        helpers = deopt.make_helpers(rec, layouts, promote)
        prefix = f"t{next(_names)}_{''.join(c if c.isalnum() else '_' for c in func.__name__)}"
        quick = first_tier and not rec.promoted and config.get("TIERED_QUICK_FIRST") and objects
        mod = compiler.compile_module(prefix, list(zip(fns, bases)), helpers, (SENTINEL, INTERPRET, UNBOUND),
                                      config.get("TIERED_FORCE_EXITS"), func.__globals__,
                                      config.get("TIERED_OPT_LEVEL"), quick, objects,
                                      lean=first_tier and rec.promoted)
    # The code object (not tracked by the garbage collector) holds this: nothing in it may lead
    # back to the function, or a function that dies is never freed.  The function and its
    # globals are alive whenever its native code runs (its frame or caller holds them).
    keep = [o for o in mod.kept if o is not func and o is not func.__globals__]
    # what the machine code points at lives as long as it: a native caller keeps an older
    # module of this function alive after its code was replaced (and calls its helpers)
    mod.compiled.kept = tuple(keep)
    return mod, helpers, layouts, keep


def _place(rec, spec, compiled, symbol, helpers):
    """Point a specialisation at its machine code in a compiled module."""
    spec.address, spec.compiled, spec.resumer = compiled[symbol], compiled, helpers[2]
    spec.code_words = rec.code_words


def _frameless_for_dispatch(rec, func, built, force):
    """When a specialisation recurses on objects of any class (through the module's dispatcher,
    which calls frameless specialisations only), the others are rebuilt frameless where they can be."""
    if not any(f.attrs.get("dispatch") for _, f in built):
        return built
    out = []
    for s, f in built:
        if not f.attrs.get("frameless"):
            try:
                f = _build_ir(rec, func, s.param_types, force, True)
            except (Unsupported, _Failed):
                pass                      # it stays as it was: the dispatcher exits for it
        out.append((s, f))
    return out


MAX_OPS = 5000               # IR operations of a function's specialisations beyond which it is TOO_BIG

def _resolve_callee(fn, types_):
    """A compiled specialisation of another function for a direct native call, or None.  An
    exit in it makes the caller call the function again through the interpreter, so it must
    be a function of numbers or a frameless one (or a resumable one: its exit goes on in the
    interpreter, deopt.Resumer)."""
    rec = record_for(fn)
    code = rec.original_code
    if (code.co_flags & 0x0C or code.co_kwonlyargcount or code.co_cellvars or code.co_freevars
            or len(types_) != code.co_argcount):
        return None          # defaults, keywords and cells are bound by CPython: call it there
    if rec.compiling or types_ in rec.not_frameless:
        return None
    py = {v: k for k, v in PY_TYPES.items()}
    if any(not is_obj(t) and t not in py for t in types_):
        return None          # None as an argument: its callee would be typed on NoneType, another layout
    objects = any(is_obj(t) for t in types_)
    py_types = tuple(py.get(t) or t.cls for t in types_)
    if objects and never_frameless(code):
        return _framed(fn, py_types)
    spec = compile_for(fn, py_types, for_caller=True,
                       frameless=RESUMABLE if objects else False, optimise=_promoting[0])
    if spec is None and types_ in rec.not_frameless:
        return _framed(fn, py_types)
    if spec is not None and _building and all(r() is not _building[-1] for r in rec.callers):
        # promoted with it (promote); callers that died are dropped on the way
        rec.callers[:] = [r for r in rec.callers if r() is not None] + [weakref.ref(_building[-1])]
    return spec if spec is not None and spec.address and spec.callable else None


def _framed(fn, py_types):
    """A callee that cannot run frameless is compiled as for the interpreter, for native
    callers that push its frame to run natively there (3.12, install.point_framed); None:
    the caller still calls it generically."""
    if CALL_HELPER:
        compile_for(fn, py_types, for_caller=True, optimise=_promoting[0])
    return None


def restore_all():
    """Every function gets its original code back (disable())."""
    with compile_lock:
        for rec in RECORDS.values():
            rec.restore()
            if rec.state == "compiled":
                rec.state = "interpreted"


set_compiler(compile_for, active_here)

# A fork waits for a compile in progress, so the child never inherits a half-built state.
os.register_at_fork(before=compile_lock.acquire, after_in_parent=compile_lock.release,
                   after_in_child=compile_lock.release)
