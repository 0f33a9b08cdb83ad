"""Runtime specialisations: the IR of one compiled signature → the few facts kept about it (no IR)."""
import dis

from ..compiler.ops import BOOL, FLOAT, INT, NONE, OBJ, OPS, is_obj
from ..cpython import capi


class Spec:
    """One compiled type signature of a function.  Its IR is not kept: the IR holds the
    function's globals, which hold the function, and records must not keep functions alive."""

    def __init__(self, param_types, fn):
        self.param_types = param_types
        self.describe(fn)
        self.address = None
        self.compiled = None      # the engine handle holding `address` (native callers keep it)
        self.resumer = None       # set when compiled: the module's deopt.Resumer
        self.code_words = None    # set when compiled: the codes its native callers accept

    def describe(self, fn):
        """Keep what is needed later from the IR of this specialisation."""
        self.return_type = fn.return_type
        self.quiet = fn.attrs.get("quiet", False)      # its native code never runs Python code
        self.ops = frozenset(v.op for b in fn.blocks for v in b.body)
        self.work = _work(fn)
        self.exit_count = len(fn.exits)
        # the instructions (offsets) its native code runs, and those it leaves to the interpreter
        self.walked, self.left = fn.attrs.get("walked", frozenset()), fn.attrs.get("left", frozenset())
        self.numeric = not any(is_obj(v.type) for b in fn.blocks for v in b.phis + b.body) \
            and not any(OPS[v.op].python and v.op != "loop_poll" for b in fn.blocks for v in b.body)
        self.frameless = fn.attrs.get("frameless", False) and any(is_obj(t) for t in self.param_types)
        # another function may call it natively when it runs no Python code (it has no frame
        # of its own a callee could see) and an exit may simply call it again
        self.callable = self.numeric or self.frameless
        # it may change objects before an exit: its native caller resumes it (deopt.Resumer)
        self.resumable = self.frameless and fn.attrs.get("resumable", False)
        self.hands_on_numbers = _hands_on_number_params(fn)


def widened(signatures, types_, limit):
    """(signature to compile for argument types types_, whether it replaces the specialisations
    it covers), given the signatures of the specialisations made.  Where one already made
    differs only in objects of classes of the program's, those parameters are typed as any
    object (their attribute reads then guarded where CPython's caches say):
    - at once where one of the two is None (a parameter that is None or an object, or None or
      a number: an optional argument): the one specialisation replaces the other, and no second
      compile comes when the other shows (hexiom's constraint_pass(pos, last_move=None));
    - at once where the first parameter (a method's receiver) has the same class in both: the
      classes of the others matter less than the compiles (deltablue's
      Planner.incremental_remove(self, constraint) on four constraint classes: five compiles,
      each building all the specialisations again, 270 ms); the first class keeps its own;
    - for two classes of the receiver, only once `limit` specialisations are made: a receiver's
      class makes its method calls direct (richards' Task.runTask calling self.fn on four task
      classes), so each class keeps its own up to there; one more then serves every other
      class, where the function used to be refused (TOO_MANY_SPECIALIZATIONS) for them.
    Builtin types keep their own (a list and a dict take different fast paths), and a
    specialisation on a class that died does not count (it is dropped)."""
    made = set(signatures)
    if types_ in made:
        return types_, False
    for have in made:
        if len(have) != len(types_) or not all(a == b or (_program_class(a) and _program_class(b))
                                               or _none_or_number(a, b) for a, b in zip(have, types_)):
            continue
        general = tuple(b if a == b else OBJ for a, b in zip(have, types_))
        if general in made:                   # the one for any object is there already
            return general, False
        optional = all(a == b or _is_none(a) or _is_none(b) for a, b in zip(have, types_))
        if optional or have[0] == types_[0] or len(signatures) >= limit:
            return general, optional
    return types_, False


def compiled_with(made, types_, seen, limit):
    """The other signatures of `seen` (IR signatures a profile saw, most common first) to compile
    in the same module as types_, beside the signatures `made` already: those that would each get
    a specialisation of their own (see widened) within `limit`.  A function that a loop calls
    with the objects of several classes then compiles once, not once per class with every
    specialisation built again each time (richards' Task.runTask: four compiles)."""
    made, out = list(made) + [types_], []
    for t in seen:
        if t is None or len(made) >= limit or t in made:
            continue
        if widened(made, t, limit) == (t, False):
            made.append(t)
            out.append(t)
    return out


def covers(general, types_):
    """Whether a signature that `widened` made covers signature types_ (the same types, or any
    object where types_ has a class of the program's or None)."""
    return len(general) == len(types_) and all(
        g == t or (is_obj(g) and g.ref is None and g.cls is None and (_program_class(t) or t in _NUMBERS))
        for g, t in zip(general, types_))


_NUMBERS = (INT, FLOAT, BOOL)


def _is_none(t):
    """Whether IR type t is None's class."""
    return is_obj(t) and t.cls is type(None)


def _none_or_number(a, b):
    """Whether IR types a and b are a number and None's class (or any object), in either order."""
    return (_is_none_or_any(a) and b in _NUMBERS) or (_is_none_or_any(b) and a in _NUMBERS)


def _is_none_or_any(t):
    """Whether IR type t is None's class or any object."""
    return _is_none(t) or t == OBJ


def _program_class(t):
    """Whether IR type t is an object of a class the program made (a heap type), None's, or any."""
    if not is_obj(t):
        return False
    cls = t.cls
    if cls is None:
        return t.ref is None                  # any object; not a class that died
    return cls is type(None) or bool(cls.__flags__ & capi.HEAP_TYPE)


SMALL_BODY = 4              # fewer operations than this and no loop: not worth a native entry
_FREE_OPS = {"const", "phi", "guard_global", "bool_to_int", "int_to_float", "select", "incref", "decref",
             "set_local", "sync_frame", "sync_local"}


# ops that take a number parameter without making an object of it
_NUMBER_USES = ("sync_frame", "sync_local", "set_local")


def _hands_on_number_params(fn):
    """Whether native code may give a number parameter to something as an object (store it,
    pass it, return it): a new box, where CPython hands on the caller's very object.  Not a
    bool: its box is True or False itself (Square.find(update) of pyperformance's go)."""
    numbers = {id(p) for p in fn.params if not is_obj(p.type) and p.type != BOOL}
    if not numbers:
        return False
    for b in fn.blocks:
        for v in b.body:
            if (v.op not in _NUMBER_USES and (is_obj(v.type) or v.type == NONE)
                    and any(id(a) in numbers for a in v.args)):
                return True
        if b.term is not None and b.term[0] == "ret" and id(b.term[1]) in numbers:
            return True
    return False


def _work(fn):
    """Operations in a specialisation that do real work."""
    return sum(v.op not in _FREE_OPS for b in fn.blocks for v in b.body)


def worth_installing(specs):
    """True when native entry pays: a loop, a native call, or enough operations on numbers.
    Code on objects without a loop does not pay: its lookups and calls cost natively what they
    cost CPython's specialised interpreter, and the entry comes on top (benchmarks/objects.py:
    each such method of the richards kernel, compiled alone, made the kernel 0.6-0.9x)."""
    for s in specs:
        if "loop_poll" in s.ops or "call_native" in s.ops or (s.numeric and s.work >= SMALL_BODY):
            return True
    return False


_WORK_OPNAMES = ("BINARY_OP", "COMPARE_OP", "BINARY_SUBSCR", "STORE_SUBSCR", "LOAD_ATTR", "STORE_ATTR",
                 "LOAD_METHOD", "UNARY_", "CONTAINS_OP", "BUILD_")


def looks_tiny(code):
    """True when a code object can only compile to a tiny body: no loop, no call, and fewer
    than SMALL_BODY instructions that do work (read from its bytecode, before any IR)."""
    work = 0
    for i in dis.get_instructions(code):
        if i.opname.startswith(("JUMP_BACKWARD", "CALL", "FOR_ITER")):
            return False
        work += i.opname.startswith(_WORK_OPNAMES)
    return work < SMALL_BODY
