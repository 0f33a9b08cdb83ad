"""Pass: IR → IR where `d[k]` that follows `k in d` (the same exact dict and key, the test on
every path to it) is marked to reuse the test's lookup.

The lowering decides at run time: the test looks up with PyDict_GetItemWithError only when
the key is an exact str and every key of the dict is one (no `__hash__` or `__eq__` can run,
so skipping the second lookup is not seen), and records the item and the dict's version
tag; the subscript takes that item when the version is unchanged (nothing was stored or
deleted since), else looks up as before.  A store of that item plus or minus a number back
under the same key may then change the int in place.
"""
from ...cpython import capi
from ..ops import ObjType, is_obj


def run(fn):
    """Mark each (contains, getitem) pair: contains.attrs['share'], getitem.attrs['shared']."""
    if capi.DICT_KEYS is None or fn.attrs.get("frameless"):
        return fn
    preds = {b.id: b.preds for b in fn.blocks}
    for b in fn.blocks:
        for k, v in enumerate(b.body):
            if v.op != "obj_getitem" or v.args[0].type != ObjType(dict) or not is_obj(v.args[1].type):
                continue
            test = _dominating_test(b, k, preds, v.args)
            if test is not None:
                test.attrs["share"] = True
                v.attrs["shared"] = test.id
                _mark_update(b.body[k + 1:], v, test)
    return fn


def _mark_update(after, item, test):
    """`d[k] = d[k] ± n` in the same block: the store may write the new int into the old one
    (ops/subscripts.py decides at run time: nothing else holds it, and it stays one digit)."""
    unboxed = {v.id for v in after if v.op == "unbox_int" and v.args[0] is item}
    sums = {v.id for v in after if v.op in ("int_add", "int_sub") and v.args[0].id in unboxed}
    for v in after:
        if v.op == "obj_setitem" and v.args[:2] == item.args and v.args[2].id in sums:
            v.attrs["in_place"] = test.id
            return


def _dominating_test(block, k, preds, args):
    """The `key in dict` on args found going up from body index k through blocks with a
    single predecessor, or None."""
    seen = set()
    while block.id not in seen:
        seen.add(block.id)
        for v in reversed(block.body[:k]):
            if v.op == "obj_contains" and v.args[0] is args[0] and v.args[1] is args[1]:
                return v
        if len(preds[block.id]) != 1:
            return None
        block = preds[block.id][0]
        k = len(block.body)
    return None
