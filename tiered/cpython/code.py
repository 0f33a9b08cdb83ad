"""Base layer: code objects → the facts about them the compiler and runtime share (parameters, kinds)."""

CO_VARARGS, CO_VARKEYWORDS = 0x04, 0x08
CO_GENERATOR_LIKE = 0x20 | 0x80 | 0x100 | 0x200   # generator, coroutine, iterable coroutine, async gen


def param_count(code):
    """How many parameters the code binds: positional, keyword-only, *args and **kwargs."""
    return (code.co_argcount + code.co_kwonlyargcount + bool(code.co_flags & CO_VARARGS)
            + bool(code.co_flags & CO_VARKEYWORDS))


def param_names(code):
    """The names of the parameters, in slot order."""
    return list(code.co_varnames[:param_count(code)])
