"""Slices, f-strings and list extension on the object tier: results, the exceptions each raises, and reference counts."""
import sys

import pytest

from tests.support import check, fresh_copy, warm
from tiered.runtime import manager

pytestmark = pytest.mark.usefixtures("object_tier")


def ops_of(rec):
    """The IR ops of every compiled specialisation."""
    return set().union(*(s.ops for s in rec.specs))


class Shown:
    def __init__(self, v):
        self.v = v

    def __repr__(self):
        if self.v < 0:
            raise ValueError("no repr for negatives")
        return f"Shown({self.v})"

    def __format__(self, spec):
        if spec == "bad":
            raise TypeError("bad spec")
        return f"<{self.v}:{spec}>"


def labels(xs, n, width):
    out = []
    for k in range(n):
        x = xs[k % len(xs)]
        out.append(f"{k}:{x} {x!r} {x!s:>{width}} {k:03d} {k * 0.5:.2f} {x!a}")
    return out


def test_f_strings_with_conversions_and_specs():
    warm(labels, [1.5, "é"], 3, 6)
    rec = check(labels, ([1.5, "é", None, Shown(2)], 5, 6), ([], 0, 1), ([True, -7], 3, 2))
    assert {"obj_format", "build_string"} <= ops_of(rec)


def format_errors(items, spec):
    out = []
    for x in items:
        try:
            out.append(f"{x!r}")
            out.append(f"{x:{spec}}")
        except (TypeError, ValueError) as exc:
            out.append(f"{type(exc).__name__}: {exc}")
    return out


def test_f_string_errors_raise_inside_try():
    check(format_errors, ([Shown(1), Shown(-1), 2.5], "bad"), ([3, 4.5], "x"), (["s"], ">4"))


def slices(xs, a, b):
    return xs[a:b], xs[:b], xs[a:], xs[::-1], xs[a:b:2], xs[-2:], xs[:-1]


@pytest.mark.parametrize("xs", [[1, 2.5, "x", None, 5], (1, 2, 3), "slices", range(7)])
def test_slices_of_lists_tuples_strings_and_ranges(xs):
    warm(slices, xs, 1, 3)
    rec = check(slices, (xs, 1, 3), (xs, -10, 10), (xs, 3, 1), (xs, 0, 0))
    assert ops_of(rec) & {"obj_getslice", "build_slice"}


def slice_errors(xs, a):
    out = []
    try:
        out.append(xs[a:2])
    except TypeError as exc:
        out.append(str(exc))
    try:
        xs[0:1] = a
    except TypeError as exc:
        out.append(str(exc))
    return out


def test_slice_errors_raise_inside_try():
    check(slice_errors, ([1, 2, 3], "x"), ((1, 2, 3), 1), ([1, 2, 3], [9, 9]), ({}, 0))


def store_slices(xs, ys):
    xs[1:3] = ys
    xs[:1] = []
    xs[len(xs):] = [0]
    return xs


def test_slice_stores():
    check(store_slices, ([1, 2, 3, 4], [7, 8, 9]), ([1], ()), ([1, 2, 3], "ab"))


def extended(xs, t):
    return [1, 2, 3, 4], [*xs, *t, 5], [*t]


def test_list_extension_of_lists_and_tuples():
    rec = check(extended, ([1.5, "a"], (None, 2)), ([], ()))
    assert "list_extend" in ops_of(rec)


def unpack_generator(xs):
    return [*(x for x in xs)]


def test_extension_by_another_iterable_compiles():
    # once refused: [*x] of something other than a list or tuple (now _PyList_Extend)
    rec = check(unpack_generator, ([1, 2.5, "x"],), ([],))
    assert "list_extend_any" in set().union(*(s.ops for s in rec.specs))


def test_no_reference_leaks_through_slices_and_f_strings():
    xs, name = [1.5, Shown(3), "y"], "nm"
    g = fresh_copy(labels)
    h = fresh_copy(slices)
    for f, args in ((g, (xs, 4, 3)), (h, (xs, 0, 2))):
        rec = manager.record_for(f)
        rec.eager = True
        assert manager.compile_for(f, tuple(type(a) for a in args)) is not None
    before = [sys.getrefcount(o) for o in (xs, name, *xs)]
    for _ in range(100):
        g(xs, 4, 3)
        h(xs, 0, 2)
    assert manager.record_for(g).native_calls == 100 and manager.record_for(h).native_calls == 100
    assert [sys.getrefcount(o) for o in (xs, name, *xs)] == before


def target(*args):
    return len(args), args[-1:]


def star_calls(xs, t, o):
    both = (*xs, *t)
    return target(*t), target(*xs), target(1, *xs), o.count(t[0]), both


def test_star_arguments_and_star_tuples():
    rec = check(star_calls, ([1, 2.5], (3, "a"), [3, 3, 1]), ([], (0,), []))
    assert {"obj_call_ex", "list_to_tuple"} <= ops_of(rec)


def star_errors(f, t):
    try:
        return f(*t)
    except TypeError as exc:
        return str(exc)


def test_star_call_raising_inside_try():
    check(star_errors, (target, (1, 2)), (len, (1, 2)), (target, ()))


def records(a, b):
    return {"a": a, "b": b, "sum": a + b}, {1: a, 2: b}


def test_dicts_with_constant_keys():
    rec = check(records, (1.5, 2), ("x", "y"))
    assert "build_map" in ops_of(rec)


def deletions(d, xs, k):
    try:
        del d[k]
    except KeyError as exc:
        d["missing"] = repr(exc)
    del xs[0]
    del xs[-1:]
    return d, xs


def test_del_of_items_and_slices():
    rec = check(deletions, ({"a": 1}, [1, 2, 3], "a"), ({}, [1, 2], "zz"), ({"a": 1}, [], "a"))
    assert "obj_delitem" in ops_of(rec)


class Loud:
    """A hashable object whose hashing prints (the order of the hashes is compared)."""

    def __init__(self, k):
        self.k = k

    def __hash__(self):
        print("hash", self.k)
        return self.k

    def __eq__(self, other):
        return isinstance(other, Loud) and other.k == self.k

    def __repr__(self):
        return f"Loud({self.k})"


def sets_of(xs, k):
    total = 0
    for x in xs:
        s = {x, k, 1.5}
        total += len(s) + (k in s)
    return total


def test_set_literals_hash_their_items_in_cpythons_order():
    rec = check(sets_of, ([1, 2, 1.5], 2), ([Loud(1), Loud(2)], Loud(1)), ([[1]], 3), ([1], [2]))
    assert "build_set" in rec.specs[0].ops


def set_comprehension(xs):
    n = 0
    for _ in range(2):
        n += len({x % 3 for x in xs})
    return n


def test_set_comprehensions():
    # 3.11 makes a comprehension a function of its own: native code makes it and calls it
    rec = check(set_comprehension, ([1, 2, 3, 4],), ([],), ([1, "a"],))
    assert ("set_add" if sys.version_info >= (3, 12) else "make_function") in rec.specs[0].ops
