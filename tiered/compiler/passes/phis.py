"""Pass: IR → IR without trivial phis (all inputs the same value, or the phi itself)."""
from ..ir import Value


def run(fn):
    """Replace every trivial phi by its single input, until none is left."""
    changed = True
    while changed:
        changed = False
        replace = {}
        for b in fn.blocks:
            for p in list(b.phis):
                others = {a.id: a for a in p.args if a is not p}
                if len(others) == 1:
                    replace[p.id] = next(iter(others.values()))
                    b.phis.remove(p)
                    changed = True
        if replace:
            _substitute(fn, replace)
    return fn


def _resolve(v, replace):
    """Follow the replacements from v until a value that is kept."""
    while isinstance(v, Value) and v.id in replace:
        v = replace[v.id]
    return v


def _substitute(fn, replace):
    """Rewrite every use (operands, frame states, terminators) through `replace`."""
    for b in fn.blocks:
        for v in b.phis + b.body:
            v.args = [_resolve(a, replace) for a in v.args]
            if v.state is not None:
                v.state = v.state.map(lambda x: _resolve(x, replace))
        if b.term[0] == "cbr" or b.term[0] == "ret":
            b.term = (b.term[0], _resolve(b.term[1], replace)) + tuple(b.term[2:])
