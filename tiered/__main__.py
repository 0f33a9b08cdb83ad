"""Runner: `python -m tiered [--stats] SCRIPT [args]` or `-m MODULE [args]` → the program, run as python would, JIT on."""
import builtins
import importlib.machinery
import os
import runpy
import signal
import sys
import traceback
import types

import tiered

USAGE = "usage: python -m tiered [--stats] (SCRIPT | -m MODULE) [args ...]"


def _parse(argv):
    """(show_stats, kind, target, rest) from the runner's own arguments."""
    show = False
    while argv and argv[0] == "--stats":
        show, argv = True, argv[1:]
    if not argv or argv[0] in ("-h", "--help"):
        return show, None, None, []
    if argv[0] == "-m":
        if len(argv) < 2:
            return show, None, None, []
        return show, "module", argv[1], argv[2:]
    return show, "script", argv[0], argv[1:]


def _user_traceback(tb, kind):
    """Drop the frames python itself would not show: the runner's (and runpy's, for scripts)."""
    skip = {os.path.abspath(__file__)}
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


def main():
    """Run the target script or module under tiered (stats on request); return the exit status."""
    show, kind, target, rest = _parse(sys.argv[1:])
    if kind is None:
        print(USAGE, file=sys.stderr)
        return 2
    if show:
        import atexit
        atexit.register(lambda: print(tiered.report.summary(tiered.stats()), file=sys.stderr))
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
    except KeyboardInterrupt as exc:
        exc.__traceback__ = _user_traceback(exc.__traceback__, kind)
        traceback.print_exception(exc)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGINT)
        return 130
    except BaseException as exc:                # print as python does, without our frames
        exc.__traceback__ = _user_traceback(exc.__traceback__, kind)
        sys.excepthook(type(exc), exc, exc.__traceback__)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
