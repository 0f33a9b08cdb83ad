"""Object tier: attribute loads and stores, classes that change, and methods called as bound attributes."""
import pytest

from tests.support import check, warm

pytestmark = pytest.mark.usefixtures("object_tier")


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


class Slotted:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x, self.y = x, y


class Computed:
    @property
    def x(self):
        return 1.5

    def __getattr__(self, name):
        if name == "y":
            return 2.5
        raise AttributeError(f"no {name} here")


def dot(ps):
    s = 0.0
    for p in ps:
        s += p.x * p.y
    return s


def test_attribute_loads():
    warm(dot, [Point(1.0, 2.0)])
    check(dot, ([Point(1.0, 2.0), Point(3.0, 4.0)],), ([Slotted(1.0, 2.0)],), ([Computed()],), ([],))


def norm2(p):
    try:
        return p.x * p.x + p.y * p.y
    except AttributeError as e:
        return str(e)


def test_attribute_error_raised_at_the_instruction():
    warm(norm2, Point(1.0, 2.0))
    check(norm2, (Point(1.0, 2.0),), (Point(3.0, 4.0),))
    p = Point(1.0, 2.0)
    del p.y
    check(norm2, (p,), compile_with=(Point,))
    check(norm2, (Computed(),))


def bare_norm(p):
    return p.x * p.x + p.z


def test_uncaught_attribute_error_traceback():
    warm(bare_norm, Point(1.0, 2.0))
    check(bare_norm, (Point(1.0, 2.0),))


def test_class_change_after_compiling_is_seen():
    class K:
        scale = 2.0

    def f(o):
        return o.scale * 3.0

    k = K()
    warm(f, k)
    rec = check(f, (k,))
    g = rec.func
    assert g(k) == 6.0
    K.scale = 5.0
    assert g(k) == 15.0
    k.scale = 1.0
    assert g(k) == 3.0


def twice_x(p):
    return p.x * 2.0


def test_cached_attribute_read_sees_every_change():
    """The native read follows CPython's own specialisation; each way it can go stale is seen."""
    class Plain:
        def __init__(self, x):
            self.x = x

    class Sub(Plain):
        pass

    warm(twice_x, Plain(1.0))
    rec = check(twice_x, (Plain(1.5),), (Sub(2.0),), compile_with=(Plain,))
    g = rec.func
    p = Plain(3.0)
    assert g(p) == 6.0
    p.__dict__["x"] = 4.0                 # the instance's dict materialised and changed
    assert g(p) == 8.0
    q = Plain(5.0)
    del q.x
    try:
        g(q)
        raise AssertionError("no AttributeError")
    except AttributeError as e:
        assert "x" in str(e)
    r = Plain(1.0)
    Plain.x = property(lambda self: 7.0)  # a data descriptor now wins over the instance value
    assert g(r) == 14.0


def test_cached_slot_read_sees_deletion():
    warm(twice_x, Slotted(1.0, 2.0))
    rec = check(twice_x, (Slotted(1.5, 0.0),))
    s = Slotted(2.0, 0.0)
    assert rec.func(s) == 4.0
    del s.x
    try:
        rec.func(s)
        raise AssertionError("no AttributeError")
    except AttributeError:
        pass


class Counter2:
    def __init__(self):
        self.n = 0
        self.seen = []

    def bump(self, k):
        self.n += k
        self.seen.append(k)
        return self.n


def use_methods(c, m):
    total = 0
    for k in range(m):
        total += c.bump(k)
    c.last = total
    return total


def test_method_calls_and_attribute_stores():
    check(use_methods, (Counter2(), 5), (Counter2(), 0))


def failing_call(c, k):
    try:
        return c.bump(k)
    except TypeError as e:
        return "caught " + str(e)


def test_exception_from_a_call_inside_try():
    check(failing_call, (Counter2(), 3), (Counter2(), "x"), compile_with=(Counter2, int))
