"""`python -m tiered` behaves like `python` for scripts and modules: argv, __main__, exit codes, tracebacks."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parent.parent)
SCRIPT = '''
import sys

def work(n):
    s = 0
    for i in range(n):
        s += i * i % 7
    return s

def boom(x):
    return 10 // x

if __name__ == "__main__":
    print(sys.argv, __name__, __file__.endswith("prog.py"))
    for _ in range(400):      # long enough for 3.11's sampling profiler too
        work(2000)
    print(work(1000))
    mode = sys.argv[1] if len(sys.argv) > 1 else ""
    if mode == "raise":
        boom(0)
    if mode == "exit":
        sys.exit(3)
    if mode == "exit-text":
        sys.exit("stopped")
'''


def run(args, cwd):
    env = dict(os.environ, PYTHONPATH=ROOT, TIERED_THRESHOLD="5")
    p = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


@pytest.mark.parametrize("mode", ["", "raise", "exit", "exit-text", "many args here"])
def test_script_like_python(tmp_path, mode):
    (tmp_path / "prog.py").write_text(SCRIPT)
    args = ["prog.py"] + mode.split()
    assert run(["-m", "tiered"] + args, tmp_path) == run(args, tmp_path)


@pytest.mark.parametrize("mode", ["", "raise", "exit"])
def test_module_like_python(tmp_path, mode):
    (tmp_path / "prog.py").write_text(SCRIPT)
    args = ["-m", "prog"] + mode.split()
    assert run(["-m", "tiered"] + args, tmp_path) == run(args, tmp_path)


def test_stats_flag_reports_compiled_function(tmp_path):
    (tmp_path / "prog.py").write_text(SCRIPT)
    rc, out, err = run(["-m", "tiered", "--stats", "prog.py"], tmp_path)
    assert rc == 0
    line = next(ln for ln in err.splitlines() if "__main__.work" in ln)
    assert "compiled" in line and "(int)" in line


def test_usage_without_arguments(tmp_path):
    rc, out, err = run(["-m", "tiered"], tmp_path)
    assert rc == 2 and "usage" in err


def test_help_and_version_exit_zero(tmp_path):
    rc, out, err = run(["-m", "tiered", "--help"], tmp_path)
    assert rc == 0 and out.startswith("usage: python -m tiered") and err == ""
    rc, out, err = run(["-m", "tiered", "--version"], tmp_path)
    assert rc == 0 and out.startswith("tiered 0.") and err == ""


def test_unknown_option_is_a_usage_error_before_anything_runs(tmp_path):
    (tmp_path / "prog.py").write_text("print('ran')\n")
    rc, out, err = run(["-m", "tiered", "--bogus", "prog.py"], tmp_path)
    assert rc == 2 and out == "" and "unknown option --bogus" in err and "usage" in err


FRAMES_SCRIPT = '''
import inspect, sys, warnings
print(sys._getframe().f_back is None, len(inspect.stack()), sys.argv, __name__)
warnings.warn("where", stacklevel=2)
def f():
    return inspect.stack()[-1].function, sys._getframe(1).f_back is None
print(f())
print([p for p in sys.path if "tiered" in p], sorted(k for k in __import__("os").environ if "TIERED" in k))
if "tiered" in sys.modules:
    print("jit on:", sys.modules["tiered"]._promoter is not None, file=sys.stderr)
'''


@pytest.mark.parametrize("how", [["prog.py", "x"], ["-m", "prog", "x"]])
def test_the_runner_leaves_no_frame_the_program_can_see(tmp_path, how):
    (tmp_path / "prog.py").write_text(FRAMES_SCRIPT)
    rc, out, err = run(["-m", "tiered"] + how, tmp_path)
    rc0, out0, err0 = run(how, tmp_path)
    assert (rc, out) == (rc0, out0)
    assert out.startswith("True 1 " if how[0] == "prog.py" else "False 3 ")   # python -m: runpy's 2
    assert err.splitlines()[0] == err0.splitlines()[0]          # where the warning is attributed
    assert "UserWarning: where" in err0 and (how[0] != "prog.py" or err0.startswith("sys:1: "))
    assert "jit on: True" in err and "jit on" not in err0       # tiered really ran


def test_interpreter_options_reach_the_program(tmp_path):
    (tmp_path / "prog.py").write_text("import sys; print(sys.flags.dev_mode, sys.flags.optimize)\n")
    assert run(["-X", "dev", "-O", "-m", "tiered", "prog.py"], tmp_path)[1] == "True 1\n"


def test_isolated_mode_still_runs_the_program(tmp_path):
    (tmp_path / "prog.py").write_text(SCRIPT)
    rc, out, err = run(["-I", "-m", "tiered", "prog.py", "exit"], tmp_path)
    assert rc == 3 and out.endswith("\n") and "False" not in out.splitlines()[0]


CTRL_C_SCRIPT = '''
import atexit, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)      # as a terminal gives it
atexit.register(lambda: print("atexit ran", flush=True))
def spin(n):
    s = 0
    for i in range(n):
        s += i % 7
    return s
try:
    for _ in range(50):
        spin(1000)
    print("ready", flush=True)
    spin(10 ** 12)
finally:
    print("finally ran", flush=True)
'''


def test_ctrl_c_runs_finally_and_atexit_like_python(tmp_path):
    import signal
    import time
    (tmp_path / "prog.py").write_text(CTRL_C_SCRIPT)
    results = []
    for args in (["-m", "tiered", "prog.py"], ["prog.py"]):
        env = dict(os.environ, PYTHONPATH=ROOT, TIERED_THRESHOLD="5")
        p = subprocess.Popen([sys.executable, *args], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        assert p.stdout.readline() == "ready\n"
        time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=60)
        results.append((p.returncode, out, err.splitlines()[-1]))
    assert results[0] == results[1]
    assert results[0][0] == -signal.SIGINT and results[0][1] == "finally ran\natexit ran\n"
    assert results[0][2] == "KeyboardInterrupt"


OBJECTS_SCRIPT = '''
class Box:
    def __init__(self):
        self.n = 0

def fill(boxes):
    for b in boxes:
        b.n += 1
    return len(boxes)

if __name__ == "__main__":
    boxes = [Box() for _ in range(200)]
    for _ in range(10000):     # long enough for 3.11's sampling profiler too
        fill(boxes)
    print(boxes[0].n)
'''


def test_stats_flag_reports_object_signatures(tmp_path):
    (tmp_path / "prog.py").write_text(OBJECTS_SCRIPT)
    env = dict(os.environ, PYTHONPATH=ROOT, TIERED_THRESHOLD="5", TIERED_OBJECTS="1")
    p = subprocess.run([sys.executable, "-m", "tiered", "--stats", "prog.py"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout == "10000\n" and "Traceback" not in p.stderr, p.stderr
    line = next(ln for ln in p.stderr.splitlines() if "__main__.fill" in ln)
    assert "compiled" in line and "(obj[list])" in line


def test_a_bad_setting_warns_once_before_the_program_runs(tmp_path):
    (tmp_path / "prog.py").write_text("print('ran')\n")
    env = dict(os.environ, PYTHONPATH=ROOT, TIERED_OPT_LEVEL="9")
    p = subprocess.run([sys.executable, "-m", "tiered", "prog.py"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout == "ran\n"
    warned = [ln for ln in p.stderr.splitlines() if "TIERED_OPT_LEVEL" in ln]
    assert warned == ["sys:1: RuntimeWarning: tiered: ignoring TIERED_OPT_LEVEL='9' (must be between 0 "
                      "and 3); using the default 2"], p.stderr


def test_an_installed_tiered_never_puts_its_site_directory_on_pythonpath(monkeypatch):
    # site skips a directory already on sys.path (its .pth files too): PYTHONPATH must carry
    # only the hook's own directory when tiered is installed in a site directory
    import marshal
    from tiered import __main__ as runner
    home = os.path.dirname(os.path.dirname(os.path.abspath(runner.tiered.__file__)))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    monkeypatch.setattr(runner, "_site_dirs", lambda: {home})
    env = runner.boot_environment(False)
    assert env["PYTHONPATH"] == runner.BOOT_DIR
    assert marshal.loads(bytes.fromhex(env[runner.BOOT_ENV]))["paths"] == [runner.BOOT_DIR]
    monkeypatch.setattr(runner, "_site_dirs", lambda: set())       # a checkout: tiered's home too
    assert runner.boot_environment(False)["PYTHONPATH"] == os.pathsep.join([runner.BOOT_DIR, home])


STDLIB_SCRIPT = '''
import colorsys

def work(n):
    s = 0
    for i in range(n):
        s += i * i % 7
    return s

for _ in range(300):
    work(2000)
for k in range(200000):
    colorsys.rgb_to_hls(0.2, 0.4, k * 1e-6)
print(work(10))
'''


def test_stats_all_lists_the_standard_library_and_stats_groups_it(tmp_path):
    (tmp_path / "prog.py").write_text(STDLIB_SCRIPT)
    env = dict(os.environ, PYTHONPATH=ROOT, TIERED_THRESHOLD="5", TIERED_OBJECTS="1")
    runs = {flag: subprocess.run([sys.executable, "-m", "tiered", flag, "prog.py"], cwd=tmp_path, env=env,
                                 capture_output=True, text=True, timeout=120) for flag in ("--stats", "--stats=all")}
    for p in runs.values():
        assert p.returncode == 0 and p.stdout == "19\n" and "Traceback" not in p.stderr, p.stderr
        assert "__main__.work" in p.stderr and "tiered." not in p.stderr.replace("tiered: ", "")
    assert "colorsys." not in runs["--stats"].stderr and "standard library:" in runs["--stats"].stderr
    assert "colorsys." in runs["--stats=all"].stderr and "standard library:" not in runs["--stats=all"].stderr


@pytest.mark.parametrize("target", ["report.html", "report.txt", "-"])
def test_report_option_writes_the_report_and_changes_nothing_else(tmp_path, target):
    (tmp_path / "prog.py").write_text(SCRIPT)
    rc, out, err = run(["-m", "tiered", "--report", target, "prog.py", "x"], tmp_path)
    assert (rc, out) == run(["prog.py", "x"], tmp_path)[:2]
    body = err if target == "-" else (tmp_path / target).read_text()
    assert "__main__.work" in body and "Traceback" not in err
    if target.endswith(".html"):
        assert body.startswith("<!DOCTYPE html>") and "<script" not in body and "http" not in body
        assert err == ""
    else:
        assert "tiered report" in body and "| def work(n):" in body


def test_report_option_needs_a_file_name(tmp_path):
    (tmp_path / "prog.py").write_text(SCRIPT)
    rc, out, err = run(["-m", "tiered", "--report"], tmp_path)
    assert rc == 2 and out == "" and "usage:" in err


def test_stats_names_a_function_refused_by_its_argument_types_with_its_module_and_line(tmp_path):
    (tmp_path / "prog.py").write_text("def shout(s):\n    return s.upper()\n\n"
                                      "for _ in range(400000):\n    shout('a')\nprint('done')\n")
    env = dict(os.environ, PYTHONPATH=ROOT, TIERED_THRESHOLD="5", TIERED_OBJECTS="0")
    p = subprocess.run([sys.executable, "-m", "tiered", "--stats", "prog.py"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout == "done\n", p.stderr
    assert "not compiled  __main__.shout  (prog.py:1)" in p.stderr
    assert "called with arguments (str)" in p.stderr and "TIERED_OBJECTS=1" in p.stderr
