"""Compiler stage 2, containers: tuples, lists, dicts, sets, subscripts, slices, comprehension appends → container ops, fast paths guarded."""
from ...cpython import capi
from ..exits import VTuple
from ..infer import Unsupported
from ..ir import Value
from ..ops import BOOL, INT, OBJ, ObjType, is_obj
from .core import as_class, finish, hint, release, release_item, table, top

SEQUENCES = (list, tuple)
# builtin containers whose iteration runs no Python code (may be frameless) → their iterator's class
C_ITERATORS = {dict: type(iter({})), set: type(iter(set())), frozenset: type(iter(frozenset()))}
# a specialised instruction of CPython's → the class its operands had
HINT_CLASS = {"BINARY_SUBSCR_LIST_INT": list, "BINARY_SUBSCR_TUPLE_INT": tuple,
              "STORE_SUBSCR_LIST_INT": list, "FOR_ITER_LIST": list, "FOR_ITER_TUPLE": tuple}

HANDLERS, handles = table()


@handles("build_tuple")
def build_tuple(b, i, st, block, out):
    """BUILD_TUPLE: replace the top arg values by one VTuple of them."""
    items = tuple(top(b, st, i.arg))
    del st.stack[len(st.stack) - i.arg:]
    st.stack.append(VTuple(items))


# CPython's specialised UNPACK_SEQUENCE → the class its operand had
UNPACK_HINT = {"UNPACK_SEQUENCE_LIST": list, "UNPACK_SEQUENCE_TUPLE": tuple, "UNPACK_SEQUENCE_TWO_TUPLE": tuple}


@handles("unpack")
def unpack(b, i, st, block, out):
    """UNPACK_SEQUENCE: replace a VTuple of arg items by its items, the first on top; a list or
    tuple (its class known, or the one CPython's specialisation saw, or else a tuple: guarded)
    of that length (else exit: CPython raises) by new references to its items.  Only where
    that speculation failed too often (generic_at) is anything else refused."""
    t = st.stack[-1]
    if isinstance(t, VTuple) and len(t.items) == i.arg:
        st.stack.pop()
        st.stack.extend(reversed(t.items))
        return
    cls = (t.type.cls or UNPACK_HINT.get(hint(b))) if isinstance(t, Value) and is_obj(t.type) else None
    if cls is None and isinstance(t, Value) and t.type == OBJ and b.at.pre_offset not in b.opts.generic_at:
        cls = tuple                       # what a call, an iteration or an attribute mostly unpacks
    if cls not in SEQUENCES:
        raise Unsupported("UNSUPPORTED_TYPE", f"unpacks something other than a list or tuple into "
                                              f"{i.arg} variables")
    seq = as_class(b, st, -1, cls)
    b.emit("guard_len", [seq], {"n": i.arg})
    items = [b.emit("seq_getitem", [seq, b.const(k)]) for k in range(i.arg)]
    finish(b, st, [seq], None, 1)
    st.stack.extend(reversed(items))


@handles("build_list")
def build_list(b, i, st, block, out):
    """BUILD_LIST: a new list; the items' references move into it (numbers are boxed)."""
    items = top(b, st, i.arg)
    r = b.emit("build_list", items, type=ObjType(list))
    del st.stack[len(st.stack) - i.arg:]
    st.stack.append(r)


@handles("build_map")
def build_map(b, i, st, block, out):
    """BUILD_MAP: a new dict of the key/value pairs, which are released after it exists."""
    items = top(b, st, 2 * i.arg)
    r = b.emit("build_map", items, type=ObjType(dict))
    for v in items:
        release(b, v)
    del st.stack[len(st.stack) - 2 * i.arg:]
    st.stack.append(r)


@handles("build_set")
def build_set(b, i, st, block, out):
    """BUILD_SET: a new set of the items (PySet_Add takes its own references: the items'
    are released after)."""
    items = top(b, st, i.arg)
    r = b.emit("build_set", items, type=ObjType(set))
    for v in items:
        release(b, v)
    del st.stack[len(st.stack) - i.arg:]
    st.stack.append(r)


@handles("build_const_key_map")
def build_const_key_map(b, i, st, block, out):
    """BUILD_CONST_KEY_MAP: a dict of the values below and the constant keys on top (the
    module keeps the keys alive; PyDict_SetItem takes its own references)."""
    names = st.stack[-1]
    if isinstance(names, VTuple):
        keys = list(names.items)
    elif getattr(names, "op", None) == "obj_const" and type(names.attrs["value"]) is tuple:
        keys = [b.emit("obj_const", [], {"value": k}, type=ObjType(type(k)))
                for k in names.attrs["value"]]
    else:
        raise Unsupported("UNSUPPORTED_TYPE", "BUILD_CONST_KEY_MAP without constant keys")
    values = top(b, st, i.arg + 1)[:-1]
    r = b.emit("build_map", [x for kv in zip(keys, values) for x in kv], type=ObjType(dict))
    release_item(b, st.stack.pop())
    finish(b, st, values, r, i.arg)


@handles("subscr")
def subscr(b, i, st, block, out):
    """BINARY_SUBSCR: list/tuple[int] on the fast path, any other object through the C-API."""
    seq, key = top(b, st, 2)
    if not is_obj(seq.type):
        raise Unsupported("UNSUPPORTED_TYPE", f"subscript of {seq.type}")
    cls = seq.type.cls or HINT_CLASS.get(hint(b))
    if cls in SEQUENCES and key.type in (INT, BOOL):
        seq = as_class(b, st, -2, cls)
        r = b.emit("seq_getitem", [seq, key])
    else:           # an exact dict read by an object key may be frameless (ops/subscripts.py)
        r = b.emit("obj_getitem", [seq, key],
                   {"frameless": True} if cls is dict and is_obj(key.type) else None)
    release(b, seq)
    release(b, key)
    del st.stack[-2:]
    st.stack.append(r)


@handles("store_subscr")
def store_subscr(b, i, st, block, out):
    """STORE_SUBSCR: list[int] = value on the fast path (the list takes its own reference),
    anything else through PyObject_SetItem."""
    value, seq, key = top(b, st, 3)
    if not is_obj(seq.type):
        raise Unsupported("UNSUPPORTED_TYPE", f"{seq.type}[{key.type}] = ...")
    cls = seq.type.cls or HINT_CLASS.get(hint(b))
    if cls is list and key.type in (INT, BOOL):
        seq = as_class(b, st, -2, list)
        b.emit("list_setitem", [seq, key, value])
    else:
        b.emit("obj_setitem", [seq, key, value])
    for v in (value, seq, key):
        release(b, v)
    del st.stack[-3:]


@handles("delete_subscr")
def delete_subscr(b, i, st, block, out):
    """DELETE_SUBSCR: del container[key] through PyObject_DelItem."""
    container, key = top(b, st, 2)
    if not is_obj(container.type):
        raise Unsupported("UNSUPPORTED_TYPE", f"del of {container.type}[...]")
    b.emit("obj_delitem", [container, key])
    finish(b, st, [container, key], None, 2)


@handles("list_append")
def list_append(b, i, st, block, out):
    """LIST_APPEND (a list comprehension): append the popped value to the list below."""
    _add_to(b, i, st, list, "list_append")


@handles("set_add")
def set_add(b, i, st, block, out):
    """SET_ADD (a set comprehension): add the popped item to the set below."""
    _add_to(b, i, st, set, "set_add")


@handles("map_add")
def map_add(b, i, st, block, out):
    """MAP_ADD (a dict comprehension): set the popped key and value in the dict below."""
    key, value = top(b, st, 2)
    target = st.stack[-2 - i.arg]
    if not (isinstance(target, Value) and target.type.cls is dict):
        raise Unsupported("UNSUPPORTED_TYPE", "MAP_ADD to something other than a dict")
    b.emit("obj_setitem", [target, key, value])
    release(b, key)
    release(b, value)
    del st.stack[-2:]


def _add_to(b, i, st, cls, op):
    """LIST_APPEND / SET_ADD: `op` adds the popped item to the container of class cls that
    sits i.arg below it (it takes its own reference; the item's is released)."""
    item = top(b, st, 1)[0]
    target = st.stack[-1 - i.arg]
    if not (isinstance(target, Value) and target.type.cls is cls):
        raise Unsupported("UNSUPPORTED_TYPE", f"adding to something other than a {cls.__name__}")
    b.emit(op, [target, item])
    release(b, item)
    st.stack.pop()


@handles("list_extend")
def list_extend(b, i, st, block, out):
    """LIST_EXTEND: the list below gets the items of a list or tuple (what 3.12 builds
    constant lists with, and [*a]) or of any other iterable (a non-iterable exits: CPython's
    message for it is its own)."""
    items = top(b, st, 1)[0]
    target = st.stack[-1 - i.arg]
    if not is_obj(items.type) or getattr(target, "type", None) != ObjType(list):
        raise Unsupported("UNSUPPORTED_TYPE", "LIST_EXTEND of something other than an object")
    b.emit("list_extend" if items.type.cls in (list, tuple) else "list_extend_any", [target, items])
    finish(b, st, [items], None, 1)


@handles("list_to_tuple")
def list_to_tuple(b, i, st, block, out):
    """LIST_TO_TUPLE (3.11) / CALL_INTRINSIC_1 (3.12): the list built for (*a, *b) as a tuple."""
    items = top(b, st, 1)[0]
    if items.type.cls is not list:
        raise Unsupported("UNSUPPORTED_TYPE", "LIST_TO_TUPLE of something other than a list")
    r = b.emit("list_to_tuple", [items], type=ObjType(tuple))
    finish(b, st, [items], r, 1)


@handles("dict_update")
def dict_update(b, i, st, block, out):
    """DICT_UPDATE ({**x}): the dict below is updated from x."""
    x = top(b, st, 1)[0]
    target = st.stack[-1 - i.arg]
    if not is_obj(x.type) or getattr(target, "type", None) != ObjType(dict):
        raise Unsupported("UNSUPPORTED_TYPE", "DICT_UPDATE of something other than objects")
    b.emit("dict_update", [target, x])
    finish(b, st, [x], None, 1)


@handles("dict_merge")
def dict_merge(b, i, st, block, out):
    """DICT_MERGE (f(k=1, **x)): only an exact dict x merged first into the call's new
    keyword dict, whose keys are the call's constant keyword names (dict_merge checks x
    has none of them); the rest stays in CPython, whose messages name the function called."""
    x = top(b, st, 1)[0]
    target = st.stack[-1 - i.arg]
    names = getattr(target, "args", [])[0::2]
    if (getattr(target, "op", None) != "build_map" or target.attrs.get("merged")
            or any(k.op != "obj_const" or type(k.attrs["value"]) is not str for k in names)
            or x.type != ObjType(dict) or capi.DICT_KEYS is None):
        raise Unsupported("UNSUPPORTED_CALL", "**x of something other than one exact dict")
    target.attrs["merged"] = True
    b.emit("dict_merge", [target, x], {"names": tuple(k.attrs["value"] for k in names)})
    finish(b, st, [x], None, 1)


@handles("set_update")
def set_update(b, i, st, block, out):
    """SET_UPDATE ({*x}): the set below gets x's items."""
    x = top(b, st, 1)[0]
    target = st.stack[-1 - i.arg]
    if not is_obj(x.type) or getattr(target, "type", None) != ObjType(set):
        raise Unsupported("UNSUPPORTED_TYPE", "SET_UPDATE of something other than objects")
    b.emit("set_update", [target, x])
    finish(b, st, [x], None, 1)


@handles("build_slice")
def build_slice(b, i, st, block, out):
    """BUILD_SLICE: a slice object of start, stop (and step)."""
    parts = top(b, st, i.arg)
    r = b.emit("build_slice", parts, type=ObjType(slice))
    finish(b, st, parts, r, i.arg)


@handles("binary_slice")
def binary_slice(b, i, st, block, out):
    """BINARY_SLICE (3.12): container[start:stop]."""
    operands = top(b, st, 3)
    if not is_obj(operands[0].type):
        raise Unsupported("UNSUPPORTED_TYPE", f"slice of {operands[0].type}")
    r = b.emit("obj_getslice", operands)
    finish(b, st, operands, r, 3)


@handles("store_slice")
def store_slice(b, i, st, block, out):
    """STORE_SLICE (3.12): container[start:stop] = value."""
    value, container, start, stop = top(b, st, 4)
    if not is_obj(container.type):
        raise Unsupported("UNSUPPORTED_TYPE", f"slice of {container.type}")
    b.emit("obj_setslice", [container, start, stop, value])
    finish(b, st, [value, container, start, stop], None, 4)
