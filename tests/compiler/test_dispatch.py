"""Recursion on objects of any class: the module's dispatcher picks a frameless specialisation
by the argument's class; dict iteration and str-keyed dict reads run frameless; anything the
dispatcher or a frameless read cannot take exits, and the interpreter calls the function again."""
import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import Exit, assert_same, check, exits_of, forced_exits, fresh_copy, outcome, warm
from tiered.runtime import manager

pytestmark = pytest.mark.usefixtures("object_tier")


def walk(node):
    if isinstance(node, dict):
        total = 0
        for key in node:
            total += walk(node[key])
        return total
    if isinstance(node, list):
        total = 0
        for item in node:
            total += walk(item)
        return total
    if isinstance(node, int):
        return node
    return 1


TREE = {"a": [1, 2, {"b": [3, 4, "x"], "c": 5}], "d": {"e": [6, 7, 8] * 3, "f": "y"}}
NODES = 22          # calls of walk for TREE


@contextlib.contextmanager
def compiled(func, *signatures):
    """A copy of func, compiled for each signature, that its own recursive calls reach."""
    jitted = fresh_copy(func)
    g = func.__globals__
    g[func.__name__] = jitted
    try:
        rec = manager.record_for(jitted)
        rec.eager = True
        for sig in signatures:
            assert manager.compile_for(jitted, sig) is not None, rec.refusal_detail
        yield jitted, rec
    finally:
        g[func.__name__] = func
        rec.restore()


def test_recursion_over_dicts_lists_ints_and_strs_is_native():
    warm(walk, TREE)
    expected = walk(TREE)
    with compiled(walk, (dict,), (list,), (int,), (str,)) as (jitted, rec):
        ops = set().union(*(s.ops for s in rec.specs))
        assert {"call_native", "obj_iter", "iter_next", "obj_getitem"} <= ops
        assert "obj_call" not in ops                           # no call through the interpreter
        before = rec.native_calls
        assert jitted(TREE) == expected
        if forced_exits():
            assert sum(rec.exits.values()) > 0
        else:
            assert rec.native_calls - before == 1             # the other 21 calls were native
            assert sum(rec.exits.values()) == 0
    assert NODES == 22


class Key:
    """A dict key whose hashing and comparing print: Python code a frameless read must not run."""

    def __init__(self, name):
        self.name = name

    def __hash__(self):
        print("hash", self.name)
        return hash(self.name)

    def __eq__(self, other):
        print("eq", self.name)
        return isinstance(other, Key) and other.name == self.name


class MyDict(dict):
    pass


def trees():
    """Arguments the dispatcher or a frameless read must leave to the interpreter."""
    return [({"a": [1, 2.5, None], "b": "s"},),                    # float, None: no specialisation
            ({"a": {1: 2, 3: [4, 5]}},),                            # int keys: any key may be Python
            ({"a": {Key("k"): 3}, "b": [{Key("j"): 4}]},),          # keys with __hash__/__eq__
            ({"a": MyDict(x=1), "b": [MyDict(y=[2, 3])]},),         # a subclass of dict
            ({"a": [2**70, 5], "b": {"c": 2**62, "d": 2**62}},),    # a big int, an int overflow
            ({},), ({"x": []},)]


def test_what_the_dispatcher_cannot_take_runs_in_the_interpreter_exactly():
    warm(walk, TREE)
    rec = check(walk, (TREE,), *trees())
    assert {"call_native", "obj_getitem"} <= set().union(*(s.ops for s in rec.specs))
    if not forced_exits():
        assert exits_of(rec, Exit.CALLEE_EXITED) > 0          # the interpreter called again


def depth_of(node, limit):
    if isinstance(node, list):
        total = 0
        for item in node:
            total += depth_of(item, limit)
        return total + 1
    if isinstance(node, dict):
        total = 0
        for key in node:
            total += depth_of(node[key], limit)
        return 10 // (limit - total)                        # ZeroDivisionError deep inside
    return 0


def test_an_exception_deep_in_dispatched_recursion_has_cpythons_traceback():
    nested = [[[{"a": [[{"b": []}]]}]]]
    warm(depth_of, nested, 100)
    check(depth_of, (nested, 100), (nested, 3), (nested, 1), compile_with=(list, int))


def collect(node, out):
    if isinstance(node, dict):
        for key in node:
            collect(node[key], out)
    elif isinstance(node, list):
        for item in node:
            collect(item, out)
    else:
        out.append(node)                   # changes an object: never frameless
    return len(out)


def test_recursion_that_changes_objects_calls_through_the_interpreter_once_each():
    tree = {"a": [1, {"b": "x"}], "c": [2, [3, 4]]}
    warm(collect, tree, [])
    # the leaves append: only the interpreter may run that (check compares `out` after); the
    # dict and list specialisations only read, and run frameless
    check(collect, (tree, []), ({"k": [5] * 3}, [0]), ({"k": {"j": [7]}}, [0]), compile_with=(dict, list))


def test_a_dict_changed_between_calls_is_read_as_it_is_now():
    d = {"a": 1, "b": [2, 3]}
    warm(walk, d)
    with compiled(walk, (dict,), (list,), (int,)) as (jitted, rec):
        assert jitted(d) == 6
        d["c"] = {"e": 10}
        d["a"] = 0
        del d["b"]
        assert jitted(d) == 10
        d[7] = 1                            # an int key: the dict's keys may be anything now
        assert jitted({"x": d}) == 11


def leaves():
    return st.one_of(st.integers(-2**64, 2**64), st.floats(allow_nan=False), st.text(max_size=3),
                     st.none(), st.booleans())


def keys():
    return st.one_of(st.text(max_size=2), st.integers(-3, 3), st.builds(Key, st.text(max_size=1)))


TREES = st.recursive(leaves(), lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(keys(), inner, max_size=4),
    st.builds(MyDict, st.dictionaries(st.text(max_size=2), inner, max_size=3))), max_leaves=12)


def test_random_trees_walk_and_collect_as_in_cpython():
    """Any tree, any keys: the same result, printed output and side effects, natively or not."""
    warm(walk, TREE)
    warm(collect, TREE, [])
    plain = walk, collect
    with compiled(walk, (dict,), (list,), (int,), (str,)) as (jw, rw), \
            compiled(collect, (dict, list), (list, list)) as (jc, rc):
        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
        @given(TREES)
        def same(tree):
            g = globals()
            g["walk"], g["collect"] = plain                 # recursion by name: CPython's run
            refs = outcome(walk, (tree,)), outcome(collect, (tree, []))
            g["walk"], g["collect"] = jw, jc                # and the compiled copies'
            assert_same(refs[0], outcome(jw, (tree,)), (tree,))
            assert_same(refs[1], outcome(jc, (tree, [])), (tree,))

        same()
        assert rw.native_calls > 0 and rc.native_calls > 0


def fresh_class():
    """A new class each call, as unittest.mock makes one for every mock."""
    class Dyn:
        def __init__(self, v):
            self.v = v
    return Dyn


def read_v(o, k):
    return o.v + k


def test_a_class_that_dies_while_its_module_is_rebuilt_never_matches(monkeypatch, object_tier):
    import gc
    first, second = fresh_class(), fresh_class()
    f = fresh_copy(read_v)
    rec = manager.record_for(f)
    rec.eager = True
    holder = [first, first(1)]
    del first
    warm(f, holder[1], 1)
    assert manager.compile_for(f, (holder[0], int)) is not None
    rebuild = manager._frameless_for_dispatch

    def dying(*args):
        """The first class dies after the rebuild kept its specialisation, before lowering."""
        holder.clear()
        gc.collect()
        return rebuild(*args)
    monkeypatch.setattr(manager, "_frameless_for_dispatch", dying)
    obj = second(41)
    warm(f, obj, 1.0)
    # a float: not widened to any object (specs.widened), so the first class's spec is rebuilt
    assert manager.compile_for(f, (second, float)) is not None, rec.refusal_detail   # was LLVM_ERROR
    assert rec.state == "compiled" and len(rec.specs) == 2
    before = rec.native_calls
    assert f(obj, 1.0) == 42.0 and f(second(-1), 1.0) == 0.0
    assert rec.native_calls == before + 2
