"""Compiler stage 2, the frame's slots: LOAD_FAST/STORE_FAST/DELETE_FAST, LOAD_CONST, POP_TOP, COPY, SWAP → values moved, references counted."""
from .. import infer
from ..exits import NULL, SeqIter, VTuple
from ..infer import Unsupported
from .merge import NeedUnbound
from ..ir import Value
from ..ops import is_obj
from .core import acquire, object_constant, release, release_item, table, top, unbound_local

HANDLERS, handles = table()


@handles("load_fast")
def load_fast(b, i, st, block, out):
    """LOAD_FAST: push the local's value; one that may be unbound is guarded first (the
    interpreter raises UnboundLocalError when it is), and the local holds the guarded value
    from there on.  A local unbound on every path is refused."""
    v = st.locals.get(i.arg)
    if v is None:
        if b.opts.objects and i.arg not in b.opts.unbound:   # bound on a path not merged in yet
            raise NeedUnbound([i.arg])           # (a back edge): build again with it starting NULL
        raise Unsupported("UNBOUND_LOCAL", i.arg)
    if v.attrs.get("maybe_null"):
        if v.op == "const" or not is_obj(v.type):    # NULL on every path (or no object at all)
            raise Unsupported("UNBOUND_LOCAL", i.arg)
        v = st.locals[i.arg] = b.emit("guard_bound", [v], type=v.type)
    acquire(b, v)
    st.stack.append(v)


def mirror(b, name, old, new):
    """The frame's slot of local `name` follows its new value (ops/frames.py): an object or an
    unbinding at once, a number lazily (at once only where the slot held an object)."""
    if new is None or new.attrs.get("maybe_null") and new.op == "const":
        b.emit("set_local", [], {"slot": b.made.fn.attrs["slots"][name]})
    elif is_obj(new.type) or old is not None and is_obj(old.type):
        b.emit("set_local", [new], {"slot": b.made.fn.attrs["slots"][name]})


@handles("store_fast")
def store_fast(b, i, st, block, out):
    """STORE_FAST: pop a value into the local (NULL, as a comprehension restores a local
    that was unbound, unbinds it); the frame's slot takes it, then the old value is released."""
    old = st.locals.get(i.arg)
    if st.stack[-1] is NULL:
        st.locals[i.arg] = unbound_local(b, i.arg)
    else:
        v = top(b, st, 1)[0]
        if i.arg in b.opts.boxed and not is_obj(v.type):    # a local of varying kinds holds objects
            v = st.stack[-1] = b.emit("box", [v])
        st.locals[i.arg] = v
    st.stack.pop()
    mirror(b, i.arg, old, st.locals[i.arg])
    if old is not None:
        release(b, old)


@handles("delete_fast")
def delete_fast(b, i, st, block, out):
    """DELETE_FAST of a bound local: release it, leave it unbound (one that may be unbound
    already raises UnboundLocalError: the interpreter does that)."""
    v = st.locals.get(i.arg)
    if v is None or v.attrs.get("maybe_null"):
        raise Unsupported("UNBOUND_LOCAL", f"del {i.arg}")
    st.locals[i.arg] = unbound_local(b, i.arg)
    mirror(b, i.arg, v, None)
    release(b, v)


@handles("load_fast_and_clear")
def load_fast_and_clear(b, i, st, block, out):
    """LOAD_FAST_AND_CLEAR (3.12 inlines comprehensions): push the local, whose reference
    moves to the stack, or NULL when it is unbound; the local is left unbound."""
    v = st.locals.get(i.arg)
    if v is not None and v.op == "const" and v.attrs.get("maybe_null"):
        v = None                          # the NULL a local starts as (see NeedUnbound)
    st.stack.append(NULL if v is None else v)        # a value that may be NULL stays one
    st.locals[i.arg] = unbound_local(b, i.arg)
    if v is not None:                     # the reference moves to the stack; the slot is cleared
        mirror(b, i.arg, v, None)


@handles("load_const")
def load_const(b, i, st, block, out):
    """LOAD_CONST: push a scalar constant, a tuple of them as a VTuple, or any other
    constant (a str, a tuple of objects) as an object value."""
    if type(i.arg) is tuple and all(infer.type_of_constant(x) for x in i.arg):
        st.stack.append(VTuple(tuple(b.const(x) for x in i.arg)))
    elif infer.type_of_constant(i.arg) is None:
        st.stack.append(object_constant(b, i.arg))
    else:
        st.stack.append(b.const(i.arg))


@handles("pop_top")
def pop_top(b, i, st, block, out):
    """POP_TOP: drop the top of the stack (and what it owns)."""
    release_item(b, st.stack.pop())


@handles("push_null")
def push_null(b, i, st, block, out):
    """PUSH_NULL: push the NULL marker."""
    st.stack.append(NULL)


@handles("copy")
def copy(b, i, st, block, out):
    """COPY: push the arg-th item from the top again."""
    item = st.stack[-i.arg]
    if isinstance(item, (SeqIter, VTuple)):
        raise Unsupported("UNSUPPORTED_OPCODE", "COPY of an iterator or tuple")
    if isinstance(item, Value):
        acquire(b, item)
    st.stack.append(item)


@handles("swap")
def swap(b, i, st, block, out):
    """SWAP: exchange the top item with the arg-th from the top."""
    s = st.stack
    s[-1], s[-i.arg] = s[-i.arg], s[-1]
