"""Compiler IR: SSA values, instructions, blocks and functions, with a text printer."""
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from .exits import Virtual
from .ops import OPS, allowed_attrs


class Value:
    """One SSA value: the result of an op (or a block parameter, op 'phi')."""
    __slots__ = ("id", "op", "args", "type", "attrs", "state", "block")

    def __init__(self, id, op, args, type, attrs=None, state=None):
        self.id, self.op, self.args, self.type = id, op, list(args), type
        self.attrs = attrs or {}
        self.state = state          # FrameState for ops that may exit
        self.block = None
        if _made.items is not None:
            _made.items.append(self)

    @property
    def spec(self):
        """The OpSpec of this value's op."""
        return OPS[self.op]

    def __repr__(self):
        return f"%{self.id}"


@dataclass
class Block:
    """A basic block: parameters (phis), straight-line values, one terminator."""
    id: int
    offset: int
    phis: List[Value] = field(default_factory=list)
    body: List[Value] = field(default_factory=list)
    term: Optional[tuple] = None     # ("br", blk) | ("cbr", cond, then, else) | ("ret", value) | ("exit",)
    preds: List["Block"] = field(default_factory=list)
    loop_header: bool = False

    def __post_init__(self):
        if _made.items is not None:
            _made.items.append(self)

    def succs(self):
        """The offsets of the successor blocks named by the terminator (none for a return or
        an unconditional exit)."""
        if self.term is None or self.term[0] in ("ret", "exit"):
            return []
        return [self.term[1]] if self.term[0] == "br" else [self.term[2], self.term[3]]

    def __repr__(self):
        return f"b{self.id}"


class _made:
    """The values and blocks made since released_after() opened (None: not tracking).  One
    compile at a time per process (the runtime's compile lock), so one list is enough."""
    items = None


@contextmanager
def released_after():
    """Break the cycles of every value and block made inside (values name their block, blocks
    their values, loops their phis) when it closes, so that the IR of a compile, finished or
    refused half-way, is freed at once by reference counting and never left for the garbage
    collector, where a program counting what gc.collect() finds would see it.  Nothing may use
    that IR afterwards; nested uses are one."""
    if _made.items is not None:
        yield
        return
    _made.items = []
    try:
        yield
    finally:
        items, _made.items = _made.items, None
        for x in items:
            if isinstance(x, Value):
                x.args, x.attrs, x.state, x.block = [], {}, None, None
            else:
                x.__dict__.clear()


@dataclass
class Function:
    """A compiled specialisation: argument names and types, blocks, entry block."""
    name: str
    params: List[Value]
    blocks: List[Block]
    return_type: Optional[str] = None
    exits: List[Any] = field(default_factory=list)     # exit sites, numbered
    attrs: Dict[str, Any] = field(default_factory=dict)


def fmt_value(v, states=False):
    """Text of one value's definition (states=True: as fmt_function(states=True) prints it)."""
    args = ", ".join(map(repr, v.args))
    attrs = "".join(f" {k}={_short(v.attrs[k], states)}" for k in sorted(v.attrs) if v.attrs[k] is not None)
    exit_note = f"  ; exit@{v.state.offset}" if v.state is not None else ""
    if states and v.state is not None:
        exit_note += " " + fmt_state(v.state)
    return f"  %{v.id}: {v.type} = {v.op}({args}){attrs}{exit_note}"


def _short(x, states=False):
    """A compact text for an attribute (dicts and objects by name only; with states=True a
    value as %id and a list of values as [%id, ...])."""
    if isinstance(x, (int, float, str, bool)):
        return repr(x)
    if states and (isinstance(x, Value) or isinstance(x, list) and x and all(isinstance(a, Value) for a in x)):
        return repr(x)
    return f"<{getattr(x, '__name__', type(x).__name__)}>"


def fmt_state(s):
    """Text of a frame state's values, `[name=item, ... | item, ...]`: the bound locals, then the
    stack bottom to top (an item: %id, NULL, <object>, or RangeArgs/RangeIter/SeqIter/VTuple(items))."""
    return f"[{', '.join(f'{n}={_fmt_item(x)}' for n, x in s.locals)} | {', '.join(map(_fmt_item, s.stack))}]"


def _fmt_item(x):
    """Text of one frame-state item."""
    return x.text(_fmt_item) if isinstance(x, Virtual) else repr(x)


def fmt_function(fn, states=False):
    """Text of a whole function, for logs and tests.  states=True adds what ir_text.parse needs to
    rebuild it for a pass: the function's attributes after the header, each exit's frame state
    after its `; exit@offset`, and values held in attributes as %ids (the default text is unchanged)."""
    lines = [f"func {fn.name}({', '.join(f'%{p.id}: {p.type}' for p in fn.params)}) -> {fn.return_type}"
             + ("".join(f" {k}={_short(fn.attrs[k], True)}" for k in sorted(fn.attrs) if fn.attrs[k] is not None)
                if states else "")]
    for b in fn.blocks:
        lines.append(f"b{b.id} @{b.offset}{' loop' if b.loop_header else ''}:")
        lines += [fmt_value(p, states) for p in b.phis] + [fmt_value(v, states) for v in b.body]
        t = b.term
        lines.append("  " + " ".join(map(str, (t[0],) + tuple(t[1:]))))
    return "\n".join(lines)


def verify(fn):
    """Check SSA well-formedness: defined-before-use in straight lines, phi arity, terminators;
    and that every value carries only the attrs keys its op declares (ops/: attrs=, COMMON_ATTRS)."""
    defined = {p.id for p in fn.params}
    for v in fn.params + [v for b in fn.blocks for v in b.phis + b.body]:
        undeclared = v.attrs.keys() - allowed_attrs(v.op)
        if undeclared:
            raise AssertionError(f"%{v.id} = {v.op}(...) carries undeclared attrs {sorted(undeclared)}")
    for b in fn.blocks:
        for p in b.phis:
            defined.add(p.id)
            if len(p.args) != len(b.preds):
                raise AssertionError(f"phi %{p.id} in b{b.id}: {len(p.args)} args, {len(b.preds)} preds")
        for v in b.body:
            defined.add(v.id)
        if b.term is None:
            raise AssertionError(f"b{b.id} has no terminator")
    for b in fn.blocks:
        for v in b.phis + b.body:
            for a in v.args:
                if isinstance(a, Value) and a.id not in defined:
                    raise AssertionError(f"%{v.id} uses undefined %{a.id}")
    return True
