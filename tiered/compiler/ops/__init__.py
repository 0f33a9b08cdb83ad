"""Compiler op table: every IR op, defined once by its domain module (spec, type rule, attrs, lowering).

An op is declared where it is lowered: `@op(name, arity, result, exit, ...)` on its lowering
function, or `define(name, ..., lower=...)` for a table row whose lowering is made by a helper
(ops/common.py: a C-API call from cpython.capi.FUNCTIONS, a plain LLVM instruction).  The
domain modules register into OPS when this package is imported, and the import-time check at
the bottom refuses an op defined twice, an op without a lowering, and a declaration that
contradicts itself or the C-API table.
"""
import weakref
from dataclasses import dataclass
from typing import Any, Callable, FrozenSet, Optional, Tuple

from ...reasons import Exit

INT, FLOAT, BOOL, NONE = "int", "float", "bool", "none"


class ObjType:
    """The IR type of a Python object value (a PyObject* owning a reference): its exact class,
    or None when the class is not known.  The class is held weakly (records keep their
    signatures, and a class keeps its methods alive)."""
    __slots__ = ("_ref", "_id")

    def __init__(self, cls=None):
        self._ref = weakref.ref(cls) if cls is not None else None
        self._id = id(cls) if cls is not None else 0

    @property
    def cls(self):
        """The class (None when unknown, or when it has died)."""
        return self._ref() if self._ref is not None else None

    @property
    def ref(self):
        """The weak reference to the class (native code checks through it that it is alive)."""
        return self._ref

    def __eq__(self, other):
        return isinstance(other, ObjType) and other._id == self._id and other.cls is self.cls

    def __hash__(self):
        return hash(("obj", self._id))

    def __repr__(self):
        cls = self.cls
        return "obj" if self._id == 0 else f"obj[{getattr(cls, '__qualname__', '<dead class>')}]"


OBJ = ObjType()
# `frameless` for a native caller's callee: True (it changes nothing the program sees: an exit
# calls it again) or RESUMABLE (it may also change objects: an exit is resumed where it left)
RESUMABLE = "resumable"
# builtin classes whose instances report their own type as __class__: for an object exactly of
# one of these, isinstance(x, a plain class) is PyType_IsSubtype(type(x), cls), with no lookup
PLAIN_INSTANCES = (list, dict, tuple, str, int, float, bool, type(None), set, frozenset, bytes,
                   bytearray, complex)


def is_obj(t):
    """True for an object type (any class, or unknown)."""
    return isinstance(t, ObjType)


@dataclass(frozen=True)
class OpSpec:
    """The static description of one IR op: arity, result type, exit reason, effects, the attrs
    keys it may carry, the Python operation it implements, and its lowering."""
    name: str
    arity: int              # -1: variable
    result: Optional[str]   # None: given by the builder (phi, const, calls)
    exit: Optional[Exit]    # the reason an exit from this op is counted under; None: never exits
    pure: bool = True       # no side effects: may be folded, moved or removed when unused
    raises: bool = False    # its exits may carry a pending exception for the interpreter to raise
    python: bool = False    # may run Python code (a destructor, a descriptor, a signal handler)
    # may be in a frameless specialisation (one a native caller calls, and calls again from
    # the interpreter when it exits): it changes no object the program can see and runs no
    # Python code there (a signal handler aside; a getattr's or isinstance's slow path exits)
    frameless: bool = True
    attrs: FrozenSet[str] = frozenset()     # the attrs keys it may carry (besides COMMON_ATTRS)
    py: Optional[str] = None                # the Python operator it implements (infer.py's rules)
    operands: Optional[Tuple[str, ...]] = None   # its operand types, for `py` and `calls`
    calls: Tuple[Tuple[Any, Tuple[int, ...]], ...] = ()   # (callable, argument counts) it implements
    lower: Optional[Callable] = None        # lower(emitter, value): its LLVM IR lines


OPS = {}

# attrs keys any op may carry (ir.verify checks every value's keys against these and its op's)
COMMON_ATTRS = frozenset({
    "exit",         # the index of its exit site (build.py: every op with an exit reason)
    "pinned",       # copies whose incref was dropped, increfed again at its exits (passes/refcounts)
    "maybe_null",   # an object value that may be NULL: a local not bound yet (build.py, merge.py)
})


def define(name, arity, result, exit=None, *, pure=True, raises=False, python=False, frameless=None,
           attrs=(), py=None, operands=None, calls=(), lower=None):
    """Register one op (frameless defaults to `not python`); a second definition is an error."""
    if name in OPS:
        raise ImportError(f"op {name!r} is defined twice (the op table allows no override)")
    OPS[name] = OpSpec(name, arity, result, exit, pure, raises, python,
                       (not python) if frameless is None else frameless, frozenset(attrs), py,
                       operands, tuple(calls), lower)
    return OPS[name]


def op(name, arity, result, exit=None, **flags):
    """Decorator: the decorated function is the lowering of a new op with this spec."""
    def register(lower):
        """Define the op with `lower` as its lowering; the function itself is returned."""
        define(name, arity, result, exit, lower=lower, **flags)
        return lower
    return register


def allowed_attrs(name):
    """The attrs keys a value of op `name` may carry."""
    return OPS[name].attrs | COMMON_ATTRS


# the domains register their ops (imported here, after the names they use from this package)
from . import common  # noqa: E402,F401
from . import (attributes, calls, cells, containers, control, floats, frames, numbers,  # noqa: E402,F401
               objects, subscripts)
from ...cpython import capi  # noqa: E402


def _check():
    """The import-time check: every op has exactly one lowering (a second definition already
    failed in define), its declaration is consistent, and a lowering that is a C-API table row
    agrees with the row (the C function exists, returns what the lowering expects, and an op
    whose function may run Python code says so)."""
    rules = {}
    for s in OPS.values():
        if not callable(s.lower):
            raise ImportError(f"op {s.name!r} has no lowering")
        if s.raises and s.exit is None:
            raise ImportError(f"op {s.name!r} raises but has no exit reason")
        if s.operands is not None and len(s.operands) != s.arity:
            raise ImportError(f"op {s.name!r}: {len(s.operands)} operand types for arity {s.arity}")
        if (s.py or s.calls) and s.operands is None:
            raise ImportError(f"op {s.name!r} implements a Python operation but has no operand types")
        if s.py:
            key = (s.py, s.operands)
            if key in rules:
                raise ImportError(f"ops {rules[key]!r} and {s.name!r} both implement {key}")
            rules[key] = s.name
        row = getattr(s.lower, "capi", None)
        if row is not None:
            fn, returns = row
            if fn not in capi.FUNCTIONS or capi.FUNCTIONS[fn].returns != returns:
                raise ImportError(f"op {s.name!r}: {fn} is not a C-API row returning {returns!r}")
            if capi.FUNCTIONS[fn].python and not s.python:
                raise ImportError(f"op {s.name!r} calls {fn}, which may run Python code")


_check()
