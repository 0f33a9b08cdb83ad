"""Compiler IR text, for tests: the text ir.fmt_function prints → a Function that prints it again.

The parser reads both forms fmt_function prints.  With states=True the text carries what a pass
may need: each exit's frame state (`; exit@12 [x=%3, y=%4 | %5, NULL]`: the bound locals, then
the stack bottom to top), the function's attributes after its header (`-> int quiet=True`) and
values held in attributes (`pinned=[%4, %7]`).  Without it an exit's state is read as empty.

What the text cannot carry, and what the parser makes of it:
- an object attribute prints as `<name>` only: it becomes namespace[name] when the caller gives
  one, else a placeholder (Opaque) that prints the same; one object per name in a text, so two
  different objects of one name (two `<dict>`s) become one.  Write distinct names by hand.
  The guards pass asks a call_native's target (`<Spec>`) whether it is quiet: name one in
  the namespace (a placeholder says so when asked).
- a class in a type (`obj[Point]`) becomes namespace[name], a builtin or `types` class of that
  name, else a stand-in class of that qualified name (the same one for every parse).
- a float prints by repr, so a NaN comes back positive whatever its sign bit was;
  attributes whose value is None are not printed (a `const` without `value` gets value=None);
  parameters' attributes (param, cell, captured) are not printed and come back empty; a list
  of values in an attribute comes back as a list (never a tuple).
- a block's predecessors are not printed: they are the blocks that branch to it, in block
  order (the order the builder makes them in; phi inputs follow it).
"""
import ast
import builtins
import re
import types

from .exits import KINDS, NULL, FrameState, Known
from .ir import Block, Function, Value
from .ops import OBJ, ObjType

_STRING = re.compile(r"""'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*\"""")
_NUMBER = re.compile(r"-?(?:inf|nan|\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)")
_INT = re.compile(r"-?\d+")
# classes a type may name without a namespace: builtins and the types module's, by qualified name
_CLASSES = {c.__qualname__: c for c in list(vars(builtins).values()) + list(vars(types).values())
            if isinstance(c, type)}
_STAND_INS = {}      # qualified name -> the stand-in class made for it (kept alive: ObjType is weak)


class ParseError(ValueError):
    """The text is not IR as fmt_function prints it (the message names the line and column)."""


class Opaque:
    """An object the text names only as <name>: it prints as that name again."""

    def __init__(self, name):
        self.__name__ = name

    def __repr__(self):
        return f"<{self.__name__}>"

    def __getattr__(self, attr):
        """A pass asked the placeholder for a fact the text does not carry: say which name to give."""
        name = self.__dict__.get("__name__")
        raise AttributeError(f"<{name}> is a placeholder parsed from IR text (no .{attr}): "
                             f"pass parse() a namespace with an object for {name!r}")


class _Cursor:
    """A position in one line of the text, with the parser's small matching steps."""

    def __init__(self, line, number):
        self.line, self.number, self.pos = line, number, 0

    def fail(self, what):
        """Raise a ParseError that points at the current column."""
        raise ParseError(f"line {self.number}: expected {what} at column {self.pos + 1}:\n"
                         f"  {self.line}\n  {' ' * self.pos}^")

    def eat(self, literal):
        """Step over literal if the text is at it; True when it was."""
        if self.line.startswith(literal, self.pos):
            self.pos += len(literal)
            return True
        return False

    def need(self, literal):
        """Step over literal, which must be next."""
        if not self.eat(literal):
            self.fail(repr(literal))

    def match(self, pattern, what):
        """Step over a match of the compiled pattern, which must be next; return its text."""
        m = pattern.match(self.line, self.pos)
        if m is None:
            self.fail(what)
        self.pos = m.end()
        return m.group()

    def skip(self):
        """Step over spaces."""
        while self.line.startswith(" ", self.pos):
            self.pos += 1

    def at_end(self):
        """True when only spaces are left."""
        return not self.line[self.pos:].strip()

    def angled(self):
        """The name inside <...> (which may itself hold angle brackets, as <<lambda>>)."""
        start, depth = self.pos, 0
        for k in range(self.pos, len(self.line)):
            depth += {"<": 1, ">": -1}.get(self.line[k], 0)
            if depth == 0:
                self.pos = k + 1
                return self.line[start + 1:k]
        self.fail("a closing '>'")


_ID = re.compile(r"%(\d+)")
_NAME = re.compile(r"\w+")
_LOCAL = re.compile(r"[^\s=,|\]]+")
_TYPE = re.compile(r"obj\[[^\]]*\]|\w+")
_BARE = re.compile(r"[^\s\]]+")


class _Parser:
    """One parse: the values by id, the named objects and classes, the function being built."""

    def __init__(self, text, namespace):
        self.namespace = namespace or {}
        self.objects = {}
        self.lines = [(n, line) for n, line in enumerate(text.splitlines(), 1)
                      if line.strip() and not line.lstrip().startswith("#")]
        self.values = {}
        for n, line in self.lines:       # every value first: phis and states refer forward
            for m in re.finditer(r"%(\d+): ", line if line.startswith("func ") else line[:line.find(":") + 2]):
                if int(m.group(1)) in self.values:
                    raise ParseError(f"line {n}: %{m.group(1)} is defined twice")
                self.values[int(m.group(1))] = Value(int(m.group(1)), "phi", [], None)

    def value(self, cur):
        """A %id that some line defines."""
        vid = int(cur.match(_ID, "a value %id")[1:])
        if vid not in self.values:
            cur.pos -= len(str(vid)) + 1
            cur.fail(f"a defined value (%{vid} is not)")
        return self.values[vid]

    def obj(self, name):
        """The object a <name> stands for: from the namespace, else one placeholder per name."""
        if name in self.namespace:
            return self.namespace[name]
        return self.objects.setdefault(name, Opaque(name))

    def type(self, cur):
        """An IR type: None, a scalar type name, obj or obj[qualified class name]."""
        text = cur.match(_TYPE, "a type")
        if text == "None":
            return None
        if text == "obj":
            return OBJ
        if text.startswith("obj["):
            return ObjType(self.cls(text[4:-1]))
        return text

    def cls(self, qualname):
        """The class a type names: the namespace's, a builtin, else a stand-in of that name."""
        for key, c in self.namespace.items():
            if isinstance(c, type) and qualname in (key, c.__qualname__):
                return c
        if qualname in _CLASSES:
            return _CLASSES[qualname]
        if qualname not in _STAND_INS:
            _STAND_INS[qualname] = type(qualname.rpartition(".")[2], (), {"__qualname__": qualname})
        return _STAND_INS[qualname]

    def attr(self, cur):
        """An attribute value: %id, [%id, ...], <object>, a string, a number, True/False/None."""
        if cur.line.startswith("%", cur.pos):
            return self.value(cur)
        if cur.eat("["):
            return self.sequence(cur, self.value, "]")
        if cur.line.startswith("<", cur.pos):
            return self.obj(cur.angled())
        if cur.line.startswith(("'", '"'), cur.pos):
            return ast.literal_eval(cur.match(_STRING, "a string"))
        text = cur.match(_BARE, "an attribute value")
        if text in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[text]
        if not _NUMBER.fullmatch(text):
            cur.pos -= len(text)
            cur.fail("a number, string, %id, [%id, ...] or <name>")
        return float(text) if any(c in text for c in ".eEn") else int(text)

    def attrs(self, cur):
        """` key=value` pairs up to the end of the line or an exit note."""
        out = {}
        while cur.line.startswith(" ", cur.pos) and not cur.line.startswith("  ;", cur.pos):
            cur.skip()
            if cur.at_end():
                break
            key = cur.match(_NAME, "an attribute name")
            cur.need("=")
            out[key] = self.attr(cur)
        return out

    def item(self, cur):
        """A frame-state item: %id, NULL, <known object>, or RangeArgs/RangeIter/SeqIter/VTuple(items)."""
        if cur.eat("NULL"):
            return NULL
        if cur.line.startswith("<", cur.pos):
            return Known(self.obj(cur.angled()))
        if cur.line.startswith("%", cur.pos):
            return self.value(cur)
        kind = cur.match(_NAME, "a frame-state item")
        if kind not in KINDS:
            cur.pos -= len(kind)
            cur.fail("%id, NULL, <name>, " + ", ".join(KINDS))
        cur.need("(")
        parts = self.sequence(cur, self.item, ")")
        return KINDS[kind].from_parts(parts)

    def sequence(self, cur, read, end):
        """Items read by `read`, separated by commas, up to the end marker."""
        out = []
        cur.skip()
        while not cur.eat(end):
            if out:
                cur.need(",")
                cur.skip()
            out.append(read(cur))
            cur.skip()
        return out

    def state(self, cur, offset):
        """The frame state after `; exit@offset`: `[name=item, ... | item, ...]`, or empty."""
        cur.skip()
        if not cur.eat("["):
            return FrameState(offset, (), ())
        local = []
        cur.skip()
        while not cur.eat("|"):
            if local:
                cur.need(",")
                cur.skip()
            name = cur.match(_LOCAL, "a local's name")
            cur.need("=")
            local.append((name, self.item(cur)))
            cur.skip()
        return FrameState(offset, tuple(local), tuple(self.sequence(cur, self.item, "]")))

    def definition(self, cur):
        """One `%id: type = op(args) attrs  ; exit@offset [state]` line → its Value."""
        cur.need("  ")
        v = self.value(cur)
        cur.need(": ")
        v.type = self.type(cur)
        cur.need(" = ")
        v.op = cur.match(_NAME, "an op name")
        cur.need("(")
        v.args = self.sequence(cur, self.value, ")")
        v.attrs = self.attrs(cur)
        if v.op == "const" and "value" not in v.attrs:
            v.attrs["value"] = None
        if cur.eat("  ; exit@"):
            v.state = self.state(cur, int(cur.match(_INT, "an offset")))
        if not cur.at_end():
            cur.fail("the end of the line")
        return v

    def terminator(self, cur):
        """`br offset`, `cbr %cond offset offset`, `ret %value` or `exit`."""
        cur.need("  ")
        kind = cur.match(_NAME, "a terminator")
        if kind == "exit":
            term = ("exit",)
        elif kind == "ret":
            cur.need(" ")
            term = ("ret", self.value(cur))
        elif kind == "br":
            cur.need(" ")
            term = ("br", int(cur.match(_INT, "an offset")))
        elif kind == "cbr":
            cur.need(" ")
            cond = self.value(cur)
            cur.need(" ")
            then = int(cur.match(_INT, "an offset"))
            cur.need(" ")
            term = ("cbr", cond, then, int(cur.match(_INT, "an offset")))
        else:
            cur.pos -= len(kind)
            cur.fail("br, cbr, ret or exit")
        if not cur.at_end():
            cur.fail("the end of the line")
        return term

    def header(self, cur):
        """`func name(%0: type, ...) -> type attrs` → an empty Function."""
        cur.need("func ")
        name = cur.match(re.compile(r"[^(]+"), "the function's name")
        cur.need("(")

        def param(c):
            """One `%id: type` parameter."""
            p = self.value(c)
            c.need(": ")
            p.type = self.type(c)
            return p
        params = self.sequence(cur, param, ")")
        cur.need(" -> ")
        ret = self.type(cur)
        return Function(name, params, [], ret, attrs=self.attrs(cur))

    def function(self):
        """The whole text → a Function (blocks, predecessors, exits)."""
        if not self.lines:
            raise ParseError("no IR in the text")
        n, line = self.lines[0]
        fn = self.header(_Cursor(line, n))
        block = None
        for n, line in self.lines[1:]:
            cur = _Cursor(line, n)
            m = re.fullmatch(r"b(\d+) @(-?\d+)( loop)?:\s*", line)
            if m:
                block = Block(int(m[1]), int(m[2]), loop_header=bool(m[3]))
                fn.blocks.append(block)
            elif block is None or block.term is not None:
                cur.fail("a block header `bN @offset:`")
            elif re.match(r"  %\d+: ", line):
                v = self.definition(cur)
                v.block = block
                (block.phis if v.op == "phi" and not block.body else block.body).append(v)
            else:
                block.term = self.terminator(cur)
        by_offset = {b.offset: b for b in fn.blocks}
        for b in fn.blocks:
            if b.term is None:
                raise ParseError(f"b{b.id} has no terminator")
            for off in b.succs():
                if off not in by_offset:
                    raise ParseError(f"b{b.id} branches to @{off}, which no block starts at")
                by_offset[off].preds.append(b)
        fn.exits = sorted((v for b in fn.blocks for v in b.body if v.state is not None),
                          key=lambda v: v.attrs.get("exit", 0))
        return fn


def parse(text, namespace=None):
    """IR text (fmt_function's, with or without states) → a Function that prints the same text.
    namespace: name → object for <name> attributes and known objects, and classes for types."""
    return _Parser(text, namespace).function()
