"""Compiler: a function's bytecode + observed argument types → optimised IR → machine code in an LLVM module; the runtime's one way in.

The runtime calls `specialise` for each signature (IR it can inspect: exits, size), then
`compile_module` once for all of a function's specialisations, and `compile_gate` for the
tracer gate.  The stages load on the first compile, not when tiered is imported (llvmlite
and the builder cost start-up time).
"""
from dataclasses import dataclass
from typing import Any, Dict, List, Tuple

from .infer import Unsupported  # noqa: F401 - the refusal every stage raises
from .ops import FLOAT


def specialise(func, arg_types, resolve_callee, force_exits=False, code=None, frameless=False,
               generic_at=frozenset()):
    """The optimised IR of func (its original `code`) for these argument types, speculating
    nothing at the offsets `generic_at` (their guards failed too often); raises Unsupported."""
    from . import build                  # start-up time: loaded on the first compile
    from .passes import pipeline         # start-up time: loaded on the first compile
    return pipeline.run(build.build(func, arg_types, resolve_callee, force_exits=force_exits,
                                    code=code, frameless=frameless, generic_at=generic_at))


@dataclass
class Module:
    """A function's specialisations as loaded machine code, and what the runtime must keep or patch."""
    compiled: Any                 # symbol name → address (engine.Compiled), keeps the code alive
    entry: str                    # the boxed entry's symbol
    inner: List[str]              # each specialisation's symbol, in the order given
    counters: Tuple[str, ...]     # (native calls, traced calls, quiet misses) globals
    line_sites: Dict[int, str]    # original instruction offset → global of its installed address
    kept: List[Any]               # objects the machine code points at
    promotable: bool = False      # quick code that a full optimisation would make faster


def compile_module(prefix, fns, helpers, markers, force_exits, func_globals, opt_level, first_tier=False,
                   objects=False, lean=False):
    """Lower (IR function, exit base) pairs into one LLVM module and load it (a Module).
    first_tier: compiled with the quick pipeline, its code calls helpers[3] (the runtime's
    promotion) each PROMOTE_CALLS calls of its entry and at its loops' polls; objects: some
    specialisation works on objects (its optimised tier is then QUICK_THEN_FULL, unless it loops
    over floats); lean: that optimised tier's code generator runs lean (engine._lean: a
    function compiled again after its promotion, see LEAN)."""
    from . import engine                 # start-up time: llvmlite only once something compiles
    from .lower_module import ModuleEmitter  # start-up time: loaded on the first compile
    # the quick passes (all but a promoted loop over floats): the module's data is named by
    # address, as engine.absolute names the process's symbols (LLVM's whole pipeline optimises
    # better around globals it can see)
    whole = opt_level and not first_tier and not (objects and not _float_loops(fns))
    mod = ModuleEmitter(prefix, helpers, markers, force_exits, func_globals,
                        PROMOTE_CALLS if first_tier and opt_level else 0, absolute=not whole)
    text, entry, inner, counters = mod.emit(fns)
    big = len(text) > QUICK_BYTES
    codegen = 2 if objects and not (first_tier or big or _float_loops(fns)) and opt_level else None
    data = [name for name in counters + tuple(mod.line_sites.values()) if name not in mod.addresses]
    compiled = engine.compile_module(text, [entry] + inner, opt_level, data,
                                     quick=big or first_tier or codegen is not None, codegen=codegen,
                                     lean=lean and codegen is not None)
    compiled.addresses.update(mod.addresses)
    compiled.data = mod.arena             # the module's data lives as long as its machine code
    return Module(compiled, entry, inner, counters, mod.line_sites, mod.kept, first_tier and not big)


def _float_loops(fns):
    """Whether some function loops and computes with unboxed floats (its optimised tier is
    LLVM's whole pipeline, see QUICK_THEN_FULL)."""
    return any(any(b.loop_header for b in f.blocks) and
               any(v.type == FLOAT for b in f.blocks for v in b.body) for f, _ in fns)


# A module whose LLVM IR text is bigger than this gets the quick pipeline and fast instruction
# selection: five times less compile time (a 0.9 MB module: 2 s instead of 11 s), for code that
# runs at about half the speed of the whole pipeline's (the object kernels all compiled so:
# 1.8x instead of 3.5x; benchmarks/objects.py): worth it only where the compile is the cost.
QUICK_BYTES = 500_000

# The first tier: code on objects spends its time in the C-API it calls, and most of its
# compile time in LLVM's instruction selection and register allocation, which the quick
# pipeline does in a third of the time (raytrace: compile median 72 -> 23 ms) for code about
# 10% slower.  Its entry counts calls: every PROMOTE_CALLS calls (and at a loop's poll, every
# 2**16 iterations) it tells the runtime, which compiles it again with the whole pipeline once
# it heard this often enough (runtime/manager.py HOT_SIGNALS).
PROMOTE_CALLS = 4096       # a power of two

# QUICK_THEN_FULL: the optimised tier of code on objects is the quick pipeline's passes, then
# full instruction selection and register allocation.  On such code LLVM's whole pipeline
# bought nothing the full code generator alone does not, for twice the time (callgrind,
# instructions per steady round, whole pipeline against this: richards 491 M / 482 M, go
# 2 152 M / 1 992 M, hexiom 2 969 M / 2 279 M; richards' 17 promoted modules: 1.5 s of LLVM
# against 0.76 s).  Loops over unboxed floats keep the whole pipeline: the objects suite's
# vectors and nbody_lists kernels ran 7.6x and 2.8x with it, 7.3x and 2.6x without.


# LEAN: a promoted function compiles again when its guards fail often, a new signature comes or
# a native caller wants it frameless, and all its specialisations are rebuilt in one module.  The
# full code generator made that 120-250 ms a time on deltablue's polymorphic methods (0.5 s of
# its run); lean (optnone after the quick passes), a third of that.  Promotions themselves keep
# the full code generator: lean promotions cost the object tier 2% of its steady speed on six
# pyperformance workloads (richards 8%) for 9% of whole-process time.


def compile_gate(interpret):
    """The machine code of the tracer gate (symbol `tiered_gate`), returning `interpret` while
    traced: a few instructions, through fast instruction selection (every enable() compiles
    it: ~2.5 ms less than the default)."""
    from . import engine                 # start-up time: llvmlite only once something compiles
    from .lower_module import gate_module  # start-up time: loaded on the first compile
    return engine.compile_module(gate_module(interpret), ["tiered_gate"], 0, helpers=False, codegen=0)
