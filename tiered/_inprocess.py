"""Runner fallback: the program run inside the runner's process (when python's start-up hook cannot run: -I, -E, -S) → its exit status, as python would give it."""
import atexit
import builtins
import importlib.machinery
import os
import runpy
import signal
import sys
import traceback
import types

import tiered


def _user_traceback(tb, kind):
    """Drop the frames python itself would not show: the runner's (and runpy's, for scripts)."""
    skip = {os.path.abspath(__file__), os.path.abspath(os.path.join(os.path.dirname(__file__), "__main__.py"))}
    if kind == "script":
        skip |= {os.path.abspath(runpy.__file__), "<frozen runpy>"}
    while tb is not None and (tb.tb_frame.f_code.co_filename in skip
                              or os.path.abspath(tb.tb_frame.f_code.co_filename) in skip):
        tb = tb.tb_next
    return tb


def _run_script(target):
    """Run a file as python runs `python FILE`: absolute __file__, argv[0] as given."""
    path = os.path.abspath(target)
    sys.path[0] = os.path.dirname(path)
    with open(path, "rb") as f:
        code = compile(f.read(), path, "exec", dont_inherit=True)
    module = types.ModuleType("__main__")
    module.__dict__.update(__file__=path, __cached__=None, __builtins__=builtins,
                           __loader__=importlib.machinery.SourceFileLoader("__main__", path))
    sys.modules["__main__"] = module
    exec(code, module.__dict__)


def run(show, kind, target, rest):
    """Run the target script or module here with tiered on; the exit status."""
    if show["stats"] or show["report"]:
        from tiered import report_html     # start-up time: only when --stats or --report asked
        atexit.register(report_html.at_exit, show)
    tiered.enable()
    try:
        if kind == "module":       # what `python -m` itself calls; it sets argv[0] to the file
            sys.argv = ["-m"] + rest
            sys.modules["__main__"] = types.ModuleType("__main__")   # it runs in __main__'s dict
            runpy._run_module_as_main(target, alter_argv=True)
        else:
            sys.argv = [target] + rest
            _run_script(target)
    except SystemExit:
        raise
    except KeyboardInterrupt as exc:            # python: traceback, atexit, then die of SIGINT
        exc.__traceback__ = _user_traceback(exc.__traceback__, kind)
        traceback.print_exception(exc)
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        return 130
    except BaseException as exc:                # print as python does, without our frames
        exc.__traceback__ = _user_traceback(exc.__traceback__, kind)
        sys.excepthook(type(exc), exc, exc.__traceback__)
        return 1
    return 0
