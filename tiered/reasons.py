"""Reasons: the one table of named exit (deopt) and refusal (abort) reasons, each with its words for users."""
from enum import Enum


class Exit(Enum):
    """Why native code left for the interpreter mid-function (counted per function)."""
    INT_OVERFLOW = "an int result did not fit in 64 bits"
    ZERO_DIVISION = "division or modulo by zero (CPython raises)"
    FLOAT_CONVERSION = "int to float conversion failed or needs CPython"
    DOMAIN = "a math function or operation left its fast domain (CPython decides)"
    GLOBAL_CHANGED = "a global or builtin name was rebound"
    CALLEE_EXITED = "a natively called function returned to the interpreter"
    CALLEE_RESUMED = "a natively called function that had changed objects went on in the interpreter"
    SIGNAL = "a signal handler raised inside a native loop"
    RECURSION = "native recursion reached the recursion limit"
    FORCED = "TIERED_FORCE_EXITS made the guard fail"
    TYPE_GUARD = "a value's type was not the one speculated"
    INDEX = "an index was out of range (CPython raises)"
    UNPACK_SIZE = "a list or tuple to unpack had another length (CPython raises)"
    RAISED = "a C-API call raised (the interpreter raises it at that instruction)"
    TRACED = "a tracer, profiler or monitoring tool was set by the Python code native code called"
    RAISE = "a raise statement: the interpreter raises it"
    EMPTY_CELL = "a closure cell was read while empty (the interpreter raises NameError)"
    HANDED_OVER = "a natively called function reached a path CPython had not specialised yet"
    KEYWORD_CLASH = "a keyword argument came twice, or not as a str (the interpreter raises TypeError)"
    CODE_CHANGED = "a natively called function's code or defaults were replaced (f.__code__ = ...)"
    UNBOUND = "a local was read before it was assigned (the interpreter raises UnboundLocalError)"


_OBJECTS = "TIERED_OBJECTS=1 compiles code on objects (strs, lists, dicts, instances)"
_SPLIT = "or move the hot number-crunching into a function of its own that takes and returns numbers"


class Refusal(Enum):
    """Why a function stays in CPython (recorded in stats()): what it means for us (`about`),
    in plain words for users (`user`, said of the function), and what they can do (`advice`)."""

    def __init__(self, about, user, advice=""):
        self.about, self.user, self.advice = about, user, advice

    UNSUPPORTED_VERSION = ("this Python version is not supported",
                           "this Python version is not supported", "use Python 3.11 or 3.12")
    GENERATOR = ("generators, coroutines and async functions stay in CPython",
                 "it is a generator or coroutine (it uses yield or await), which always runs in the interpreter",
                 "move the hot loop into a plain function that the generator calls")
    UNSUPPORTED_OPCODE = ("an instruction the compiler does not handle",
                          "it uses a construct the compiler does not handle",
                          f"{_OBJECTS}; {_SPLIT}")
    UNSUPPORTED_TYPE = ("an argument or value type the compiler does not handle",
                        "it works on a kind of value the compiler does not handle here",
                        f"{_OBJECTS}; {_SPLIT}")
    UNSUPPORTED_CALL = ("a call to something the compiler does not handle",
                        "it calls something the compiler cannot call from native code",
                        f"{_OBJECTS}; {_SPLIT}")
    UNSTABLE_TYPE = ("a variable changes type inside the function",
                     "a variable holds values of different types",
                     "give the variable one type from the start (for example `total = 0.0` "
                     "instead of `total = 0` when floats are added to it)")
    UNBOUND_LOCAL = ("a local may be read before assignment",
                     "a variable may be read before it is assigned on some path",
                     "assign it before the branches or loops (for example `x = 0` at the top)")
    CLOSURE = ("closures, cells and free variables",
               "it uses a variable of an enclosing function (a closure) in a way that is not compiled",
               "TIERED_OBJECTS=1 compiles closures; or pass the value as an argument")
    TOO_MANY_SPECIALIZATIONS = ("TIERED_MAX_SPECIALIZATIONS reached",
                                "it is called with too many different argument types",
                                "call it with fewer argument types, or raise TIERED_MAX_SPECIALIZATIONS")
    COMPILER_ERROR = ("the compiler failed on this function (a tiered bug; it stays interpreted)",
                      "tiered's compiler failed on it (a bug in tiered; your program is not affected)",
                      "please report it with TIERED_LOG=debug output")
    LLVM_ERROR = ("LLVM rejected the module or failed to generate code",
                  "the code generator (LLVM) failed on it (a bug in tiered; your program is not affected)",
                  "please report it with TIERED_LOG=debug output")
    INSTALL_ERROR = ("the installer could not build the new code object",
                     "the compiled code could not be installed (a bug in tiered; your program is not affected)",
                     "please report it with TIERED_LOG=debug output")
    OUT_OF_MEMORY = ("memory ran out while compiling", "memory ran out while compiling it", "")
    RECURSION_LIMIT = ("the compile started deep in a recursion and reached the recursion limit",
                       "it became hot deep inside a recursion, where the compiler ran out of stack",
                       "")
    PROFILER_ERROR = ("the profiler failed while looking at this function",
                      "the profiler failed on it (a bug in tiered; your program is not affected)",
                      "please report it with TIERED_LOG=debug output")
    NO_FEEDBACK = ("no argument types were observed",
                   "the profiler saw no argument types for it", "")
    TRACED = ("a debugger, tracer or profiler is active",
              "a debugger, tracer, profiler or coverage tool was active", "")
    EXIT_STORM = ("one exit was taken too often: native code did not pay",
                  "its native code left for the interpreter too often at one place, so it went back to the interpreter",
                  "see the exits listed for it: a value changing type there is the usual cause")
    TOO_SMALL = ("a tiny body without loops runs faster interpreted (native callers still call it)",
                 "it is short and has no loop: entering native code would cost more than it saves",
                 "")
    TOO_BIG = ("its IR is too big: compiling it would cost more time than it could save",
               "it is very long: compiling it would take longer than it could ever save",
               "split it into smaller functions; each can then compile on its own")
    NOT_FRAMELESS = ("a native caller asked for it, but it may change objects or run Python code",
                     "a compiled caller wanted to call it directly, but it changes objects or runs other Python code",
                     "")


# Advice for particular refusals, by a phrase in the compiler's detail, first match first
# (checked before the reason's own advice; "TIERED_OBJECTS=1" parts are dropped when it is on).
HINTS = {
    "unpacks ": "only lists and tuples are unpacked natively (with TIERED_OBJECTS=1); make one first "
                "(`a, b = tuple(x)`) or take the items by index",
    "works on ": _OBJECTS + "; " + _SPLIT,
    "a for loop over ": "TIERED_OBJECTS=1 compiles loops over lists, tuples, dicts and other iterables; "
                        "or loop with `for i in range(...)`",
    "(methods and attributes of numbers": "call a function instead where there is one (`abs(x)`, "
                                          "`math.floor(x)`), or move that line out of the hot function",
    " an object": "a value taken from a list, tuple, dict, attribute or call is an object to the compiler "
                  "even when it is a number, and one variable cannot hold both: start the variable from "
                  "such a value too (e.g. the first item), or keep the two in separate variables",
    "holds ": "give the variable one type from the start (for example `total = 0.0` instead of "
              "`total = 0` when floats are added to it)",
}
