"""Exit paths never look up a name the program can rebind: tiered's run-time code binds the builtins it uses at import."""
import builtins
import dis
import importlib
import types

import pytest

from tests.support import exits_of, forced_exits, fresh_copy
from tiered.reasons import Exit
from tiered.runtime import manager

# the modules whose functions run on an exit or a miss, while the program runs
EXIT_PATH = ["tiered.runtime.deopt", "tiered.compiler.exits", "tiered.runtime.records", "tiered.tally",
             "tiered.config", "tiered.weaktable"]


def _function_codes(co):
    """Every function's code object inside a module's code (not the module or class bodies)."""
    for c in co.co_consts:
        if isinstance(c, types.CodeType):
            if c.co_flags & 0x1:              # CO_OPTIMIZED: a function, not a class body
                yield c
            yield from _function_codes(c)


@pytest.mark.parametrize("name", EXIT_PATH)
def test_exit_path_functions_resolve_no_builtin_at_run_time(name):
    mod = importlib.import_module(name)
    with open(mod.__file__) as f:
        top = compile(f.read(), mod.__file__, "exec")
    loads = {i.argval if isinstance(i.argval, str) else i.argval[1]
             for c in _function_codes(top) for i in dis.get_instructions(c)
             if i.opname == "LOAD_GLOBAL"}
    assert loads, "the walk found no global loads"
    missing = sorted(n for n in loads if n not in vars(mod) and hasattr(builtins, n))
    assert not missing, f"{name} looks these up in builtins at run time: {missing}"


REAL_LEN = builtins.len


def rebinding(i):
    """The fourth step rebinds len, as a program may."""
    if i == 3:
        builtins.len = lambda x: 999


def loop(n, f):
    out = []
    for i in range(n):
        f(i)
        out.append(len(out) + 1)
    return out


def test_a_callee_rebinding_len_mid_loop_gives_cpythons_result(object_tier):
    try:
        expected = [loop(n, rebinding) for n in (4, 6) if setattr(builtins, "len", REAL_LEN) is None]
        builtins.len = REAL_LEN
        assert expected[0] == [1, 2, 3, 1000]
        jitted = fresh_copy(loop)
        manager.record_for(jitted).eager = True
        assert manager.compile_for(jitted, (int, types.FunctionType)) is not None
        rec = manager.record_for(jitted)
        got = []
        for n in (4, 6):
            builtins.len = REAL_LEN
            got.append(jitted(n, rebinding))
        builtins.len = REAL_LEN
        assert got == expected and rec.native_calls == 2
        assert sum(rec.exits.values()) >= 2          # each run left native code when len changed
        if not forced_exits():
            assert exits_of(rec, Exit.GLOBAL_CHANGED) == 2, dict(rec.exits)
    finally:
        builtins.len = REAL_LEN
