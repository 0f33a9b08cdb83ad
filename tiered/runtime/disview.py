"""dis shows CPython's view of a compiled function: its entry points map an installed code object to the original.

The installed code is the original bytecode behind a prologue (install.py); `dis.dis(f)`,
`dis.get_instructions`, `dis.Bytecode` and `dis.code_info` of a compiled function, or of its
`__code__`, show the original code, as CPython would.  What still shows the installed code:
`f.__code__` itself (`co_code`, `co_consts`, `co_positions()`), `dis.disassemble(code)` called
directly, and `dis.distb()` of a traceback through compiled code (its offsets are the
installed code's).
"""
import dis
import functools

from .records import original_of


def show_originals():
    """Wrap dis's two entry points once (at the first install: a program that compiles
    nothing keeps dis untouched)."""
    if getattr(dis._get_code_object, "tiered_originals", False):
        return
    get_code, recurse = dis._get_code_object, dis._disassemble_recursive

    @functools.wraps(get_code)
    def _get_code_object(x):
        return original_of(get_code(x))

    @functools.wraps(recurse)
    def _disassemble_recursive(co, **kwargs):
        return recurse(original_of(co), **kwargs)

    _get_code_object.tiered_originals = True
    dis._get_code_object, dis._disassemble_recursive = _get_code_object, _disassemble_recursive
