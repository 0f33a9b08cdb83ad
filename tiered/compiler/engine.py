"""Compiler backend: LLVM IR text → machine code in one MCJIT engine (the only importer of llvmlite.binding)."""
import threading

import llvmlite.binding as llvm

from ..runtime import capi
from . import runtime_ir

_lock = threading.Lock()
_engine = None
_target_machine = None


def _init():
    """Create the target machine and engine once, and bind the C-API symbols."""
    global _engine, _target_machine
    if _engine is not None:
        return
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    target = llvm.Target.from_default_triple()
    _target_machine = target.create_target_machine(
        cpu=llvm.get_host_cpu_name(), features=llvm.get_host_cpu_features().flatten(),
        opt=2, codemodel="jitdefault")
    for name, address in capi.symbols().items():
        llvm.add_symbol(name, address)
    engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), _target_machine)
    shared = llvm.parse_assembly(capi.declarations() + runtime_ir.HELPERS)
    shared.verify()
    engine.add_module(shared)
    engine.finalize_object()
    for name in runtime_ir.names():
        llvm.add_symbol(name, engine.get_function_address(name))
    _engine = engine


def compile_module(ir_text, names, opt_level=2, data=()):
    """Parse, verify, optimise and JIT one module; return the addresses of functions `names`
    and of global variables `data`."""
    with _lock:
        _init()
        module = llvm.parse_assembly(ir_text)
        module.verify()
        if opt_level:
            options = llvm.create_pipeline_tuning_options(speed_level=opt_level)
            builder = llvm.create_pass_builder(_target_machine, options)
            builder.getModulePassManager().run(module, builder)
        _engine.add_module(module)
        _engine.finalize_object()
        addresses = {name: _engine.get_function_address(name) for name in names}
        addresses.update({name: _engine.get_global_value_address(name) for name in data})
    if not all(addresses.values()):
        raise RuntimeError(f"LLVM produced no code for {[n for n, a in addresses.items() if not a]}")
    return addresses
