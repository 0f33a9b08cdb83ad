"""Reasons: the one table of named exit (deopt) and refusal (abort) reasons."""
from enum import Enum


class Exit(Enum):
    """Why native code left for the interpreter mid-function (counted per function)."""
    INT_OVERFLOW = "an int result did not fit in 64 bits"
    ZERO_DIVISION = "division or modulo by zero (CPython raises)"
    FLOAT_CONVERSION = "int to float conversion failed or needs CPython"
    DOMAIN = "a math function or operation left its fast domain (CPython decides)"
    GLOBAL_CHANGED = "a global or builtin name was rebound"
    CALLEE_EXITED = "a natively called function returned to the interpreter"
    SIGNAL = "a signal handler raised inside a native loop"
    RECURSION = "native recursion reached the recursion limit"
    FORCED = "TIERED_FORCE_EXITS made the guard fail"


class Refusal(Enum):
    """Why a function stays in CPython (recorded in stats())."""
    UNSUPPORTED_VERSION = "this Python version is not supported"
    GENERATOR = "generators, coroutines and async functions stay in CPython"
    UNSUPPORTED_OPCODE = "an instruction the compiler does not handle"
    UNSUPPORTED_TYPE = "an argument or value type the compiler does not handle"
    UNSUPPORTED_CALL = "a call to something the compiler does not handle"
    UNSTABLE_TYPE = "a variable changes type inside the function"
    UNBOUND_LOCAL = "a local may be read before assignment"
    CLOSURE = "closures, cells and free variables"
    TOO_MANY_SPECIALIZATIONS = "TIERED_MAX_SPECIALIZATIONS reached"
    COMPILER_ERROR = "the compiler failed on this function (a tiered bug; it stays interpreted)"
    LLVM_ERROR = "LLVM rejected the module or failed to generate code"
    INSTALL_ERROR = "the installer could not build the new code object"
    OUT_OF_MEMORY = "memory ran out while compiling"
    PROFILER_ERROR = "the profiler failed while looking at this function"
    NO_FEEDBACK = "no argument types were observed"
    TRACED = "a debugger, tracer or profiler is active"
    EXIT_STORM = "one exit was taken too often: native code did not pay"
    TOO_SMALL = "a tiny body without loops runs faster interpreted (native callers still call it)"
