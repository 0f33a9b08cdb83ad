"""Compiler stage 1: a code object → version-neutral instructions (opcode names → neutral ops; version facts come from cpython/)."""
import dis
import weakref
from dataclasses import dataclass
from typing import Any, Optional

from ..cpython import V


@dataclass
class Ins:
    """One bytecode instruction in neutral form; `offset` is where the interpreter resumes it."""
    offset: int
    op: str
    arg: Any = None
    target: Optional[int] = None
    line: Optional[int] = None
    inplace: bool = False        # BINARY_OP of an augmented assignment (+= ...)
    kwnames: tuple = ()          # CALL: the names of its last len(kwnames) arguments
    starts_line: bool = False    # the first instruction of a source line


_BIN_SYMBOL = [sym.rstrip("=") if sym.endswith("=") and sym not in ("==",) else sym
               for _, sym in dis._nb_ops]
_UNARY = {"UNARY_NEGATIVE": "-", "UNARY_POSITIVE": "+", "UNARY_NOT": "not", "UNARY_INVERT": "~"}
_SIMPLE = {"RESUME": "resume", "NOP": "nop", "PRECALL": "nop", "KW_NAMES": "nop", "LOAD_FAST": "load_fast",
           "LOAD_FAST_CHECK": "load_fast", "STORE_FAST": "store_fast", "LOAD_CONST": "load_const",
           "RETURN_VALUE": "return", "RETURN_CONST": "return_const", "PUSH_NULL": "push_null",
           "POP_TOP": "pop_top", "COPY": "copy", "SWAP": "swap", "GET_ITER": "get_iter",
           "END_FOR": "end_for", "CALL": "call", "JUMP_FORWARD": "jump", "JUMP_BACKWARD": "jump",
           "JUMP_BACKWARD_NO_INTERRUPT": "jump", "COMPARE_OP": "compare", "BINARY_OP": "binary",
           "UNPACK_SEQUENCE": "unpack", "BUILD_TUPLE": "build_tuple", "BINARY_SUBSCR": "subscr",
           "STORE_SUBSCR": "store_subscr", "LOAD_FAST_AND_CLEAR": "load_fast_and_clear",
           "LIST_APPEND": "list_append", "MAP_ADD": "map_add", "RAISE_VARARGS": "raise",
           "BUILD_STRING": "build_string", "BUILD_SLICE": "build_slice", "BINARY_SLICE": "binary_slice",
           "STORE_SLICE": "store_slice", "LIST_EXTEND": "list_extend", "DELETE_SUBSCR": "delete_subscr",
           "BUILD_CONST_KEY_MAP": "build_const_key_map", "LIST_TO_TUPLE": "list_to_tuple",
           "CALL_FUNCTION_EX": "call_ex", "DELETE_FAST": "delete_fast", "LOAD_DEREF": "load_deref",
           "STORE_DEREF": "store_deref", "MAKE_CELL": "nop", "COPY_FREE_VARS": "nop",  # before RESUME
           "BEFORE_WITH": "before_with", "LOAD_CLOSURE": "load_closure", "MAKE_FUNCTION": "make_function",
           "BUILD_SET": "build_set", "SET_ADD": "set_add",
           "SET_UPDATE": "set_update", "DICT_UPDATE": "dict_update", "DICT_MERGE": "dict_merge"}
ENDS_BLOCK = ("branch", "jump", "for_iter", "return", "return_const", "raise")   # neutral ops
_BRANCH = {  # opname -> (jump when the condition holds?, kind)
    "POP_JUMP_IF_FALSE": (False, "pop"), "POP_JUMP_IF_TRUE": (True, "pop"),
    "POP_JUMP_FORWARD_IF_FALSE": (False, "pop"), "POP_JUMP_FORWARD_IF_TRUE": (True, "pop"),
    "POP_JUMP_BACKWARD_IF_FALSE": (False, "pop"), "POP_JUMP_BACKWARD_IF_TRUE": (True, "pop"),
    "JUMP_IF_FALSE_OR_POP": (False, "or_pop"), "JUMP_IF_TRUE_OR_POP": (True, "or_pop"),
    # "none": the condition is `top is None`, popped either way
    **{f"POP_JUMP_{way}IF_{neg}NONE": (not neg, "none") for way in ("", "FORWARD_", "BACKWARD_")
       for neg in ("", "NOT_")},
}
_INTRINSIC_UNARY_POSITIVE = 5
_INTRINSIC_LIST_TO_TUPLE = 6


def decode(code):
    """Neutral instructions of `code`, or raise NotImplementedError naming the first unsupported
    one (remembered per code object: a build decodes once per try, and nothing changes them)."""
    seen = _DECODED.get(id(code))
    if seen is not None and seen[0]() is code:
        return seen[1]
    out = _decode(code)
    if len(_DECODED) >= 256:               # a bound on what it keeps
        _DECODED.clear()
    _DECODED[id(code)] = (weakref.ref(code), out)
    return out


_DECODED = {}                # id of a code -> (weak ref to it, its neutral instructions)


def _decode(code):
    """decode() itself."""
    every = [i for i in dis.get_instructions(code) if i.opname != "CACHE"]
    raw = [i for i in every if i.opname != "EXTENDED_ARG"]
    # a jump to an EXTENDED_ARG lands on the instruction it extends
    alias, pending = {}, []
    for i in every:
        if i.opname == "EXTENDED_ARG":
            pending.append(i.offset)
        else:
            alias.update((p, i.offset) for p in pending)
            pending = []
    out = []
    for k, i in enumerate(raw):
        ins = _one(i, raw, k, code.co_consts)
        ins.starts_line = i.starts_line is not None and i.starts_line is not False
        if ins.target is not None:
            ins.target = alias.get(ins.target, ins.target)
        out.append(ins)
    return out


def _one(i, raw, k, consts):
    """Translate one dis.Instruction."""
    name, line = i.opname, i.positions.lineno if i.positions else None
    target = i.argval if i.opname in _BRANCH or "JUMP" in name or name == "FOR_ITER" else None
    mk = lambda op, arg=None, tgt=None: Ins(i.offset, op, arg, tgt, line)  # noqa: E731
    if name in _BRANCH:
        return mk("branch", _BRANCH[name], target)
    if name == "FOR_ITER":
        if V.FOR_ITER_SKIPS_END_FOR:   # exhausted: pops the iterator and skips the END_FOR at the target
            nxt = next(j for j in raw if j.offset > target)
            target = nxt.offset
        return mk("for_iter", None, target)
    if name == "LOAD_GLOBAL":
        return mk("load_global", (i.argval, bool(i.arg & 1)))
    if name == "LOAD_ATTR":
        is_method = V.LOAD_ATTR_CAN_BE_METHOD and bool(i.arg & 1)
        return mk("load_attr", (i.argval, is_method))
    if name == "LOAD_METHOD":
        return mk("load_attr", (i.argval, True))
    if name == "LOAD_SUPER_ATTR":         # (name, a method load, super(cls, self) written out)
        return mk("load_super_attr", (i.argval, bool(i.arg & 1), bool(i.arg & 2)))
    if name == "STORE_GLOBAL":
        return mk("store_global", i.argval)
    if name == "CALL_INTRINSIC_1" and i.arg == _INTRINSIC_UNARY_POSITIVE:
        return mk("unary", "+")
    if name == "CALL_INTRINSIC_1" and i.arg == _INTRINSIC_LIST_TO_TUPLE:
        return mk("list_to_tuple")
    if name in _UNARY:
        return mk("unary", _UNARY[name])
    if name == "CALL":          # resumed at its PRECALL (3.11) or KW_NAMES, which set it up
        first = k
        while first and raw[first - 1].opname in ("PRECALL", "KW_NAMES"):
            first -= 1
        ins = Ins(raw[first].offset, "call", i.arg, None, line)
        ins.kwnames = next((consts[j.arg] for j in raw[first:k] if j.opname == "KW_NAMES"), ())
        return ins
    if name in ("IS_OP", "CONTAINS_OP"):
        return mk("is" if name == "IS_OP" else "contains", bool(i.arg))
    if name in ("STORE_ATTR", "DELETE_ATTR"):
        return mk(name.lower(), i.argval)
    if name in ("BUILD_LIST", "BUILD_MAP"):
        return mk(name.lower(), i.arg)
    if name == "BINARY_OP":
        ins = mk("binary", _BIN_SYMBOL[i.arg])
        ins.inplace = dis._nb_ops[i.arg][1].endswith("=")
        return ins
    if name == "COMPARE_OP":
        return mk("compare", i.argval)
    if name == "FORMAT_VALUE":            # (conversion 0-3: none/str/repr/ascii, has a spec)
        return mk("format_value", (i.arg & 3, bool(i.arg & 4)))
    op = _SIMPLE.get(name)
    if op is None:
        return mk("unsupported", name)
    if op == "jump":
        return mk("jump", None, target)
    if op in ("load_fast", "store_fast", "load_const", "return_const", "load_fast_and_clear",
              "delete_fast", "load_deref", "store_deref", "load_closure"):
        return mk(op, i.argval)
    if op in ("copy", "swap", "unpack", "build_tuple", "list_append", "map_add", "build_string",
              "build_slice", "list_extend", "build_const_key_map", "call_ex", "make_function", "build_set",
              "set_add", "set_update", "dict_update", "dict_merge"):
        return mk(op, i.arg)
    return mk(op)
