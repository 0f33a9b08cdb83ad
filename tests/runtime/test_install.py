"""Installing: identity, signature, defaults, keywords, every reference runs native, disable restores."""
import dis
import inspect
import traceback
import types

import pytest

import tiered
from tests.support import check, fresh_copy
from tiered.runtime import install, manager
from tiered.runtime.deopt import Layout, stub_numbers
from tiered.runtime.markers import STATES


def poly(x, a=2.0, *, _unused=None):
    """Docstring kept."""
    return a * x * x + 1.0


def simple(x, a=2.0, b=-1.0):
    """Docstring kept."""
    return a * x * x + b


def eager_copy(func):
    """A copy that is installed when compiled, however small (as @tiered.jit does)."""
    f = fresh_copy(func)
    manager.record_for(f).eager = True
    return f


def test_metadata_and_references():
    f = eager_copy(simple)
    holder, table = [f], {"k": f}
    sig, name, qual, doc, defaults = inspect.signature(f), f.__name__, f.__qualname__, f.__doc__, f.__defaults__
    assert manager.compile_for(f, (float, float, float)) is not None
    rec = manager.record_for(f)
    assert inspect.signature(f) == sig and f.__name__ == name and f.__qualname__ == qual
    assert f.__doc__ == doc and f.__defaults__ == defaults
    before = rec.native_calls
    assert holder[0](3.0) == simple(3.0)
    assert table["k"](3.0, b=2.0) == simple(3.0, b=2.0)
    assert f(x=1.5, a=3.0) == simple(x=1.5, a=3.0)
    assert rec.native_calls == before + 3


def test_keyword_only_is_refused_but_untouched():
    f = fresh_copy(poly)
    assert manager.compile_for(f, (float, float, type(None))) is None
    assert f(2.0) == poly(2.0) and f.__code__ is poly.__code__


def test_wrong_types_run_in_cpython():
    rec = check(simple, (1.5, 2.0, 3.0))
    f = rec.func
    assert f(2, 3, 4) == simple(2, 3, 4) and type(f(2, 3, 4)) is int
    assert f(2, "ab", "c") == simple(2, "ab", "c")


def test_new_signature_earns_a_specialisation(monkeypatch):
    monkeypatch.setenv("TIERED_THRESHOLD", "20")
    f = eager_copy(simple)
    assert manager.compile_for(f, (float, float, float)) is not None
    for k in range(10):
        assert f(k, 2, 3) == simple(k, 2, 3)
    rec = manager.record_for(f)
    assert [s.param_types for s in rec.specs] == [("float",) * 3, ("int",) * 3]
    before = rec.native_calls
    assert f(5, 1, 1) == 26 and rec.native_calls == before + 1


def test_disable_restores_everything():
    f = eager_copy(simple)
    original = f.__code__
    assert manager.compile_for(f, (float, float, float)) is not None
    assert f.__code__ is not original
    tiered.disable()
    assert f.__code__ is original and manager.record_for(f).state == "interpreted"


def closure_maker(k):
    def inner(x):
        return x * k
    return inner


def test_a_closure_compiles_and_reads_the_cells_of_the_frame_it_runs_in():
    f, g = closure_maker(3), closure_maker(5)
    original = g.__code__
    rec = manager.record_for(f)
    rec.eager = True
    assert manager.compile_for(f, (int,)) is not None
    assert g.__code__ is original                   # another function of the same code: untouched
    assert f(4) == 12 and g(4) == 20 and rec.native_calls == 1
    g.__code__ = f.__code__                         # the installed code, with g's own cells
    assert g(4) == 20 and rec.native_calls == 2


def test_jit_decorator_compiles_at_first_call():
    def g(x, y):
        return x * y + 1
    jg = tiered.jit(g)
    assert jg is g
    assert g(3, 4) == 13                       # compiled at this call, which runs interpreted
    rec = manager.record_for(g)
    assert rec.state == "compiled" and rec.native_calls == 0
    assert g(5, 6) == 31 and rec.native_calls == 1


def tiny(x, lo, hi):
    return lo if x < lo else hi if x > hi else x


def calls_tiny(n):
    s = 0
    for i in range(n):
        s += tiny(i, 3, 11)
    return s


def test_tiny_function_stays_interpreted_but_native_callers_use_it():
    f = fresh_copy(tiny)
    assert manager.compile_for(f, (int, int, int)) is None       # no LLVM work for it alone
    rec = manager.record_for(f)
    assert rec.refusal.name == "TOO_SMALL" and f.__code__ is tiny.__code__ and not rec.specs
    caller = fresh_copy(calls_tiny)
    caller.__globals__["tiny"] = f
    try:
        assert manager.compile_for(caller, (int,)) is not None
        crec = manager.record_for(caller)
        assert caller(20) == calls_tiny(20)
        assert crec.native_calls == 1
        assert any("call_native" in s.ops for s in crec.specs)
        assert len(rec.specs) == 1 and f.__code__ is tiny.__code__   # compiled for the caller only
    finally:
        caller.__globals__["tiny"] = tiny


def test_jit_leaves_generators_untouched():
    def gen(n):
        for i in range(n):
            yield i * 2
    code = gen.__code__
    g = tiered.jit(gen)
    assert g is gen and gen.__code__ is code and list(gen(3)) == [0, 2, 4]
    assert manager.record_for(gen).refusal.name == "GENERATOR"


SCALE = 1


def scaled_sum(n):
    s = 0
    for i in range(n):
        s += i * SCALE            # a global: the compiled guards read this module's dict
    return s


def test_a_function_made_from_the_installed_code_with_other_globals_runs_as_cpython():
    import types
    f = eager_copy(scaled_sum)
    assert manager.compile_for(f, (int,)) is not None
    rec = manager.record_for(f)
    before = rec.native_calls
    assert f(10) == 45 and rec.native_calls == before + 1
    other = types.FunctionType(f.__code__, {"SCALE": 100, "__builtins__": __builtins__}, "other")
    assert other(10) == 4500                        # its own SCALE, in the interpreter
    assert rec.native_calls == before + 1           # the native entry sent it back at once
    assert f(10) == 45 and rec.native_calls == before + 2


def counted(n):
    s = 0
    for i in range(n):
        s += i * i
    return s


def test_dis_shows_the_original_code():
    """dis of a compiled function (or of its __code__) is CPython's: no prologue (test_dis)."""
    import dis
    import io
    f = eager_copy(counted)
    original, plain = f.__code__, io.StringIO()
    dis.dis(f, file=plain)
    assert manager.compile_for(f, (int,)) is not None and f.__code__ is not original
    for x in (f, f.__code__):
        out = io.StringIO()
        dis.dis(x, file=out)
        assert out.getvalue() == plain.getvalue()
        assert list(dis.get_instructions(x)) == list(dis.get_instructions(original))
        assert dis.Bytecode(x).dis() == plain.getvalue() and dis.code_info(x) == dis.code_info(original)
    assert f(10) == counted(10)


def test_a_function_too_big_to_pay_back_its_compile_is_refused(monkeypatch):
    # pyperformance's unpack_sequence: one function of 17,665 IR operations took 23 s to compile
    monkeypatch.setattr(manager, "MAX_OPS", 5)
    f = fresh_copy(calls_tiny)
    assert manager.compile_for(f, (int,)) is None
    rec = manager.record_for(f)
    assert rec.refusal.name == "TOO_BIG" and f.__code__ is calls_tiny.__code__ and not rec.specs


class Plain:
    pass


def dead_locals(a):
    if False:                   # v and w are in co_varnames, never in the bytecode
        v = w = 0
    obj = Plain()               # slot 3 of the frame native code writes
    obj.a = a
    return obj.a + 1


@pytest.mark.usefixtures("object_tier")
def test_the_installed_code_keeps_every_local_slot_even_of_locals_the_bytecode_never_uses():
    # the installed frame had only the locals the bytecode names: native code wrote past it
    # (the fuzzer's crash on 3.11 and 3.12)
    for _ in range(10):
        dead_locals(1)
    f = eager_copy(dead_locals)
    assert manager.compile_for(f, (int,)) is not None
    assert f.__code__.co_varnames == dead_locals.__code__.co_varnames
    check(dead_locals, (1,), (2,), (3,))


WIDE = {f"G{i}": i for i in range(300)}
exec("def wide(x):\n    t = (" + ", ".join(WIDE) + ")\n    y = G299\n    return x + y + len(t)\n", WIDE)


def guarded(x):
    try:
        y = len(x)
        return y
    except ValueError as e:
        return "caught", str(e)


def unguarded(x):
    y = len(x)
    return y


def _layout(offset, local_names, raises=False):
    """An exit layout with no stack items (as the compiler makes them: deopt.Layout)."""
    lay = Layout.__new__(Layout)
    lay.offset, lay.local_names, lay.raises = offset, list(local_names), raises
    lay.maybe_unbound, lay.slots, lay.from_params, lay.same = set(), [], (), ()
    lay.callee = lay.callee_at = None
    return lay


def _resume(func, lay, values):
    """Run func's resumption code (its original code with one stub, no native entry) from the
    state an exit pushes: the stub number and the values its stub restores."""
    code = install.build_code(func.__code__, None, {0: lay})
    STATES.__dict__.setdefault("stack", []).append((stub_numbers({0: lay})[0], values))
    return types.FunctionType(code, func.__globals__)


def test_an_exit_resumes_at_an_instruction_with_an_extended_arg():
    # the stub's jump must land on the EXTENDED_ARG, not on the instruction it extends
    instrs = list(dis.get_instructions(WIDE["wide"]))
    k = max(k for k, i in enumerate(instrs) if i.opname == "LOAD_GLOBAL" and i.argval == "G299")  # y = G299
    assert instrs[k - 1].opname == "EXTENDED_ARG"
    resumed = _resume(WIDE["wide"], _layout(instrs[k].offset, ["x", "t"]), (5, (1, 2, 3), None))
    assert resumed(0) == 5 + 299 + 3


def test_an_exit_with_an_exception_raises_it_where_its_resume_instruction_is():
    # the raise sits after the body, covered by the handler of the resume instruction
    for func, expected in ((guarded, ("caught", "boom")), (unguarded, None)):
        at = next(i for i in dis.get_instructions(func) if i.opname == "LOAD_GLOBAL" and i.argval == "len")
        resumed = _resume(func, _layout(at.offset, ["x"], raises=True), ("abc", ValueError("boom")))
        try:
            got = resumed("not used")
        except ValueError as e:
            assert expected is None and str(e) == "boom"
            line = traceback.extract_tb(e.__traceback__)[-1]
            assert (line.name, line.lineno, line.line) == ("unguarded", at.positions.lineno, "y = len(x)")
        else:
            assert got == expected
