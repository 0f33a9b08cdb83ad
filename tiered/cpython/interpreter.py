"""Base layer: which interpreter runs this code (tiered works in the main one only)."""


def in_subinterpreter():
    """True when running in a subinterpreter (3.12's cannot load _ctypes; signals and the JIT's
    process-wide state belong to the main interpreter).  False when it cannot be told."""
    try:
        import _xxsubinterpreters as interpreters
    except ImportError:
        return False
    try:
        return interpreters.get_current() != interpreters.get_main()
    except Exception:                   # noqa: BLE001 - cannot tell: assume the main one
        return False
