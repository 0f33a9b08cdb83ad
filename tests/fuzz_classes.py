"""Fuzzer programs of the object tier's real-code shapes: classes with their own __dict__, defaults,
mixed returns, polymorphic receivers, super(), keyword and star calls, exceptions from callees."""
from hypothesis import strategies as st

# Module state a program may change is reset from these at f's entry (f runs again and again).
PRELUDE = """\
import sys
HD = (2, 1.0)
MD = (1,)


def same(v, name):
    return sys._getframe(1).f_locals.get(name, v) is v


def peek(name):
    return sys._getframe(1).f_locals.get(name, '-')


def alt_m(self, k=1):
    return k * 3


def alt_tag(self):
    return 7


def alt_kind(self, i):
    return None


def reset():
    alt_m.__defaults__, alt_tag.__defaults__, alt_kind.__defaults__ = (1,), None, None
    hv.__kwdefaults__ = {'k': 1}
    for (c, n), fn in ORIG.items():
        if vars(c).get(n) is not fn:
            setattr(c, n, fn)


def shadow(k=1):
    return -7


def h(v, k=2, scale=1.0):
    return v * k + scale


def hv(v, *rest, k=1, **kw):
    return v * k + len(rest) + sum(kw.values())


def first(objs, i):
    return objs[i % len(objs)] if i % 3 else None


def num(v, i):
    return v if i % 2 else v * 0.5


"""
# Method bodies by name; every class defines each (shared names: polymorphic receivers).
M_BODIES = ["return self.x * k + self.y", "return self.x + k", "return self.y - k * 0.5",
            "if self.x > k:\n    return self.x - k\nreturn self.y"]
H_KW = '**{"v": i}'              # h called with a dict of keyword arguments
HV_ARGS = ["i", "i, 1, 2", "i, k=2", "i, z=3", '*(i, 1), **{"k": 2}', "o.x, *[i]", "v=i, k=0.5", "*range(i % 3 + 1)"]
KW_DEFAULTS = ["{'k': 3}", "{'k': 0.5}"]     # hv's keyword-only default, rebound mid-loop
SCALE_ARGS = ["", "i", "i, 2", "by=i", "*(1, 2), by=0.5", '**{"by": 2}', "*[i] * 2"]
REDICT = ['{"w": i, **vars(o)}', '{**vars(o), "x": 0.5}', 'dict(reversed(vars(o).items()))']  # keys moved
KIND_RETURNS = ["True", "self.x", "self.y * 1.5", "None", "self", "i"]
SLOTS = '("x", "y", "z", "w")'    # the attributes of a program's __slots__ classes
REPLACED = ["m", "tag", "kind"]    # methods a program may replace on (or delete from) a class mid-loop
RISKY = ["return self.x // (i - 2)", "if i == 3:\n    raise ValueError(f'bad {i}')\nreturn self.y",
         "return [self.x][i % 2]", "return {'a': self.x}['a' if i % 3 else 'b']"]


class ClassWriter:
    """One program: a prelude, one to three classes sharing method names, and f(a, b) looping over
    instances of them."""

    def __init__(self, draw):
        """A writer drawing from hypothesis's draw."""
        self.draw, self.lines, self.names, self.own = draw, [], 0, {}
        self.slots = draw(st.integers(0, 99)) < 35     # classes with __slots__: no instance dict
        self.slotted = set()                            # the classes whose instances have no __dict__
        self.floats = []                                # number locals first bound in the loop
        self.kwinit = set()                             # classes whose __init__ has keyword-only s

    def pick(self, options):
        """One of the options."""
        return self.draw(st.sampled_from(options))

    def chance(self, percent):
        """True with about this probability."""
        return self.draw(st.integers(0, 99)) < percent

    def emit(self, indent, text):
        """Append lines (text may hold several) at this indentation."""
        self.lines += ["    " * indent + line for line in text.split("\n")]

    def klass(self, name, base, sup):
        """A class: __init__ with a default, attributes in a drawn order, maybe a dict of its own;
        methods m (a default), kind (returns of every kind), risky (raises), tag; super() calls."""
        self.emit(0, f"class {name}{'(' + base + ')' if base else ''}:")
        if self.slots and (base != "A" or self.chance(50)):     # else a subclass with a __dict__
            self.emit(1, f"__slots__ = {SLOTS if base != 'A' else '()'}")
            if base != "A" or "A" in self.slotted:
                self.slotted.add(name)
        attrs = self.draw(st.permutations(["self.x = x", "self.y = y", f"self.z = {self.pick(['0', 'x', 'None'])}"]))
        if self.chance(30):             # a keyword-only parameter (its default, or given by name)
            self.kwinit.add(name)
            self.emit(1, "def __init__(self, x, y=2, *, s=1):")
            attrs = list(attrs) + ["if s != 1:\n    self.w = s"]
        else:
            self.emit(1, "def __init__(self, x, y=2):")
        if base == "A" and self.chance(50):
            attrs = ["super().__init__(x, y)"] + [a for a in attrs if "self.z" in a]
        for line in attrs:
            self.emit(2, line)
        self.own[name] = name not in self.slotted and self.chance(60)
        if self.own[name]:                 # an instance dict of its own, as go's Squares keep
            self.emit(2, "self.__dict__ = dict(self.__dict__)")
        if self.chance(30):
            self.emit(2, f"self.{self.pick(['w', 'z', 'x'])} = {self.pick(['x', '0.5', '[x]'])}")
        self.emit(1, f"def m(self, k={self.pick(['1', '2', '0.5', 'MD[0]'])}):")
        if sup and self.chance(60):
            self.emit(2, f"return super().m({self.pick(['k', '', 'k=k + 1'])}) {self.pick(['+', '*', '-'])} 1")
        else:
            self.emit(2, self.pick(M_BODIES))
        self.emit(1, "def kind(self, i):")
        rets = self.draw(st.lists(st.sampled_from(KIND_RETURNS), min_size=2, max_size=4))
        for k, r in enumerate(rets[:-1]):
            self.emit(2, f"if i % {len(rets)} == {k}:\n    return {r}")
        self.emit(2, f"return {rets[-1]}")
        self.emit(1, "def scale(self, *ks, by=1):")
        self.emit(2, self.pick(["return self.x * by + len(ks)", "return sum(ks, self.y) * by"]))
        self.emit(1, "def risky(self, i):")
        self.emit(2, self.pick(RISKY) if not (sup and self.chance(30)) else "return super().risky(i) + 1")
        self.emit(1, f"def tag(self):\n    return {self.pick(['1', '2.5', 'True', 'None', 'self.x'])}")
        self.emit(1, "def __repr__(self):")
        if self.slots:
            self.emit(2, f"return f'{name}({{[getattr(self, k, \"-\") for k in {SLOTS}]!r}})'")
        else:
            self.emit(2, f"return f'{name}({{[kv for kv in self.__dict__.items() if kv[0] != \"m\"]!r}})'")
        self.emit(0, "")

    def classes(self):
        """One to three classes: a subclass (super() calls) or not, a common base or not."""
        names = ["A", "B", "C"][:self.draw(st.integers(1, 3))]
        base = "Base" if self.chance(40) else None
        if base:
            self.emit(0, "class Base:\n" + "    __slots__ = ()\n" * self.slots + "    def tag(self):\n        return 0\n    def m(self, k=1):\n"
                         "        return k\n    def risky(self, i):\n        return i\n")
        for n, name in enumerate(names):
            parent = "A" if n == 1 and self.chance(60) else base
            self.klass(name, parent, parent is not None)
        self.emit(0, f"ORIG = {{(c, n): vars(c)[n] for c in ({', '.join(names)},) for n in {REPLACED!r}}}\n")
        return names

    def make(self, cls, x, y):
        """A constructor call: positional, keyword, star-args, or its default."""
        kw = [f"{cls}({x}, s=2)", f"{cls}({x}, {y}, **{{'s': 0.5}})"] if cls in self.kwinit else []
        return self.pick([f"{cls}({x}, {y})", f"{cls}({x}, y={y})", f"{cls}({x})", f"{cls}(*({x}, {y}))",
                          f"{cls}(**{{'x': {x}, 'y': {y}}})", f"{cls}(y={y}, x={x})", f"{cls}(*[{x}], **{{'y': {y}}})"] + kw)

    def stmt(self, names, indent):
        """One statement in the loop body, where o is the receiver and i the counter."""
        n = self.names = self.names + 1
        shapes = [
            lambda: f"acc = acc + o.m({self.pick(['', 'i', 'k=i', '2', '*(i,)'])})",
            lambda: f"o.x = o.x + {self.pick(['1', 'i', '0.5', 'o.y'])}",
            lambda: f"o.{self.pick(['y', 'z', 'w'])} = {self.pick(['i', 'acc', 'None', 'o.x * 2', '1.5'])}",
            lambda: f"acc = acc + o.y" if self.chance(50) else "acc = acc + (o.z or 0)",
            lambda: f"if i == {self.pick(['1', '2', '4'])}:\n    " + self.pick(["del o.{}", "delattr(o, '{}')",
                                                                         "delattr(o, '{}')"]).format(self.pick("xyz")),
            lambda: f"if i == {self.pick(['1', '3'])}:\n    o.m = shadow" if not self.slots else
                    f"try:\n    o.m = shadow\nexcept AttributeError as e:\n    log.append(str(e))",
            lambda: f"if i == {self.pick(['0', '2'])}:\n    vars(o)['{self.pick(['x', 'y', 'm', 'w'])}'] = i",
            lambda: "log.append(len(vars(o)))",
            lambda: f"if i == {self.pick(['1', '2'])}:\n    o.__dict__ = {self.pick(REDICT)}",
            lambda: f"r{n} = o.kind(i)\nif r{n} is o:\n    r{n} = o.x\nelif r{n} is None:\n    r{n} = -1\n"
                    f"acc = acc + r{n}",
            lambda: f"log.append(o.kind(i) is None)",
            lambda: f"try:\n    acc = acc + o.risky(i)\nexcept {self.pick(['ValueError', 'ZeroDivisionError', '(ValueError, ZeroDivisionError)', '(IndexError, KeyError)', 'Exception'])} as e:\n"
                    f"    log.append(str(e))",
            lambda: f"acc = acc + o.risky(i)",
            lambda: f"t{n} = i > {self.pick(['1', '3'])} and (acc or {self.pick(['a', 'b', 'None'])})\nlog.append(t{n})",
            lambda: f"log.append(o.x > 2 or o.y)",
            lambda: f"acc = acc + (o.tag() or 0)",
            lambda: f"acc = acc + h({self.pick(['i', 'i, 3', 'i, scale=0.25', '*(i, 2)', 'v=i', H_KW, 'o.x'])})",
            lambda: f"if i == {self.pick(['1', '2'])}:\n    h.__defaults__ = {self.pick(['(3, 2.5)', '(1,)', 'None', 'HD'])}",
            lambda: f"if i == {self.pick(['1', '2'])}:\n    {self.pick(names)}.m.__defaults__ = {self.pick(['(i,)', '(0.5,)', 'MD'])}",
            lambda: f"objs[i % len(objs)] = {self.make(self.pick(names), 'i', self.pick(['acc', '2', 'b']))}",
            lambda: f"if best is None or o.x > best.x:\n    best = o",
            lambda: f"print({self.pick(['o', 'o.x', 'acc', 'o.kind(i)'])})",
            lambda: f"s = s + {self.pick(['o.y', '1', '0.5', 'o.m()'])}",
            lambda: f"if i == {self.pick(['1', '2', '3'])}:\n    " + self.pick([
                f"{self.pick(names)}.{self.pick(REPLACED)} = alt_{self.pick(REPLACED)}",
                f"del {self.pick(names)}.{self.pick(REPLACED)}"]),
            lambda: "log.append(same({0}, '{0}'))".format(self.pick(['i', 'acc', 's'])),
            lambda: f"x{n} = i * {self.pick(['0.5', '3', '1.5'])}\nlog.append(same(x{n}, 'x{n}'))",
            lambda: f"log.append(peek('{self.pick(['i', 'acc', 'o', 's'] + self.floats)}'))",
            # star-args, keyword-only parameters and **kw in callees
            lambda: f"acc = acc + hv({self.pick(HV_ARGS)})",
            lambda: f"if i == {self.pick(['1', '2'])}:\n    hv.__kwdefaults__ = {self.pick(KW_DEFAULTS)}",
            lambda: f"acc = acc + o.scale({self.pick(SCALE_ARGS)})",
            # one call site, several callees: functions, bound methods of several classes
            lambda: f"acc = acc + (h if i % 2 else hv)({self.pick(['i', 'o.x', 'k=1, v=i'])})",
            lambda: f"bm{n} = o.{self.pick(['m', 'tag', 'scale'])}\nacc = acc + (bm{n}() or 0)",
            lambda: f"cur{n} = objs[{self.pick(['0', '-1'])}] if i % 2 else o\nacc = acc + cur{n}.{self.pick(['m()', 'x', 'scale(i)'])}",
            # locals of more than one type: None or an instance, int or float
            lambda: f"p{n} = first(objs, i)\nif p{n} is not None:\n    acc = acc + p{n}.{self.pick(['m()', 'x', 'y'])}\n"
                    f"log.append(p{n} is None)",
            lambda: f"u{n} = {self.pick(['num(o.x, i)', 'num(i, i)', 'o.x if i % 2 else o.y', 'i if i % 3 else None'])}\n"
                    f"acc = acc + (u{n} or 0)\nlog.append(type(u{n}).__name__)",
            # a constructor whose class the counter picks
            lambda: f"objs[i % len(objs)] = ({self.pick(names)} if i % 2 else {self.pick(names)})"
                    f"({self.pick(['i', 'i, 0.5', 'i, y=acc', 'x=i'])})",
        ]
        if self.slots:               # no instance dict to read or replace
            shapes = [s for k, s in enumerate(shapes) if k not in (6, 7, 8)]     # vars(o), __dict__
        self.emit(indent, self.pick(shapes)())
        if f"x{n} = " in self.lines[-2]:
            self.floats.append(f"x{n}")

    def function(self):
        """The module: prelude, classes, then f(a, b) over a list of their instances."""
        self.emit(0, PRELUDE.rstrip("\n") + "\n")
        names = self.classes()
        self.emit(0, "def f(a, b):")
        self.emit(1, "reset()")
        self.emit(1, "h.__defaults__ = HD")
        for name in names:
            self.emit(1, f"{name}.m.__defaults__ = MD")
        self.emit(1, "acc, s, best, log = 0, 0, None, []")
        mono = self.chance(50)          # instances of one class: CPython's hints name it, calls go native
        inits = [self.make(names[0] if mono else self.pick(names), self.pick(["a", "b", "1"]),
                           self.pick(["b", "a", "0.5"])) for _ in range(self.draw(st.integers(1, 4)))]
        self.emit(1, f"objs = [{', '.join(inits)}]")
        after = self.chance(30)         # the loop's variables read after the loop
        if after:                       # bound before it (a maybe-unbound local is refused)
            self.emit(1, "i, o = -1, None")
        if self.chance(50):
            self.emit(1, f"for i in range({self.pick(['4', '6', '9'])}):")
            self.emit(2, "o = objs[i % len(objs)]")
        else:
            self.emit(1, "i = 0")
            self.emit(1, f"for o in {self.pick(['objs', 'objs * 2', 'list(objs)'])}:")
            self.emit(2, "i += 1")
        if mono and self.chance(70):    # an attribute read first: its hint tells the receiver's class
            self.emit(2, f"acc = acc + o.{self.pick(['x', 'y'])}")
        for _ in range(self.draw(st.integers(1, 5))):
            self.stmt(names, 2)
        if after:
            self.emit(1, f"log.append(same(i, 'i'))\nlog.append({self.pick(['i', 'o'])})")
        elif self.chance(40):           # bound in the loop only: the frame holds the last iteration's
            self.emit(1, f"log.append(peek('{self.pick(['i', 'o'] + self.floats)}'))")
        self.emit(1, "return acc, s, best is None, [repr(v) for v in log]")
        return "\n".join(self.lines) + "\n"
