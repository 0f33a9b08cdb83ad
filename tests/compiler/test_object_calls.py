"""Calls on the object tier: keyword arguments, isinstance(), and the exceptions both raise."""
import collections.abc
import inspect
import sys
import textwrap
import types

import pytest

from tests.support import Exit, check, exits_of, forced_exits, fresh_copy, warm
from tiered.runtime import manager


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



def collect(xs, n):
    out = []
    seen = {}
    for k in range(n):
        out.append(xs[k % len(xs)] * 2)
        out.append(k)
        seen.setdefault(k % 3, []).append(k)
        out.extend(seen.get(k % 3, ()))
    tail = out.pop()
    return out, tail, " ".join(["counted", str(xs.count(xs[0])), str(xs.index(xs[-1]))]), seen


def test_builtin_methods_without_bound_methods():
    warm(collect, [1, 2.5], 10)
    rec = check(collect, ([1, 2.5], 10), ([3], 4), (["a", "b"], 5))
    assert {"list_append", "obj_call"} <= ops_of(rec)


def append_to(holder, n):
    target = holder[0]              # of no known class: CPython's specialisation is guarded
    for k in range(n):
        target.append(k * 0.5)
    return len(target)


class MyList(list):
    def append(self, x):
        super().append(-x)


def test_append_on_another_class_exits_and_cpython_calls_its_method():
    # a code object of its own: CPython's miss counts from the other exit mode's run would make
    # the site polymorphic (compiled generic, no guard: quickened.POLYMORPHIC)
    fresh = types.FunctionType(append_to.__code__.replace(), globals(), "append_to")
    warm(fresh, [[]], 10)
    rec = check(fresh, ([[]], 10), ([MyList()], 5), ([()], 3))
    assert "list_append" in ops_of(rec)
    if not forced_exits():
        assert exits_of(rec, Exit.TYPE_GUARD) == 2


def bad_method(xs, n):
    out = []
    for k in range(n):
        try:
            out.append(xs.index(k))       # ValueError from the C method
        except ValueError as exc:
            out.append(str(exc))
    return out


def test_a_builtin_method_raising_inside_try():
    warm(bad_method, [0, 2], 3)
    check(bad_method, ([0, 2], 4), ([5], 2))


def append_object(target, item, n):
    for k in range(n):
        target.append(item)
    return len(target)


def test_append_takes_exactly_one_reference_per_item():
    item, target = object(), []
    g = fresh_copy(append_object)
    rec = manager.record_for(g)
    rec.eager = True
    assert manager.compile_for(g, (list, object, int)) is not None and "list_append" in ops_of(rec)
    before = sys.getrefcount(item)
    assert g(target, item, 50) == 50 and rec.native_calls == 1
    assert sys.getrefcount(item) == before + 50          # exits too: the interpreter appends the rest
    target.clear()
    assert sys.getrefcount(item) == before


def shape_of(x):
    if isinstance(x, dict):
        return sum(x.values())      # compiled for a dict only: for a number this side is dead
    if isinstance(x, float):
        return x * 2.0
    return x + 1


@pytest.mark.parametrize("x", [3, 2.5, True])
def test_a_branch_answered_at_compile_time_compiles_only_the_side_taken(x):
    rec = check(shape_of, (x,), ({"a": 1, "b": 2},), (7,))     # compiled for the number, ran native
    assert not {"getattr", "obj_call"} & ops_of(rec)              # without the dict's side


def key_maker():
    return abs


def scale(x, y=1):
    return x * y


def keyword_values_that_are_calls(n):
    s = 0
    for i in range(-n, n):
        s += max(i, -2, key=key_maker()) + scale(i, y=len("ab")) + int("7", base=abs(-9) + 1)
    return s


def test_keyword_arguments_whose_values_are_calls(object_tier):
    # max(1, 2, key=g()) once made the object tier refuse the function with a compiler error
    rec = check(keyword_values_that_are_calls, (3,), (0,), (10,))
    assert rec.state == "compiled" and rec.refusal is None


class Parent:
    def __init__(self):
        self.children = []


def adopt(parent, value, name, new_name):
    if name is None:
        parent.children.append((value, new_name))
        return True
    return False


def passes_none_to_a_python_function(p, n):
    total = 0
    for i in range(n):
        if adopt(p, i, None, "()"):              # None as an argument of a native callee
            total += 1
    return total, len(p.children)


def test_none_as_an_argument_of_a_python_callee(object_tier):
    # unittest.mock's `_check_and_set_parent(self, value, None, '()')` made the object tier
    # refuse its caller with a compiler error ('str' object has no attribute 'cls')
    rec = check(passes_none_to_a_python_function, (Parent(), 3), (Parent(), 0), (Parent(), 20))
    assert rec.state == "compiled" and rec.refusal is None


class Slotted:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x, self.y = x, y

    def norm(self):                             # LOAD_ATTR_METHOD_NO_DICT at its call sites
        self.x = self.x / 2.0
        return self.x + self.y

    def __deepcopy__(self, memo):
        return type(self)(self.x, self.y)


class SlottedChild(Slotted):                   # a __dict__ again: the guard's class differs
    def norm(self):
        return -1.0


class OtherSlots:
    __slots__ = ("x", "y")

    def __init__(self, x, y):
        self.x, self.y = x, y

    def norm(self):
        return 0.5

    def __deepcopy__(self, memo):
        return type(self)(self.x, self.y)


def norms(points):
    total = 0.0
    for p in points:
        total += p.norm()
    return total


def test_a_method_of_a_slots_class_is_called_natively():
    warm(norms, [Slotted(1.0, 2.0)])
    child = [Slotted(4.0, 1.0), SlottedChild(1.0, 1.0), Slotted(3.0, 0.5)]
    other = [Slotted(4.0, 1.0), OtherSlots(1.0, 1.0)]
    rec = check(norms, ([Slotted(1.0, 2.0), Slotted(8.0, 1.0)],), (child,), (other,), ([],))
    ops = ops_of(rec)
    assert "call_native" in ops and "guard_method" in ops, ops
    if not forced_exits():
        assert exits_of(rec, Exit.TYPE_GUARD) == 2           # the child and the other class exit


def test_a_slots_class_whose_method_is_replaced_is_seen():
    warm(norms, [Slotted(1.0, 2.0)])
    rec = check(norms, ([Slotted(1.0, 2.0)],))
    old = Slotted.norm
    try:
        Slotted.norm = lambda self: 100.0                  # a new version tag: the guard misses
        assert rec.func([Slotted(1.0, 2.0), Slotted(2.0, 2.0)]) == 200.0
    finally:
        Slotted.norm = old
    assert rec.func([Slotted(1.0, 2.0)]) == 2.5


class Small:
    def __init__(self, x, y=2):
        self.x, self.y = x, y


class Smaller(Small):
    pass


def halve(v, k=2):
    return v / k


def picked_callees(a, n):
    out = []
    for i in range(n):
        o = (Small if i % 3 else Smaller)(i, y=a)           # two globals meet in one stack slot
        r = (scale if i % 2 else halve)(o.x, 3)
        k = (Small if i % 2 else type(o))(a)                # a global and a value
        out.append((type(o).__name__, o.y, r, type(k).__name__))
    return out


def test_one_call_site_calling_a_class_or_function_the_loop_picks():
    # (A if c else B)(x): the two known objects merge as one object value, called generically
    rec = check(picked_callees, (1, 5), (0.5, 4))
    assert "obj_call" in ops_of(rec)


class Shape:
    def __init__(self, v):
        self.v = v

    def area(self, k):
        return self.v * k


class Square(Shape):
    def area(self, k):
        return self.v * self.v + k


class Tri(Shape):
    def area(self, k):
        return self.v * k // 2


class Lazy(Shape):
    @property
    def area(self):                      # no method: the property's value is called
        return lambda k: -k


class Own(Shape):
    def __init__(self, v):
        super().__init__(v)
        self.area = lambda k: k + 1000   # no method: the instance's own attribute


class Bad(Shape):
    def area(self, k):
        raise ValueError(f"no area for {self.v}")


class Missing:
    pass


def total_area(shapes, n):
    t = 0
    for k in range(n):
        for s in shapes:
            t += s.area(k)
    return t


def areas_caught(shapes, n):
    out = []
    for k in range(n):
        for s in shapes:
            try:
                out.append(s.area(k))
            except (ValueError, AttributeError) as exc:
                out.append(str(exc))
    return out


MANY = [Shape(2), Square(3), Tri(5), Lazy(1), Own(4), Shape(7), Square(1), Tri(2)]


def new_code(func):
    """func compiled again from its source: a code object CPython has not specialised yet (each
    guard mode warms its own, so that both see the same polymorphic site)."""
    ns = dict(func.__globals__)
    exec(compile(textwrap.dedent(inspect.getsource(func)), __file__, "exec"), ns)
    return ns[func.__name__]


def test_a_method_of_objects_of_many_classes_is_called_without_a_bound_method():
    f = new_code(total_area)
    warm(f, MANY, 2)                              # CPython's cache at s.area gives up: polymorphic
    rec = check(f, (MANY, 3), (MANY[:3], 4), ([Own(1), Lazy(2)], 2), ([], 5), ([Shape(2**62)] * 2, 3))
    assert {"load_method", "method_self", "obj_call"} <= ops_of(rec)


def test_a_method_call_found_at_run_time_raises_as_cpython_does():
    f = new_code(areas_caught)
    warm(f, MANY + [Bad(1)], 2)
    # (the last set CPython runs before the compile leaves its cache at s.area polymorphic)
    rec = check(f, (MANY + [Bad(3), Missing()], 2), ([Missing(), Bad(0)], 1), (MANY + [Missing()] + MANY, 2))
    assert "load_method" in ops_of(rec)


class Held:
    """Holds one object, whose class may change."""

    def __init__(self, item):
        self.item = item


class Plain:
    def describe(self):
        return "plain"


class Other:
    def describe(self):
        return "other"


class Derived(Plain):
    pass


def describe_held(h):
    """A method of an attribute's object: its class is only guarded where the method is read."""
    return h.item.describe() + h.item.describe()


def test_a_method_read_from_an_object_of_another_class_is_that_class_s():
    # CPython's cache at the method read sees only Plain: the compiled read guards that class
    for _ in range(40):
        describe_held(Held(Plain()))
    jitted = fresh_copy(describe_held)
    manager.record_for(jitted).eager = True
    assert manager.compile_for(jitted, (Held,)) is not None
    rec = manager.record_for(jitted)
    assert "guard_method" in rec.specs[0].ops
    # CPython's own results, from a copy with a code object (and caches) of its own
    reference = types.FunctionType(describe_held.__code__.replace(), describe_held.__globals__)
    for item in (Plain(), Other(), Derived(), Plain()):
        assert jitted(Held(item)) == reference(Held(item))
    assert rec.native_calls == 4
    assert exits_of(rec, Exit.TYPE_GUARD) == 2 or forced_exits()   # Other and Derived left there
