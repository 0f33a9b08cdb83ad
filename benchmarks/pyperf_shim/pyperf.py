"""A stand-in for pyperf: runs a pyperformance workload's function in timed rounds in this process and writes JSON."""
# benchmarks/pyperformance_run.py puts this directory first on PYTHONPATH, so a workload's
# `import pyperf` finds this module. Settings come as JSON in $PYPERF_SHIM: "out" (the JSON file
# written), "rounds", "loops" (a list, one per bench_* call; none means calibrate: double the
# loops until a round takes "round_s" seconds, and write them), "probe" (a Python expression
# evaluated in the workload's namespace after the rounds, with func, args, probe_file and read).
# The checksum covers repr() of the last return value of a bench_func (addresses masked), what
# the workload printed during the calls, and the probe's value.
import argparse
import atexit
import functools
import hashlib
import io
import json
import os
import re
import sys
import tempfile
import time

perf_counter = time.perf_counter
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


class _HashingWriter(io.TextIOBase):
    """A stdout that keeps only a hash and a length of what is written."""

    def __init__(self):
        """An empty hash."""
        self.hash, self.chars = hashlib.sha256(), 0

    def write(self, text):
        """Fold text into the hash."""
        self.hash.update(text.encode("utf-8", "backslashreplace"))
        self.chars += len(text)
        return len(text)


def _config():
    """The runner's settings, or defaults for a run by hand."""
    cfg = {"rounds": 10, "loops": None, "round_s": 0.1, "probe": None, "out": None}
    cfg.update(json.loads(os.environ.get("PYPERF_SHIM", "{}")))
    return cfg


def _masked_repr(value):
    """repr() without object addresses, which differ from process to process."""
    return _ADDRESS.sub(" at 0x?", repr(value))


def _tiered_totals():
    """tiered's process-wide counts, when tiered runs in this process."""
    tiered = sys.modules.get("tiered")
    return tiered.totals() if tiered is not None and hasattr(tiered, "totals") else None


# Module-level and short-named, so that tiered's --stats summary (40 columns of names) shows
# them whole, as pyperf.*, and the runner can leave the harness out of its counts.
def _calls(func, args, last, loops):
    """loops calls of func(*args): the seconds they took; last keeps the last result."""
    t0 = perf_counter()
    for _ in range(loops):
        result = func(*args)
    dt = perf_counter() - t0
    last[:] = [result]
    return dt


def _time_func(time_func, args, loops):
    """A pyperf time function: it measures itself."""
    return time_func(loops, *args)


def _awaits(func, args, last, loops):
    """loops awaits of func(*args) in a new event loop: the seconds they took."""
    import asyncio

    async def run():
        """The timed awaits."""
        t0 = perf_counter()
        for _ in range(loops):
            result = await func(*args)
        last[:] = [result]
        return perf_counter() - t0
    return asyncio.run(run())


class Runner:
    """The part of pyperf.Runner that pyperformance's workloads use."""

    def __init__(self, values=None, processes=None, loops=0, min_time=None, metadata=None,
                 show_name=True, program_args=None, add_cmdline_args=None, warmups=None, **kw):
        """pyperf's arguments are accepted and ignored: the runner's settings decide."""
        self.metadata = dict(metadata or {})
        self.argparser = argparse.ArgumentParser(description="pyperformance workload (pyperf stand-in)")
        self.args = None
        self.cfg = _config()
        self.results = []
        self.checksum = hashlib.sha256()
        self.observed = set()
        atexit.register(self._write)

    def parse_args(self, args=None):
        """Parse the workload's own options (pyperf's are not offered)."""
        self.args = self.argparser.parse_args(args)
        return self.args

    def bench_func(self, name, func, *args, inner_loops=None, metadata=None):
        """Time loops of func(*args) per round."""
        last = []
        return self._bench(name, functools.partial(_calls, func, args, last), func, args, inner_loops, last)

    def bench_time_func(self, name, time_func, *args, inner_loops=None, metadata=None):
        """Rounds of time_func(loops, *args), which returns the seconds it measured."""
        return self._bench(name, functools.partial(_time_func, time_func, args), time_func, args,
                           inner_loops, None)

    def bench_async_func(self, name, func, *args, inner_loops=None, metadata=None, loop_factory=None):
        """Time loops of `await func(*args)` per round, in one event loop per round."""
        last = []
        return self._bench(name, functools.partial(_awaits, func, args, last), func, args, inner_loops, last)

    def bench_command(self, name, command):
        """Not offered: the runner measures whole processes itself."""
        raise NotImplementedError("the pyperf stand-in does not run bench_command")

    def _bench(self, name, time_func, func, args, inner_loops, last):
        """Calibrate, or run the rounds and the probe; record times and the checksum."""
        index = len(self.results)
        if self.cfg["loops"] is None:
            self.results.append(self._calibrate(name, time_func))
            self._write()
            return None
        loops = self.cfg["loops"][min(index, len(self.cfg["loops"]) - 1)]
        out, saved = _HashingWriter(), sys.stdout
        sys.stdout = out
        try:
            times = [time_func(loops) / loops for _ in range(self.cfg["rounds"])]
            if last:
                self.checksum.update(_masked_repr(last[0]).encode())
                self.observed.add("return" if last[0] is not None else "None")
            if self.cfg["probe"]:
                self.checksum.update(self._probe(func, args).encode())
                self.observed.add("probe")
        finally:
            sys.stdout = saved
        if out.chars:
            self.checksum.update(out.hash.digest())
            self.observed.add("stdout")
        self.results.append({"name": name, "loops": loops, "inner_loops": inner_loops or 1,
                             "times": times})
        self._write()
        return None

    def _calibrate(self, name, time_func):
        """Double the loops until one round takes round_s seconds (or more)."""
        loops = 1
        while True:
            dt = time_func(loops)
            if dt >= self.cfg["round_s"] or loops >= 2 ** 30:
                return {"name": name, "loops": loops, "round_s": dt}
            loops *= 2

    def _probe(self, func, args):
        """Evaluate the probe expression in the workload's namespace; repr() of its value."""
        with tempfile.TemporaryDirectory() as tmp:
            namespace = dict(vars(sys.modules["__main__"]))
            namespace.update(func=func, args=args, probe_file=os.path.join(tmp, "probe.out"),
                             read=lambda path: open(path, "rb").read())
            return _masked_repr(eval(self.cfg["probe"], namespace))

    def _write(self):
        """Write what was measured to the file named in the settings."""
        if not self.cfg.get("out"):
            return
        data = {"benches": self.results, "checksum": self.checksum.hexdigest(),
                "observed": sorted(self.observed), "metadata": self.metadata,
                "tiered_totals": _tiered_totals()}
        with open(self.cfg["out"], "w") as f:
            json.dump(data, f, default=repr)


def python_implementation():
    """The implementation's name in lower case, as pyperf gives it."""
    return sys.implementation.name.lower()
