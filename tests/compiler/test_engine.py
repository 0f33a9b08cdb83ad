"""compiler/engine.py: modules become machine code that outlives their IR, engines are shared and freed."""
import ctypes
import gc
import os

from tiered.compiler import engine

ADD = """
define i64 @tiered_test_add_{k}(i64 %x) {{
entry:
  %y = add i64 %x, {k}
  ret i64 %y
}}
"""


def _compile(k):
    """A module whose one function adds k; its handle and the function as a ctypes callable."""
    name = f"tiered_test_add_{k}"
    handle = engine.compile_module(ADD.format(k=k), [name])
    return handle, ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)(handle[name])


def test_a_module_is_released_once_its_code_is_loaded():
    handle, add = _compile(7)
    assert add(35) == 42
    assert len(handle._engine.ee._modules) == 1         # only the engine's own empty module: the
                                                        # module was loaded as object code


COUNTER = """
@tiered_test_count = global i64 5

define i64 @tiered_test_bump() {
entry:
  %n = load i64, ptr @tiered_test_count
  %m = add i64 %n, 1
  store i64 %m, ptr @tiered_test_count
  ret i64 %m
}
"""


def test_a_released_modules_global_data_stays_where_its_code_and_python_find_it():
    handle = engine.compile_module(COUNTER, ["tiered_test_bump"], data=("tiered_test_count",))
    bump = ctypes.CFUNCTYPE(ctypes.c_int64)(handle["tiered_test_bump"])
    count = ctypes.c_int64.from_address(handle["tiered_test_count"])
    assert len(handle._engine.ee._modules) == 1
    assert [bump(), bump()] == [6, 7] and count.value == 7
    count.value = 100                                    # as the runtime writes a line site
    assert bump() == 101


def test_code_of_released_modules_keeps_running_across_engines():
    compiled = [_compile(k) for k in range(engine.MODULES_PER_ENGINE + 8)]
    assert len({id(handle._engine) for handle, _ in compiled}) >= 2
    gc.collect()
    assert [add(1000) for _, add in compiled] == [1000 + k for k in range(len(compiled))]


def test_an_engine_is_freed_when_its_last_handle_dies():
    gc.collect()
    before = engine.live_engines()
    compiled = [_compile(k) for k in range(2 * engine.MODULES_PER_ENGINE)]
    assert engine.live_engines() >= before + 1
    del compiled
    _compile(0)                                          # the current engine may stay
    gc.collect()
    assert engine.live_engines() <= before + 1


LOOP = """
define internal i64 @tiered_test_twice(i64 %x) alwaysinline {{
entry:
  %y = mul i64 %x, 2
  ret i64 %y
}}

define i64 @tiered_test_sum_{k}(i64 %n) {{
entry:
  %acc = alloca i64
  store i64 0, ptr %acc
  br label %head
head:
  %i = phi i64 [0, %entry], [%i1, %body]
  %more = icmp slt i64 %i, %n
  br i1 %more, label %body, label %done
body:
  %a = load i64, ptr %acc
  %t = call i64 @tiered_test_twice(i64 %i)
  %a1 = add i64 %a, %t
  store i64 %a1, ptr %acc
  %i1 = add i64 %i, 1
  br label %head
done:
  %r = load i64, ptr %acc
  ret i64 %r
}}
"""


def test_the_quick_pipeline_gives_the_same_results_from_an_engine_of_its_own(monkeypatch):
    # a big module is compiled quickly (compiler.QUICK_BYTES): the quick passes (always-inline,
    # sroa, instcombine, simplifycfg), here and in the optimiser's helper, and fast instruction
    # selection in an engine of its own
    from tiered import config
    out = {}
    for k, after in ((11, 10**9), (12, 0)):          # in this process; in the helper process
        monkeypatch.setattr(config, "get", lambda name, _get=config.get, after=after:
                            after if name == "TIERED_OPT_PROCESS_AFTER" else _get(name))
        name = f"tiered_test_sum_{k}"
        handle = engine.compile_module(LOOP.format(k=k), [name], quick=True)
        out[k] = (handle, ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)(handle[name])(1000))
    assert out[11][1] == out[12][1] == 999000
    slow, _ = _compile(9)
    # (first-tier modules fill quick engines too: the two may be in two of them)
    assert out[11][0]._engine.codegen == out[12][0]._engine.codegen == 0 != slow._engine.codegen


def test_an_engine_dying_inside_the_program_runs_no_python_code():
    # the last function of an engine dies wherever the program drops it: a destructor there
    # was Python code (the engine's and llvmlite's) that the program's tracer saw
    import sys
    handles = [_compile(k)[0] for k in range(2 * engine.MODULES_PER_ENGINE)]
    gc.collect()
    before = engine.live_engines()
    seen = []

    def tracer(frame, event, arg):
        seen.append((frame.f_code.co_filename, frame.f_code.co_name, event))
        return tracer
    sys.settrace(tracer)
    try:
        del handles                    # the first engine's last handles die here
    finally:
        sys.settrace(None)
    others = {cb.__code__.co_filename for cb in gc.callbacks if hasattr(cb, "__code__")}
    assert [e for e in seen if e[0] not in others] == []       # (hypothesis's gc callback)
    assert engine.live_engines() < before           # disposed at the next compile (or count)


CALLS = """
declare ptr @PyLong_FromLongLong(i64)
declare void @llvm.memset.p0.i64(ptr, i8, i64, i1)
@PyLong_Type = external global i8

define ptr @tiered_test_box(i64 %x) {
entry:
  %buf = alloca [2 x i8]
  call void @llvm.memset.p0.i64(ptr %buf, i8 0, i64 2, i1 false)
  %o = call ptr @PyLong_FromLongLong(i64 %x)
  %t = getelementptr i8, ptr %o, i64 8
  %ty = load ptr, ptr %t
  %ok = icmp eq ptr %ty, @PyLong_Type
  %r = select i1 %ok, ptr %o, ptr null
  ret ptr %r
}
"""


def test_a_quick_module_names_the_processs_symbols_by_address():
    # fast instruction selection, in the JIT's large code model, selects no call or load that
    # names a global: the quick pipeline's modules name C-API functions and data by address
    engine._init()
    text = engine.absolute(CALLS)
    assert "@PyLong_FromLongLong" not in text and "@PyLong_Type" not in text
    assert f"inttoptr (i64 {id(int)} to ptr)" in text
    assert "declare void @llvm.memset.p0.i64" in text        # an intrinsic has no address
    own = "define internal i64 @Py_IncRef(i64 %x) {\nentry:\n  ret i64 %x\n}\n"
    assert engine.absolute(own + "; call i64 @Py_IncRef(i64 1)") == own + "; call i64 @Py_IncRef(i64 1)"
    handle = engine.compile_module(CALLS, ["tiered_test_box"], quick=True)
    box = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_int64)(handle["tiered_test_box"])   # holds the GIL
    assert box(12345678901) == 12345678901


def test_a_lean_module_runs_the_same_through_the_full_code_generator():
    # promotions of code on objects (compiler.LEAN_PROMOTIONS): the quick passes run first, on
    # functions LLVM may still change; then every defined function is `optnone`, which makes
    # the full code generator select instructions the fast way (its register allocator stays)
    import llvmlite.binding as llvm
    engine._init()
    module = llvm.parse_assembly(LOOP.format(k=13) + CALLS)
    engine._lean(module)
    attrs = {fn.name: b" ".join(fn.attributes).split() for fn in module.functions}
    assert attrs["tiered_test_twice"] == [b"alwaysinline"]          # excludes noinline: left alone
    assert b"optnone" in attrs["tiered_test_sum_13"] and b"noinline" in attrs["tiered_test_sum_13"]
    assert b"optnone" in attrs["tiered_test_box"]
    assert b"optnone" not in attrs["PyLong_FromLongLong"]             # a declaration
    name = "tiered_test_sum_13"
    handle = engine.compile_module(LOOP.format(k=13), [name], quick=True, codegen=2, lean=True)
    assert handle._engine.codegen == 2
    assert ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)(handle[name])(1000) == 999000
    boxer = engine.compile_module(CALLS, ["tiered_test_box"], quick=True, codegen=2, lean=True)
    assert ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_int64)(boxer["tiered_test_box"])(-7) == -7


def test_object_modules_are_generated_without_codegen_prepare_and_the_options_are_put_back(monkeypatch):
    seen = []
    real = engine.llvm.set_option
    monkeypatch.setattr(engine.llvm, "set_option", lambda name, opt: (seen.append(opt), real(name, opt)))
    handle = engine.compile_module(ADD.format(k=11), ["tiered_test_add_11"], 2, quick=True, codegen=2)
    assert ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)(handle["tiered_test_add_11"])(31) == 42
    assert seen == ["-disable-cgp=true", "-enable-misched=false", "-disable-cgp=false", "-enable-misched=true"]
    seen.clear()
    engine.compile_module(ADD.format(k=12), ["tiered_test_add_12"], 2)     # the whole pipeline: untouched
    engine.compile_module(ADD.format(k=13), ["tiered_test_add_13"], 2, quick=True)   # fast selection
    assert seen == []


def test_the_codegen_options_are_put_back_when_emission_fails(monkeypatch):
    seen = []
    real = engine.llvm.set_option
    monkeypatch.setattr(engine.llvm, "set_option", lambda name, opt: (seen.append(opt), real(name, opt)))

    class Broken:
        def emit_object(self, module):
            raise RuntimeError("emission failed")
    monkeypatch.setattr(engine, "_emitter", lambda codegen: Broken())
    try:
        engine.compile_module(ADD.format(k=14), ["tiered_test_add_14"], 2, quick=True, codegen=2)
    except RuntimeError as exc:
        assert "emission failed" in str(exc)
    else:
        raise AssertionError("the emission did not fail")
    assert seen[-2:] == ["-disable-cgp=false", "-enable-misched=true"]


def test_perf_map_names_each_compiled_function_at_its_address(monkeypatch):
    path = f"/tmp/perf-{os.getpid()}.map"
    before = open(path).read() if os.path.exists(path) else None
    monkeypatch.setenv("TIERED_PERF_MAP", "1")
    try:
        handle = engine.compile_module(ADD.format(k=15), ["tiered_test_add_15"], 2, quick=True)
        rows = [line.split() for line in open(path).read().splitlines()]
        mine = [r for r in rows if r[2] == "tiered:tiered_test_add_15"]
        assert len(mine) == 1
        assert int(mine[0][0], 16) == handle["tiered_test_add_15"] and int(mine[0][1], 16) > 0
        monkeypatch.delenv("TIERED_PERF_MAP")
        engine.compile_module(ADD.format(k=16), ["tiered_test_add_16"], 2, quick=True)
        assert "tiered_test_add_16" not in open(path).read()       # off: nothing written
    finally:
        if before is None:
            os.remove(path)
        else:
            with open(path, "w") as f:
                f.write(before)
