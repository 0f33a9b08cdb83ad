"""Shared dict lookups: `d[k]` after `k in d` reuses the test's lookup only when no `__hash__`
or `__eq__` could run and the dict did not change in between; results, printed output and
reference counts as in CPython."""
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import check, forced_exits, fresh_copy, warm
from tiered.compiler import build, ir
from tiered.compiler.ops import INT, ObjType
from tiered.compiler.passes import pipeline
from tiered.runtime import manager

pytestmark = pytest.mark.usefixtures("object_tier")


def count(words, counts):
    for w in words:
        if w in counts:
            counts[w] += 1
        else:
            counts[w] = 1
    return len(counts)


class Loud(str):
    """A str subclass whose hashing and comparing print: its dicts are not str-keyed."""

    def __hash__(self):
        print("hash", str(self))
        return super().__hash__()

    def __eq__(self, other):
        print("eq", str(self))
        return super().__eq__(other)


def test_counting_words_as_cpython_does():
    text = "a b a c b a".split() + ["".join(["a"])]          # an equal str, another object
    check(count, (text, {}), (text, {"a": 5}), (text, {"a": 2**64}), (text, {"a": 1.5}),
          ([Loud("a"), Loud("a"), "b"], {}), (text, {Loud("a"): 1}), ([1, 2, 1], {1: 0}),
          (text, {"a": "x"}))


def changing(keys, d, change):
    out = []
    for k in keys:
        if k in d:
            change(d, k)              # may delete or replace d[k], or leave d alone
            try:
                out.append(d[k])
            except KeyError as exc:
                out.append(repr(exc))
    return out


def delete(d, k):
    del d[k]


def replace(d, k):
    d[k] = [k]                        # the old value dies


def grow(d, k):
    for n in range(20):               # resizes the table: the kept item must not be used
        d[f"{k}{n}"] = n


def keep(d, k):
    pass


def test_a_dict_changed_between_the_test_and_the_subscript_is_read_again():
    keys = ["x", "y", "x"]
    for change in (keep, replace, grow, delete):
        check(changing, (keys, {"x": [1], "y": [2]}, change), (keys, {"y": 2}, change))


def ir_of(func, types_):
    """The optimised IR of func for these IR types."""
    warm(func, *[1 if t == INT else [] if t.cls is list else {} for t in types_])
    return pipeline.run(build.build(func, types_))


def merged_paths(keys, d):
    n = 0
    for k in keys:
        if k in d:
            n += 1
        n += len(d[k]) if k else 0      # reached from both branches: not after the test
    return n


def test_only_a_subscript_the_test_dominates_is_paired():
    paired = ir_of(count, (ObjType(list), ObjType(dict)))
    values = [v for b in paired.blocks for v in b.body]
    test = next(v for v in values if v.op == "obj_contains")
    assert test.attrs.get("share") and any(v.attrs.get("shared") == test.id for v in values)
    apart = ir_of(merged_paths, (ObjType(list), ObjType(dict)))
    assert not any("shared" in v.attrs for b in apart.blocks for v in b.body)
    assert "shared" not in ir.fmt_function(apart)


def test_no_reference_leaks_through_a_shared_lookup():
    words, value = ["p", "q", "p"], 10**30
    counts = {"p": value}
    f = fresh_copy(changing)
    rec = manager.record_for(f)
    rec.eager = True
    assert manager.compile_for(f, (list, dict, type(keep))) is not None
    before = [sys.getrefcount(o) for o in (value, *words)]
    for _ in range(100):
        assert f(words, counts, keep) == [value, value]
    assert rec.native_calls == 100
    assert [sys.getrefcount(o) for o in (value, *words)] == before


def tally(words, counts, step):
    for w in words:
        if w in counts:
            counts[w] += step
        else:
            counts[w] = 1
    return counts


def test_an_int_counted_in_place_is_indistinguishable_from_a_new_one():
    text = "a b a c b a".split() + ["".join(["a"])]
    held = 300
    check(tally, (text, {}, 1), (text, {"a": 255}, 1), (text, {"a": 256}, 1), (text, {"a": 2**30 - 2}, 1),
          (text, {"a": 2**30 - 1}, 1), (text, {"a": 1000}, -1), (text, {"a": 258}, -1), (text, {"a": -1000}, 1),
          (text, {"a": 1000, "b": 1000}, 7), (text, {"a": held, "b": held}, 1), (text, {"a": True}, 1),
          (text, {"a": 2**64}, 1), (text, {"a": 1.5}, 1), (text, {"a": 400}, 2**62))


def test_an_int_someone_else_holds_is_not_changed():
    f = fresh_copy(tally)
    rec = manager.record_for(f)
    rec.eager = True
    warm(tally, ["x"], {}, 1)
    assert manager.compile_for(f, (list, dict, int)) is not None
    counts = {"x": int("1000")}
    kept = counts["x"]                    # a second reference: the store must make a new int
    f(["x", "x"], counts, 1)
    assert kept == 1000 and counts["x"] == 1002
    alone = {"y": int("5000")}
    before = id(alone["y"])
    f(["y"] * 10, alone, 1)
    assert alone["y"] == 5010 and rec.native_calls == 2
    if not forced_exits():
        assert id(alone["y"]) == before   # nothing else held it: changed in place (no new int)


def test_an_in_place_count_is_marked_only_for_the_same_key_plus_a_number():
    fn = ir_of(tally, (ObjType(list), ObjType(dict), INT))
    assert [v.op for b in fn.blocks for v in b.body if v.attrs.get("in_place")] == ["obj_setitem"]
    other = ir_of(count, (ObjType(list), ObjType(dict)))
    assert sum(1 for b in other.blocks for v in b.body if v.attrs.get("in_place")) == 1


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(-2**31, 2**31), st.integers(-2**31, 2**31), st.booleans())
def test_in_place_counts_match_cpython_for_any_values(old, step, shared):
    text = ["k", "k", "j"]                        # the second "k" counts the int the first made
    start = {"k": int(str(old))}                  # a new int, as a program's own arithmetic makes
    held = start["k"] if shared else None         # sometimes someone else holds it too
    check(tally, (text, start, step))
    assert held is None or held == old


def special_partial(partials):
    if None in partials:                 # statistics._sum: a NaN or an infinity was summed
        total = partials[None]
        return total
    return 0


def float_key(d, x):
    y = x * 2.0
    return d[y]                          # a float key, unboxed before the subscript


def test_a_none_or_float_key_is_boxed_for_the_subscript():
    # the key went to PyObject_GetItem unboxed: LLVM refused the module (LLVM_ERROR)
    warm(special_partial, {None: 1.5})
    check(special_partial, ({None: 2.5},), ({1: 2},), ({},))
    warm(float_key, {3.0: "a"}, 1.5)
    check(float_key, ({3.0: "a"}, 1.5), ({1.0: "b"}, 0.5), ({}, 2.0), ([1], 0.5))
