"""Runner: `python -m tiered [--stats] SCRIPT [args]` or `-m MODULE [args]` → this process becomes `python SCRIPT [args]` with the JIT on.

The runner leaves no frame of its own: it re-executes this Python (same interpreter options)
on the program, with a start-up hook (tiered/_boot/sitecustomize.py) that enables tiered and
then puts sys.path, the environment and any sitecustomize of the user's back as they were.
Exit status, signals, tracebacks, `atexit`, frames and `warnings` are then python's own.  Where
the hook cannot run (-I, -E or -S), the program runs in this process instead (_inprocess.py).
"""
import marshal
import os
import sys

import tiered
from tiered import config

USAGE = """usage: python -m tiered [--stats[=all]] [--report FILE] (SCRIPT | -m MODULE) [args ...]

Runs SCRIPT (or MODULE) as python would, with tiered's JIT on.
  --stats      print what tiered compiled, and why not, to stderr at exit
  --stats=all  the same, with the standard library's hot functions listed too
  --report FILE  at exit, write each hot function's source with every line marked (ran
               native, exited here, not compiled and why): FILE.html is a page to open in a
               browser, any other name plain text, - prints the text to stderr
  --version    print tiered's version and exit
  -h, --help   print this help and exit
Settings: the TIERED_* environment variables (see the README)."""
BOOT_ENV = "_TIERED_BOOT"          # the runner → the start-up hook (removed before the program runs)
BOOT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_boot")


def parse(argv):
    """(action, show, kind, target, rest): action is run, help, version or error; show is what
    to tell at exit: {"stats": None, "user" or "all", "report": None or a path ('-': stderr)}."""
    show = {"stats": None, "report": None}
    while argv and argv[0].startswith(("--stats", "--report")):
        head, argv = argv[0], argv[1:]
        if head in ("--stats", "--stats=all"):
            show["stats"] = "all" if head.endswith("=all") else "user"
        elif head.startswith("--report="):
            show["report"] = head.partition("=")[2]
        elif head == "--report" and argv:
            show["report"], argv = argv[0], argv[1:]
        else:
            return "error", show, None, f"bad option {head} (--stats, --stats=all, --report FILE)", []
    if show["report"] == "":
        return "error", show, None, "--report needs a file name (or - for stderr)", []
    if not argv:
        return "error", show, None, "no script or module given", []
    head = argv[0]
    if head in ("-h", "--help"):
        return "help", show, None, None, []
    if head in ("-V", "--version"):
        return "version", show, None, None, []
    if head == "-m":
        if len(argv) < 2:
            return "error", show, None, "argument expected for the -m option", []
        return "run", show, "module", argv[1], argv[2:]
    if head.startswith("-") and head != "-":
        return "error", show, None, f"unknown option {head}", []
    return "run", show, "script", head, argv[1:]


def interpreter_options():
    """The options this python was started with, before `-m tiered` (e.g. -X dev, -W error)."""
    orig = list(getattr(sys, "orig_argv", []))
    for k in range(1, len(orig) - 1):
        if orig[k] == "-m" and orig[k + 1] == "tiered":
            return orig[1:k]
        if orig[k] == "-mtiered":
            return orig[1:k]
    return []


def can_boot():
    """Whether a start-up hook on PYTHONPATH will run (not with -I, -E or -S)."""
    f = sys.flags
    return not (f.isolated or f.ignore_environment or f.no_site) and hasattr(os, "execv")


def boot_environment(show):
    """The environment for the program's python: the hook and tiered's own directory first on
    PYTHONPATH, and what the hook must restore."""
    env = dict(os.environ)
    ours = [BOOT_DIR]
    home = os.path.dirname(os.path.dirname(os.path.abspath(tiered.__file__)))
    if home not in _site_dirs():      # a checkout, not an install: the hook must find tiered there
        ours.append(home)             # (a site directory must not be: site would then skip it)
    # marshal, as hex: the same Python reads it back, and json would cost each process ~2 ms
    # (~9 ms where nothing imported re before)
    env[BOOT_ENV] = marshal.dumps({"pythonpath": env.get("PYTHONPATH"), "paths": ours, "stats": show}).hex()
    env["PYTHONPATH"] = os.pathsep.join(ours + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def _site_dirs():
    """The directories site adds itself (their .pth files are processed there): never put on
    PYTHONPATH, or site would see them as known and skip them."""
    import site                        # start-up time: only the runner needs it
    dirs = list(site.getsitepackages()) if hasattr(site, "getsitepackages") else []
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return {os.path.abspath(d) for d in dirs}


def main():
    """Parse the runner's own options, then become the program (or run it here); an exit status."""
    action, show, kind, target, rest = parse(sys.argv[1:])
    if action == "help":
        print(USAGE)
        return 0
    if action == "version":
        print(f"tiered {tiered.__version__} (Python {sys.version.split()[0]})")
        return 0
    if action == "error":
        print(f"{target}\n{USAGE}", file=sys.stderr)
        return 2
    config.check_all(stacklevel=100)      # bad settings warn once, here, before the program runs
    if can_boot():
        args = [sys.executable, *interpreter_options()] + (["-m", target] if kind == "module" else [target])
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, args + rest, boot_environment(show))
    from . import _inprocess      # only when the hook cannot run (-I, -E, -S)
    return _inprocess.run(show, kind, target, rest)


if __name__ == "__main__":
    sys.exit(main())
