"""Calls on the object tier: keyword arguments, isinstance(), and the exceptions both raise."""
import collections.abc

import pytest

from tests.support import check


pytestmark = pytest.mark.usefixtures("object_tier")


def ops_of(rec):
    """The IR ops of every compiled specialisation."""
    return set().union(*(s.ops for s in rec.specs))


def describe(a, b=2, *, scale=1, **extra):
    return (a + b) * scale, sorted(extra.items())


def keyword_calls(xs, n):
    out = []
    for k in range(n):
        out.append(describe(k, scale=3))
        out.append(describe(a=k, b=xs[k % len(xs)], flag=True))
        out.append(sorted(xs, key=abs, reverse=True)[0])
        out.append(round(number=xs[0] * 1.5, ndigits=1))
    return out


def test_keyword_arguments_to_python_functions_and_builtins():
    # in forced-exit mode, exits at a keyword call resume at its KW_NAMES, which sets it up again
    rec = check(keyword_calls, ([3, -7, 2], 4), ([1.5, -0.5], 3), ([5], 0))
    assert "obj_call" in ops_of(rec)


def bad_keyword(xs, n):
    caught = []
    for k in range(n):
        try:
            describe(k, nope=xs, scale=k)
            caught.append(describe(k, 1, 2))         # too many positionals: TypeError
        except TypeError as exc:
            caught.append(str(exc))
        try:
            caught.append(sorted(xs, key=len))       # len() of an int raises in the callee
        except TypeError as exc:
            caught.append(str(exc))
    return caught


def test_a_bad_keyword_call_raises_inside_try_as_cpython_does():
    check(bad_keyword, ([1, 2], 3), (["ab", "c"], 2))


def first_as_str(pair):
    return str(pair[0])


def method_keywords(items, n):
    d = {}
    for k in range(n):
        d.setdefault(items[k % len(items)], []).append(k)
        d.update(a=k, b=-k)
    return sorted(d.items(), key=first_as_str)


def test_keyword_calls_of_methods():
    check(method_keywords, (["x", "y"], 5), ([1, 2, 3], 4))


class Base:
    pass


class Child(Base):
    pass


class Pretender:
    """Says it is a Base through __class__, which isinstance() honours."""
    @property
    def __class__(self):
        return Base


class AnyMeta(type):
    def __instancecheck__(cls, obj):
        return obj == 42


class Anything(metaclass=AnyMeta):
    pass


def kinds(items):
    out = []
    for x in items:
        out.append((isinstance(x, dict), isinstance(x, Base), isinstance(x, (int, str)),
                    isinstance(x, collections.abc.Mapping), isinstance(x, Anything)))
    return out


def test_isinstance_exact_subclass_tuple_abc_metaclass_and_dunder_class():
    items = [{}, Base(), Child(), Pretender(), 42, "s", True, 2.5, collections.OrderedDict(), None]
    rec = check(kinds, (items,), ([],))
    assert "obj_isinstance" in ops_of(rec)


def number_kinds(n, x):
    s = 0
    for k in range(n):
        s += isinstance(x, int) + 2 * isinstance(x, float) + 4 * isinstance(x, object)
        s += 8 * isinstance(k, bool) + 16 * isinstance(k, int) + 32 * isinstance(x, Anything)
    return s


@pytest.mark.parametrize("x", [3, 2.5, True, 42])
def test_isinstance_of_numbers(x):
    check(number_kinds, (5, x))


def bad_isinstance(items, cls):
    out = []
    for x in items:
        try:
            out.append(isinstance(x, cls))
        except TypeError as exc:
            out.append(str(exc))
    return out


def test_isinstance_with_a_non_class_raises_inside_try():
    rec = check(bad_isinstance, ([1, "a"], "not a class"), ([1, "a"], int), ([[]], (list, 3)))
    assert "obj_isinstance" in ops_of(rec)

