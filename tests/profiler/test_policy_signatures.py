"""Profiler policy: the signatures a hot code's window saw at least twice are compiled with its
most common one, in one compile (specs.compiled_with decides which get their own)."""
import types

import pytest

from tiered.profiler import policy
from tiered.runtime import manager

pytestmark = pytest.mark.usefixtures("object_tier")


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
