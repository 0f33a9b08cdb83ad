"""Compiler backend: a parsed LLVM module → that module optimised by LLVM's default pipeline.

Why a helper process.  In llvmlite 0.50 every PassBuilder allocates PassInstrumentationCallbacks
that nothing frees, about 1.5 KB per pipeline run, and one PassBuilder cannot be reused safely:
each run registers callbacks into it that point at an object destroyed when the run ends.  So
the first TIERED_OPT_PROCESS_AFTER runs happen in this process (a bounded leak); after that a
helper process (this file run as a script, with llvmlite only) optimises bitcode and is replaced
every WORKER_RUNS runs, so its leak is bounded too.  A helper that cannot start, answer or
stay alive is given up on and the pipeline runs here again: optimisation never fails for it.
"""
import atexit
import os
import struct
import sys
import threading
from importlib.machinery import ModuleSpec
from types import ModuleType

if __name__ == "__main__":      # the helper process: llvmlite is where the parent found it
    sys.path[:0] = sys.argv[1:2]

import llvmlite.binding as llvm  # noqa: E402

WORKER_RUNS = 5000          # runs a helper serves before it is replaced (≈7.5 MB leaked in it)
START_TIMEOUT = 20.0        # seconds for a new helper to say it is ready
RUN_TIMEOUT = 120.0         # seconds for one optimisation in the helper
MAX_FAILURES = 3            # helpers that failed before this process stops starting them
_READY = b"tiered-optimiser-ready\n"
_HEADER = struct.Struct("<BI")  # request: opt level, length; reply: ok flag, length

_lock = threading.Lock()
_state = {"in_process": 0, "worker": None, "failures": 0, "worker_runs": 0}


QUICK = 4                   # the level that asks for the quick pipeline (QUICK_PASSES)
# the quick pipeline, for functions whose time goes to the C-API (objects) or whose IR is big:
# the refcount helpers inlined and stack slots promoted, nothing more.  Folding and CFG clean-up
# (instruction_combine, simplify_cfg) took 4/5 of its time on deltablue's and raytrace's
# first-tier modules and made fast instruction selection slower after them, not faster:
# without them the modules' LLVM time is 30-40% less
QUICK_PASSES = ("always_inliner", "sroa")


def run_pipeline(module, opt_level, target_machine):
    """Run LLVM's default pipeline at opt_level (or the quick one, QUICK) on module, here.

    llvmlite 0.50's ModulePassManager.close() frees nothing (ObjectRef's no-op _dispose shadows
    the pass manager's own), so the manager is disposed through the FFI and then detached."""
    options = llvm.create_pipeline_tuning_options(speed_level=min(opt_level, 2))
    builder = llvm.create_pass_builder(target_machine, options)
    if opt_level == QUICK:
        manager = llvm.create_new_module_pass_manager()
        for name in QUICK_PASSES:
            getattr(manager, f"add_{name}_pass")()
    else:
        manager = builder.getModulePassManager()
    try:
        manager.run(module, builder)
    finally:
        llvm.ffi.lib.LLVMPY_DisposeNewModulePassManger(manager)
        manager.detach()
        builder.close()
        options.close()


def optimise(module, opt_level, target_machine, context, process_after):
    """module optimised at opt_level: here for the first process_after runs, then by a helper
    (the result is then a new module in context; the one given is closed)."""
    with _lock:
        if _state["in_process"] < process_after or _state["failures"] >= MAX_FAILURES:
            _state["in_process"] += 1
            run_pipeline(module, opt_level, target_machine)
            return module
        bitcode = _in_helper(module.as_bitcode(), opt_level)
        if bitcode is None:
            _state["in_process"] += 1
            run_pipeline(module, opt_level, target_machine)
            return module
    module.close()
    return llvm.parse_bitcode(bitcode, context=context)


def helper_pid():
    """The process id of the live helper, or None (for tests and stats)."""
    worker = _state["worker"]
    return worker.proc.pid if worker is not None else None


select = subprocess = None  # loaded with the first helper (_helper_modules)


def _helper_modules():
    """Import subprocess and select for the first helper (start-up time: ~3 ms, and few
    programs compile TIERED_OPT_PROCESS_AFTER times); False, for now, while a module is being
    imported: they could meet it half-made (a compile can start in the middle of an import)."""
    global select, subprocess
    if subprocess is None:
        if _importing():
            return False
        import select
        import subprocess
    return True


def _importing():
    """Whether some module is being imported (its spec says so while its code runs).  Only plain
    modules are read, through their dicts: an attribute of a lazy module or a module-level
    __getattr__ would run the program's code here."""
    for module in list(sys.modules.values()):
        if type(module) is ModuleType:
            spec = module.__dict__.get("__spec__")
            if type(spec) is ModuleSpec and spec.__dict__.get("_initializing", False):
                return True
    return False


def _in_helper(bitcode, opt_level):
    """Optimised bitcode from the helper (started or replaced as needed), or None if it failed
    or cannot start now."""
    if not _helper_modules():
        return None
    worker = _state["worker"]
    if worker is not None and (worker.owner != os.getpid() or _state["worker_runs"] >= WORKER_RUNS):
        _retire()
        worker = None
    try:
        if worker is None:
            worker = _state["worker"] = _Worker()
            _state["worker_runs"] = 0
        result = worker.optimise(bitcode, opt_level)
    except RuntimeError:         # the pipeline itself failed: this compile fails, the helper is fine
        raise
    except (OSError, ValueError, subprocess.SubprocessError):   # the helper failed, not LLVM
        _state["failures"] += 1
        _retire(kill=True)
        return None
    except BaseException:        # an interrupt mid-request: the helper's reply would be stale
        _retire(kill=True)
        raise
    _state["worker_runs"] += 1
    return result


def _retire(kill=False):
    """Let the current helper go: it exits when its input closes (killed if kill)."""
    worker, _state["worker"] = _state["worker"], None
    if worker is not None:
        worker.close(kill)


class _Worker:
    """One helper process and the pipes to it."""

    def __init__(self):
        here = os.path.dirname(os.path.abspath(llvm.__file__))
        self.owner = os.getpid()
        if not sys.executable:
            raise OSError("no Python executable to start the optimiser helper with")
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-S", os.path.abspath(__file__),
             os.path.dirname(os.path.dirname(here))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True)
        try:
            if self._read(len(_READY), START_TIMEOUT) != _READY:
                raise OSError("the optimiser helper did not start")
        except BaseException:
            self.close(kill=True)
            raise

    def optimise(self, bitcode, opt_level):
        """Send one module's bitcode; its optimised bitcode (a helper error raises RuntimeError)."""
        self.proc.stdin.write(_HEADER.pack(opt_level, len(bitcode)) + bitcode)
        self.proc.stdin.flush()
        ok, size = _HEADER.unpack(self._read(_HEADER.size, RUN_TIMEOUT))
        payload = self._read(size, RUN_TIMEOUT)
        if not ok:
            raise RuntimeError("LLVM optimiser: " + payload.decode("utf-8", "replace"))
        return payload

    def _read(self, size, timeout):
        """Exactly size bytes from the helper within timeout seconds (OSError if not)."""
        fd, chunks, left = self.proc.stdout.fileno(), [], size
        while left:
            if not select.select([fd], [], [], timeout)[0]:
                raise OSError("the optimiser helper did not answer")
            chunk = os.read(fd, left)
            if not chunk:
                raise OSError("the optimiser helper exited")
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def close(self, kill=False):
        """Close the pipes; reap the helper if this process started it (killed first if kill)."""
        mine = self.owner == os.getpid()
        try:
            if kill and mine:
                self.proc.kill()
            self.proc.stdin.close()
            self.proc.stdout.close()
        except OSError:
            pass
        if mine:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        else:                    # a forked child's copy: its parent reaps the helper
            self.proc.returncode = 0


def _forget_after_fork():
    """In a forked child: drop the parent's helper (the child starts its own when needed)."""
    if _state["worker"] is not None:
        _retire()


def _serve():
    """The helper's loop: bitcode in, optimised bitcode out, until its input closes."""
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    machine = llvm.Target.from_default_triple().create_target_machine(
        cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(),
        opt=2, codemodel="jitdefault")
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    stdout.write(_READY)
    stdout.flush()
    while True:
        header = stdin.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return
        opt_level, size = _HEADER.unpack(header)
        try:
            context = llvm.create_context()
            module = llvm.parse_bitcode(stdin.read(size), context=context)
            run_pipeline(module, opt_level, machine)
            ok, payload = 1, module.as_bitcode()
            module.close()
            context.close()
        except Exception as exc:     # noqa: BLE001 - reported to the parent, which raises it
            ok, payload = 0, repr(exc).encode()
        stdout.write(_HEADER.pack(ok, len(payload)) + payload)
        stdout.flush()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
atexit.register(_retire)     # the helper ends with this process, reaped (no ResourceWarning)

if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _serve()
