"""Compiler IR: SSA values, instructions, blocks and functions, with a text printer."""
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from .ops import OPS, allowed_attrs


class Value:
    """One SSA value: the result of an op (or a block parameter, op 'phi')."""
    __slots__ = ("id", "op", "args", "type", "attrs", "state", "block")

    def __init__(self, id, op, args, type, attrs=None, state=None):
        self.id, self.op, self.args, self.type = id, op, list(args), type
        self.attrs = attrs or {}
        self.state = state          # FrameState for ops that may exit
        self.block = None

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

    def succs(self):
        """The offsets of the successor blocks named by the terminator (none for a return or
        an unconditional exit)."""
        if self.term is None or self.term[0] in ("ret", "exit"):
            return []
        return [self.term[1]] if self.term[0] == "br" else [self.term[2], self.term[3]]

    def __repr__(self):
        return f"b{self.id}"


@dataclass
class Function:
    """A compiled specialisation: argument names and types, blocks, entry block."""
    name: str
    params: List[Value]
    blocks: List[Block]
    return_type: Optional[str] = None
    exits: List[Any] = field(default_factory=list)     # exit sites, numbered
    attrs: Dict[str, Any] = field(default_factory=dict)


def fmt_value(v):
    """Text of one value's definition."""
    args = ", ".join(map(repr, v.args))
    attrs = "".join(f" {k}={_short(v.attrs[k])}" for k in sorted(v.attrs) if v.attrs[k] is not None)
    exit_note = f"  ; exit@{v.state.offset}" if v.state is not None else ""
    return f"  %{v.id}: {v.type} = {v.op}({args}){attrs}{exit_note}"


def _short(x):
    """A compact text for an attribute (dicts and objects by name only)."""
    if isinstance(x, (int, float, str, bool)):
        return repr(x)
    return f"<{getattr(x, '__name__', type(x).__name__)}>"


def fmt_function(fn):
    """Text of a whole function, for logs and tests."""
    lines = [f"func {fn.name}({', '.join(f'%{p.id}: {p.type}' for p in fn.params)}) -> {fn.return_type}"]
    for b in fn.blocks:
        lines.append(f"b{b.id} @{b.offset}{' loop' if b.loop_header else ''}:")
        lines += [fmt_value(p) for p in b.phis] + [fmt_value(v) for v in b.body]
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
