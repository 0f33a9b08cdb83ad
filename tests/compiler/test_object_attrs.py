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


class Noisy:
    """A value whose destructor prints: a store releases the old one when CPython does."""

    def __init__(self, tag):
        self.tag = tag

    def __del__(self):
        print("released", self.tag)


class Mover:
    def __init__(self, x):
        self.x = x
        self.tag = None
        self.y = 0

    def __deepcopy__(self, memo):
        # made as the program makes them (attributes inline): a deep copy's own __dict__ is
        # never specialised by CPython, so the stores below would never take the fast path
        new = Mover(self.x)
        for name, value in list(vars(self).items()):
            setattr(new, name, value if isinstance(value, (int, float)) else None)
        return new


class SlotMover:
    __slots__ = ("x", "tag", "y")

    def __init__(self, x):
        self.x, self.tag, self.y = x, None, 0

    def __deepcopy__(self, memo):
        return SlotMover(self.x)


def move(items, n):
    for k in range(n):
        for p in items:
            p.x = p.x + 1.5            # a float, boxed for the store
            p.y = k                    # an int
            p.tag = Noisy(k)           # the previous Noisy is released by this store
        print("round", k)
    out = []
    for p in items:
        out.append((p.x, p.y, p.tag.tag))
    return out


@pytest.mark.parametrize("cls", [Mover, SlotMover])
def test_attribute_stores_release_old_values_where_cpython_does(cls):
    warm(move, [cls(0.5), cls(1.0)], 3)
    rec = check(move, ([cls(0.5), cls(1.0)], 4), ([cls(2.0)], 0))
    assert "obj_setattr" in set().union(*(s.ops for s in rec.specs))


def test_attribute_stores_see_a_new_setter_a_deleted_attribute_and_a_dict():
    warm(move, [Mover(0.5)], 3)
    rec = check(move, ([Mover(0.5)], 2))
    fresh = Mover(1.0)
    del fresh.y                        # set again by the store: CPython keeps insertion order
    with_dict = Mover(2.0)
    vars(with_dict)                    # its attributes moved to a dict of its own
    got = rec.func([fresh, with_dict], 2)
    want_fresh, want_dict = Mover(1.0), Mover(2.0)
    del want_fresh.y
    vars(want_dict)
    assert got == move([want_fresh, want_dict], 2)
    assert list(vars(fresh)) == list(vars(want_fresh)) == ["x", "tag", "y"]
    try:
        Mover.x = property(lambda self: 9.0, lambda self, value: print("setter", value))
        p = Mover.__new__(Mover)
        p.tag, p.y = None, 0
        q = Mover.__new__(Mover)
        q.tag, q.y = None, 0
        assert rec.func([p], 1) == move([q], 1)       # the setter runs, the getter answers
    finally:
        del Mover.x


def bump_kept(items, n):
    kept = []
    for k in range(n):
        for p in items:
            if k % 2:
                kept.append(p.x)       # the old float is referenced elsewhere: it must not change
            p.x = p.x * 0.5 + k        # else it is the attribute's alone and may be rewritten
    out = []
    for p in items:
        out.append(p.x)
    return kept, out


def test_a_float_store_rewrites_only_a_float_nothing_else_holds():
    warm(bump_kept, [Mover(1.0), Mover(3.0)], 4)
    rec = check(bump_kept, ([Mover(1.0), Mover(3.0)], 6), ([Mover(2.5)], 3))
    shared = 7.25 * 3                  # a float the caller holds
    p = Mover(shared)
    assert rec.func([p], 1) == ([], [shared * 0.5]) and shared == 21.75


class Guarded:
    def __init__(self):
        self.a, self.b = 1, 2

    def __delattr__(self, name):        # Python code runs for each deletion
        print("del", name)
        object.__delattr__(self, name)

    def __deepcopy__(self, memo):
        new = Guarded()
        for k in ("a", "b"):
            if k not in vars(self):
                object.__delattr__(new, k)
        return new


def strip(items):
    n = 0
    for it in items:
        del it.a                       # AttributeError when it is gone already
        n += 1
        if n % 2 == 0:
            delattr(it, "b")
    return n, [sorted(vars(it)) for it in items]


def test_attribute_deletion():
    # once refused: DELETE_ATTR
    rec = check(strip, ([Point(1, 2), Point(3, 4)],), ([Guarded(), Guarded()],), ([Point(1, 2)] * 2,),
                ([Slotted(1, 2)],))
    assert "obj_delattr" in set().union(*(s.ops for s in rec.specs))
