"""Base layer, CPython 3.12: the instruction shapes and cache layouts that differ from 3.11."""

IMMORTAL_OBJECTS = True             # None, small ints... keep their refcount: Py_INCREF skips them

FOR_ITER_SKIPS_END_FOR = True       # an exhausted FOR_ITER pops the iterator, skips the END_FOR
LOAD_ATTR_CAN_BE_METHOD = True      # LOAD_ATTR with its low bit set loads a method
# a specialised instruction's miss counter: its value when specialised (the cool-down, 52 << 4),
# and what a miss takes off (1 << 4: the low bits hold the back-off)
MISS_COUNTER = (832, 16)
# where the keys version and the method's address sit after a specialised method load
METHOD_KEYS, METHOD_DESCR = 8, 12

JUMP_IF_TRUE, JUMP_IF_FALSE = "POP_JUMP_IF_TRUE", "POP_JUMP_IF_FALSE"
# a LINE event fires unless the instruction run before has the same line; instructions before
# RESUME are never instrumented, and their lines count: a jump placed there, with the line of
# the instruction it jumps to, lets an exit resume mid-line with no extra event
QUIET_JUMP_BEFORE_RESUME = True


def prologue_call(d_const, loads, location, instr_cls):
    """The instruction sequence for `d_const(*loads)` leaving the result on the stack."""
    return ([instr_cls("PUSH_NULL", location=location), instr_cls("LOAD_CONST", d_const, location=location)]
            + loads + [instr_cls("CALL", len(loads), location=location)])


def call_ops(argc, location, instr_cls):
    """The instructions that call what the stack holds ([NULL, callable, argc arguments])."""
    return [instr_cls("CALL", argc, location=location)]


def prologue_pop(holder, attr, location, instr_cls):
    """The instruction sequence for `holder.attr.pop()` leaving the result on the stack:
    attribute loads and a builtin method call, so no Python frame is entered."""
    return [instr_cls("LOAD_CONST", holder, location=location),
            instr_cls("LOAD_ATTR", (False, attr), location=location),
            instr_cls("LOAD_ATTR", (True, "pop"), location=location),
            instr_cls("CALL", 0, location=location)]

# what a native caller needs to push a Python function's interpreter frame itself and run it
# with _PyEval_EvalFrameDefault, as _PyEval_Vector does (cpython/pushframe.py checks each on
# live objects): byte offsets in the thread state, a function, a code object and a frame
FRAME_PUSH = {
    "ts_interp": 16, "ts_datastack_top": 240, "ts_datastack_limit": 248,
    "func_globals": 16, "func_builtins": 24, "func_code": 48, "func_vectorcall": 128,
    "co_flags": 48, "co_argcount": 52, "co_kwonlyargcount": 60, "co_stacksize": 64,
    "co_nlocalsplus": 72, "co_framesize": 76, "co_ncellvars": 84, "co_nfreevars": 88,
    "co_localsplusnames": 96, "co_extra": 184,
    "f_code": 0, "f_previous": 8, "f_funcobj": 16, "f_globals": 24, "f_builtins": 32, "f_locals": 40,
    "f_frame_obj": 48, "f_prev_instr": 56, "f_stacktop": 64, "f_return_offset": 68, "f_owner": 70,
    "f_localsplus": 72, "frame_specials": 9,
}
