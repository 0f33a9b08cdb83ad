"""Runtime specialisations: the IR of one compiled signature → the few facts kept about it (no IR)."""
import dis

from ..compiler.ops import NONE, OBJ, OPS, is_obj
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


def widened(specs, types_):
    """The signature to compile for argument types types_: an instance of a class of the
    program's (or None) where a specialisation already made has one of another class (every
    other parameter equal) is typed as any object, so a method that sees a second receiver
    class gets one specialisation for every class (its attribute reads guarded where CPython's
    caches say), which replaces the one on the first class (covers), not one a class, each of
    which would make the whole function compile again.  Builtin types keep their own (a list and a dict take different fast paths), and a
    specialisation on a class that died does not count (it is dropped)."""
    for s in specs:
        have = s.param_types
        if len(have) == len(types_) and have != types_ and \
                all(a == b or (_program_class(a) and _program_class(b)) for a, b in zip(have, types_)):
            return tuple(b if a == b else OBJ for a, b in zip(have, types_))
    return types_


def covers(general, types_):
    """Whether a signature that widened made covers signature types_ (the same types, or any
    object where types_ has a class of the program's or None)."""
    return len(general) == len(types_) and all(
        g == t or (is_obj(g) and g.ref is None and g.cls is None and _program_class(t))
        for g, t in zip(general, types_))


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
    pass it, return it): a new box, where CPython hands on the caller's very object."""
    numbers = {id(p) for p in fn.params if not is_obj(p.type)}
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
