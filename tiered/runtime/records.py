"""Runtime records: a function → what tiered knows about it (counts, state, specialisations, exits), held weakly."""
import ctypes
import logging
import threading
import weakref

from .. import config
from ..cpython import pushframe
from ..compiler.ops import BOOL, FLOAT, INT, ObjType
from ..reasons import Exit, Refusal
from ..tally import Tally
from ..weaktable import WeakTable
# bound at import: exits and misses run inside the program, which may rebind builtins
from builtins import TypeError, any, getattr, id, isinstance, len, max, set, str, tuple, type, zip  # noqa: A004

# the compiler side (manager.py, which sits above records, registers itself when imported):
# (compile_for, active_here)
_compiler = [None, lambda: False]


def set_compiler(compile_for, active_here):
    """Let records ask for a compile when no specialisation matches (manager.py calls this)."""
    _compiler[:] = [compile_for, active_here]

# the 'tiered' logger never reaches the program's own handlers (the root logger's): it has a
# NullHandler and does not propagate; TIERED_LOG adds tiered's own stderr handler (enable())
log = logging.getLogger("tiered")
log.propagate = False
if not log.handlers:
    log.addHandler(logging.NullHandler())
PY_TYPES = {int: INT, float: FLOAT, bool: BOOL}
EXIT_STORM = 1000            # exits at one site before the function goes back to CPython
# a storm of these exits makes the function compile again without speculating at that
# instruction (its generic path; for a native callee that keeps exiting: a generic call), at
# most RESPECIALISE_LIMIT times, before it is refused
RESPECIALISE = (Exit.TYPE_GUARD, Exit.UNPACK_SIZE, Exit.GLOBAL_CHANGED, Exit.CALLEE_EXITED, Exit.CALLEE_RESUMED)
RESPECIALISE_LIMIT = 4
RECORDS = WeakTable()        # function -> Record (the record goes some time after the function)
_records_lock = threading.Lock()
_installed = WeakTable()     # code objects tiered installed -> the original code they replace
# process-wide counts, kept after the functions they are about have died
TOTALS = {"compiled": 0, "installed": 0, "exits": Tally(), "refusals": Tally(),
          "unrecorded": {},          # name -> "REASON: detail" of refusals that keep no record
          "unrecorded_at": {}}       # name -> "file:first line" of those (strings: no gc objects)
UNRECORDED_KEPT = 1000              # at most this many names (strings only: no gc objects)


class Record:
    """Everything tiered knows about one function: counts, state, specialisations, exits."""

    def __init__(self, func):
        self._func, self.original_code = weakref.ref(func), func.__code__
        self.name = func.__qualname__
        self.calls = 0
        self.state = "interpreted"
        self.specs = []
        self.compile_seconds = []
        self.promote_seconds = []     # compiles again with the whole pipeline (manager.promote)
        self.exits = Tally()
        self.exit_sites = Tally()
        self.exits_at = Tally()   # (bytecode offset, exit reason name) → exits there (kept over restores)
        self.misses = Tally()
        self.attempted = set()    # IR signatures a compile was tried for
        self.not_frameless = set()    # IR signatures a native caller wanted, which cannot run frameless
        self.generic_at = set()   # instruction offsets compiled without speculation (RESPECIALISE)
        self.refusal = None
        self.refusal_detail = None
        self.refusal_line = None      # the source line where the compiler stopped, when known
        self.refusal_variable = None  # the variable concerned, when known
        self.compiled = None      # the engine handle of the newest module (all specs are in it)
        self.counters = {}        # its native counters: "native_calls"/"traced_calls" -> address
        self.quiet_misses = 0     # address of the newest module's flag that silences misses
        self.retired = Tally()  # counts of modules that are no longer the newest
        self.compiling = False
        self.eager = False        # compiled on request (jit decorator, tests): always installed
        self.promotable = False   # its newest module is first-tier code (manager.promote)
        self.promoted = False     # promoted once: its compiles use the whole pipeline from now on
        self.hot_signals = 0      # times its first-tier code said it ran hot (manager.promote)
        self.callers = []         # weak references to the records of its native callers
        self.framed = None        # (block, code, native, ref): code native callers run in its frames
        self.for_frames = False   # compiled for native callers' frames once: its compiles stay so
        # the codes native callers accept as this function's (its original, the one tiered put
        # in place): a program that replaces its code makes their calls exit (CODE_CHANGED)
        self.code_words = (ctypes.c_uint64 * 2)(id(self.original_code), id(self.original_code))

    def put_code(self, code):
        """Put a code object of tiered's in place as the function's code."""
        self.code_words[1] = id(code)
        func = self.func
        if func is not None:
            func.__code__ = code

    def set_framed(self, code, block, native):
        """Native callers that push the function's frame run `code` (not installed: the
        interpreter runs the original) and its native entry there (install.point_framed);
        until the function dies or unframe."""
        self.unframe()
        original = self.original_code
        self.for_frames = True
        self.framed = (block, code, native,
                       weakref.ref(self.func, pushframe.dropper(original, block)))

    def unframe(self):
        """Native callers push frames of the function's own code again."""
        if self.framed is not None:
            pushframe.drop_native_entry(self.original_code, self.framed[0])
            self.framed = None

    def code_in_place(self):
        """Whether the function still runs a code of tiered's (its original, or the one tiered
        put in place): False once the program replaced it (`f.__code__ = ...`)."""
        func = self.func
        return func is not None and id(func.__code__) in (self.code_words[0], self.code_words[1])

    @property
    def func(self):
        """The function, or None once it died."""
        return self._func()

    def _count(self, name):
        """A native counter of the newest module plus what retired modules counted."""
        live = ctypes.c_int64.from_address(self.counters[name]).value if self.compiled is not None else 0
        return self.retired[name] + live

    @property
    def native_calls(self):
        """Calls that entered native code (a specialisation matched), over all modules."""
        return self._count("native_calls")

    @property
    def traced_calls(self):
        """Calls sent to the interpreter because a tracer, profiler or monitoring tool was active."""
        return self._count("traced_calls")

    def set_module(self, compiled, counters):
        """The newest module replaces the previous one (whose counts so far are kept)."""
        self.retire_module()
        self.compiled, self.counters = compiled, counters

    def retire_module(self):
        """Stop reading the newest module's counters; its code is freed once nobody calls it."""
        if self.compiled is not None:
            for name in self.counters:
                self.retired[name] += ctypes.c_int64.from_address(self.counters[name]).value
        self.compiled, self.counters = None, {}

    def count_exit(self, reason, k, offset=None):
        """Called on every exit (k: its number, offset: its instruction's); too many at one site
        compiles the function again without that speculation, or sends it back to CPython."""
        self.exits[reason] += 1
        self.exits_at[offset, reason.name] += 1
        TOTALS["exits"][reason.name] += 1
        self.exit_sites[k] += 1
        if self.exit_sites[k] == EXIT_STORM and reason not in (Exit.FORCED, Exit.SIGNAL, Exit.RECURSION):
            if reason in RESPECIALISE and offset is not None and self._respecialise(offset, reason):
                return
            self.restore()
            self.refuse(Refusal.EXIT_STORM, f"exit {k} ({reason.name}) taken {EXIT_STORM} times")

    def _respecialise(self, offset, reason):
        """Compile the function's signatures again with no speculation at `offset`, whose guard
        failed too often; False when that cannot be done."""
        compile_for, active_here = _compiler
        func, specs = self.func, self.specs
        if (compile_for is None or func is None or active_here() or not specs or offset in self.generic_at
                or len(self.generic_at) >= RESPECIALISE_LIMIT):
            return False
        py = {v: k for k, v in PY_TYPES.items()}
        have = specs[0].param_types
        types_ = tuple(py.get(t) or getattr(t, "cls", None) for t in have)
        if any(t is None and not (isinstance(h, ObjType) and h.ref is None) for t, h in zip(types_, have)):
            return False              # typed by a class that died (None stands for any object)
        self.generic_at.add(offset)
        log.info("tiered: %s: the %s exit at offset %d was taken %d times; compiling it again "
                 "without that speculation", self.name, reason.name, offset, EXIT_STORM)
        others = specs[1:]
        self.restore()
        # the other signatures are built again with it, into one module (one compile, not one
        # per signature as their calls miss: richards' Task.runTask has four receiver classes)
        self.specs = others
        if compile_for(func, types_, wait=False) is None and func.__code__ is self.original_code:
            self.specs = []
        return True

    def count_miss(self, types_):
        """Called when no specialisation matches the argument types: maybe compile one more."""
        key = ir_types(types_)       # IR types hold classes weakly: a record keeps no class alive
        if key is None or key in self.attempted:
            # nothing to compile for it: later unmatched calls go straight to the interpreter
            # (a polymorphic function would otherwise pay a Python call per miss)
            if self.quiet_misses and self.compiled is not None:
                ctypes.c_int64.from_address(self.quiet_misses).value = 1
            return
        self.misses[key] += 1
        compile_for, active_here = _compiler
        if compile_for is None or active_here():   # a miss from code the compiler itself runs:
            return                                 # never re-enter it
        func = self.func
        if (self.misses[key] >= max(2, config.get("TIERED_THRESHOLD") // 10) and func is not None
                and (self.state == "compiled" or self.for_frames) and key not in self.attempted):
            compile_for(func, types_, wait=False)

    def refuse(self, reason, detail="", line=None, variable=None):
        """Record why the function stays in CPython (refused unless a spec is installed), where
        (the source line and variable, when known); log it."""
        self.refusal, self.refusal_detail = reason, detail
        self.refusal_line, self.refusal_variable = line, variable
        TOTALS["refusals"][reason.name] += 1
        if not self.specs or self.state != "compiled":
            self.state = "refused"
        log.info("tiered: %s stays in CPython: %s (%s)", self.name, reason.name, detail)

    def restore(self):
        """Put the original code object back."""
        self.unframe()
        func = self.func
        if func is not None and func.__code__ is not self.original_code:
            self.put_code(self.original_code)
        self.specs = []           # running frames and native callers keep the code they use alive
        self.retire_module()
        self.attempted.clear()    # a later compile starts afresh
        self.misses.clear()
        self.exit_sites.clear()
        self.state = "interpreted" if self.refusal is None else "refused"


def count_refusal(reason, name, detail, where=None):
    """A refusal decided before any record exists (the profiler saw nothing to compile);
    where: "file:first line" of its code."""
    TOTALS["refusals"][reason.name] += 1
    if len(TOTALS["unrecorded"]) < UNRECORDED_KEPT:
        TOTALS["unrecorded"][name] = f"{reason.name}: {_signature_text(detail)}"
        if where is not None:
            TOTALS["unrecorded_at"][name] = where
    log.info("tiered: %s stays in CPython: %s (%s)", name, reason.name, detail)


def _signature_text(detail):
    """A refusal's detail as text; a signature by its classes' names ((int, Point)), never
    through a container's repr, which makes the thread's state dict (a gc object)."""
    if type(detail) is tuple:
        return "(" + ", ".join(getattr(t, "__qualname__", None) or str(t) for t in detail) + ")"
    return str(detail)


def record_for(func):
    """The record of a function, created on first use."""
    rec = RECORDS.get(func)
    if rec is None:
        with _records_lock:
            rec = RECORDS.get(func)
            if rec is None:
                rec = RECORDS[func] = Record(func)
    return rec


def ir_types(py_types):
    """IR types for a tuple of Python argument types (an object of any other class is typed
    by its exact class), or None if one is unsupported."""
    objects = config.get("TIERED_OBJECTS")
    out = tuple(PY_TYPES.get(t) or (_object_type(t) if objects else None) for t in py_types)
    return None if None in out else out


def _object_type(cls):
    """The IR type of an argument of this class (None for a class without weak references,
    which the native entry could not check safely)."""
    try:
        return ObjType(cls)
    except TypeError:
        return None


def mark_installed(code, original):
    """Remember that tiered put this code object in place of `original` (forgotten when it dies)."""
    _installed[code] = original
    _installed_ids.add(id(code))


_installed_ids = set()       # ids of codes tiered put in place (kept after they die: a hint only)


def may_be_installed_code_at(address):
    """Whether the code object at this address is probably one tiered put in place (ids of
    dead codes are not forgotten, so only for heuristics: no object is made to find out)."""
    return address in _installed_ids


def is_installed_code(code):
    """True for code objects that tiered put in place."""
    return code in _installed


def original_of(code):
    """The function's own code for a code object tiered put in place; any other code as it is."""
    return _installed.get(code, code)
