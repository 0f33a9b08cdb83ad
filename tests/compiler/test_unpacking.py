"""Unpacking on the object tier: {**x}, {*x} and f(*args, **kwargs), with the messages CPython
gives for what cannot be unpacked, and no reference leaks."""
import sys

import pytest

from tests.compiler.test_composite import Loud
from tests.support import Call, assert_same, check, exits_of, forced_exits, fresh_copy, outcome
from tiered.reasons import Exit
from tiered.runtime import manager

pytestmark = pytest.mark.usefixtures("object_tier")


class Table:
    """A mapping that is not a dict: keys() and [] print."""

    def __init__(self, pairs):
        self.pairs = dict(pairs)

    def keys(self):
        print("keys")
        return list(self.pairs)

    def __getitem__(self, k):
        print("get", k)
        return self.pairs[k]


class BrokenKeys:
    """keys() raises AttributeError: CPython turns it into 'not a mapping'."""

    def keys(self):
        raise AttributeError("inner")


def merged(a, b):
    out = []
    for k in range(2):
        d = {**a, "k": k, **b}
        out.append(d)
    return out


def test_dict_unpacking_of_dicts_and_mappings():
    rec = check(merged, ({"x": 1}, {"k": 9, 1: 2}), ({}, {}), ({"k": 1}, Table({"y": 2})),
                ({Loud(1): 1}, {Loud(1): 2}))
    assert "dict_update" in rec.specs[0].ops


def merged_or_message(a, bs):
    out = []
    for b in bs:                           # items of any class: the same native path
        try:
            out.append({**a, **b})
        except TypeError as exc:
            out.append(f"TypeError: {exc} {exc.__context__!r}")
    return out


def test_dict_unpacking_of_what_is_not_a_mapping_gives_cpythons_message():
    rec = check(merged_or_message, ({"a": 1}, [{"b": 2}, Table({1: 2})]), ({}, [3]), ({}, [[(1, 2)]]),
                ({"a": 1}, [BrokenKeys()]), ({}, [None, {}]))
    if not forced_exits():                 # the TypeError was made natively, and exited with
        assert exits_of(rec, Exit.RAISED) == 4
    check(merged, ({}, [1]), ({}, BrokenKeys()))       # raised, with CPython's traceback


def unioned(xs, ys):
    out = []
    for extra in [1, 2.5]:
        out.append(sorted({*xs, extra, *ys}, key=repr))
    return out


def test_set_unpacking_hashes_in_cpythons_order():
    rec = check(unioned, ([3, 1], (2, 1)), ([], ""), ("ab", range(3)), ([Loud(1)], [Loud(2), Loud(1)]),
                ([1], 5), ([[1]], []))
    assert "set_update" in rec.specs[0].ops


def target(a, b=0, *rest, c=None, **more):
    return a, b, rest, c, sorted(more.items())


def forward(f, *args, **kwargs):
    return f(*args, **kwargs)


def test_star_star_kwargs_are_forwarded():
    rec = check(forward, Call(target, 1, 2, 3, c=4, z=5), Call(target, 1), Call(target, a=7, c=1),
                Call(target, 1, 2, a=3), Call(target), Call(len, "abc"), Call(len, "x", q=1),
                Call(dict, a=1, b=2))
    assert {"dict_merge", "obj_call_ex"} <= rec.specs[0].ops


def spread(f, d):
    try:
        return f(**d)
    except TypeError as exc:
        return str(exc)


def test_keys_that_are_not_strs_leave_the_merge_to_cpython():
    rec = check(spread, (target, {"a": 1}), (target, {1: 2}), (target, {"a": 1, 2: 3}), (target, {}))
    assert "dict_merge" in rec.specs[0].ops
    if not forced_exits():
        assert exits_of(rec, Exit.KEYWORD_CLASH) == 2


def named_and_spread(f, x, d):
    try:
        return f(x, c=x, **d), f(b=x, c=1, **d)
    except TypeError as exc:
        return str(exc)


class Key(str):
    """A str subclass as a keyword: CPython accepts it; the merge leaves it to the interpreter."""

    def __hash__(self):
        print("hash", str(self))
        return super().__hash__()


def test_keyword_names_before_the_spread_clash_as_in_cpython():
    rec = check(named_and_spread, (target, 1, {"z": 2}), (target, 1, {}), (target, 2, {"c": 3}),
                (target, 3, {"b": 4}), (target, 4, {"a": 5, "q": 6}), (target, 5, {Key("z"): 1}),
                (target, 6, {1: 2}))
    assert "dict_merge" in rec.specs[0].ops
    if not forced_exits():                 # c clashes (twice: the first call), b, a str subclass, 1
        assert exits_of(rec, Exit.KEYWORD_CLASH) == 4


def test_no_reference_leaks_through_unpacking():
    a, b, key, value = {"x": 1}, {"y": 2}, "kw", object()
    f = fresh_copy(forward)
    g = fresh_copy(merged)
    rec_f, rec_g = manager.record_for(f), manager.record_for(g)
    rec_f.eager = rec_g.eager = True
    assert manager.compile_for(f, (type(target), tuple, dict)) is not None
    assert manager.compile_for(g, (dict, dict)) is not None
    before = [sys.getrefcount(o) for o in (a, b, key, value, target)]
    for _ in range(100):
        f(target, value, **{key: value})
        g(a, b)
    assert rec_f.native_calls == 100 and rec_g.native_calls == 100
    assert [sys.getrefcount(o) for o in (a, b, key, value, target)] == before


def unpacks_lists_and_tuples(rows):
    total = 0
    for row in rows:
        a, b = row                       # a list or a tuple, as rows hold them
        total += a * b
    return total


def test_unpacking_a_list_or_tuple_of_objects(object_tier):
    # once refused: "unpacking something other than a tuple of that size"
    rows = [[1, 2], [3, 4], [5, 6]] * 30           # enough for CPython to specialise (3.11: 53)
    rec = check(unpacks_lists_and_tuples, (rows,), ([],), ([[1, 2], (3, 4)],), ([[1, 2, 3]],), ([[1]],),
                ([(1.5, 2)],), ([[1, 2], "ab"],))
    assert rec.state == "compiled" and rec.refusal is None


class Colour:
    def __init__(self, *rgb):
        self.rgb = rgb

    def __iter__(self):                  # iterable only through __iter__
        return iter(self.rgb)


def plot(canvas, x, y, r, g, b):
    canvas.append((x, y, r + g + b))


def paint(canvas, colours):
    for x, colour in enumerate(colours):
        plot(canvas, x, 0, *colour)       # raytrace's canvas.plot(x, y, *colour)
    return canvas


class Noisy:
    def __iter__(self):                  # a Python generator runs inside the extend
        print("consumed")
        yield 1
        yield 2
        yield 3


def test_star_args_of_any_iterable():
    # once refused: "LIST_EXTEND of something other than a list or tuple"
    rec = check(paint, ([], [Colour(1, 2, 3), (4, 5, 6)]), ([], [[1, 1, 1], Colour(0.5, 0.5, 0.5)]),
                ([], [Colour(1, 2)]),                         # too few: TypeError from plot
                ([], [range(3), "abc"]),                      # str: concatenated by plot
                ([], [Noisy()]),                              # prints once, in order
                ([], [5]))                                    # not iterable: CPython's own message
    assert "list_extend_any" in set().union(*(s.ops for s in rec.specs))


PAIRS = '''
def swapped_sums(source):
    total = []
    for k in range(len(source)):
        a, b = source.items[k]           # an item of a list: no class known, no hint of CPython's
        total.append(b - a)
    return total
'''


class Source:
    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)



def _fresh(src, name):
    """A function of new code: CPython never ran (nor specialised) its instructions."""
    ns = {}
    exec(src, ns)
    return ns[name]


def test_unpacking_an_object_of_no_known_class_speculates_a_tuple():
    # once refused: "unpacks something other than a list or tuple" where nothing told its class
    jit = _fresh(PAIRS, "swapped_sums")
    manager.record_for(jit).eager = True
    assert manager.compile_for(jit, (Source,)) is not None
    rec = manager.record_for(jit)
    arg_sets = [(Source([(1, 5), (2.5, 1)]),), (Source([]),),
                (Source([(1, 2), [3, 4]]),),             # a list: the guard exits, CPython unpacks
                (Source([(1, 2), (1, 2, 3)]),),          # too many: CPython's ValueError
                (Source([(1, 2), "ab"]),),               # a str: unpacked by the interpreter
                (Source([(1, 2), 7]),)]                  # not iterable: CPython's TypeError
    before = rec.native_calls
    for args in arg_sets:
        assert_same(outcome(_fresh(PAIRS, "swapped_sums"), args), outcome(jit, args), args)
    assert rec.native_calls == before + len(arg_sets)
    assert any("guard_len" in s.ops for s in rec.specs)
    assert outcome(jit, arg_sets[0])[:2] == ("ok", [4, -1.5])
    if not forced_exits():                 # the list, the str and the int; the long tuple
        import dis
        at = next(i.offset for i in dis.get_instructions(jit) if i.opname == "UNPACK_SEQUENCE")
        assert rec.exits_at[at, "TYPE_GUARD"] == 3 and rec.exits_at[at, "UNPACK_SIZE"] == 1


class Row(list):
    def __iter__(self):                  # a list subclass iterating its own way
        print("row iter")
        return reversed(list(list.__iter__(self)))


def raising_gen(n):
    for k in range(n):
        yield k
    raise KeyError("gone")


def spread_made(f, make, *arg, **kw):
    source = make(*arg)                  # (generators cannot be copied: the check makes them)
    return f(*source, **kw) if kw else f(*source)


def three(a, b=0, c=0, **more):
    return (a, b, c, sorted(more.items()))


def test_star_args_of_any_iterable_in_a_call_ex():
    # once refused: "*args of something other than a tuple or list" (CALL_FUNCTION_EX)
    rec = check(spread_made, (three, iter, [1, 2]), (three, dict, {"k": 1}), (three, Row, [1, 2, 3]),
                (three, Noisy), (three, str, "xy"), (three, range, 3),
                (three, int, 5),                              # not iterable: CPython's message
                (three, raising_gen, 2),                      # raises while it is made a tuple
                (three, iter, []),                            # too few arguments: three's TypeError
                Call(three, iter, [7], c=9, z=1), Call(three, Row, [4], b=5), (three, tuple, [1]))
    assert "args_tuple_any" in set().union(*(s.ops for s in rec.specs))


def spread_nothing(f):
    try:
        return f(*None)                  # CPython's TypeError; once a compiler error here
    except TypeError as e:
        return str(e)


def test_star_args_of_none_is_refused_with_its_reason(monkeypatch):
    jit = fresh_copy(spread_nothing)
    assert manager.compile_for(jit, (type(three),)) is None
    rec = manager.record_for(jit)
    assert rec.refusal.name == "UNSUPPORTED_CALL" and rec.refusal_detail == "*args of none"
    assert jit(three) == spread_nothing(three)
