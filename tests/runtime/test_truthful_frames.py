"""Frames stay truthful while compiled code runs (issue 18.3-18.5, 18.8): what Python code
sees of a compiled function's frame (its locals, a saved frame, the order destructors run in)
is what CPython shows."""
import sys

import pytest

from tiered.reasons import Exit
from tiered.runtime import manager
from tests.support import check, forced_exits, fresh_copy

pytestmark = pytest.mark.usefixtures("object_tier")


def caller_locals():
    return dict(sys._getframe(1).f_locals)


def inspects_its_locals(n):
    total = 0
    name = str(n)
    out = []
    for i in range(n):
        total += i
        name = "n%d" % i
        out.append((eval("total"), locals()["total"], vars()["name"], sys._getframe().f_locals["i"],
                    caller_locals()["total"], "{name}:{total}".format_map(locals())))
    return out


def test_locals_eval_vars_and_f_locals_show_current_values():
    check(inspects_its_locals, (5,), (0,), (1,))


EVENTS = []
SAVED = []


def compiled(func, *types_):
    """A compiled copy of func (installed however small) and its record."""
    jitted = fresh_copy(func)
    rec = manager.record_for(jitted)
    rec.eager = True
    assert manager.compile_for(jitted, types_) is not None, rec.refusal_detail
    return jitted, rec


def same_under_jit(driver, func, types_, *args):
    """driver(func, *args) gives the same with func compiled, whose native code really ran."""
    expected = driver(func, *args)
    jitted, rec = compiled(func, *types_)
    before = rec.native_calls
    assert driver(jitted, *args) == expected
    assert rec.native_calls > before
    return expected


class V:
    def __init__(self, name):
        self.name = name

    def __del__(self):
        EVENTS.append(("del", self.name))


def grab():
    SAVED.append(sys._getframe(1))


def saves_its_frame(n):
    x = V("x")
    t = 0
    for i in range(n):
        t += i
        if i == 1:
            grab()
    return t


def run_and_inspect_saved_frame(func, n, names=("n", "t", "x")):
    EVENTS.clear()
    SAVED.clear()
    r = func(n)
    EVENTS.append("returned")
    seen = sorted((k, v if type(v) is int else type(v).__name__) for k, v in SAVED[0].f_locals.items()
                  if k in names)
    SAVED.clear()
    EVENTS.append("cleared")
    return r, seen, list(EVENTS)


def test_a_saved_frame_keeps_its_locals_and_destructors_wait():
    r = same_under_jit(run_and_inspect_saved_frame, saves_its_frame, (int,), 4)
    assert r == (6, [("n", 4), ("t", 6), ("x", "V")], ["returned", ("del", "x"), "cleared"]), r


def test_a_saved_frame_shows_the_loop_variable_after_the_loop():
    # the compiled code no longer holds `i` after the loop; the frame must (issue 18.4)
    r = same_under_jit(run_and_inspect_saved_frame, saves_its_frame, (int,), 4, ("i",))
    assert r[1] == [("i", 3)], r


def after_the_loop(n):
    t = 0
    for i in range(n):
        t += i
    return sorted(locals().items())


def test_locals_after_a_loop_show_its_variable():
    check(after_the_loop, (4,), (0,), (1,))


def calls_in_its_loop(n):
    t = 0
    for i in range(n):
        t += abs(i)                   # a call that may run Python code: the loop keeps `i` for after it
    return sorted(locals().items())


def test_the_loop_variable_is_kept_after_the_loop_only():
    # once, where the loop ends; not in the loop's body (each iteration boxed `i` twice)
    from tiered.compiler.build import build
    from tiered.compiler.ops import INT
    fn = build(calls_in_its_loop, (INT,))
    kept = [b.offset for b in fn.blocks for v in b.body if v.op == "sync_local"]
    back_edges = [p.offset for b in fn.blocks for p in b.preds if p.offset >= b.offset]
    assert len(kept) == 1 and kept[0] > max(back_edges), (kept, back_edges)
    check(calls_in_its_loop, (4,), (0,), (1,))


SEEN = []


def keep(x):
    SEEN.append(x)


def passes_its_locals(n):
    same = 0
    for i in range(1000, 1000 + n):
        x = i * 0.5
        keep(i)
        keep(x)
        f = sys._getframe()
        same += (f.f_locals["i"] is SEEN[-2]) + (f.f_locals["x"] is SEEN[-1])
    SEEN.clear()
    return same


def test_a_number_local_passed_to_a_call_is_the_frames_own_object():
    # CPython passes the local's own object: the callee and the frame hold one object, not two
    rec = check(passes_its_locals, (5,), (0,))
    assert "obj_call" in set().union(*(s.ops for s in rec.specs))


def is_callers(v, name):
    return sys._getframe(1).f_locals[name] is v


def shares(a, b):
    here = sys._getframe(1).f_locals
    return here[a] is here[b]


def copies_a_local(n):
    seen = 0
    for i in range(1000, 1000 + n):
        x = i * 0.5
        y = x                   # one object in two locals
        j = i
        seen += is_callers(x, "x") + 10 * is_callers(y, "y") + 100 * is_callers(j, "j") + 1000 * shares("i", "j")
    return seen


def test_locals_that_copy_a_number_hold_one_object():
    # each frame slot took a box of its own: the callee got y's box as x (and f_locals showed
    # x and y as two objects)
    rec = check(copies_a_local, (5,), (0,))
    assert "obj_call" in set().union(*(s.ops for s in rec.specs))


def peek(name):
    return sys._getframe(1).f_locals[name]


def copies_a_kept_local(n):
    seen = 0
    a = 0.5                     # a's slot comes before x's
    for i in range(n):
        x = i * 0.5 + 1000.0
        keep(x)                 # x's slot holds a box now, and keep has it
        a = x
        seen += (SEEN[-1] is peek("x")) + 10 * (SEEN[-1] is peek("a"))
    SEEN.clear()
    return seen


def test_a_copy_of_a_local_takes_the_object_its_slot_holds():
    # the copy's slot took the box made for it, then the local's slot took that one too: the
    # object keep() has was no longer x
    check(copies_a_kept_local, (5,), (0,))


def stash(x, k):
    t = k * k                   # overflows for a big k: an exit, with x unboxed
    SEEN.append(x)              # run by the interpreter after the exit
    return t


def test_an_exit_leaves_a_number_parameter_the_callers_own_object():
    # the exit's stub stored a new box of x in x's slot: the callee then kept another object
    # than the one its caller passed (and CPython's frame holds)
    rec = check(stash, (1000.5, 3), (1000.5, 2**62), (7, 2**40))
    if not forced_exits():
        assert rec.exits.get(Exit.INT_OVERFLOW, 0) > 0
    for k in (3, 2**62):
        x = 1000.5 + k
        SEEN.clear()
        assert rec.func(x, k) == k * k and SEEN[-1] is x
    SEEN.clear()


def copies_then_exits(n, d):
    seen = 0
    for i in range(n):
        x = i * 0.5 + 1000.0
        y = x
        k = i + d               # int overflow: exits with x and y live
        seen += shares("x", "y") * 10 + k % 3
    return seen


def reads_its_parameters(n, m, f):
    seen = 0
    m = m + 1                   # m rebound: its slot takes new objects
    for _ in range(3):
        seen += is_callers(n, "n") + 10 * f(n) + 100 * is_callers(m, "m") + 1000 * (peek("m") == m)
    return seen


def own_number(k):
    return sys._getframe(1).f_locals["n"] == k


def test_a_number_parameter_never_rebound_keeps_the_callers_object_unsynced():
    # n's slot holds the caller's object all along: no sync of it before each call; m is synced
    rec = check(reads_its_parameters, (123456789, 987654321, own_number), (-5, 7, own_number))
    assert rec.native_calls > 0
    synced = _synced_slots(_lowered(reads_its_parameters, (int, int, type(own_number))))
    names = reads_its_parameters.__code__.co_varnames
    assert names.index("m") in synced and names.index("n") not in synced


def _lowered(func, types_):
    """The LLVM IR text of func's specialisation for these argument types."""
    from tiered.compiler import specialise
    from tiered.compiler.lower_module import ModuleEmitter
    from tiered.runtime.records import ir_types
    fn = specialise(fresh_copy(func), ir_types(types_), lambda f, t: None)
    mod = ModuleEmitter("tsync", (None, None, None, None), (None, None, None), False, func.__globals__, 0)
    return mod.emit([(fn, 0)])[0]


def _synced_slots(text):
    """The frame slots the module's calls of tiered_sync_locals name (their (kind, slot) bytes)."""
    import re
    consts = dict(re.findall(r'^(@\w+) = private unnamed_addr constant \[\d+ x i8\] c"([^"]*)"', text, re.M))
    slots = set()
    for name in re.findall(r"call void @tiered_sync_locals\(ptr [^,]+, ptr (@\w+),", text):
        data = bytes(int(h, 16) for h in re.findall(r"\\([0-9A-Fa-f]{2})", consts[name]))[:-1]
        slots |= set(data[1::2])
    return slots


def test_an_exit_keeps_locals_that_copy_a_number_one_object():
    # the exit boxed each of its values: the interpreter resumed with x and y two objects
    rec = check(copies_then_exits, (5, 1), (5, 2**63 - 3), (3, -(2**63) + 1))
    assert sum(rec.exits.values()) > 0


def releases_in_slot_order(a, n):
    b = V("b")
    for i in range(n):
        b.name = "b%d" % i
    return n


def calls_and_reports(func, n):
    EVENTS.clear()
    func(V("a"), n)
    return list(EVENTS)


def test_locals_are_released_in_slot_order_at_return():
    r = same_under_jit(calls_and_reports, releases_in_slot_order, (V, int), 3)
    assert r == [("del", "a"), ("del", "b2")], r


def spin(n):
    i = 0
    t = 0
    while i < n:
        i += 1
        t += i & 7
    return t


def sample_while_spinning(func, n):
    """Run func(n) while another thread samples this thread's frames; what the samples of
    func's frame show: its line (relative) and whether its locals are current numbers."""
    import threading
    me = threading.get_ident()
    seen, done = [], threading.Event()

    def sampler():
        while not done.is_set():
            f = sys._current_frames().get(me)
            while f is not None and f.f_code.co_name != "spin":
                f = f.f_back
            if f is not None:
                loc = f.f_locals
                sample = (f.f_lineno - f.f_code.co_firstlineno if f.f_lineno else None,
                          loc.get("n") == n and type(loc.get("i")) is int and 0 <= loc["i"] <= n)
                # the sampler may lose the GIL mid-sample: count it only if the call is still
                # running (a frame that ended in between shows where it returned, see README)
                g = sys._current_frames().get(me)
                while g is not None and g is not f:
                    g = g.f_back
                if g is not None:
                    seen.append(sample)
    t = threading.Thread(target=sampler)
    t.start()
    try:
        r = func(n)
    finally:
        done.set()
        t.join()
    return r, seen


def test_another_thread_samples_a_running_native_loop():
    n = 3 << 22                          # native code lets other threads run every 2**22 iterations
    jitted, rec = compiled(spin, int)
    before = rec.native_calls
    r, seen = sample_while_spinning(jitted, n)
    assert rec.native_calls > before and r == (n // 8) * 28      # 0+1+...+7 per 8 iterations
    assert seen, "the sampler never ran while the loop did"
    wrong = [(line, current) for line, current in seen if not (line in (0, 3, 4, 5, 6) and current)]   # 0: at RESUME, as in CPython
    assert not wrong, (wrong, len(seen))


def test_faulthandler_shows_the_running_loop_line(tmp_path):
    if forced_exits():
        pytest.skip("forced exits run the loop in the interpreter: nothing native to dump")
    import faulthandler
    jitted, rec = compiled(spin, int)
    before = rec.native_calls
    with open(tmp_path / "dump.txt", "w+") as fh:
        faulthandler.dump_traceback_later(0.05, file=fh)
        try:
            jitted(1 << 28)                    # native: some tenths of a second
        finally:
            faulthandler.cancel_dump_traceback_later()
        fh.seek(0)
        dump = fh.read()
    assert rec.native_calls > before
    first = spin.__code__.co_firstlineno
    lines = [ln for ln in dump.splitlines() if "in spin" in ln]
    loop = [f"line {first + k} in spin" for k in (3, 4, 5)]          # while ...: and its body
    assert lines and all(any(at in ln for at in loop) for ln in lines), dump


def counts_on(p, q):
    a, b, c, d, e = 0.5, 1, 2, 0.25, 3
    w = 0
    while w < 150000:           # polls its loop (every 2**16 iterations): its locals are synced
        w += 1
        a += p
    return a + w + b + c + d + e + q


def calls_a_counter(x):
    y = counts_on(x, 1)
    return y


def test_a_function_of_numbers_called_natively_leaves_its_callers_frame_alone():
    # it runs in its caller's frame: its loop's poll wrote its locals into that frame's slots,
    # past their end (a segmentation fault)
    rec = check(calls_a_counter, (1.5,), (2.5,))
    assert "call_native" in set().union(*(s.ops for s in rec.specs))
