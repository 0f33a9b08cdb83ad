"""Compiler stage 2, merges: the bytecode's blocks and edges, and the abstract states where paths meet → phis.

Blocks are processed in bytecode order.  A block whose predecessors were all seen
merges their states (phis where the values differ); a block reached by a backward
jump (a loop header) gets a phi for every defined slot first, and the back edges
fill them in later.  A local that is unbound on some path is dropped from the
merged state; reading it refuses the function, so an exit never needs it.
"""
from ..decode import ENDS_BLOCK
from ..exits import Known
from ..infer import Unsupported
from ..ir import Value
from ..ops import BOOL, NONE, OBJ, OPS, is_obj


class NeedUnbound(Exception):
    """Object locals are bound on some paths only: build again with them starting as NULL (as
    an unbound local is in CPython's frame), so that no reference is lost.  All the locals of
    one merge come at once (a loop that binds ten locals costs one more walk, not ten)."""

    def __init__(self, names):
        super().__init__(*sorted(names))
        self.names = frozenset(names)


class NeedWiden(Exception):
    """A loop header's phi was typed by the class entering the loop, and a back edge brings an
    object of another class: build again with that phi (its key: header offset and local name
    or stack index) typed as any object."""

    def __init__(self, key):
        super().__init__(key)
        self.key = key


class NeedBoxed(Exception):
    """A local or a stack slot holds a number on one path and an object (or another kind of
    number) on another: build again with it holding an object, its numbers boxed: a local as
    they are stored, a stack slot as paths jump to the merge (key: the local's name, or the
    merge's offset and the slot's index)."""

    def __init__(self, key):
        super().__init__(key)
        self.key = key


def _unstable(b, key, types_):
    """A local or stack slot whose values' kinds differ asks to be boxed; else a refusal."""
    if b.opts.objects and key is not None:
        want = key[1] if isinstance(key[1], str) else key
        if want not in b.opts.boxed:
            raise NeedBoxed(want)
    kinds = list(dict.fromkeys(plain_type(t) for t in types_)) + ["something else"]
    raise Unsupported("UNSTABLE_TYPE", f"holds {kinds[0]} on one path and {kinds[1]} on another")


class State:
    """The abstract frame between instructions: locals (name → value), the stack, and whether
    Python code may have run since tracing was last checked (`called`)."""
    __slots__ = ("locals", "stack", "called")

    def __init__(self, locals_, stack, called=False):
        self.locals, self.stack, self.called = locals_, stack, called

    def copy(self):
        """A copy whose locals dict and stack list can be changed independently."""
        return State(dict(self.locals), list(self.stack), self.called)


def cfg(b, by_offset):
    """Leader offsets and (src leader, dst offset) edges of the bytecode."""
    ins = b.opts.ins
    starts = {ins[0].offset}
    for k, i in enumerate(ins):
        if i.target is not None:
            starts.add(i.target)
        if i.op in ENDS_BLOCK and k + 1 < len(ins):
            starts.add(ins[k + 1].offset)
    edges, leader = [], None
    for k, i in enumerate(ins):
        if i.offset in starts:            # the instructions in order: each starts its leader's block
            leader = i.offset
        nxt = ins[k + 1].offset if k + 1 < len(ins) else None
        if i.op in ("branch", "for_iter"):
            edges += [(leader, i.target), (leader, nxt)]
        elif i.op == "jump":
            edges.append((leader, i.target))
        elif i.op in ("return", "return_const", "raise"):
            pass
        elif nxt in starts and nxt != i.offset:
            edges.append((leader, nxt))
    return starts, [e for e in edges if e[1] is not None]


def merge(b, block, states, loop):
    """Entry state of a block from its predecessors' states (phis where they differ)."""
    first = states[0]
    if any(len(s.stack) != len(first.stack) for s in states):
        raise Unsupported("UNSUPPORTED_OPCODE", "stack depths differ at a merge")
    merged = State({}, [], any(s.called for s in states))
    columns, lost = {}, []
    for name in first.locals:
        vals = columns[name] = [s.locals.get(name) for s in states]
        if None in vals and any(v is not None and is_obj(v.type) for v in vals):
            lost.append(name)                   # a reference that would be lost
    if lost:
        raise NeedUnbound(lost)
    for name, vals in columns.items():
        if None in vals:
            merged.locals[name] = None
        else:
            merged.locals[name] = _named(name, _merge_values, b, block, vals, loop, (block.offset, name))
    for k, item in enumerate(first.stack):
        items = [s.stack[k] for s in states]
        merged.stack.append(_merge_items(b, block, items, loop, (block.offset, k)))
    return merged


def _merge_items(b, block, items, loop, key):
    """Merge one stack slot: iterators field-wise, values via phis; other objects must be equal."""
    first = items[0]
    if getattr(first, "merges", False):          # a virtual item merged part by part
        kind = type(first)
        if not all(type(i) is kind for i in items):
            raise Unsupported("UNSTABLE_TYPE", "iterator merge")
        return kind.from_parts([_merge_values(b, block, list(parts), loop)
                                for parts in zip(*(i.parts() for i in items))])
    if all(isinstance(i, Value) for i in items):
        return _merge_values(b, block, items, loop, key)
    if all(i == first for i in items):
        return first
    if b.opts.objects and not loop and key not in b.opts.boxed and all(isinstance(i, (Known, Value)) for i in items):
        raise NeedBoxed(key)          # known objects (globals) meeting others: values, as objects
    raise Unsupported("UNSTABLE_TYPE", "different objects merge" if isinstance(first, Known) else "stack merge")


def _merge_values(b, block, vals, loop, key=None):
    """Join same-typed values (objects of different classes join as objects, and so do those
    of a loop header whose back edges bring other classes: NeedWiden): the value itself if all
    agree (outside loops), else a new phi, which may be NULL if one may."""
    t = vals[0].type
    if any(v.type != t for v in vals) or (loop and key in b.opts.widened and is_obj(t)):
        if not all(is_obj(v.type) for v in vals):
            _unstable(b, key, [v.type for v in vals])
        t = OBJ
    if not loop and all(v is vals[0] for v in vals):
        return vals[0]
    phi = b.new("phi", list(vals), t)
    if loop and key is not None:
        b.made.phi_keys[phi.id] = key
    if any(v.attrs.get("maybe_null") for v in vals):
        phi.attrs["maybe_null"] = True
    phi.block = block
    block.phis.append(phi)
    return phi


def fill_back_edges(b, block, out_states, preds):
    """Add the back-edge values to a loop header's phis (types must agree)."""
    entry_phis = list(block.phis)
    forward = len(block.preds)
    bound_inside = {}                   # number locals unbound entering the loop, bound around it
    for src in preds[block.offset]:
        if src < block.offset or (src, block.offset) not in out_states:
            continue
        state = out_states[(src, block.offset)]
        block.preds.append(b.made.blocks[src])
        _fill_one(b, block, state)
        for name, phi in block.header_state.locals.items():
            v = state.locals.get(name)
            if phi is None and v is not None and not is_obj(v.type):
                bound_inside.setdefault(name, []).append(v)
    for phi in entry_phis:
        if len(phi.args) != len(block.preds):
            raise AssertionError("phi arity")
    _keep_loop_variables(b, block, forward, bound_inside)


def _keep_loop_variables(b, block, forward, bound_inside):
    """A number local first bound inside a loop (`for i in range(n)`) is unbound for the
    compiled code after the loop, but CPython's frame holds its last value: where the loop
    ends at its header, and that exit is the only way into the block after it, the frame's slot
    takes the value of the last iteration (when there was one: ops/frames.py sync_local)."""
    back = len(block.preds) - forward
    if not back:
        return
    end = max(p.offset for p in block.preds[forward:])      # where the loop's last back edge leaves
    done = [t for t in _successors(b, block) if t.offset > end and t.preds == [block]]
    if not done or "slots" not in b.made.fn.attrs or not _looks_out(b):
        return
    first = b.made.fn.blocks[0]
    for name, vals in bound_inside.items():
        t = vals[0].type
        if len(vals) != back or any(v.type != t for v in vals) or name not in b.made.fn.attrs["slots"]:
            continue
        none, yes = (_entry_const(b, first, False, BOOL), _entry_const(b, first, True, BOOL))
        dummy = _entry_const(b, first, False if t in (BOOL, NONE) else 0, t)
        last = _loop_phi(b, block, [dummy] * forward + vals, t)
        ran = _loop_phi(b, block, [none] * forward + [yes] * back, BOOL)
        for target in done:
            op = b.new("sync_local", [ran, last], NONE, {"slot": b.made.fn.attrs["slots"][name]})
            op.block = target
            target.body.insert(0, op)


# ops that may run Python code, but not code that looks at this frame's locals
_QUIET = ("loop_poll", "decref", "xdecref", "release_unless")


def _looks_out(b):
    """Whether the function calls code that could look at its frame (any op that may run
    Python code): only then is the loop variable kept for it (two phis per loop cost a numeric
    loop its vectorisation: sum_squares ran 1.9x slower)."""
    return any(OPS[v.op].python and v.op not in _QUIET for blk in b.made.fn.blocks for v in blk.body)


def _successors(b, block):
    """The blocks a block's terminator may go to."""
    t = block.term or ("exit",)
    offsets = t[2:4] if t[0] == "cbr" else t[1:2] if t[0] == "br" else ()
    return [b.made.blocks[o] for o in offsets if o in b.made.blocks]


def _entry_const(b, first, value, t):
    """A constant made at the start of the function's first block (it dominates every block)."""
    c = b.new("const", [], t, {"value": value})
    c.block = first
    first.body.insert(0, c)
    return c


def _loop_phi(b, block, args, t):
    """A phi at the loop header over these inputs, in the order of its predecessors."""
    phi = b.new("phi", list(args), t)
    phi.block = block
    block.phis.append(phi)
    return phi


def _fill_one(b, block, state):
    """Add one back edge's locals and stack values as inputs to the loop header's phis."""
    header = block.header_state
    inside = [name for name, phi in header.locals.items()     # first bound inside the loop
              if phi is None and state.locals.get(name) is not None and is_obj(state.locals[name].type)]
    if inside:
        raise NeedUnbound(inside)
    for name, phi in header.locals.items():
        if phi is None:
            continue
        v = state.locals.get(name)
        if v is None:
            raise Unsupported("UNBOUND_LOCAL", f"{name} unbound on a back edge", variable=name)
        _named(name, _add_incoming, b, phi, v)
    for item, new in zip(header.stack, state.stack):
        if getattr(item, "merges", False):
            if type(new) is not type(item):
                raise Unsupported("UNSTABLE_TYPE", "iterator on a back edge")
            for phi, v in zip(item.parts(), new.parts()):
                _add_incoming(b, phi, v)
        elif isinstance(item, Value):
            _add_incoming(b, item, new)
        elif item != new:
            raise Unsupported("UNSTABLE_TYPE", "different objects on a back edge")


def _add_incoming(b, phi, v):
    """Append v as a phi input; refuse when it is not a value of the phi's type."""
    if (isinstance(v, Value) and is_obj(v.type) and is_obj(phi.type) and v.type != phi.type
            and phi.type != OBJ and b.made.phi_keys.get(phi.id) is not None):
        raise NeedWiden(b.made.phi_keys[phi.id])
    if (isinstance(v, Value) and v.type != phi.type and not (is_obj(v.type) and is_obj(phi.type))
            and b.made.phi_keys.get(phi.id) is not None):
        _unstable(b, b.made.phi_keys[phi.id], [phi.type, v.type])
    if not isinstance(v, Value) or (v.type != phi.type and not (phi.type == OBJ and is_obj(v.type))):
        raise Unsupported("UNSTABLE_TYPE", f"holds {plain_type(phi.type)} when the loop starts and "
                                           f"{plain_type(getattr(v, 'type', None))} after a pass through it")
    if v.attrs.get("maybe_null") and not phi.attrs.get("maybe_null"):
        raise Unsupported("UNBOUND_LOCAL", "a local may become unbound in a loop")
    phi.args.append(v)


def _named(name, f, *args):
    """f(*args), naming the variable `name` in a refusal it raises."""
    try:
        return f(*args)
    except Unsupported as exc:
        if exc.variable is None:
            exc.variable = name
        raise


_PLAIN = {"int": "an int", "float": "a float", "bool": "a bool", "none": "None", "obj": "an object"}


def plain_type(t):
    """An IR type in words for users ('an int', 'a Point object')."""
    text = str(t)
    if text.startswith("obj[") and text.endswith("]"):
        return f"a {text[4:-1]} object"
    return _PLAIN.get(text, "something else" if t is None else text)
