"""Base layer: code objects → the facts about them the compiler and runtime share (parameters, kinds, globals stored)."""
import dis
import types

from ..weaktable import WeakTable

CO_VARARGS, CO_VARKEYWORDS = 0x04, 0x08
CO_GENERATOR_LIKE = 0x20 | 0x80 | 0x100 | 0x200   # generator, coroutine, iterable coroutine, async gen


def param_count(code):
    """How many parameters the code binds: positional, keyword-only, *args and **kwargs."""
    return (code.co_argcount + code.co_kwonlyargcount + bool(code.co_flags & CO_VARARGS)
            + bool(code.co_flags & CO_VARKEYWORDS))


def param_names(code):
    """The names of the parameters, in slot order."""
    return list(code.co_varnames[:param_count(code)])


_STORE_GLOBAL, _EXTENDED_ARG = dis.opmap["STORE_GLOBAL"], dis.opmap["EXTENDED_ARG"]
_STORED = WeakTable()      # code → the names it (and code nested in it) stores (no callback when one dies)


def stored_globals(code):
    """The global names a code object, or one nested in it, rebinds (STORE_GLOBAL).  co_code
    holds CPython's caches as zeros, so a plain walk over its (opcode, arg) pairs reads it."""
    found = _STORED.get(code)
    if found is None:
        names, raw, ext = set(), code.co_code, 0
        for k in range(0, len(raw), 2):
            op, arg = raw[k], raw[k + 1] | ext
            ext = arg << 8 if op == _EXTENDED_ARG else 0
            if op == _STORE_GLOBAL:
                names.add(code.co_names[arg])
        for c in code.co_consts:
            if isinstance(c, types.CodeType):
                names |= stored_globals(c)
        found = _STORED[code] = frozenset(names)
    return found


def _codes_of(value):
    """The code objects of a module-level value: a function's, or those of a class's functions
    (methods, static and class methods, properties)."""
    if isinstance(value, types.FunctionType):
        return (value.__code__,)
    if not isinstance(value, type):
        return ()
    out = []
    for member in list(vars(value).values()):
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        parts = (member.fget, member.fset, member.fdel) if isinstance(member, property) else (member,)
        out.extend(p.__code__ for p in parts if isinstance(p, types.FunctionType))
    return out


def rebound_globals(globals_):
    """The names some function or method of a module rebinds (`global x; x = ...`): variables,
    whose loads read the dict, not constants to guard (go's TIMESTAMP, deltablue's planner)."""
    names = set()
    for value in list(globals_.values()):
        for code in _codes_of(value):
            names |= stored_globals(code)
    return names


_UNTOUCHED = WeakTable()   # code → its parameters no instruction rebinds


def untouched_params(code):
    """The parameters a code object never stores to, deletes or clears (nor keeps in a cell):
    while its frame runs, their slots hold the arguments the caller passed."""
    found = _UNTOUCHED.get(code)
    if found is None:
        names = set(param_names(code)) - set(code.co_cellvars)
        for i in dis.get_instructions(code):
            if i.opname.startswith(("STORE_FAST", "DELETE_FAST", "LOAD_FAST_AND_CLEAR")):
                names -= set(i.argval) if isinstance(i.argval, tuple) else {i.argval}
        found = _UNTOUCHED[code] = frozenset(names)
    return found


# instructions whose effects an exit could not resume: a function with any never runs frameless
# (what else changes objects the builder checks op by op: such a callee is RESUMABLE)
_NEVER_FRAMELESS = ("STORE_GLOBAL", "DELETE_", "IMPORT_", "YIELD_")
_NEVER = WeakTable()         # code -> whether it has one of _NEVER_FRAMELESS's instructions


def never_frameless(code):
    """Whether code has an instruction no frameless specialisation can hold (remembered)."""
    found = _NEVER.get(code)
    if found is None:
        found = _NEVER[code] = any(i.opname.startswith(_NEVER_FRAMELESS) for i in dis.get_instructions(code))
    return found
