"""Pass: IR → IR where a global guard repeated in a block with no call in between is dropped."""


def run(fn):
    """Keep the first guard of each (dict, name) per block until a native call may rebind it."""
    for b in fn.blocks:
        seen, body = set(), []
        for v in b.body:
            if v.op == "call_native":
                seen.clear()
            if v.op == "guard_global":
                key = (id(v.attrs["dict"]), v.attrs["name"])
                if key in seen:
                    continue
                seen.add(key)
            body.append(v)
        b.body = body
    return fn
