"""Parameters CPython binds: keyword-only, *args and **kwargs are locals of the native code, and
calls that leave a default to CPython stay generic (recursion included)."""
import sys

import tiered
from tests.support import Call, check, exits_of, forced_exits
from tiered.cpython import code as code_facts
from tiered.profiler import feedback
from tiered.reasons import Exit
from tiered.runtime import manager


def scaled_sum(n, *, scale=2, shift):
    s = 0
    for i in range(n):
        s += i * scale + shift
    return s


def test_keyword_only_parameters_are_parameters_of_the_native_code():
    rec = check(scaled_sum, Call(10, shift=3), Call(0, shift=-1), Call(5, scale=7, shift=0),
                Call(3, shift=2**62))                        # overflow: an exit, CPython's int
    assert rec.specs[0].param_types == ("int", "int", "int")
    check(scaled_sum, Call(10, scale=True, shift=1), Call(4, scale=False, shift=2))
    check(scaled_sum, Call(10, shift=1), Call(3, shift="x"), compile_with=(int, int, int))


def total(*xs):
    t = 0
    for x in xs:
        t += x
    return t


def test_star_args_is_a_tuple_the_native_code_reads(object_tier):
    rec = check(total, (1, 2, 3), (), (4,), (1, 2**63), (1, 2.5), (1, "a"), ("a", "b"))
    assert rec.specs[0].param_types[0].cls is tuple


def describe(**opts):
    out = []
    for key in opts:
        out.append(key + "=" + str(opts[key]))
    opts["seen"] = len(out)                 # the dict is the call's own: changing it is fine
    return out, opts


def test_star_star_kwargs_is_a_dict_the_native_code_reads_and_changes(object_tier):
    rec = check(describe, Call(a=1, b="x"), Call(), Call(seen=3, z=None))
    assert rec.specs[0].param_types[0].cls is dict


def mixed(a, b=2, *rest, flag=False, **opts):
    acc = [a, b]
    for r in rest:
        acc.append(r)
    if flag:
        acc.append(len(opts))
    for k in opts:
        acc.append(opts[k])
    return acc


def test_every_kind_of_parameter_at_once(object_tier):
    check(mixed, Call(1), Call(1, 2, 3, 4, flag=True, x=5), Call(0, flag=[], y=9), Call(1, 2, 3, z=1))


def nested(node, depth=0):
    if isinstance(node, list):
        t = 0
        for x in node:
            t += nested(x)                   # depth is left to its default: CPython binds it
        return t + depth
    return 1


def test_recursion_that_leaves_a_default_to_cpython_is_a_generic_call(object_tier):
    # this once reached LLVM with a native self-call of one argument into a function of two
    rec = check(nested, ([[1, 2], [3, [4]]],), ([],), ([[[[]]]],), Call([1, [2]], depth=5))
    assert "call_native" not in rec.specs[0].ops


def adder(*xs, start=0):
    def add(y):
        return start + y + len(xs)
    return [add(x) for x in xs]


def test_star_args_and_keyword_only_parameters_captured_by_an_inner_function(object_tier):
    check(adder, (1, 2, 3), Call(start=4), Call(1.5, 2, start=1))


def calls_total(n):
    s = 0
    for i in range(n):
        s += total(i, 1) + scaled_sum(2, shift=i)
    return s


def test_a_native_caller_calls_such_functions_generically(object_tier):
    for f in (total, scaled_sum):
        tiered.jit(f)                        # compiled or not, a native caller binds nothing
    check(calls_total, (30,), (0,))


def test_the_profiler_sees_every_parameter():
    seen = []

    def probe(a, *rest, k=1, **kw):
        seen.append(feedback.arg_values(sys._getframe(), sys._getframe().f_code))
        seen.append(feedback.arg_values(sys._getframe(), sys._getframe().f_code, at_start=True))

    probe(1, 2, k=3, z=4)
    assert seen == [[1, 3, (2,), {"z": 4}]] * 2
    assert code_facts.param_count(probe.__code__) == 4


def test_the_jit_decorator_compiles_for_every_parameter(object_tier):
    f = tiered.jit(mixed)
    assert f(1, 2, 3, flag=True, q=1) == [1, 2, 3, 1, 1]
    rec = manager.record_for(f)
    assert rec.state == "compiled" and len(rec.specs[0].param_types) == 5
    before = rec.native_calls
    assert f(7, 8, 9, flag=True, q=2) == [7, 8, 9, 1, 2]
    if forced_exits():
        assert sum(rec.exits.values()) > 0
    else:
        assert rec.native_calls == before + 1 and exits_of(rec, Exit.TYPE_GUARD) == 0
    manager.record_for(f).restore()
