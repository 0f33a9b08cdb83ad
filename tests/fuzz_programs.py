"""Fuzzer programs: hypothesis draws → random small Python functions over numbers, containers, simple
classes, with statements and closures, and their argument sets (run by tests/fuzz.py)."""
import copy
import re
from dataclasses import dataclass

from hypothesis import strategies as st

from tests.fuzz_classes import ClassWriter
from tests.support import FLOAT_SPECIALS, INT_EDGES
from tiered import config

PY_TYPES = {"int": int, "float": float, "bool": bool}
NUMERIC, OBJECTS = tuple(PY_TYPES), ("list", "dict", "tuple", "obj")
CONSTS = {"int": "0 1 2 3 (-1) 7 (-9) 255 2147483648 4611686018427387904 9223372036854775807".split(),
          "float": "0.0 (-0.0) 0.5 (-2.25) 3.0 1e300 5e-324 math.inf math.nan".split(),
          "bool": ["True", "False"]}
MATH1 = "sqrt exp log sin atan tanh log1p expm1 fabs acos cosh erf cbrt degrees".split()
ERRORS = ["ZeroDivisionError", "IndexError", "KeyError", "OverflowError", "ValueError"]
CMP = "{< <= > >= == !=}"
# Expression templates by result type: {a b c} picks one word, «» are literal braces, $type is a random expression of that type
# ($num: any number, $same: the result type, $index: a small index or key).
FORMS = {
    "int": ["($int {+ - * // % & | ^} {$int $int $bool})", "($int {<< >>} {1 3 5 31 63 64 (-1)})",
            "($int ** {0 1 2 2 3 3 2 3 (-1)})", "{- ~ abs +}($int)", "($bool {+ - *} $bool)",
            "{int round math.floor math.ceil math.trunc}($float)"],
    "float": ["($float {+ - * / // %} $num)", "($num {+ - * / // %} $float)", "($int / {$int $bool})",
              "($float ** {2 0.5 (-1) 3.0 $float})", "float($int)", "{- abs}($float)",
              "math.{%s}({$float $float $int})" % " ".join(MATH1),
              "math.{pow atan2 hypot copysign fmod}($float, $num)"],
    "bool": [f"($num {CMP} $num)", f"($num {CMP} $num)", "($int {< <= == !=} $float {< <= == !=} $int)",
             "(not $num)", "math.{isnan isinf isfinite}($float)", "($bool {& | ^} $bool)"],
}
# Reads from objects, used (with a higher weight) when a variable of that type ($list, $obj, ...) is in scope.
READS = {"int": ["len($list)", "$list[$index]", "len($tuple)", "$tuple[$index]", "$dict[$index]",
                 "$dict.get($index, 0)", "$obj.x", "sum(v for v in $list)", "len(«**$dict, $index: $int»)",
                 "len(«*$list, *$tuple»)", "len([v for v in $tuple if v])"],
         "float": ["$obj.y"], "bool": ["($index in $dict)", "($int in $list)", "($index in $tuple)"]}
SAME = ["($same if $bool else $same)", "{min max}($same, $same)"]   # int and float; and/or for all three
MUTATIONS = ["$list[$index] = $int", "$list.append($int)", "$dict[$index] = $int", "$obj.x = $int",
             "$obj.y += $float", "$obj.z = $obj.x", "$tuple = ($int, $int)", "$pair = $tuple"]
AUGMENTED = {"int": ("+= -= *= //= %= &= |= ^=", "int"), "float": ("+= -= *= /=", "num"),
             "bool": ("&= |= ^=", "bool")}


class Obj:
    """The fuzzer's simple class: an instance with an int attribute x and a float attribute y."""

    def __init__(self, x, y):
        """An instance with these attributes."""
        self.x, self.y = x, y

    def __repr__(self):
        """A repr without an address, so printed output compares."""
        return f"Obj({self.x!r}, {self.y!r})"

    def __deepcopy__(self, memo):
        """A copy made as the program makes instances (through __init__, attributes inline):
        copy.deepcopy's would have a __dict__ of its own, which CPython never specialises for."""
        new = type(self)(copy.deepcopy(self.x, memo), copy.deepcopy(self.y, memo))
        for name, value in vars(self).items():
            setattr(new, name, copy.deepcopy(value, memo))
        return new


class Obj2(Obj):
    """A subclass whose instances hold their attributes in another order (another layout)."""

    def __init__(self, x, y):
        """An instance with these attributes, y first."""
        self.y, self.x = y, x

    def __repr__(self):
        """A repr without an address."""
        return f"Obj2({self.x!r}, {self.y!r})"


class Obj3:
    """A class of its own whose y is a property (x an attribute): another class in the same place."""

    def __init__(self, x, y):
        """An instance with x, and y behind the property."""
        self.x, self._y = x, y

    @property
    def y(self):
        """The stored y."""
        return self._y

    @y.setter
    def y(self, value):
        self._y = value

    def __repr__(self):
        """A repr without an address."""
        return f"Obj3({self.x!r}, {self.y!r})"

    __deepcopy__ = Obj.__deepcopy__


class Ctx:
    """The fuzzer's context manager: prints its enter and its exit (with the exception's class),
    and swallows the exception when asked."""

    def __init__(self, swallow):
        """A manager that swallows exceptions or not."""
        self.swallow = swallow

    def __enter__(self):
        """Print, and give the with's target an int."""
        print("enter")
        return 7

    def __exit__(self, kind, value, tb):
        """Print what ended the block; True swallows its exception."""
        print("exit", kind.__name__ if kind else None)
        return self.swallow


class Writer:
    """One function's source, drawn statement by statement; every variable keeps one static type."""

    def __init__(self, draw, params, returns, helper=(None, None), readonly=False, objects=False, flat=False):
        """A writer for a function: typed parameters, return type, (helper call template, its
        type); a read-only one changes no object (so it can run frameless); an objects one may
        also use with statements and closures (which only the object tier compiles); a flat one
        has no loops (so, changing objects, it can be a resumable callee)."""
        self.draw, self.returns, self.readonly, self.objects = draw, returns, readonly, objects
        self.flat = flat
        self.closures = []                      # (call template, its type) of inner functions
        self.call, self.call_type = helper      # a template calling the helper function, its type
        self.vars = dict(params)                # name -> type
        self.params = list(params)              # a comprehension may shadow one (shadow)
        self.fixed = set()                      # loop variables and counters: read, never assigned
        self.lines, self.indent, self.loops, self.names = [], 0, 0, 0

    def pick(self, options):
        """One of the options."""
        return self.draw(st.sampled_from(options))

    def chance(self, percent):
        """True with about this probability."""
        return self.draw(st.integers(0, 99)) < percent

    def emit(self, text):
        """Append a line at the current indentation."""
        self.lines.append("    " * self.indent + text)

    def of(self, t, assignable=False):
        """Sorted names of the variables of type t (only those that may be assigned, if asked)."""
        return sorted(n for n, vt in self.vars.items()
                      if vt == t and not (assignable and n in self.fixed))

    def has(self, word):
        """True when a template word can be expanded in this scope."""
        if word == "pair":
            return len(self.of("int", True)) >= 2
        return word not in OBJECTS or bool(self.of(word))

    def usable(self, templates):
        """The templates whose every $word can be expanded here."""
        return [f for f in templates if all(self.has(w) for w in re.findall(r"\$(\w+)", f))]

    def render(self, template, d=0):
        """Expand a template: {a b c} picks a word, «» are braces, $type draws an expression of that type."""
        def word(w):
            """One word: a literal, or $type expanded."""
            return self.expr(w[1:], d) if w.startswith("$") else w
        return re.sub(r"\{([^{}]+)\}|(\$\w+)", lambda m: word(m.group(2) or self.pick(
            [w for w in m.group(1).split() if not w.startswith("$") or self.has(w[1:])])),
            template).replace("«", "{").replace("»", "}")

    def expr(self, t, d=0):
        """An expression of type t, compounds parenthesised (t may also be num, any, index or pair)."""
        special = {"num": lambda: self.expr(self.pick(NUMERIC), d),
                   "pair": lambda: ", ".join(self.of("int", True)[:2]),
                   "any": lambda: self.expr(self.pick([w for w in NUMERIC + OBJECTS if self.has(w)]), d),
                   "index": lambda: self.pick("0 1 2 (-1) (-3) 5".split()) if self.chance(70)
                   else self.expr("int", d)}
        if t in special:
            return special[t]()
        if t in OBJECTS:
            return self.pick(self.of(t))
        if d >= 3 or self.chance(45):
            return self.pick(self.of(t)) if self.of(t) and self.chance(70) else self.pick(CONSTS[t])
        forms = FORMS[t] + SAME * (t != "bool") + ["($same {and or} $same)"] + self.usable(READS[t]) * 4
        forms += [self.call] * 4 * (self.call_type == t)
        forms += [c for c, ct in self.closures if ct == t] * 3
        return self.render(self.pick(forms).replace("$same", "$" + t), d + 1)

    def block(self, depth, most=3, first=None, then=None):
        """1..most statements one level deeper (after optional fixed first lines)."""
        self.indent += 1
        for line in (first, then):
            if line:
                self.emit(line)
        for _ in range(self.draw(st.integers(1, most))):
            self.stmt(depth + 1)
        self.indent -= 1

    def stmt(self, depth):
        """One random statement (compound ones only while depth allows)."""
        simple = [self.assign] * 3 + [self.swap] * any(len(self.of(t, True)) > 1 for t in NUMERIC)
        simple += [self.jump] * bool(self.loops)
        simple += [self.early_return] * (self.indent > 1 and self.has(self.returns))
        simple += [self.mutate] * 4 * bool(self.usable(MUTATIONS) and not self.readonly)
        # (a list and `is None` on a number: only the object tier compiles it)
        simple += [self.shadow] * bool(config.get("TIERED_OBJECTS") and self.params and self.of("int", True))
        compound = [self.if_] + [self.loop, self.loop] * (not self.flat) + [self.try_] + [self.with_] * self.objects
        self.pick(simple + compound * (depth < 2))(depth)

    def assign(self, depth):
        """v = or v op= an expression, keeping v's type."""
        v = self.pick(sorted(n for t in NUMERIC for n in self.of(t, True)))
        ops, rhs = AUGMENTED[self.vars[v]] if self.chance(35) else ("=", self.vars[v])
        self.emit(f"{v} {self.pick(ops.split())} {self.expr(rhs)}")

    def swap(self, depth):
        """Tuple packing and unpacking of two variables of one type."""
        t = self.pick([t for t in NUMERIC if len(self.of(t, True)) > 1])
        v, w = self.draw(st.permutations(self.of(t, True)))[:2]
        values = f"{self.expr(t)}, {self.expr(t)}" if self.chance(50) else f"{w}, {v}"
        self.emit(f"{v}, {w} = {values}")

    def shadow(self, depth):
        """A list comprehension whose variable has a parameter's name (3.12 inlines it, saving
        and restoring the parameter around its loop): the parameter is read after it too."""
        p, v = self.pick(self.params), self.pick(self.of("int", True))
        self.emit(f"{v} = len([{p} for {p} in range({self.pick(['0', '2', '3'])})]) + ({p} is None)")

    def jump(self, depth):
        """if condition: break / continue."""
        self.emit(f"if {self.expr('bool')}:")
        self.lines.append("    " * (self.indent + 1) + self.pick(["break", "continue"]))

    def early_return(self, depth):
        """An early return of the function's return type."""
        self.emit(f"return {self.expr(self.returns)}")

    def mutate(self, depth):
        """A list, dict, tuple or instance operation on an object variable, or a print."""
        self.emit(self.render(self.pick(self.usable(MUTATIONS) + ["print($any)"])))

    def if_(self, depth):
        """if / elif / else."""
        self.emit(f"if {self.expr('bool')}:")
        self.block(depth)
        for keyword, percent in (("elif", 30), ("else", 50)):
            if self.chance(percent):
                self.emit(f"elif {self.expr('bool')}:" if keyword == "elif" else "else:")
                self.block(depth)

    def loop(self, depth):
        """for over a small range or a list, or while under a counter; the loop variable is read-only."""
        self.names += 1
        kind, lst, first = self.pick(["range", "while"] + ["list"] * 2 * bool(self.of("list"))), None, None
        var = f"{kind[0]}{self.names}"
        if kind == "range":
            bounds = self.pick(["3", "5", "8", "-2, 6", "7, -1, -2", f"min({self.expr('int')}, 6)"])
            header = f"for {var} in range({bounds}):"
        elif kind == "list":
            lst = self.pick(self.of("list"))
            header, self.vars[lst] = f"for {var} in {lst}:", "iterated"    # hidden: it never grows
        else:
            self.emit(f"{var} = 0")
            cond = f" and {self.expr('bool')}" if self.chance(40) else ""
            header, first = f"while {var} < {self.pick(['3', '6'])}{cond}:", f"{var} += 1"
        self.emit(header)
        self.vars[var], self.loops = "int", self.loops + 1
        self.fixed.add(var)
        late = None                  # a local bound only in the loop, read after it (unbound
        # when the loop never ran: UnboundLocalError); only the object tier compiles it
        if config.get("TIERED_OBJECTS") and self.chance(35):
            self.names += 1
            late = f"z{self.names}"
        self.block(depth, first=first, then=f"{late} = {self.expr('int')}" if late else None)
        del self.vars[var]
        self.loops -= 1
        if lst:
            self.vars[lst] = "list"
        if late and self.of("int", True):
            self.emit(f"{self.pick(self.of('int', True))} = {late} + 1")

    def try_(self, depth):
        """try around risky statements, catching one or two of the risky errors."""
        self.emit("try:")
        self.block(depth, 2)
        caught = self.draw(st.lists(st.sampled_from(ERRORS), min_size=1, max_size=2, unique=True))
        self.emit(f"except {caught[0] if len(caught) == 1 else '(' + ', '.join(caught) + ')'}:")
        self.block(depth, 1)

    def with_(self, depth):
        """with Ctx(swallow) as wN: a block whose exceptions reach __exit__, which may swallow them."""
        self.names += 1
        var = f"w{self.names}"
        self.emit(f"with Ctx({self.pick(['True', 'False'])}) as {var}:")
        self.vars[var] = "int"
        self.fixed.add(var)
        self.block(depth)
        del self.vars[var]

    def closure(self):
        """An inner function over one of the numeric locals: one that rebinds it (nonlocal) or
        one that reads it; its call becomes an expression of the local's type."""
        v = self.pick([n for t in ("int", "float") for n in self.of(t, True)])
        t = self.vars[v]
        self.names += 1
        name = f"h{self.names}"
        if self.chance(50):
            self.emit(f"def {name}(d):")
            self.lines += ["    " * (self.indent + 1) + f"nonlocal {v}",
                           "    " * (self.indent + 1) + f"{v} = {v} + d",
                           "    " * (self.indent + 1) + f"return {v}"]
            self.closures.append((f"{name}(${t})", t))
        else:
            self.emit(f"def {name}():")
            self.lines.append("    " * (self.indent + 1) + f"return {v} * 2")
            self.closures.append((f"{name}()", t))

    def function(self, name, acc=None):
        """The whole function: typed locals (acc: an object local's type), a body and a final return."""
        self.emit(f"def {name}({', '.join(self.vars)}):")
        self.indent = 1
        if acc:
            self.emit("acc = " + {"list": "[]", "tuple": "(1, 2)"}[acc])
            self.vars["acc"] = acc
        types_ = self.draw(st.lists(st.sampled_from(NUMERIC), min_size=1, max_size=3))
        for k, t in enumerate([self.call_type] * bool(self.call) + types_):    # the helper is called once
            self.names += 1
            self.emit(f"v{self.names} = {self.render(self.call) if k == 0 and self.call else self.expr(t)}")
            self.vars[f"v{self.names}"] = t
        if self.objects and self.of("int", True) + self.of("float", True) and self.chance(30):
            self.closure()
        for _ in range(self.draw(st.integers(1, 4))):
            self.stmt(0)
        self.emit(f"return {self.expr(self.returns)}")
        return "\n".join(self.lines) + "\n"


VALUES = {
    "int": st.one_of(st.integers(-10, 10), st.sampled_from(INT_EDGES + [2**64, -2**70]),
                     st.integers(-2**40, 2**40)),
    "float": st.one_of(st.sampled_from(FLOAT_SPECIALS), st.floats(-1e3, 1e3), st.floats()),
    "bool": st.booleans(),
    "list": st.lists(st.integers(-5, 5), max_size=5),
    "dict": st.dictionaries(st.integers(-3, 5), st.integers(-9, 9), max_size=4),
    "tuple": st.lists(st.integers(-5, 5), max_size=4).map(tuple),
    "obj": st.builds(Obj, st.integers(-10, 10), st.floats(-10, 10)),
}


@dataclass
class Case:
    """One generated program: source, kind, argument sets, helper g's parameter types."""
    src: str
    kind: str
    args: list
    helper: tuple


@st.composite
def cases(draw):
    """A random program, numeric 60% of the time, maybe with a helper it calls, and 1-3 argument sets
    (with the object tier on, 40% of the programs are of classes instead)."""
    if config.get("TIERED_OBJECTS") and draw(st.integers(0, 9)) < 4:
        return class_case(draw)
    kind = "numeric" if draw(st.integers(0, 9)) < 6 else "objects"
    types_ = draw(st.lists(st.sampled_from(NUMERIC if kind == "numeric" else NUMERIC + OBJECTS + ("obj",)),
                           min_size=1, max_size=3))
    params = dict(zip("abc", types_))
    src, helper, ptypes = "", (None, None), []
    if draw(st.integers(0, 9)) >= (4 if kind == "objects" else 7):    # a helper f calls (0: none)
        kinds = NUMERIC + ("obj",) * 3 * ("obj" in types_)     # an instance f has, passed on
        ptypes = draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=2))
        helper = (f"g({', '.join('$' + p for p in ptypes)})", draw(st.sampled_from(NUMERIC)))
        src = Writer(draw, dict(zip("pq", ptypes)), helper[1], readonly=draw(st.booleans()),
                     flat=draw(st.booleans())).function("g")
    acc = None          # objects programs may keep a list or tuple in a local, not a parameter
    if kind == "objects" and (draw(st.booleans()) or not set(types_) & set(OBJECTS)):
        acc = draw(st.sampled_from(["list", "tuple"]))
    objects = sorted((set(types_) | {acc}) & set(OBJECTS))
    returns = draw(st.sampled_from(NUMERIC + tuple(objects)))
    src += Writer(draw, params, returns, helper, objects=kind == "objects").function("f", acc)
    first = draw(st.tuples(*(VALUES[t] for t in types_)))       # f is compiled for its types
    other = st.sampled_from(NUMERIC).flatmap(VALUES.get)         # later calls may pass other number types
    more = st.tuples(*(st.one_of(*[VALUES[t]] * 4, other) if t in NUMERIC else
                       st.one_of(VALUES[t], OTHER_OBJ) if t == "obj" else VALUES[t] for t in types_))
    return Case(src, kind, [first] + draw(st.lists(more, min_size="obj" in types_, max_size=2)),
                tuple(PY_TYPES.get(t, Obj) for t in ptypes))


# later calls may pass an instance of another class where f was compiled for an Obj
OTHER_OBJ = st.one_of(*(st.builds(cls, st.integers(-10, 10), st.floats(-10, 10)) for cls in (Obj2, Obj3)))
SMALL = {"int": st.one_of(*[st.integers(-3, 9)] * 3, VALUES["int"]),
         "float": st.one_of(*[st.floats(-10, 10)] * 3, VALUES["float"])}


def class_case(draw):
    """A program of classes: f(a, b), a an int, b an int or a float (mostly small), 1-3 argument sets."""
    types_ = ("int", draw(st.sampled_from(["int", "float"])))
    first = draw(st.tuples(*(SMALL[t] for t in types_)))
    more = st.tuples(SMALL["int"], st.sampled_from(["int", "float"]).flatmap(SMALL.get))
    return Case(ClassWriter(draw).function(), "classes", [first] + draw(st.lists(more, max_size=2)), ())
