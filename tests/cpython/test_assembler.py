"""The code-object assembler: ranges kept byte for byte, jumps and handlers moved, positions exact."""
import argparse
import dataclasses
import dis
import inspect
import json.decoder
import traceback
import types

import pytest

from tiered.cpython import assembler
from tiered.cpython.assembler import AssemblyError, Ins, Label, assemble


def _codes(obj):
    """Every code object of a module's functions and classes, nested ones too."""
    out, todo = [], []
    for value in vars(obj).values():
        if isinstance(value, type):
            todo += [v for v in vars(value).values() if isinstance(v, types.FunctionType)]
        elif isinstance(value, types.FunctionType):
            todo.append(value)
    todo = [f.__code__ for f in todo]
    while todo:
        code = todo.pop()
        out.append(code)
        todo += [c for c in code.co_consts if isinstance(c, types.CodeType)]
    return out


CODES = _codes(argparse) + _codes(dataclasses) + _codes(json.decoder) + _codes(inspect) + _codes(traceback)


def _entries(code):
    """dis's reading of a code's exception table."""
    return [(e.start, e.end, e.target, e.depth, e.lasti) for e in dis._parse_exception_table(code)]


def test_the_whole_code_as_one_range_comes_back_the_same():
    assert len(CODES) > 400
    for code in CODES:
        made, where = assemble(code, [(0, len(code.co_code))], code.co_stacksize)
        assert made.co_code == code.co_code, code
        assert list(made.co_positions()) == list(code.co_positions()), code
        assert _entries(made) == _entries(code), code
        assert assembler._parse_exception_table(code.co_exceptiontable) == _entries(code), code
        assert where(len(code.co_code) - 2) == len(code.co_code) - 2


def shapes(items, n, flag):
    """Loops, a with, handlers and a raise whose traceback names its line: everything the
    original ranges carry."""
    out = []
    for k in range(n):
        try:
            with open(__file__) as fh:
                out.append(len(fh.readline()) + k)
            if k == 3:
                raise KeyError(k)
        except KeyError as e:
            out.append(("caught", e.args))
        finally:
            out.append("finally")
    if flag:
        raise ValueError(items)          # the traceback line of this one is compared
    return out


def _resume_offset(code):
    """The offset of RESUME (the body follows it)."""
    return next(i.offset for i in dis.get_instructions(code) if i.opname == "RESUME")


def _outcome(func, *args):
    """A result, or the exception's type, message and the function's traceback lines."""
    try:
        return func(*args)
    except Exception as e:  # noqa: BLE001 - what the function raised is the outcome
        return type(e), str(e), [(f.name, f.lineno, f.colno, f.end_colno) for f in traceback.extract_tb(e.__traceback__)][1:]


@pytest.mark.parametrize("filler", [1, 300, 70000])
def test_code_put_before_the_body_moves_its_jumps_handlers_and_lines(filler):
    # a jump over the filler needs 0, 1 or 2 EXTENDED_ARGs
    code = shapes.__code__
    r = _resume_offset(code)
    over = Label()
    items = ([(0, r + 2), Ins("JUMP_FORWARD", over)] + [Ins("NOP")] * filler + [over]
             + [(r + 2, len(code.co_code))])
    made, where = assemble(code, items, code.co_stacksize)
    ext = 0 if filler < 256 else 1 if filler < 65536 else 2
    assert len(made.co_code) == len(code.co_code) + 2 * (filler + 1 + ext)
    assert where(r + 2) == r + 2 + 2 * (filler + 1 + ext)
    f = types.FunctionType(made, globals())
    for args in ([6, False], [5, True]):
        assert _outcome(f, [1], *args) == _outcome(shapes, [1], *args)
    assert _outcome(f, [1], 1, True)[2][0][1] == shapes.__code__.co_firstlineno + 15


def caught_here(flag):
    """A try whose handler catches what code added at the end raises."""
    try:
        x = flag
        return x
    except ValueError:
        return "caught"


def test_code_added_at_the_end_is_covered_by_the_handler_of_the_offset_it_names():
    code = caught_here.__code__
    r = _resume_offset(code)
    inside = next(i.offset for i in dis.get_instructions(code) if i.opname == "STORE_FAST")
    there, end = Label(), Label()
    tail = [Ins("NOP"), there, Ins("LOAD_CONST", ValueError), Ins("RAISE_VARARGS", 1), end]
    items = [(0, r + 2), Ins("JUMP_FORWARD", there), (r + 2, len(code.co_code))] + tail
    covered, _ = assemble(code, items, code.co_stacksize + 1, [(there, end, inside)])
    assert types.FunctionType(covered, globals())(1) == "caught"
    bare, _ = assemble(code, items, code.co_stacksize + 1)
    with pytest.raises(ValueError):
        types.FunctionType(bare, globals())(1)


def test_instructions_get_their_arguments_by_name():
    def take(a, b):
        def inner():
            return a
        return inner, b
    code = take.__code__
    r = _resume_offset(code)
    items = [(0, r + 2), Ins("LOAD_DEREF", "a"), Ins("LOAD_FAST", "b"), Ins("COMPARE_OP", "=="),
             Ins("RETURN_VALUE"), (r + 2, len(code.co_code))]
    made, _ = assemble(code, items, code.co_stacksize + 2)
    assert types.FunctionType(made, globals())(3, 3) is True
    assert types.FunctionType(made, globals())(3, 4) is False
    items[-2:-1] = [Ins("POP_TOP"), Ins("LOAD_CONST", "a new constant"), Ins("RETURN_VALUE")]
    made, _ = assemble(code, items, code.co_stacksize + 2)
    assert types.FunctionType(made, globals())(3, 3) == "a new constant"
    assert "a new constant" in made.co_consts and len(made.co_consts) == len(code.co_consts) + 1


def test_a_position_without_an_encoding_is_an_error():
    code = caught_here.__code__
    with pytest.raises(AssemblyError):
        assemble(code, [Ins("NOP", None, (None, 3, None, None)), (0, len(code.co_code))], code.co_stacksize)


def test_instructions_read_as_dis_reads_them():
    for code in CODES[:200] + [compile("x = (" + ", ".join(f"n{i}" for i in range(300)) + ")", "", "exec")]:
        mine = [(offset, name, arg) for offset, name, arg, _ in assembler.instructions(code)]
        theirs = [(i.offset, i.opname, i.arg or 0) for i in dis.get_instructions(code) if i.opname != "EXTENDED_ARG"]
        assert mine == theirs, code
