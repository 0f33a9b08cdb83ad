"""Compiler ops calling: native specialisations, any callable through the C-API, new functions → LLVM IR lines."""
import ctypes

from ...reasons import Exit
from ...cpython import capi, threadstate
from . import OBJ, op
from ..exits import REASONS
from .common import LL, fail, generic, pointer, result_type, type_of
from .framecall import call_vector


PRELUDE = "declare ptr @llvm.frameaddress.p0(i32)"
STACK_ALLOWANCE = 1 << 20      # the C stack a chain of native calls may use below its boxed entry


def _enter_frame(e, v):
    """Before a native call: exit (RECURSION) when the callee's frame would pass the recursion
    limit or the chain's C stack allowance (%floor: the boxed entry's stack pointer less
    STACK_ALLOWANCE); else count the callee's frame in the thread state's count of Python
    frames, as CPython would.  (slot, count before) to restore after the call, or None."""
    sp = e.op(f"ptrtoint ptr {e.op('call ptr @llvm.frameaddress.p0(i32 0)')} to i64")
    deep = e.op(f"icmp ult i64 {sp}, %floor")
    if threadstate.RECURSION_REMAINING is None:
        e.guard(deep, v, reason=Exit.RECURSION)
        return None
    slot = e.op(f"getelementptr i8, ptr {e.thread_state()}, i64 {threadstate.RECURSION_REMAINING}")
    left = e.op(f"load i32, ptr {slot}")
    e.guard(e.op(f"or i1 {deep}, {e.op(f'icmp sle i32 {left}, 0')}"), v, reason=Exit.RECURSION)
    e.line(f"store i32 {e.op(f'sub i32 {left}, 1')}, ptr {slot}")
    return slot, left


C_MARGIN = 100                 # C-level recursions left below which a call goes to the interpreter


PY_MARGIN = 20                 # 3.11: recursions left below which a generic call goes to the interpreter


def _c_depth_guard(e, v):
    """Before a call that may enter the interpreter from C: exit (RECURSION) when few
    recursions are left (3.12 counts those apart from Python frames; 3.11 counts both in one,
    and a call from C is one more), so that the interpreter makes the call itself, Python to
    Python, and recursion goes as deep as CPython lets it, ending in CPython's own
    RecursionError (the exit's own helper call keeps room too)."""
    if threadstate.C_RECURSION_REMAINING is not None:
        offset, margin = threadstate.C_RECURSION_REMAINING, C_MARGIN
    elif threadstate.RECURSION_REMAINING is not None:
        offset, margin = threadstate.RECURSION_REMAINING, PY_MARGIN
    else:
        return
    slot = e.op(f"getelementptr i8, ptr {e.thread_state()}, i64 {offset}")
    e.guard(e.op(f"icmp slt i32 {e.op(f'load i32, ptr {slot}')}, {margin}"), v, reason=Exit.RECURSION)


# attrs: target (the callee's compiled record), self (a call of itself), dispatch (by classes)
def _code_guard(e, v):
    """Exit (CODE_CHANGED) unless the callee's code is still one of its own (its original, or
    the code tiered put in place): `g.__code__ = h.__code__` must reach native callers too;
    and, when defaults are passed as constants, unless its defaults are the same tuple."""
    defaults = v.attrs.get("defaults")
    if defaults is not None:              # the builder pads only when FUNC_DEFAULTS is known
        e.m.keep(defaults)
        now = e.op(f"load i64, ptr inttoptr (i64 {v.attrs['callee'] + capi.FUNC_FIELDS[0]} to ptr)")
        e.guard(e.op(f"icmp ne i64 {now}, {id(defaults)}"), v, reason=Exit.CODE_CHANGED)
    words = getattr(v.attrs["target"], "code_words", None) if not v.attrs["self"] else None
    if words is None or capi.FUNC_CODE is None or v.attrs.get("callee") is None:
        return
    e.m.keep(words)
    code = e.op(f"load i64, ptr inttoptr (i64 {v.attrs['callee'] + capi.FUNC_CODE} to ptr)")
    base = ctypes.addressof(words)
    own = [e.op(f"icmp eq i64 {code}, {e.op(f'load i64, ptr inttoptr (i64 {base + 8 * k} to ptr)')}")
           for k in (0, 1)]
    e.guard(e.op(f"xor i1 {e.op(f'or i1 {own[0]}, {own[1]}')}, true"), v, reason=Exit.CODE_CHANGED)


# callee: the called function's address (for the code guard); defaults: its defaults tuple,
# when some are passed as constants
@op("call_native", -1, None, Exit.CALLEE_EXITED, pure=False, raises=True,
    attrs=("target", "self", "dispatch", "callee", "defaults"))
def _call_native(e, v):
    """Call a native specialisation as a frame of its own (_enter_frame); exit at the recursion
    limit or on its exit (dropping the callee's exit state: this frame's own replaces it)."""
    target = v.attrs["target"]
    callee = f"@{e.symbol}" if v.attrs["self"] else f"inttoptr (i64 {target.address} to ptr)"
    if v.attrs.get("dispatch"):               # the module's specialisations, by class
        callee = e.m.dispatcher(len(v.args))
    elif not v.attrs["self"]:
        e.m.keep(target.compiled)        # the callee's machine code lives as long as ours
    ret_ll = LL[v.type]
    _code_guard(e, v)
    count = _enter_frame(e, v)
    args = "".join(f"{LL[a.type]} {e.ref(a)}, " for a in v.args)
    ty = result_type(ret_ll)
    pair = e.op(f"call {ty} {callee}({args}i64 %floor, ptr %ts)")
    if count is not None:                     # the callee's frame is gone: count it out
        e.line(f"store i32 {count[1]}, ptr {count[0]}")
    r = e.op(f"extractvalue {ty} {pair}, 0")
    st = e.op(f"extractvalue {ty} {pair}, 1")
    exited, go = e.tmp()[1:], e.tmp()[1:]
    before = e.cur
    e.line(f"br i1 {e.op(f'icmp ne i32 {st}, 0')}, label %{exited}, label %{go}, !prof !0")
    e.label(exited)
    state = e.op(f"extractvalue {ty} {pair}, 2")
    resumable = not v.attrs["self"] and not v.attrs.get("dispatch") and target.resumable
    if resumable:
        # it may have changed objects: its state goes on in the interpreter inside ours
        # (an exception pending, a MemoryError, is raised here: its state is dropped)
        failed = e.op(f"icmp eq i32 {st}, 2")
        e.line(f"call void @tiered_discard(ptr {e.op(f'select i1 {failed}, ptr {state}, ptr null')})")
        e.resume_slots.setdefault(v.id, e.entry_alloca("ptr"))
        e.line(f"store ptr {e.op(f'select i1 {failed}, ptr null, ptr {state}')}, ptr {e.resume_slots[v.id]}")
        forced = "false"
    else:
        # testing: a guard forced to fail in the callee counts as forced here too, not as a
        # real callee exit (those send the caller back to CPython after an exit storm)
        forced = e.op(f"call i1 @tiered_exit_reason_is(ptr {state}, i64 {REASONS.index(Exit.FORCED)})") \
            if e.force else "false"
        # a chain too deep goes on in the interpreter: the reason reaches the boxed entry
        deep = e.op(f"call i1 @tiered_exit_reason_is(ptr {state}, i64 {REASONS.index(Exit.RECURSION)})")
        e.line(f"call void @tiered_discard(ptr {state})")
    e.line(f"br label %{go}")
    e.label(go)
    was_forced = e.op(f"phi i1 [{forced}, %{exited}], [false, %{before}]") if e.force else None
    was_deep = None if resumable else e.op(f"phi i1 [{deep}, %{exited}], [false, %{before}]")
    e.guard(e.op(f"icmp eq i32 {st}, 2"), v, with_exception=True)
    if resumable:               # never a forced exit here: the call's effects are done
        e._branch_exit(e.op(f"icmp ne i32 {st}, 0"), v, False, Exit.CALLEE_RESUMED)
    else:
        if e.force:
            e._branch_exit(was_forced, v, False, Exit.FORCED)
        e._branch_exit(was_deep, v, False, Exit.RECURSION)
        e.guard(e.op(f"icmp ne i32 {st}, 0"), v)
    e.alias(v, r)


# callable, args; resumable: a method of NO_PYTHON_METHODS (build/calls.py); method: the
# callable is load_method's (NULL when it found no method: args[0], method_self's, is called)
@op("obj_call", -1, OBJ, Exit.RAISED, pure=False, raises=True, python=True,
    attrs=("kwnames", "resumable", "method"))
def _obj_call(e, v):
    """callable(*args, **dict(zip(kwnames, last args))) through PyObject_Vectorcall: the
    arguments in a stack array (numbers boxed for the call), the keyword names a constant tuple.
    A method call as CPython lays it out ([method or NULL, self or the attribute, args]) calls
    the method with self first, or the attribute without it (PY_VECTORCALL_ARGUMENTS_OFFSET)."""
    _c_depth_guard(e, v)
    n = len(v.args) - 1
    kwnames = v.attrs.get("kwnames", ())
    names = "null"
    if kwnames:
        e.m.keep(kwnames)
        names = pointer(kwnames)
    argv = e.entry_alloca(f"[{max(n, 1)} x ptr]")

    def call(ops):
        """Store the arguments and call."""
        for k, o in enumerate(ops[1:]):
            e.line(f"store ptr {o}, ptr {e.op(f'getelementptr ptr, ptr {argv}, i64 {k}')}")
        if not v.attrs.get("method"):
            return call_vector(e, ops[0], argv, n - len(kwnames), names)
        bare = e.op(f"icmp eq ptr {ops[0]}, null")
        callee = e.op(f"select i1 {bare}, ptr {ops[1]}, ptr {ops[0]}")
        start = e.op(f"select i1 {bare}, ptr {e.op(f'getelementptr ptr, ptr {argv}, i64 1')}, ptr {argv}")
        count = e.op(f"select i1 {bare}, i64 {(n - 1 - len(kwnames)) | _ARGUMENTS_OFFSET}, "
                     f"i64 {n - len(kwnames)}")
        return call_vector(e, callee, start, count, names)
    r = generic(e, v, call)
    fail(e, v, e.op(f"icmp eq ptr {r}, null"))
    e.alias(v, r)


_ARGUMENTS_OFFSET = 1 << 63    # PY_VECTORCALL_ARGUMENTS_OFFSET: the callee may use args[-1]


# obj.name for a call, as CPython's LOAD_ATTR/LOAD_METHOD looks a method up: the unbound
# method (no bound method made), or NULL when the attribute is no method (then method_self
# gives the attribute itself); the two are CPython's [method or NULL, self or attribute]
@op("load_method", 1, OBJ, Exit.RAISED, pure=False, raises=True, python=True, frameless=False,
    attrs=("name",))
def _load_method(e, v):
    """_PyObject_GetMethod(obj, name, &found): what it found stays in a slot for method_self;
    AttributeError (found NULL) exits with the exception, raised at the LOAD_ATTR."""
    e.force_point(v)
    name = v.attrs["name"]
    e.m.keep(name)
    slot = e.method_slots[v.id] = e.entry_alloca("ptr")
    e.line(f"store ptr null, ptr {slot}")     # it writes nothing there when it raises
    token = e.line_enter(v)
    is_method = e.op(f"call i32 @_PyObject_GetMethod(ptr {e.ref(v.args[0])}, ptr {pointer(name)}, ptr {slot})")
    e.line_leave(token)
    found = e.op(f"load ptr, ptr {slot}")
    fail(e, v, e.op(f"icmp eq ptr {found}, null"))
    e.alias(v, e.op(f"select i1 {e.op(f'icmp ne i32 {is_method}, 0')}, ptr {found}, ptr null"))


# (load_method's value, the object): the self of a method call, or the attribute that was no method
@op("method_self", 2, OBJ, pure=False)
def _method_self(e, v):
    """A new reference to the object when load_method found a method, else the attribute
    it found (its reference passes on)."""
    method, obj = e.ref(v.args[0]), e.ref(v.args[1])
    bare = e.op(f"icmp eq ptr {method}, null")
    new = e.op(f"select i1 {bare}, ptr {e.op(f'load ptr, ptr {e.method_slots[v.args[0].id]}')}, ptr {obj}")
    e.line(f"call void @tiered_xincref(ptr {e.op(f'select i1 {bare}, ptr null, ptr {obj}')})")
    e.alias(v, new)


_INIT_NOT_NONE = "__init__() should return None, not '%.200s'"


# cls(*args) of a plain class (classes.plain_constructor): cls, its __init__ (build/calls.py
# guards the class's version first)
@op("new_instance", -1, OBJ, Exit.RAISED, pure=False, raises=True, python=True, attrs=("cls", "init"))
def _new_instance(e, v):
    """cls(*args) as type.__call__ makes it for a plain class, without its argument tuple and
    method lookup: object.__new__ (cls's tp_new) with no arguments (it takes any when the class
    has an __init__ of its own), then __init__(instance, *args) through PyObject_Vectorcall;
    a result other than None is CPython's TypeError.  A failure exits with the exception."""
    _c_depth_guard(e, v)
    cls, init = v.attrs["cls"], v.attrs["init"]
    e.m.keep(cls, init, ())
    n = len(v.args)
    argv = e.entry_alloca(f"[{n + 1} x ptr]")

    def call(ops):
        """Allocate, then call __init__ with the new instance first; the instance or NULL."""
        new = e.op(f"load ptr, ptr getelementptr (i8, ptr {pointer(cls)}, i64 {capi.TP_NEW})")
        obj = e.op(f"call ptr {new}(ptr {pointer(cls)}, ptr {pointer(())}, ptr null)")
        made, init_done, bad, done, start = e.tmp()[1:], e.tmp()[1:], e.tmp()[1:], e.tmp()[1:], e.cur
        e.line(f"br i1 {e.op(f'icmp eq ptr {obj}, null')}, label %{done}, label %{made}")
        e.label(made)
        for k, o in enumerate([obj] + ops):
            e.line(f"store ptr {o}, ptr {e.op(f'getelementptr ptr, ptr {argv}, i64 {k}')}")
        r = call_vector(e, pointer(init), argv, n + 1)
        e.line(f"br i1 {e.op(f'icmp eq ptr {r}, {pointer(None)}')}, label %{init_done}, label %{bad}")
        e.label(bad)                      # raised (NULL), or returned something else than None
        got = e.op(f"icmp ne ptr {r}, null")
        wrong, drop = e.tmp()[1:], e.tmp()[1:]
        e.line(f"br i1 {got}, label %{wrong}, label %{drop}")
        e.label(wrong)
        name = e.op(f"load ptr, ptr {e.op(f'getelementptr i8, ptr {type_of(e, r)}, i64 {capi.TYPE_NAME}')}")
        e.line(f"call ptr (ptr, ptr, ...) @PyErr_Format(ptr {pointer(TypeError)}, "
               f"ptr {e.m.c_string(_INIT_NOT_NONE)}, ptr {name})")
        e.line(f"call void @tiered_decref(ptr {r})")
        e.line(f"br label %{drop}")
        e.label(drop)
        e.line(f"call void @tiered_decref(ptr {obj})")
        e.line(f"br label %{done}")
        e.label(init_done)
        e.line(f"call void @tiered_decref(ptr {r})")
        e.line(f"br label %{done}")
        e.label(done)
        return e.op(f"phi ptr [null, %{start}], [null, %{drop}], [{obj}, %{init_done}]")
    r = generic(e, v, call)
    fail(e, v, e.op(f"icmp eq ptr {r}, null"))
    e.alias(v, r)


@op("obj_call_ex", -1, OBJ, Exit.RAISED, pure=False, raises=True, python=True)   # callable, tuple[, dict]
def _call_ex(e, v):
    """callable(*args[, **kwargs]) for a tuple of args and an exact dict: PyObject_Call."""
    _c_depth_guard(e, v)
    kw = lambda ops: ops[2] if len(ops) > 2 else "null"  # noqa: E731
    r = generic(e, v, lambda ops: e.op(f"call ptr @PyObject_Call(ptr {ops[0]}, ptr {ops[1]}, ptr {kw(ops)})"))
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    e.alias(v, r)


# [defaults, kwdefaults, closure,] code; attrs flags: MAKE_FUNCTION's, globals: the function's
@op("make_function", -1, None, Exit.RAISED, pure=False, raises=True, attrs=("flags", "globals"))
def _make_function(e, v):
    """A new function (PyFunction_New: the code's name and qualname, these globals), its
    defaults, keyword defaults and closure stored in it as MAKE_FUNCTION stores them: the
    operands' references move in.  Out of memory: exit with the MemoryError, nothing moved."""
    *parts, code = (e.ref(a) for a in v.args)
    e.m.keep(v.attrs["globals"])
    f = e.op(f"call ptr @PyFunction_New(ptr {code}, ptr {pointer(v.attrs['globals'])})")
    e.guard(e.op(f"icmp eq ptr {f}, null"), v, with_exception=True, reason=Exit.RAISED)
    defaults, kwdefaults, closure = capi.FUNC_FIELDS
    fields = [at for bit, at in ((1, defaults), (2, kwdefaults), (8, closure)) if v.attrs["flags"] & bit]
    for x, at in zip(parts, fields):
        e.line(f"store ptr {x}, ptr {e.op(f'getelementptr i8, ptr {f}, i64 {at}')}")
    e.line(f"call void @tiered_decref(ptr {code})")
    e.alias(v, f)
