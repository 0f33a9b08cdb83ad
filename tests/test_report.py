"""--stats summary: the table and the counters never disagree; refusals with no record are listed; nothing is cut."""
from tiered import report


def _stat(state="compiled", signatures=(("int",),), refusal=None, detail=None):
    return {"calls": 5, "native_calls": 3, "traced_calls": 0, "state": state, "signatures": list(signatures),
            "compile_ms": [12.5], "exits": {}, "refusal": refusal, "refusal_detail": detail}


def test_nothing_at_all():
    assert report.summary({}, {"unrecorded": {}}) == "tiered: no function was compiled or refused"
    assert report.summary({}) == "tiered: no function was compiled or refused"


def test_refusals_without_a_record_are_listed_not_hidden():
    text = report.summary({}, {"unrecorded": {"Stats.add": "UNSUPPORTED_TYPE: objects"}})
    assert "no function" not in text
    assert text.splitlines() == ["hot but not compiled (1):", "  Stats.add: UNSUPPORTED_TYPE: objects"]


def test_long_names_and_signatures_are_not_cut():
    name = "package.module.SomeRatherLongClassName.some_rather_long_method_name"
    sig = ("obj[SomeRatherLongClassName]", "obj[AnotherLongClass]", "int")
    text = report.summary({name: _stat(signatures=(sig,))}, {"unrecorded": {}})
    row = text.splitlines()[1]
    assert row.startswith(name + " ") and "(" + ",".join(sig) + ")" in row
