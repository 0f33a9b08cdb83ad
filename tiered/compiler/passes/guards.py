"""Pass: IR → IR where a global guard repeated in a block is dropped while nothing could have rebound it
(and tracer checks are dropped from functions that never run Python code).

Only Python code can rebind a name.  Between two guards in one block, native code runs
no Python code unless an op may run some (the op table's `python` flag: loop polls run
signal handlers and let other threads run, releasing an object may run its destructor, an
attribute load a descriptor).  A direct call to a "quiet" function (none of those ops,
calling only quiet functions) keeps earlier guards valid; any other such op forgets them.
"""


def is_quiet(fn):
    """True when fn's native code never runs Python code (no loop polls, only quiet callees)."""
    for b in fn.blocks:
        for v in b.body:
            if v.op == "call_native":
                if not v.attrs["self"] and not v.attrs["target"].quiet:
                    return False
            elif v.spec.python:
                return False
    return True


def run(fn):
    """Keep the first guard of each (dict, name) per block until something may rebind it."""
    quiet = is_quiet(fn)
    fn.attrs["quiet"] = quiet
    if not any(v.spec.python and v.op != "loop_poll" for b in fn.blocks for v in b.body):
        for b in fn.blocks:     # no tracer can be set from here (signal handlers aside)
            b.body = [v for v in b.body if v.op != "trace_check"]
    for b in fn.blocks:
        seen, body = set(), []
        for v in b.body:
            if v.op == "call_native":
                callee_quiet = quiet if v.attrs["self"] else v.attrs["target"].quiet
                if not callee_quiet:
                    seen.clear()
            elif v.spec.python:
                seen.clear()
            if v.op == "guard_global":
                key = (id(v.attrs["dict"]), v.attrs["name"])
                if key in seen:
                    continue
                seen.add(key)
            body.append(v)
        b.body = body
    return fn
