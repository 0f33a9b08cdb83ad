"""--stats and --report: every hot function in plain words with its line; the counters and the words never disagree; stdlib grouped, tiered's own never shown; the HTML page and the text parsed back."""
import importlib.util
import os
import sys
from html.parser import HTMLParser

import tiered
from tiered import explain, report, report_html
from tiered.reasons import Exit, Refusal
from tiered.runtime import manager

SOURCE = '''
def mixed(n):
    total = 0
    for i in range(n):
        total += 0.5
    return total


def grows(n):
    x = 1
    for i in range(n):
        x = x * 3
    return x


def splits(line):
    a, b = line
    return a
'''


def _stat(state="compiled", signatures=(("int",),), refusal=None, detail=None, **more):
    s = {"calls": 5, "native_calls": 3, "traced_calls": 0, "state": state, "signatures": list(signatures),
         "compile_ms": [12.5], "exits": {}, "refusal": refusal, "refusal_detail": detail}
    s.update(more)
    return s


def _module(tmp_path, name="userprog"):
    """The functions of SOURCE, from a file of their own (user code with a source)."""
    path = tmp_path / f"{name}.py"
    path.write_text(SOURCE)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _line(func, text):
    """The number of the source line of func that contains text."""
    first = func.__code__.co_firstlineno
    lines = SOURCE.splitlines()
    start = next(k for k, ln in enumerate(lines) if ln.startswith(f"def {func.__name__}("))
    return first + next(k for k, ln in enumerate(lines[start:]) if text in ln)


def test_nothing_at_all():
    assert report.summary({}, {"unrecorded": {}}) == "tiered: no function was compiled or refused"
    assert report.summary({}) == "tiered: no function was compiled or refused"


def test_refusals_without_a_record_are_listed_not_hidden():
    text = report.summary({}, {"unrecorded": {"Stats.add": "UNSUPPORTED_TYPE: (Stats, int)"},
                               "unrecorded_at": {"Stats.add": "/home/u/app.py:12"}})
    assert "no function" not in text and "1 not compiled" in text
    assert "not compiled  Stats.add  (/home/u/app.py:12)" in text
    assert "called with arguments (Stats, int)" in text and "UNSUPPORTED_TYPE" not in text


def test_long_names_and_signatures_are_not_cut():
    name = "package.module.SomeRatherLongClassName.some_rather_long_method_name"
    sig = ("obj[SomeRatherLongClassName]", "obj[AnotherLongClass]", "int")
    text = report.summary({name: _stat(signatures=(sig,))}, {"unrecorded": {}})
    assert f"compiled  {name}(" + ", ".join(sig) + ")" in text


def test_a_function_optimised_once_hot_shows_both_compile_times():
    text = report.summary({"app.f": _stat(optimise_ms=[40.25])}, {"unrecorded": {}})
    assert "compiled in 12.5 ms, optimised in 40.2 ms once hot" in text or \
        "compiled in 12.5 ms, optimised in 40.3 ms once hot" in text
    assert "optimised" not in report.summary({"app.f": _stat()}, {"unrecorded": {}})


def test_every_refusal_has_words_and_no_internal_names():
    for r in Refusal:
        assert r.user and r.user != r.name
        words = explain.refusal_words(r.name, "", 7)
        assert words.startswith("line 7: ") and r.name not in words


def test_a_variable_that_changes_type_is_named_with_its_line(tmp_path):
    mod = _module(tmp_path)
    assert manager.compile_for(mod.mixed, (int,)) is None
    s = tiered.stats()["userprog.mixed"]
    assert s["refusal"] == "UNSTABLE_TYPE" and s["refusal_variable"] == "total"
    assert s["refusal_line"] == _line(mod.mixed, "total += 0.5")
    text = report.summary({"userprog.mixed": s})
    assert f"line {s['refusal_line']}: 'total' holds an int" in text and "a float" in text
    assert "total += 0.5" in text and "what to do: give the variable one type" in text


def test_unpacking_names_its_line(tmp_path, object_tier):
    mod = _module(tmp_path)
    for _ in range(10):
        mod.splits("ab")
    assert manager.compile_for(mod.splits, (str,)) is None
    s = tiered.stats()["userprog.splits"]
    assert s["refusal_line"] == _line(mod.splits, "a, b = line")
    text = report.summary({"userprog.splits": s})
    assert "it unpacks something other than a list or tuple into 2 variables" in text
    assert "TIERED_OBJECTS" not in text


def test_exits_are_counted_per_line(tmp_path, exit_mode):
    mod = _module(tmp_path)
    assert manager.compile_for(mod.grows, (int,)) is not None
    assert mod.grows(60) == 3 ** 60
    s = tiered.stats()["userprog.grows"]
    assert sum(s["exits"].values()) >= 1 and sum(s["exits"].values()) == sum(
        n for per in s["exits_at"].values() for n in per.values())
    text = report.summary({"userprog.grows": s})
    for line in s["exits_at"]:
        assert f"at line {line}: " in text
    if exit_mode == "guards":     # forced exits may leave earlier, elsewhere
        assert s["exits_at"][_line(mod.grows, "x = x * 3")] == {"INT_OVERFLOW": 1}


def test_standard_library_is_grouped_and_tiered_never_shown():
    stdlib = _stat(file=os.__file__, first_line=1)
    own = _stat(file=tiered.__file__, first_line=1)
    user = _stat(file="/home/u/app.py", first_line=3)
    data = {"os.walk": stdlib, "tiered.helper": own, "__main__.work": user}
    text = report.summary(data)
    assert "__main__.work" in text and "os.walk" not in text and "tiered.helper" not in text
    assert "standard library: 1 hot function" in text and "--stats=all" in text
    everything = report.summary(data, show_all=True)
    assert "os.walk" in everything and "tiered.helper" not in everything


def test_counts_say_what_they_count():
    text = report.summary({"__main__.work": _stat(file="/home/u/app.py", first_line=3)})
    assert ("samples" in text) == (sys.version_info < (3, 12))


class _Rows(HTMLParser):
    """The source rows of a report page: (class, line, mark, source, note), and any script or link."""

    def __init__(self):
        super().__init__()
        self.rows, self.cell, self.bad, self.sections = [], None, [], 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("script", "link", "img", "iframe") or any("http" in (v or "") for v in attrs.values()):
            self.bad.append(tag)
        if tag == "section":
            self.sections += 1
        if tag == "tr":
            self.rows.append([attrs.get("class")])
        if tag == "td":
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "td":
            self.rows[-1].append(self.cell)
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def _report_data(tmp_path):
    """Stats of a refused, an exiting and a compiled function of a user file."""
    mod = _module(tmp_path)
    manager.compile_for(mod.mixed, (int,))
    manager.compile_for(mod.grows, (int,))
    mod.grows(60)
    data = {k: v for k, v in tiered.stats().items() if v["file"] == str(tmp_path / "userprog.py")}
    return mod, data


def test_html_report_marks_every_line(tmp_path):
    mod, data = _report_data(tmp_path)
    page = report_html.page(data, {"refusals": tiered.totals()["refusals"]})
    parser = _Rows()
    parser.feed(page)
    assert not parser.bad and parser.sections == 2
    rows = {(r[1], r[4]): r for r in parser.rows}
    stop = _line(mod.mixed, "total += 0.5")
    refused = [r for r in parser.rows if r[0] == "stopped"]
    assert refused and refused[0][1] == str(stop) and "'total' holds an int" in refused[0][4]
    grows = next(v for k, v in data.items() if k.split("#")[0].endswith(".grows"))
    exit_lines = {str(line) for line in grows["exits_at"]}
    exited = [r for r in parser.rows if r[0] == "exit"]
    assert exited and {r[1] for r in exited} == exit_lines and all("exited" in r[4] for r in exited)
    assert any(r[0] == "native" for r in parser.rows) and rows


def test_text_report_marks_every_line(tmp_path):
    mod, data = _report_data(tmp_path)
    out = report_html.text(data, {"refusals": tiered.totals()["refusals"]})
    marked = {}
    for ln in out.splitlines():
        head, bar, _ = ln.partition(" | ")
        if bar and head.strip()[:-1].strip().isdigit():
            marked[int(head.split()[0])] = head.split()[1] if len(head.split()) > 1 else " "
    assert marked[_line(mod.mixed, "total += 0.5")] == "X"
    grows = next(v for k, v in data.items() if k.split("#")[0].endswith(".grows"))
    assert all(marked[line] == "E" for line in grows["exits_at"]) and grows["exits_at"]
    assert marked[_line(mod.grows, "return x")] == "N"
    assert "== userprog.mixed" in out and "== userprog.grows" in out
    assert not [r.name for r in (*Refusal, *Exit) if r.name in out]      # words, not our names
    assert out.index("== userprog.grows") < out.index("== userprog.mixed")     # more counted first


def test_the_counts_of_a_jit_that_is_off_have_every_key_of_the_real_ones():
    # totals() off the main interpreter (or on an unsupported Python) reads NO_COUNTS: a key
    # the real counts gained and it lacked made totals() raise KeyError in a subinterpreter
    from tiered import report
    from tiered.runtime import records
    assert set(report.NO_COUNTS) == set(records.TOTALS)


def test_a_for_loop_refusal_reads_as_a_sentence_and_a_function_without_refusal_shows_no_none():
    s = _stat("refused", refusal="UNSUPPORTED_TYPE", detail="a for loop over something other than range()",
              refusal_line=7)
    text = report.summary({"userprog.loops": s})
    assert "line 7: it has a for loop over something other than range()" in text
    assert "what to do: " in text and "by default only" not in text
    quiet = _stat("interpreted", callers_interpret=True, native_calls=0)
    text = report.summary({"userprog.called": quiet})
    assert "None" not in text and "its compiled callers call it through the interpreter" in text
