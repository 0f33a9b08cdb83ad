"""Base layer, CPython 3.11: the instruction shapes and cache layouts that differ from 3.12."""

IMMORTAL_OBJECTS = False            # every object's refcount changes with Py_INCREF

FOR_ITER_SKIPS_END_FOR = False      # an exhausted FOR_ITER jumps to its target
LOAD_ATTR_CAN_BE_METHOD = False     # method loads are LOAD_METHOD
# a specialised instruction's miss counter: its value when specialised, and what a miss takes off
MISS_COUNTER = (53, 1)
# where the keys version and the method's address sit after a specialised method load
# (3.11 keeps a dict offset between the type version and the keys version)
METHOD_KEYS, METHOD_DESCR = 10, 14

JUMP_IF_TRUE, JUMP_IF_FALSE = "POP_JUMP_FORWARD_IF_TRUE", "POP_JUMP_FORWARD_IF_FALSE"
# line tracing takes the line before RESUME as no line (maybe_call_line_trace), so a jump placed
# there cannot hide the resume instruction's line event (3.12 can: py312.py)
QUIET_JUMP_BEFORE_RESUME = False


def prologue_call(d_const, loads, location, instr_cls):
    """The instruction sequence for `d_const(*loads)` leaving the result on the stack."""
    return ([instr_cls("PUSH_NULL", location=location), instr_cls("LOAD_CONST", d_const, location=location)]
            + loads + [instr_cls("PRECALL", len(loads), location=location),
                       instr_cls("CALL", len(loads), location=location)])


def call_ops(argc, location, instr_cls):
    """The instructions that call what the stack holds ([NULL, callable, argc arguments])."""
    return [instr_cls("PRECALL", argc, location=location), instr_cls("CALL", argc, location=location)]


def prologue_pop(holder, attr, location, instr_cls):
    """The instruction sequence for `holder.attr.pop()` leaving the result on the stack:
    attribute loads and a builtin method call, so no Python frame is entered."""
    return [instr_cls("LOAD_CONST", holder, location=location),
            instr_cls("LOAD_ATTR", attr, location=location),
            instr_cls("LOAD_METHOD", "pop", location=location),
            instr_cls("PRECALL", 0, location=location), instr_cls("CALL", 0, location=location)]

# 3.11 calls Python functions from C about as fast as its own CALL does: native code calls them
# through PyObject_Vectorcall (3.12's frame push: py312.py)
FRAME_PUSH = None
