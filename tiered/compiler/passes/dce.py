"""Pass: IR → IR without pure values that nothing uses (operands, frame states, terminators)."""


def run(fn):
    """Remove unused pure values until a fixed point."""
    while True:
        used = set()
        for b in fn.blocks:
            for v in b.phis + b.body:
                used.update(a.id for a in v.args)
                if v.state is not None:
                    used.update(x.id for x in v.state.values())
            if b.term[0] in ("cbr", "ret"):
                used.add(b.term[1].id)
        removed = False
        for b in fn.blocks:
            keep_phis = [p for p in b.phis if p.id in used]
            keep_body = [v for v in b.body if v.id in used or not v.spec.pure or v.spec.exit is not None]
            removed |= len(keep_phis) != len(b.phis) or len(keep_body) != len(b.body)
            b.phis, b.body = keep_phis, keep_body
        if not removed:
            return fn
