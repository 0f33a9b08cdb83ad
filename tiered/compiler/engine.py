"""Compiler backend: LLVM IR text → machine code owned by a Compiled handle (optimised by optimiser.py).

Memory: MCJIT frees machine code only when its whole engine is disposed, and an engine costs
~750 KB while a module added to one costs ~16 KB.  So modules are grouped, MODULES_PER_ENGINE
to an engine; each Compiled handle holds its engine, and an engine that is no longer the current
one is disposed (by llvmlite, on garbage collection) once every handle of its modules is gone.
Whoever calls into a module's code keeps its handle alive (installed code, native callers).
"""
import ctypes
import logging
import os
import re
import sys
import threading

import llvmlite.binding as llvm

from .. import config
from ..cpython import capi
from . import objcache, optimiser, runtime_ir

log = logging.getLogger("tiered")

MODULES_PER_ENGINE = 32
_lock = threading.Lock()
_shared = None               # the runtime helpers' engine: lives as long as the process
_target_machine = None       # the optimiser's target machine (lives as long as the process)
_current = {}                # codegen level -> the engine new modules go to
_engines = []                # engines not yet disposed: swept at each compile (no destructor)
_emitters = {}               # codegen level -> the target machine emitting object code (_emitter)
_addresses = {}              # symbol -> address: the C-API's and the shared helpers' (absolute())
HELPERS_FROM = [None]        # where this process's shared helpers came from: "cache" or "compiled"


class _Engine:
    """One MCJIT engine and how many modules it was given.

    Each module is parsed in a context of its own: constants such as `inttoptr` of an object's
    address are interned in their context forever, so one shared context grows with every
    compile.  A module becomes object code (_emitter) and is disposed with its context before
    the engine loads that code: the IR is ~80% of a module's memory, and an engine lives until
    its last function dies, which for functions in reference cycles (all module-level ones)
    waits for Python's cyclic GC.

    An engine has no destructor: one would run Python code (this module's and llvmlite's)
    inside the program wherever its last function dies, where a tracer or profiler sees it.
    Engines nothing holds are disposed at the next compile (`_sweep`)."""

    def __init__(self, codegen=2):
        self.ee = llvm.create_mcjit_compiler(llvm.parse_assembly(""), _new_target_machine(codegen))
        self.codegen = codegen
        self.modules = 0
        _engines.append(self)

    def dispose(self):
        """Free the engine's machine code."""
        try:
            self.ee.close()
        except Exception:                    # noqa: BLE001 - a failure only keeps memory
            pass


def _sweep():
    """Dispose of the engines that no compiled module holds any more (called with _lock held)."""
    keep = []
    for eng in _engines:
        # held only by _engines, this loop and getrefcount's argument: no Compiled is alive
        if sys.getrefcount(eng) <= 3 and all(eng is not cur for cur in _current.values()):
            eng.dispose()
        else:
            keep.append(eng)
    _engines[:] = keep


class Compiled:
    """The addresses of one JIT-compiled module; its machine code lives as long as this object,
    and so do the objects the code points at (`kept`: whoever keeps the code alive, a native
    caller of an older specialisation included, keeps them)."""
    __slots__ = ("addresses", "_engine", "kept", "data", "__weakref__")

    def __init__(self, addresses, engine):
        self.addresses, self._engine, self.kept, self.data = addresses, engine, (), None

    def __getitem__(self, name):
        return self.addresses[name]


def _emitter(codegen):
    """The target machine that turns modules into object code at this level, for the engines to
    load: MCJIT's own code generation also runs LLVM's IR verifier (llvmlite's LLVM is built
    with assertions), again, on every module: a sixth of a first-tier module's code generation."""
    if codegen not in _emitters:
        _emitters[codegen] = _new_target_machine(codegen)
    return _emitters[codegen]


def _new_target_machine(codegen=2):
    """A target machine for this host generating code at this level (an engine takes
    ownership of the one it is given)."""
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(
        cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(),
        opt=codegen, codemodel="jitdefault")


def _init(helpers=True):
    """Bind the C-API symbols and make the optimiser's target machine once; with helpers, also
    compile the shared runtime helpers once (the tracer gate needs none of them: a process that
    never compiles a function does not pay for them at start-up)."""
    global _shared, _target_machine
    if _target_machine is None:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        for name, address in capi.symbols().items():
            llvm.add_symbol(name, address)
            _addresses[name] = address
        _target_machine = _new_target_machine()
    if not helpers or _shared is not None:
        return
    machine = _new_target_machine()
    shared = llvm.create_mcjit_compiler(llvm.parse_assembly(""), machine)
    text = capi.declarations() + runtime_ir.HELPERS
    k = objcache.key(text)
    obj = objcache.load(k)                # an earlier run's, checked
    HELPERS_FROM[0] = "cache" if obj is not None else "compiled"
    if obj is None:
        module = llvm.parse_assembly(text)
        module.verify()
        optimiser.run_pipeline(module, 2, _target_machine)    # written plainly: their calls are hot
        obj = machine.emit_object(module)
        objcache.store(k, obj)
    shared.add_object_file(llvm.ObjectFileRef.from_data(obj))
    shared.finalize_object()
    for name, value in runtime_ir.PROCESS_GLOBALS.items():
        ctypes.c_void_p.from_address(shared.get_global_value_address(name)).value = value
    for name in runtime_ir.names():
        _addresses[name] = shared.get_function_address(name)
        llvm.add_symbol(name, _addresses[name])
    if config.get("TIERED_PERF_MAP"):
        _perf_map({name: _addresses[name] for name in runtime_ir.names()}, obj)
    _shared = shared


# A declaration of a symbol, a definition, or a reference to one (absolute())
_DECLARATION = re.compile(r"^(?:declare [^@\n]*@([\w.]+)\(|@([\w.]+) = external global )[^\n]*\n", re.M)
_DEFINITION = re.compile(r"^(?:define [^@\n]*@([\w.]+)\(|@([\w.]+) = (?!external))", re.M)
_REFERENCE = re.compile(r"@([A-Za-z_][\w.]*)")


def absolute(ir_text):
    """The module with every symbol of the process it names (C-API, libc, libm, the shared
    helpers) replaced by its address.  The JIT's code model is x86-64's large one, where fast
    instruction selection selects no instruction naming a global: each call to a named function
    went through SelectionDAG on its own (a third of a first-tier module's code generation)."""
    def declared(m):
        name = m.group(1) or m.group(2)
        return "" if _address(name) else m.group(0)

    own = {a or b for a, b in _DEFINITION.findall(ir_text)}    # the module's own keep their names

    def reference(m):
        address = _addresses.get(m.group(1)) if m.group(1) not in own else None
        return f"inttoptr (i64 {address} to ptr)" if address else m.group(0)
    return _REFERENCE.sub(reference, _DECLARATION.sub(declared, ir_text))


def _address(name):
    """The address of a symbol of the process (cached in _addresses), or 0 (an LLVM intrinsic,
    one of the module's own)."""
    if name not in _addresses:
        _addresses[name] = 0 if name.startswith("llvm.") else llvm.address_of_symbol(name) or 0
    return _addresses[name]


def compile_module(ir_text, names, opt_level=2, data=(), quick=False, helpers=True, codegen=None,
                   lean=False):
    """Parse, verify, optimise and JIT one module; a Compiled handle with the addresses of
    functions `names` and of global variables `data`.  quick: the quick pipeline and fast
    instruction selection (an object function's time goes to the C-API it calls: a fifth of
    the compile time for a few percent of its speed), the process's symbols named by address
    (absolute()); helpers: it calls the shared runtime helpers (runtime_ir); codegen: the
    instruction selection level, if not quick's; lean: after the passes, its functions are
    generated as LLVM generates `optnone` ones (see _lean)."""
    if codegen is None:
        codegen = 0 if quick and opt_level else 2
    with _lock:
        _init(helpers)
        _sweep()
        if quick and helpers:
            ir_text = absolute(ir_text)
        context = llvm.create_context()
        module = llvm.parse_assembly(ir_text, context=context)
        module.verify()
        if opt_level:
            module = optimiser.optimise(module, optimiser.QUICK if quick else opt_level, _target_machine,
                                        context, config.get("TIERED_OPT_PROCESS_AFTER"))
        try:
            if lean:
                _lean(module)
            obj = _emit(module, codegen, quick)
        finally:
            pointer = module._ptr
            module.close()
            context.close()
            _drop_cast_cycle(pointer)
        engine = _current.get(codegen)
        if engine is None or engine.modules >= MODULES_PER_ENGINE:
            engine = _current[codegen] = _Engine(codegen)
        engine.ee.add_object_file(llvm.ObjectFileRef.from_data(obj))
        engine.modules += 1
        engine.ee.finalize_object()
        addresses = {name: engine.ee.get_function_address(name) for name in names}
        addresses.update({name: engine.ee.get_global_value_address(name) for name in data})
    if not all(addresses.values()):
        raise RuntimeError(f"LLVM produced no code for {[n for n, a in addresses.items() if not a]}")
    if config.get("TIERED_PERF_MAP"):
        _perf_map({name: addresses[name] for name in names}, obj)
    return Compiled(addresses, engine)


def _perf_map(functions, obj):
    """Append these functions (symbol -> address) to /tmp/perf-PID.map, where Linux perf looks
    up the names of JIT code (TIERED_PERF_MAP).  MCJIT gives no sizes: each function is taken
    to reach the next one of the module, the last one the end of the object's code; never
    raises (a map that cannot be written is no reason to refuse a compile)."""
    try:
        text = sum(s.size() for s in llvm.ObjectFileRef.from_data(obj).sections() if s.is_text())
        starts = sorted((a, n) for n, a in functions.items())
        first = starts[0][0]
        lines = []
        for k, (address, name) in enumerate(starts):
            end = starts[k + 1][0] if k + 1 < len(starts) else max(first + text, address + 1)
            lines.append(f"{address:x} {end - address:x} tiered:{name}\n")
        with open(f"/tmp/perf-{os.getpid()}.map", "a") as f:
            f.writelines(lines)
    except Exception:                     # noqa: BLE001 - a profiling aid only
        log.debug("tiered: the perf map could not be written", exc_info=True)


def _emit(module, codegen, prepared):
    """The module's object code at this instruction-selection level.  After the quick passes
    (prepared: their IR is what our lowering wrote) the full code generator runs without
    CodeGenPrepare and the machine scheduler, as the fast and lean ones do: on promoted
    object modules they took a third of the code generation (deltablue's 250 KB modules:
    247 -> 171 ms), for the same machine code size; after the whole pipeline (loops over
    floats: chaos and raytrace lost 5% without them) they run.  LLVM's options are
    process-wide: set for this emission only and put back (another library compiling on
    another thread meanwhile would only see its code prepared less)."""
    if not codegen or not prepared:
        return _emitter(codegen).emit_object(module)
    _codegen_options(False)
    try:
        return _emitter(codegen).emit_object(module)
    finally:
        _codegen_options(True)


def _codegen_options(on):
    """Turn LLVM's CodeGenPrepare and machine scheduler on (their defaults) or off."""
    llvm.set_option("tiered", f"-disable-cgp={'false' if on else 'true'}")
    llvm.set_option("tiered", f"-enable-misched={'true' if on else 'false'}")


def _lean(module):
    """Mark the module's functions `optnone` (with the `noinline` it needs), once its passes
    ran: the full code generator then selects instructions the fast way and skips its optional
    machine passes (CodeGenPrepare, scheduling, machine LICM/CSE/sinking) but keeps the greedy
    register allocator, which is what the fast one lacks.  On deltablue's promoted modules
    (200-250 KB of IR) 66-82 ms instead of 210-238 ms, for 12-14% more machine code (the fast
    generator's: 45-52% more)."""
    for fn in module.functions:
        # (a helper the passes inlined everywhere may stay defined: `alwaysinline` excludes `noinline`)
        if not fn.is_declaration and b"alwaysinline" not in fn.attributes:
            fn.add_function_attribute("noinline")
            fn.add_function_attribute("optnone")


def _drop_cast_cycle(pointer):
    """llvmlite hashes a module (the engine keeps a set of them) through ctypes.cast, which stores
    the pointer in its own `_objects`: a cycle that would leave two objects per compile for the
    garbage collector, where a program counting what gc.collect() finds would see them."""
    objects = getattr(pointer, "_objects", None)
    if isinstance(objects, dict):
        objects.clear()


def live_engines():
    """How many engines for compiled functions are alive (the shared helpers' one not counted);
    the ones nothing holds are disposed first, as the next compile would."""
    with _lock:
        _sweep()
        return len(_engines)

