"""IR text tests: golden files for the passes (input IR → the IR they must print), and
ir_text.parse against the IR of real functions (parse(fmt(fn)) prints fn again).

A golden file, tests/compiler/ir/*.txt (the layout of CinderX's hir_tests), is sections
between `---` lines: the suite's name, the passes to run (names from pipeline.PASSES, or
`pipeline` for all of them, in order), then for each case its name, its input IR and the IR
expected after the passes, printed by fmt_function(states=True).  `#` lines in an input are
comments.  UPDATE_GOLDEN=1 rewrites the expected sections from what the passes print.
"""
import difflib
import math
import os
import pathlib
import re
import types

import pytest

from tests.compiler.test_passes import loop
from tests.compiler.test_refcounts import step
from tests.support import warm
from tiered.compiler import build, ir, ir_text
from tiered.compiler.exits import NULL, FrameState, Known, RangeArgs, VTuple
from tiered.compiler.ops import FLOAT, ObjType
from tiered.compiler.passes import pipeline
from tiered.cpython import capi

GOLDEN = pathlib.Path(__file__).parent / "ir"
PASSES = dict(pipeline.PASSES)
# objects golden files may name: call_native targets guards asks whether they are quiet
NAMESPACE = {"quiet_callee": types.SimpleNamespace(__name__="quiet_callee", quiet=True),
             "loud_callee": types.SimpleNamespace(__name__="loud_callee", quiet=False)}


def read_golden(path):
    """A golden file → (suite name, its passes line, the pass names, [(case name, input, expected)])."""
    parts = [s.strip("\n") for s in (path.read_text().rstrip("\n") + "\n").split("\n---\n")]
    if parts[-1] == "":
        parts.pop()
    if len(parts) < 5 or (len(parts) - 2) % 3:
        raise ValueError(f"{path.name}: want suite --- passes --- (name --- input --- expected ---)+")
    passes = parts[1].split()
    if passes == ["pipeline"]:
        passes = list(PASSES)
    unknown = [p for p in passes if p not in PASSES]
    if unknown:
        raise ValueError(f"{path.name}: unknown passes {unknown} (known: {list(PASSES)} or pipeline)")
    cases = [tuple(parts[k:k + 3]) for k in range(2, len(parts), 3)]
    return parts[0].strip(), parts[1].strip(), passes, cases


def write_golden(path, suite, pass_line, cases):
    """Write a golden file back in the layout read_golden reads."""
    sections = [suite, pass_line] + [s for case in cases for s in case]
    path.write_text("\n---\n".join(sections) + "\n---\n")


def run_passes(text, passes):
    """Parse the input IR, run the passes in order (verifying after each), print the result."""
    fn = ir_text.parse(text, NAMESPACE)
    ir.verify(fn)
    for name in passes:
        fn = PASSES[name](fn)
        ir.verify(fn)
    return ir.fmt_function(fn, states=True)


def golden_cases():
    """Every (file, case name) pair, as pytest parameters."""
    out = []
    for path in sorted(GOLDEN.glob("*.txt")):
        for name, _, _ in read_golden(path)[3]:
            out.append(pytest.param(path, name, id=f"{path.stem}:{name}"))
    return out


def test_there_is_a_golden_file_for_every_pass():
    alone = {read_golden(path)[2][0] for path in GOLDEN.glob("*.txt") if len(read_golden(path)[2]) == 1}
    assert alone >= set(PASSES), f"no golden file runs {set(PASSES) - alone} alone"


@pytest.mark.parametrize("path, name", golden_cases())
def test_golden(path, name):
    suite, pass_line, passes, cases = read_golden(path)
    if "lookups" in passes and capi.DICT_KEYS is None:
        pytest.skip("the lookups pass is off where the dict keys layout is unknown")
    k = [c[0] for c in cases].index(name)
    _, text, expected = cases[k]
    got = run_passes(text, passes)
    if got != expected and os.environ.get("UPDATE_GOLDEN") == "1":
        cases[k] = (name, text, got)
        write_golden(path, suite, pass_line, cases)
        return
    if got != expected:
        diff = "\n".join(difflib.unified_diff(expected.splitlines(), got.splitlines(),
                                              "expected", "got", lineterm=""))
        pytest.fail(f"{path.name} {name}: after {' '.join(passes)} the IR differs "
                    f"(UPDATE_GOLDEN=1 rewrites it):\n{diff}", pytrace=False)


def test_a_mismatch_fails_with_a_diff(tmp_path, monkeypatch):
    path = tmp_path / "bad.txt"
    text = "func f(%0: float) -> float\nb0 @0:\n  %1: float = float_mul(%0, %0)\n  ret %0"
    write_golden(path, "Bad", "dce", [("Wrong", text, text)])      # dce removes %1: not this
    monkeypatch.delenv("UPDATE_GOLDEN", raising=False)
    with pytest.raises(pytest.fail.Exception) as err:
        test_golden(path, "Wrong")
    assert "-  %1: float = float_mul(%0, %0)" in str(err.value)
    monkeypatch.setenv("UPDATE_GOLDEN", "1")
    test_golden(path, "Wrong")
    assert read_golden(path)[3][0][2] == "func f(%0: float) -> float\nb0 @0:\n  ret %0"


# ---- round trips over the IR of real functions -------------------------------------------
def steps(x):
    s = 0.0
    for i in range(1, 10, 2):
        s += float(i) / x
    return s


def root(a, b):
    return math.sqrt(a // b) if a > b else -1.0


class Point:
    def __init__(self, x, v):
        self.x, self.v = x, v


def count(d, k):
    if k in d:
        d[k] = d[k] + 1
    return d


def describe(items):
    return ", ".join(f"{type(x).__name__}:{x!r}" for x in items if x is not None)


NUMBERS = [(loop, ("int",)), (steps, ("float",)), (root, ("int", "int"))]
OBJECTS = [(step, (ObjType(list), FLOAT), ([Point(1.0, 0.5)], 0.1)),
           (count, (ObjType(dict), ObjType(str)), ({"a": 1}, "a")),
           (describe, (ObjType(list),), ([1, "b", None],))]


def assert_round_trip(fn):
    """fn's text, parsed, prints the same in both forms, with the same predecessors."""
    for states in (False, True):
        text = ir.fmt_function(fn, states)
        back = ir_text.parse(text)
        assert ir.fmt_function(back, states) == text
        assert [[p.id for p in b.preds] for b in back.blocks] == [[p.id for p in b.preds] for b in fn.blocks]
        assert [v.id for v in back.exits] == [v.id for v in pipeline.live_exits(fn)]
    return ir.fmt_function(fn, True)


def assert_passes_agree(func, types_):
    """The pipeline on the parsed text of fn prints what it prints on fn itself."""
    raw = build.build(func, types_)
    text = assert_round_trip(raw)
    optimised = pipeline.run(raw)
    assert_round_trip(optimised)
    assert ir.fmt_function(pipeline.run(ir_text.parse(text)), True) == ir.fmt_function(optimised, True)
    return text


def test_numeric_ir_round_trips_and_passes_agree():
    texts = "".join(assert_passes_agree(f, t) for f, t in NUMBERS)
    for item in ("RangeIter(", "NULL", "<sqrt>", "loop:", "cbr", "phi("):   # what they cover
        assert item in texts


def test_object_ir_round_trips_and_passes_agree(object_tier):
    texts = ""
    for func, types_, args in OBJECTS:
        warm(func, *args)
        texts += assert_passes_agree(func, types_)
    for item in ("SeqIter(", "obj[list]", "obj[dict]", "maybe_null=True", "cache=<"):
        assert item in texts
    own = types.FunctionType(step.__code__.replace(), step.__globals__)    # caches no other test deopted
    warm(own, *OBJECTS[0][2])
    optimised = ir.fmt_function(pipeline.run(build.build(own, OBJECTS[0][1])), True)
    assert "pinned=[%" in optimised and "borrowed=" in optimised


# ---- the parser on its own ---------------------------------------------------------------
HAND = """\
func f(%0: obj[Point], %1: int) -> None frameless=True
b0 @0:
  %2: obj = const() expected=<<lambda>> maybe_null=True
  %3: int = const() pinned=[%0, %1] value=-7
  %4: float = const() value=-inf
  %5: obj = obj_const() value='a b  ; exit@3 [x=%1 | ]'
  %6: None = hand_over() exit=0  ; exit@4 [p=%0, .0=%1 | NULL, <len>, RangeArgs(%3, %1, %3), VTuple(%1, VTuple(%3))]
  exit"""


def test_the_parser_reads_what_the_text_carries():
    fn = ir_text.parse(HAND, {"Point": Point, "len": len})
    assert ir.fmt_function(fn, True) == HAND
    p, n = fn.params
    v = {x.id: x for x in fn.blocks[0].body}
    assert p.type == ObjType(Point) and fn.attrs == {"frameless": True} and fn.return_type is None
    lam = v[2].attrs.pop("expected")
    assert isinstance(lam, ir_text.Opaque) and lam.__name__ == "<lambda>"
    assert v[2].attrs == {"value": None, "maybe_null": True} and v[3].attrs["value"] == -7
    assert v[4].attrs["value"] == -math.inf and v[5].attrs["value"] == "a b  ; exit@3 [x=%1 | ]"
    assert v[3].attrs["pinned"] == [p, n] and fn.exits == [v[6]]
    assert v[6].state == FrameState(4, (("p", p), (".0", n)), (NULL, Known(len), RangeArgs(v[3], n, v[3]),
                                                               VTuple((n, VTuple((v[3],))))))
    assert ir_text.parse(HAND).params[0].type.cls.__qualname__ == "Point"     # a stand-in class


def test_named_objects_are_one_object_per_name():
    fn = ir_text.parse("func f() -> None\nb0 @0:\n"
                       "  %0: None = guard_global() dict=<dict> name='x'  ; exit@0\n"
                       "  %1: None = guard_global() dict=<dict> name='y'  ; exit@2\n"
                       "  %2: None = guard_global() dict=<other> name='y'  ; exit@4\n  ret %0")
    a, b, c = fn.blocks[0].body
    assert a.attrs["dict"] is b.attrs["dict"] and b.attrs["dict"] is not c.attrs["dict"]
    assert a.state == FrameState(0, (), ())                   # no [...]: an empty state
    with pytest.raises(AttributeError, match="namespace with an object for 'dict'"):
        a.attrs["dict"].quiet


@pytest.mark.parametrize("text, where", [
    ("func f() -> int\nb0 @0:\n  %1: int = const() value=x\n  ret %1", "line 3: expected a number"),
    ("func f() -> int\nb0 @0:\n  ret %4", "line 3: expected a defined value (%4 is not)"),
    ("func f() -> int\nb0 @0:\n  br 8", "b0 branches to @8"),
    ("func f() -> int\nb0 @0:\n  %1: int = const() value=1", "b0 has no terminator"),
    ("func f() -> int\nb0 @0:\n  %1: int = const() value=1\n  %1: int = const() value=2\n  ret %1",
     "line 4: %1 is defined twice"),
])
def test_bad_text_is_reported_where_it_is_wrong(text, where):
    with pytest.raises(ir_text.ParseError, match=re.escape(where)):
        ir_text.parse(text)
