"""compiler/objcache.py: the shared helpers' machine code kept between runs, checked before use."""
import os
import subprocess
import sys
import textwrap

from tiered import config
from tiered.compiler import objcache, runtime_ir
from tiered.cpython import capi


def test_kept_code_comes_back_only_whole_and_for_the_same_key(tmp_path, monkeypatch):
    monkeypatch.setenv("TIERED_CACHE", str(tmp_path / "c"))
    k = objcache.key("module text")
    assert k != objcache.key("other text") and k == objcache.key("module text")
    assert objcache.load(k) is None                       # nothing kept yet
    assert objcache.store(k, b"\x7fELF code")
    assert objcache.load(k) == b"\x7fELF code"
    assert objcache.load(objcache.key("other text")) is None
    (path,) = (tmp_path / "c").iterdir()
    whole = path.read_bytes()
    path.write_bytes(whole[:-1] + b"X")                   # changed: its digest no longer matches
    assert objcache.load(k) is None
    path.write_bytes(whole[:-3])                          # torn
    assert objcache.load(k) is None
    path.write_bytes(b"")
    assert objcache.load(k) is None
    assert [p.name for p in (tmp_path / "c").iterdir()] == [path.name]   # no temporary file left


def test_off_keeps_nothing_and_a_directory_that_cannot_be_written_is_no_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TIERED_CACHE", "off")
    assert config.get("TIERED_CACHE") is None
    assert not objcache.store(objcache.key("x"), b"code") and objcache.load(objcache.key("x")) is None
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("TIERED_CACHE", str(blocker / "sub"))
    assert not objcache.store(objcache.key("x"), b"code")
    assert objcache.load(objcache.key("x")) is None


def test_the_helpers_name_no_address_of_the_process():
    # the same text in every run: the key finds an earlier run's code
    script = "from tiered.cpython import capi; from tiered.compiler import runtime_ir; " \
             "print(capi.declarations() + runtime_ir.HELPERS)"
    texts = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=True).stdout for _ in range(2)}
    assert len(texts) == 1 and texts.pop().strip() == (capi.declarations() + runtime_ir.HELPERS).strip()
    assert runtime_ir.PROCESS_GLOBALS and "@tiered_tool_words = global ptr null" in runtime_ir.HELPERS


PROGRAM = textwrap.dedent("""
    import sys
    import tiered
    from tiered.compiler import engine
    from tiered.runtime import manager

    def tracer(*args):
        return None

    def maybe_trace(on):
        if on:
            if hasattr(sys, "monitoring"):        # another tool: what tiered_traced reads
                sys.monitoring.use_tool_id(2, "test")
            else:
                sys.settrace(tracer)

    def work(items, on):
        total = []
        for x in items:
            total.append(x)
        maybe_trace(on)
        total.append(len(items))              # after a call: tiered_traced asks
        return total

    tiered.enable()
    rec = manager.record_for(work)
    rec.eager = True
    manager.compile_for(work, (list, bool))
    assert work([1, 2], False) == [1, 2, 2] and rec.native_calls == 1
    assert work([3], True) == [3, 1]
    if hasattr(sys, "monitoring"):
        sys.monitoring.free_tool_id(2)
    else:
        sys.settrace(None)
    from tiered.reasons import Exit
    print(engine.HELPERS_FROM[0], rec.exits.get(Exit.TRACED, 0), rec.native_calls)
""")


def test_a_second_run_loads_the_helpers_kept_by_the_first(tmp_path):
    env = dict(os.environ, TIERED_CACHE=str(tmp_path), TIERED_OBJECTS="1", TIERED_FORCE_EXITS="0")
    runs = [subprocess.run([sys.executable, "-c", PROGRAM], capture_output=True, text=True, env=env)
            for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    first, second = (r.stdout.split() for r in runs)
    # kept code runs as compiled code does: the tool registered by a callee sends the rest of
    # the call to the interpreter (TRACED), read through the helpers' @tiered_tool_words
    assert first == ["compiled", "1", "2"] and second == ["cache", "1", "2"]
    assert len(list(tmp_path.iterdir())) == 1
