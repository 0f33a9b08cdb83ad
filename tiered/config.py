"""Settings: the TIERED_* environment table → parsed values (bad values warn and fall back)."""
import os
import warnings
# bound at import: exits and misses run inside the program, which may rebind builtins
from builtins import RuntimeWarning, TypeError, ValueError, int, sorted  # noqa: A004


def _int_in(lo, hi):
    """Parser for an integer within [lo, hi]."""
    def parse(text):
        """Parse an integer and check that it lies within [lo, hi]."""
        value = int(text.strip())
        if not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return value
    return parse


def _bool(text):
    """Parser for 0/1/true/false/yes/no/on/off."""
    t = text.strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be 0 or 1")


def _choice(*names):
    """Parser for one of a fixed set of words."""
    def parse(text):
        """Parse one of the allowed words, case-insensitively."""
        t = text.strip().lower()
        if t not in names:
            raise ValueError("must be one of " + ", ".join(names))
        return t
    return parse


def _cache_dir(text):
    """Parser for a directory, or off (0, off, no, false, or nothing): keep nothing."""
    t = text.strip()
    if t.lower() in ("", "0", "off", "no", "false"):
        return None
    if "\0" in t:
        raise ValueError("must be a directory or off")
    return os.path.expanduser(t)


def _default_cache():
    """$XDG_CACHE_HOME/tiered, else ~/.cache/tiered."""
    return os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
                        "tiered")


class Setting:
    """One TIERED_* setting: its name, parser (text → value), default value and documentation
    (a plain class: dataclasses and typing cost `import tiered` ~10 ms, paid by every run)."""
    __slots__ = ("name", "parse", "default", "doc")

    def __init__(self, name, parse, default, doc):
        self.name, self.parse, self.default, self.doc = name, parse, default, doc


# THE settings table: adding a knob is one line here.
SETTINGS = {s.name: s for s in [
    Setting("TIERED_THRESHOLD", _int_in(1, 10**9), 1000,
            "calls or loop iterations of a function before it is compiled (3.11: THRESHOLD // 250 "
            "CPU samples, see README)"),
    Setting("TIERED_DISABLE", _bool, False, "1 turns enable() into a no-op"),
    Setting("TIERED_MAX_SPECIALIZATIONS", _int_in(1, 64), 4,
            "type signatures compiled per function before it stays in CPython"),
    Setting("TIERED_OPT_LEVEL", _int_in(0, 3), 2, "LLVM optimisation level 0-3"),
    Setting("TIERED_OPT_PROCESS_AFTER", _int_in(0, 10**9), 2000,
            "compiles optimised in this process before LLVM's optimiser moves to a helper "
            "process (llvmlite leaks ~1.5 KB per optimisation run in the process that runs it)"),
    Setting("TIERED_LOG", _choice("off", "info", "debug"), "off",
            "log level of the 'tiered' logger (off/info/debug)"),
    Setting("TIERED_SAMPLE_HZ", _int_in(10, 10000), 200,
            "3.11 only: profiler samples per CPU-second"),
    Setting("TIERED_OBJECTS", _bool, False,
            "1 also compiles code on objects (the object tier, experimental)"),
    Setting("TIERED_QUICK_FIRST", _bool, True,
            "1 compiles code on objects quickly first (LLVM's quick pipeline) and optimises it fully "
            "once it stays hot; 0 optimises fully at once"),
    Setting("TIERED_CACHE", _cache_dir, _default_cache(),
            "directory where the machine code of tiered's shared helpers is kept between runs "
            "(about 0.1 s of each run's first compile); off keeps nothing"),
    Setting("TIERED_PERF_MAP", _bool, False,
            "1 writes /tmp/perf-PID.map, naming the machine code of every compiled function for "
            "Linux perf (perf report, perf top)"),
    Setting("TIERED_FORCE_EXITS", _bool, False,
            "testing: every guard fails, so every exit path runs"),
]}


def get(name, environ=None):
    """Current value of one setting; a malformed value warns once and yields the default."""
    setting = SETTINGS[name]
    raw = (os.environ if environ is None else environ).get(name)
    if raw is None:
        return setting.default
    try:
        return setting.parse(raw)
    except (ValueError, TypeError) as exc:
        key = (name, raw)
        if key not in _warned:
            _warned.add(key)
            warnings.warn(f"tiered: ignoring {name}={raw!r} ({exc}); using the default "
                          f"{setting.default!r}", RuntimeWarning, stacklevel=3)
        return setting.default


_warned = set()


def check_all(stacklevel=1, environ=None):
    """Parse every TIERED_* setting now (enable(), the runner): each malformed value warns once,
    naming the variable and the default used, and so does a TIERED_* name no setting has; the
    warning points `stacklevel` frames up from check_all's caller (1: that caller)."""
    env = os.environ if environ is None else environ
    for name, setting in SETTINGS.items():
        raw = env.get(name)
        if raw is None or (name, raw) in _warned:
            continue
        try:
            setting.parse(raw)
        except (ValueError, TypeError) as exc:
            _warned.add((name, raw))
            warnings.warn(f"tiered: ignoring {name}={raw!r} ({exc}); using the default "
                          f"{setting.default!r}", RuntimeWarning, stacklevel=stacklevel + 1)
    for name in sorted(env):
        if name.startswith("TIERED_") and name not in SETTINGS and (name, None) not in _warned:
            _warned.add((name, None))
            warnings.warn(f"tiered: {name} is not a tiered setting (known: {', '.join(SETTINGS)}); "
                          f"it is ignored", RuntimeWarning, stacklevel=stacklevel + 1)
