"""Compiler op table: every IR op with its operand count, result type, effects and exit reason."""
import weakref
from dataclasses import dataclass
from typing import Optional

from ..reasons import Exit

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
    """The static description of one IR op: arity, result type, exit reason, purity."""
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


def _op(name, arity, result, exit=None, pure=True, raises=False, python=False, frameless=None):
    """Make an OpSpec (shorthand for the OPS table); frameless defaults to `not python`."""
    return OpSpec(name, arity, result, exit, pure, raises, python,
                  (not python) if frameless is None else frameless)


# THE op table: adding an op is one line here plus one lowering in a lower_*.py LOWER table.
OPS = {o.name: o for o in [
    _op("const", 0, None),
    _op("phi", -1, None),
    _op("int_add", 2, INT, Exit.INT_OVERFLOW),
    _op("int_sub", 2, INT, Exit.INT_OVERFLOW),
    _op("int_add_wrap", 2, INT), _op("int_sub_wrap", 2, INT),
    _op("int_mul", 2, INT, Exit.INT_OVERFLOW),
    _op("int_floordiv", 2, INT, Exit.ZERO_DIVISION),
    _op("int_mod", 2, INT, Exit.ZERO_DIVISION),
    _op("int_truediv", 2, FLOAT, Exit.ZERO_DIVISION),
    _op("int_pow", 2, INT, Exit.INT_OVERFLOW),
    _op("int_neg", 1, INT, Exit.INT_OVERFLOW),
    _op("int_abs", 1, INT, Exit.INT_OVERFLOW),
    _op("int_invert", 1, INT),
    _op("int_and", 2, INT), _op("int_or", 2, INT), _op("int_xor", 2, INT),
    _op("int_lshift", 2, INT, Exit.INT_OVERFLOW),
    _op("int_rshift", 2, INT, Exit.DOMAIN),
    _op("bool_and", 2, BOOL), _op("bool_or", 2, BOOL), _op("bool_xor", 2, BOOL),
    _op("int_cmp", 2, BOOL),
    _op("float_cmp", 2, BOOL),
    _op("int_float_cmp", 2, BOOL, Exit.FLOAT_CONVERSION),
    _op("float_add", 2, FLOAT), _op("float_sub", 2, FLOAT), _op("float_mul", 2, FLOAT),
    _op("float_truediv", 2, FLOAT, Exit.ZERO_DIVISION),
    _op("float_floordiv", 2, FLOAT, Exit.ZERO_DIVISION),
    _op("float_mod", 2, FLOAT, Exit.ZERO_DIVISION),
    _op("float_pow", 2, FLOAT, Exit.DOMAIN),
    _op("float_neg", 1, FLOAT),
    _op("float_abs", 1, FLOAT),
    _op("int_to_float", 1, FLOAT),
    _op("bool_to_int", 1, INT),
    _op("float_to_int", 1, INT, Exit.FLOAT_CONVERSION),
    _op("float_round", 1, INT, Exit.FLOAT_CONVERSION),
    _op("float_floor", 1, INT, Exit.FLOAT_CONVERSION),
    _op("float_ceil", 1, INT, Exit.FLOAT_CONVERSION),
    _op("int_truth", 1, BOOL), _op("float_truth", 1, BOOL), _op("bool_not", 1, BOOL),
    _op("select", 3, None),
    _op("math1", 1, FLOAT, Exit.DOMAIN),          # attrs: fn (a name in infer.MATH1_NAMES)
    _op("math2", 2, FLOAT, Exit.DOMAIN),          # attrs: fn (a name in infer.MATH2_NAMES)
    _op("float_test", 1, BOOL),                   # attrs: fn isnan/isinf/isfinite
    _op("guard_global", 0, None, Exit.GLOBAL_CHANGED, pure=False),
    _op("call_native", -1, None, Exit.CALLEE_EXITED, pure=False, raises=True),
    _op("range_len", 3, INT),                     # start, stop, step(!=0) -> number of items
    _op("guard_nonzero", 1, None, Exit.DOMAIN, pure=False),
    _op("loop_poll", 0, None, Exit.SIGNAL, pure=False, raises=True, python=True, frameless=True),
    _op("trace_check", 0, None, Exit.TRACED, pure=False),   # after Python code ran: still untraced?
    _op("leave", 0, None, Exit.RAISE, pure=False),          # always exits (the block ends "exit")
    _op("hand_over", 0, None, Exit.HANDED_OVER, pure=False),  # the same, at a cold site (frameless)
    # objects: every object value owns one reference per place (local, stack slot) holding it
    _op("obj_const", 0, None),                    # attrs: value (the module keeps it alive)
    _op("incref", 1, NONE, pure=False),
    _op("decref", 1, NONE, pure=False, python=True, frameless=True),   # may run a destructor (never exits)
    _op("xdecref", 1, NONE, pure=False, python=True, frameless=True),        # the same for a local that may be unbound
    _op("box", 1, OBJ, Exit.RAISED, pure=False, raises=True),   # a number as a new object
    _op("guard_class", 1, None, Exit.TYPE_GUARD, pure=False),  # attrs: cls; the same pointer, typed
    _op("guard_method", 1, None, Exit.TYPE_GUARD, pure=False),  # attrs: cls (a weakref), version, keys
    _op("unbox_float", 1, FLOAT, Exit.TYPE_GUARD, pure=False),
    _op("unbox_int", 1, INT, Exit.TYPE_GUARD, pure=False),
    _op("seq_len", 1, INT, pure=False),            # a list's or tuple's size (a list's changes)
    _op("seq_getitem", 2, OBJ, Exit.INDEX, pure=False),     # list/tuple[int], a new reference
    _op("seq_next", 3, OBJ, pure=False),           # seq, index, more: seq[index] (new) if more else NULL
    _op("release_unless", 2, NONE, pure=False, python=True, frameless=True),  # x, cond: drop x's reference unless cond
    _op("list_append", 2, NONE, Exit.RAISED, pure=False, raises=True, frameless=False),  # list, item (a new ref)
    _op("list_setitem", 3, NONE, Exit.INDEX, pure=False, python=True),  # the old item is released
    _op("getattr", 1, OBJ, Exit.RAISED, pure=False, raises=True, python=True, frameless=True),   # attrs: name
    _op("obj_getitem", 2, OBJ, Exit.RAISED, pure=False, raises=True, python=True),
    # generic operators through the C-API (a number operand is boxed for the call): attrs sym
    _op("obj_binary", 2, OBJ, Exit.RAISED, pure=False, raises=True, python=True),   # + inplace
    _op("obj_unary", 1, OBJ, Exit.RAISED, pure=False, raises=True, python=True),    # - + ~
    _op("obj_compare", 2, OBJ, Exit.RAISED, pure=False, raises=True, python=True),
    _op("obj_truth", 1, BOOL, Exit.RAISED, pure=False, raises=True, python=True),
    _op("obj_len", 1, INT, Exit.RAISED, pure=False, raises=True, python=True, frameless=True),
    _op("obj_iter", 1, OBJ, Exit.RAISED, pure=False, raises=True, python=True),
    _op("iter_next", 1, OBJ, Exit.RAISED, pure=False, raises=True, python=True),  # NULL: exhausted
    _op("is_null", 1, BOOL),
    _op("same_object", 2, BOOL),
    _op("obj_contains", 2, BOOL, Exit.RAISED, pure=False, raises=True, python=True),
    _op("obj_setattr", 2, NONE, Exit.RAISED, pure=False, raises=True, python=True),  # attrs: name
    _op("obj_setitem", 3, NONE, Exit.RAISED, pure=False, raises=True, python=True),
    _op("obj_isinstance", 2, BOOL, Exit.RAISED, pure=False, raises=True, python=True, frameless=True),  # x, cls
    # closure cells (build_cells.py): a cell is a parameter of the specialisation, never a value
    _op("cell_get", 1, None, Exit.EMPTY_CELL, pure=False),  # content (new ref); attrs unbox: a number type
    _op("cell_set", 2, NONE, Exit.RAISED, pure=False, raises=True, python=True),  # the old content released
    _op("make_function", -1, None, Exit.RAISED, pure=False, raises=True),  # [defaults, kwdefaults, closure,] code
    # with (build_composite.py): the manager → its bound __exit__, after calling its __enter__
    _op("before_with", 1, OBJ, Exit.RAISED, pure=False, raises=True, python=True),
    _op("with_entered", 1, OBJ, pure=False),          # a before_with → what __enter__() returned
    # slices, f-strings, list extension (build_composite.py)
    _op("obj_format", -1, OBJ, Exit.RAISED, pure=False, raises=True, python=True),  # x[, spec]; attrs conv
    _op("build_string", -1, OBJ, Exit.RAISED, pure=False, raises=True),             # str parts
    _op("build_slice", -1, OBJ, Exit.RAISED, pure=False, raises=True),              # start, stop[, step]
    _op("obj_getslice", 3, OBJ, Exit.RAISED, pure=False, raises=True, python=True),   # x, start, stop
    _op("obj_setslice", 4, NONE, Exit.RAISED, pure=False, raises=True, python=True),  # x, start, stop, v
    _op("list_extend", 2, NONE, Exit.RAISED, pure=False, raises=True, frameless=False),     # list, a list or tuple
    _op("list_to_tuple", 1, OBJ, Exit.RAISED, pure=False, raises=True),
    _op("obj_call_ex", -1, OBJ, Exit.RAISED, pure=False, raises=True, python=True),   # callable, tuple[, dict]
    _op("obj_delitem", 2, NONE, Exit.RAISED, pure=False, raises=True, python=True),
    _op("obj_call", -1, OBJ, Exit.RAISED, pure=False, raises=True, python=True),    # callable, args
    _op("build_list", -1, None, Exit.RAISED, pure=False, raises=True),             # items move in
    _op("build_tuple", -1, None, Exit.RAISED, pure=False, raises=True),            # items move in
    _op("build_map", -1, None, Exit.RAISED, pure=False, raises=True, python=True),  # k, v, k, v...
    _op("build_set", -1, None, Exit.RAISED, pure=False, raises=True, python=True),  # items (hashed)
    _op("set_add", 2, NONE, Exit.RAISED, pure=False, raises=True, python=True),     # set, item
    _op("set_update", 2, NONE, Exit.RAISED, pure=False, raises=True, python=True),  # set, iterable
    _op("dict_update", 2, NONE, Exit.RAISED, pure=False, raises=True, python=True),  # dict, mapping
    _op("dict_merge", 2, NONE, Exit.RAISED, pure=False, raises=True),  # new dict of attrs names, exact dict
]}
