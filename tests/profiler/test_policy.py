"""Profiler policy: the signatures a hot code's window saw at least twice are compiled with its
most common one, in one compile (specs.compiled_with decides which get their own); a small
code is counted again only when its types could compile."""
import types

import pytest

from tiered.profiler import hooks, policy
from tiered.runtime import manager



class A:
    pass


class B:
    pass


class C:
    pass


def walk(obj, n):
    t = 0
    for i in range(n):
        t += i if obj is not None else 1
    return t


@pytest.mark.usefixtures("object_tier")
def test_the_promoter_asks_for_the_signatures_seen_twice_with_the_most_common(monkeypatch):
    f = types.FunctionType(walk.__code__.replace(), walk.__globals__)   # the one function of its code
    asked = []
    monkeypatch.setattr(manager, "compile_for", lambda func, sig, **kw: asked.append((func, sig, kw["also"])))
    promoter = policy.Promoter(10, 200)
    p = promoter.feedback.profile(f.__code__)
    for sig, n in (((A, int), 4), ((B, int), 2), ((C, int), 1), ((B, bool), 3)):
        p.signatures[sig] += n
    p.count = 10
    promoter._promote(p, f.__code__)
    assert asked == [(f, (A, int), [(B, bool), (B, int)])]      # C was seen once: its own call


def tiny(x):
    return x


@pytest.mark.skipif(not (policy.CALL_HELPER and hooks.HAS_MONITORING), reason="3.12: counted again")
@pytest.mark.parametrize("arg, counted_again", [(A, False), (int, True)])
def test_a_small_code_is_counted_again_only_when_its_types_could_compile(monkeypatch, arg, counted_again):
    # the object tier is off: a small function of objects can never compile, and counting it
    # again costs a callback per call (deltablue's rounds stayed 2-3x slower for 40 rounds)
    monkeypatch.delenv("TIERED_OBJECTS", raising=False)
    f = types.FunctionType(tiny.__code__.replace(), tiny.__globals__)
    monkeypatch.setattr(manager, "compile_for", lambda *a, **kw: None)
    promoter = policy.Promoter(10, 200)
    p = promoter.feedback.profile(f.__code__)
    p.signatures[(arg,)] += 8
    p.count = 10
    promoter._promote(p, f.__code__)
    assert (id(f.__code__) in promoter.rearms) is counted_again
    assert promoter.feedback.is_done(f.__code__) is not counted_again
