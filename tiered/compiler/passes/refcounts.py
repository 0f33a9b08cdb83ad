"""Pass: IR → IR without the incref/decref pairs around a copy of an object the function already holds.

`incref(x)` makes a second place (a stack slot) own x; the next `decref(x)` in the block gives
one reference back.  When the ops between them only borrow x (attribute loads and stores on
it, unboxing, a length, a call with x as an argument, a method load on it), the first owner
cannot let x go in between: it is a place of this function (a local, a stack slot, the
module's constant), which only this function's own ops change, and Python code that a call
runs cannot reach.  So the pair changes nothing the program can see and is dropped.  An exit
in between hands every place's reference to the interpreter, so it takes one more reference of
x first (`pinned`).  A guard's typed copy of x is x (its release ends the pair too); any other
use of x (an op that may take its reference) ends the search for that pair.  An attribute read
that is only unboxed before its release borrows the instance's reference the same way.
"""

# ops that may use x between the pair: they only borrow it (set_local: the frame's slot takes a
# reference of its own, and so does method_self's value)
READS = frozenset(("getattr", "obj_setattr", "unbox_float", "unbox_int", "unbox_to_float", "seq_len", "set_local",
                   # ops that borrow their operands for a C-API call (ops/common.py generic), a comparison
                   # or a native callee (which borrows its arguments: build/calls.py)
                   "obj_call", "call_native", "load_method", "method_self", "super_attr", "new_instance",
                   "obj_compare", "obj_binary", "obj_len", "obj_truth", "obj_isinstance", "obj_iter", "obj_getitem",
                   "same_object"))
# ops whose value is their operand, typed: the same object, and the same reference
ALIASES = frozenset(("guard_class", "guard_method", "guard_method_dict"))


def run(fn):
    """Drop each elidable (incref, decref) pair; mark the exits in between; borrow attribute
    reads that are only unboxed."""
    for b in fn.blocks:
        drop = set()
        for k, v in enumerate(b.body):
            if v.op == "incref" and not v.args[0].attrs.get("maybe_null"):
                j = _partner(b.body, k, drop)
                if j is not None:
                    x = v.args[0]
                    drop.update((v.id, b.body[j].id))
                    for w in b.body[k + 1:j]:
                        if w.state is not None:
                            w.attrs.setdefault("pinned", []).append(x)
        if drop:
            b.body = [v for v in b.body if v.id not in drop]
        _borrow_reads(b.body)
    return fn


def _partner(body, k, dropped):
    """The index of the decref that pairs with the incref at k, or None when an op between may
    take x's reference or alias it."""
    same = {body[k].args[0].id}           # x and its guards' typed copies
    for j in range(k + 1, len(body)):
        w = body[j]
        if w.id in dropped or all(a.id not in same for a in w.args):
            continue
        if w.op == "decref":
            return j
        if w.op in ALIASES:
            same.add(w.id)
        elif w.op not in READS and w.op != "incref":
            return None
    return None


UNBOXES = ("unbox_float", "unbox_int", "unbox_to_float")     # a number read out of an exact int or float

# ops that run no Python code and change no object: an attribute keeps its value across them
_STILL = frozenset(("unbox_float", "unbox_int", "unbox_to_float", "trace_check", "incref", "set_local", "sync_frame",
                    "sync_local"))


def _borrow_reads(body):
    """`getattr` whose value is only unboxed before its decref, with nothing in between that
    could run Python code or store: the instance keeps the value alive, so the read takes no
    reference (ops/attributes.py; a slow path's own reference is released at the decref)."""
    unboxed = set()               # values seen unboxed: exact floats and ints, whose release runs no Python code
    for k, g in enumerate(body):
        if g.op in UNBOXES:
            unboxed.add(g.args[0].id)
        if g.op != "getattr" or g.attrs.get("cache") is None:
            continue
        for j in range(k + 1, len(body)):
            w = body[j]
            if w.op == "decref" and w.args[0] is g:
                g.attrs["borrow"], w.attrs["borrowed"] = True, g.id
                for x in body[k + 1:j]:
                    if x.state is not None:
                        x.attrs.setdefault("pinned", []).append(g)
                break
            if any(a is g for a in w.args) and w.op not in UNBOXES:
                break
            quiet_release = w.op == "decref" and w.args[0].id in unboxed
            if not (w.spec.pure or w.op in _STILL or quiet_release):
                break
            if w.op in UNBOXES:
                unboxed.add(w.args[0].id)
