"""Profiler hooks, 3.12: a code counted before and still far from hot takes the fast path
(Feedback.tick_cold), which gets it hot at the same count as the full path and never counts a
loop that is not a function's."""
import sys

import pytest

from tiered.profiler import feedback, hooks

pytestmark = pytest.mark.skipif(not hooks.HAS_MONITORING, reason="3.12: sys.monitoring's events")


def spin(n):
    t = 0
    for i in range(n):
        t += i
    return t


def make_hook(threshold):
    """A hook that is not installed: its callbacks are called by hand."""
    fb = feedback.Feedback(threshold)
    hot = []
    return fb, hot, hooks.MonitoringHook(fb, lambda: hot.append(fb.pop_hottest()), lambda code: False,
                                         lambda code, exc: pytest.fail(repr(exc)), lambda: False)


@pytest.mark.parametrize("event", ["start", "jump"])
def test_the_fast_path_makes_a_code_hot_at_the_threshold_as_before(event):
    threshold = 50
    fb, hot, hook = make_hook(threshold)
    code = spin.__code__
    for n in range(1, threshold + 1):
        answer = hook._on_start(code, 0) if event == "start" else hook._on_jump(code, 20, 4)
        assert (answer is sys.monitoring.DISABLE) is (event == "jump" and n == threshold)
        assert len(hot) == (n == threshold), n          # hot at the threshold, not before
        if n < threshold - feedback.FEEDBACK_WINDOW:
            assert fb.cold[id(code)] == n and fb.profiles.get(code) is None
    assert hot[0].code is code and hot[0].count == threshold


def test_a_loop_of_a_module_body_is_never_counted_even_when_its_code_was_seen():
    fb, hot, hook = make_hook(50)
    module = compile("for i in range(3):\n    pass\n", "<m>", "exec")
    assert hook._on_start(module, 0) is None           # a module body's start is counted
    assert fb.cold.get(id(module)) == 1
    assert hook._on_jump(module, 20, 4) is sys.monitoring.DISABLE
    assert fb.cold.get(id(module)) == 1 and not hot


def test_events_of_tiered_own_code_stop_even_inside_a_compile():
    """The compiler runs only inside compiles, which count nothing: its code (and forward jumps
    anywhere) must still stop reporting, else every call in the compiler costs a callback."""
    fb = feedback.Feedback(50)
    hook = hooks.MonitoringHook(fb, lambda: pytest.fail("nothing gets hot"), lambda code: False,
                                lambda code, exc: pytest.fail(repr(exc)), lambda: True)   # compiling
    own = feedback.Feedback.event.__code__
    assert hook._on_start(own, 0) is sys.monitoring.DISABLE
    assert hook._on_jump(own, 40, 8) is sys.monitoring.DISABLE
    assert hook._on_jump(spin.__code__, 8, 40) is sys.monitoring.DISABLE      # a forward jump
    assert hook._on_start(spin.__code__, 0) is None        # the program's: not counted, not stopped
    assert hook._on_jump(spin.__code__, 40, 8) is None
    assert not fb.cold and not fb.profiles.get(spin.__code__)
