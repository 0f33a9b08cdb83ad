"""What gc.collect() finds is the program's own: tiered leaves no cyclic garbage, and the profiler keeps no extra references to locals (issue 19.8: test_gc, test_weakref)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parent.parent.parent)

# the 3.11 failure: the sampler read frame.f_locals, a dict the frame keeps, which held `l`
# after `del l` (the CPU time of gc.collect() is where the samples land)
UNITTEST_CYCLE = '''
import gc, unittest
import tiered
tiered.enable()

class T(unittest.TestCase):
    def test_list(self):
        l = []
        l.append(l)
        gc.collect()
        del l
        self.assertEqual(gc.collect(), 1)

unittest.main()
'''

# the 3.12 failure (test_gc test_frame): the compile of f at its first call left its IR (values
# and blocks point at each other) and an llvmlite pointer in cycles for the next collection
COMPILE_GARBAGE = '''
import gc, sys
import tiered
tiered.enable()

class P:
    def __init__(self, x):
        self.x = x

    def m(self, k):
        t = 0
        for i in range(k):
            t += self.x * i
        return t

def f():
    frame = sys._getframe()

def g(a, b):
    s = 0
    for i in range(a):
        s += i * b
    return s

def h(n):
    try:
        return 1 // n
    except ZeroDivisionError as e:
        return str(e)

gc.collect()
f()
print(gc.collect())
gc.set_debug(gc.DEBUG_SAVEALL)
g, h, P.m = tiered.jit(g), tiered.jit(h), tiered.jit(P.m)      # compiled on 3.11 too
for _ in range(3):
    g(10, 2); g(3, 1.5); h(0); h(1); P(3).m(5)
gc.collect()
# what tiered made: its own objects, llvmlite's, and ctypes' (an array class made per length is one)
ours = ("tiered", "llvmlite", "ctypes", "_ctypes")
print(sorted({getattr(x, "__module__", None) if isinstance(x, type) else type(x).__module__
              for x in gc.garbage if str(getattr(x, "__module__", "") if isinstance(x, type)
                                         else type(x).__module__).split(".")[0] in ours}))
print(tiered.totals()["compiled"] > 0)
'''


# CPython's test_weakref test_callbacks_on_callback: a dead cycle's weakref callback must not run
# before gc.collect() (a compile at assertEqual's first call allocated enough to start an
# automatic collection right there)
CALLBACK_TIMING = '''
import gc, unittest, weakref
import tiered
tiered.enable()

class T(unittest.TestCase):
    def test_callbacks_on_callback(self):
        alist = []
        def safe_callback(ignore):
            alist.append("safe_callback called")
        class C(object):
            def cb(self, ignore):
                alist.append("cb called")
        c, d = C(), C()
        c.other = d
        d.other = c
        callback = c.cb
        c.wr = weakref.ref(d, callback)
        d.wr = weakref.ref(callback, d.cb)
        external_wr = weakref.ref(callback, safe_callback)
        self.assertIs(external_wr(), callback)
        del callback, c, d, C
        self.assertEqual(alist, [])
        gc.collect()
        self.assertEqual(alist, ["safe_callback called"])

unittest.main()
'''


# CPython's test_weakref test_callback_in_cycle_resurrection: a class made in a function dies
# with its instances (the profile of C.__init__ kept the classes of the calls it counted)
CLASS_DIES = '''
import gc, unittest, weakref
import tiered
tiered.enable()

class T(unittest.TestCase):
    def test_callback_in_cycle_resurrection(self):
        alist = []
        class C(object):
            def __init__(self, value):
                self.attribute = value
            def acallback(self, ignore):
                alist.append(self.c)
        c1, c2 = C(1), C(2)
        c1.c = c2
        c2.c = c1
        c1.wr = weakref.ref(c2, c1.acallback)
        c2.wr = weakref.ref(c1, c2.acallback)
        def C_went_away(ignore):
            alist.append("C went away")
        wr = weakref.ref(C, C_went_away)
        del c1, c2, C
        self.assertEqual(alist, [])
        gc.collect()
        self.assertEqual(alist, ["C went away"])

    test_again = test_callback_in_cycle_resurrection

unittest.main()
'''


def run(program, **env):
    """Run a program with tiered at threshold 1; its stdout and stderr."""
    p = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, PYTHONPATH=ROOT, TIERED_THRESHOLD="1", **env))
    return p.returncode, p.stdout, p.stderr


@pytest.mark.parametrize("runs", range(3))
def test_a_dropped_cycle_is_found_by_the_next_collection(runs):
    code, out, err = run(UNITTEST_CYCLE)
    assert code == 0, err


@pytest.mark.parametrize("objects", ["0", "1"], ids=["numbers", "objects"])
def test_compiles_leave_no_cyclic_garbage(objects):
    code, out, err = run(COMPILE_GARBAGE, TIERED_OBJECTS=objects)
    assert code == 0, err
    assert out.split("\n")[:3] == ["1", "[]", "True"], out


@pytest.mark.parametrize("objects", ["0", "1"], ids=["numbers", "objects"])
def test_a_compile_starts_no_automatic_collection(objects):
    from tiered.cpython import gccount
    if gccount.YOUNG_COUNT is None:
        pytest.skip("the collector's count was not found")
    code, out, err = run(CALLBACK_TIMING, TIERED_OBJECTS=objects)
    assert code == 0, err


@pytest.mark.parametrize("objects", ["0", "1"], ids=["numbers", "objects"])
def test_counting_a_methods_calls_keeps_no_class_alive(objects):
    code, out, err = run(CLASS_DIES, TIERED_OBJECTS=objects)
    assert code == 0, err
