"""Object tier: cls(*args) of a plain class made natively (object.__new__, then its Python
__init__ called through vectorcall), typed by its class; every other class is a generic call."""
import abc

import pytest

from tests.support import Exit, check, exits_of, forced_exits, warm

pytestmark = pytest.mark.usefixtures("object_tier")


def ops_of(rec):
    """The IR ops of every compiled specialisation."""
    return set().union(*(s.ops for s in rec.specs))


class Point:
    def __init__(self, x, y=0.5):
        self.x, self.y = x, y

    def total(self):
        return self.x + self.y


class Point3(Point):                       # inherits __init__
    pass


class Fussy:
    def __init__(self, n):
        if n < 0:
            raise ValueError(f"negative: {n}")
        self.n = n


class Returns:
    def __init__(self, n):
        if n == 3:
            return n                       # TypeError: __init__() should return None, not 'int'
        self.n = n


class Singleton:
    made = None

    def __new__(cls, n):                   # its own __new__: a generic call
        if cls.made is None:
            cls.made = object.__new__(cls)
        return cls.made

    def __init__(self, n):
        self.n = n


class Abstract(abc.ABC):
    @abc.abstractmethod
    def f(self):
        pass

    def __init__(self, n):
        self.n = n


def make_points(n):
    out = []
    for i in range(n):
        p = Point(i, i * 0.25)
        q = Point3(i)
        out.append((type(p).__name__, p.x, p.y, q.x, q.y, p.total()))
    return out


def test_plain_classes_are_made_natively():
    warm(make_points, 3)
    rec = check(make_points, (5,), (0,))
    assert "new_instance" in ops_of(rec)


def make_checked(ns):
    out = []
    for n in ns:
        try:
            out.append(Fussy(n).n)
        except ValueError as exc:
            out.append(str(exc))
        try:
            out.append(Returns(n).n)
        except TypeError as exc:
            out.append(str(exc))
        try:
            out.append(Point(n, n, n))     # too many arguments: __init__'s own TypeError
        except TypeError as exc:
            out.append(str(exc))
    return out


def test_init_errors_are_cpythons():
    warm(make_checked, [1, 2])
    rec = check(make_checked, ([1, 2],), ([-1, 3, 4],), ([3],))
    assert "new_instance" in ops_of(rec)


def others(n):
    out = []
    for i in range(n):
        out.append(Singleton(i).n)
        try:
            Abstract(i)
        except TypeError as exc:
            out.append(str(exc)[:40])
    return out


def test_classes_with_their_own_new_or_abstract_are_generic_calls():
    warm(others, 2)
    rec = check(others, (3,), (0,))
    assert "new_instance" not in ops_of(rec) and "obj_call" in ops_of(rec)


def test_a_class_that_changes_is_seen():
    warm(make_points, 3)
    rec = check(make_points, (4,))
    old = Point.__init__
    try:
        def init(self, x, y=0.5):
            self.x, self.y = -x, y
        Point.__init__ = init              # a new version tag: the guard exits
        assert rec.func(3) == make_points(3)
        assert rec.func(3)[2][1] == -2
    finally:
        Point.__init__ = old
    if not forced_exits():
        assert exits_of(rec, Exit.TYPE_GUARD) >= 1
    assert rec.func(3) == make_points(3)
