"""tiered: a profile-guided tiered JIT for CPython (public face: enable, disable, stats, jit)."""
from .runtime import manager


def jit(func):
    """Decorator: compile func at its first call, for the argument types of that call."""
    return manager.compile_on_first_call(func)
