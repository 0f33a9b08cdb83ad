"""Shared dict lookups: `d[k]` after `k in d` reuses the test's lookup only when no `__hash__`
or `__eq__` could run and the dict did not change in between; results, printed output and
reference counts as in CPython."""
import sys

import pytest

from tests.support import check, fresh_copy, warm
from tiered.compiler import build, ir
from tiered.compiler.ops import ObjType
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
    warm(func, *[[] if t.cls is list else {} for t in types_])
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
