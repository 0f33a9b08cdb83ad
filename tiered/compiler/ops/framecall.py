"""Compiler ops calling Python functions: a native call of Python code → the shared helper that pushes its frame itself (3.12), else PyObject_Vectorcall."""
from ...cpython import capi, pushframe


def _push_frame_helper(p):
    """IR of `tiered_call(ts, f, args, nargsf, kwnames)`: what PyObject_Vectorcall does for a
    plain Python function called with its positional parameters (the last ones may be left to
    their defaults), without its four layers of calls: the function's interpreter frame pushed
    on the thread's frame stack and initialised as _PyEval_Vector initialises it (the function,
    its code, its globals and builtins, new references to the arguments and defaults, NULL
    other locals), then run by
    _PyEval_EvalFrameDefault, which links it, and clears and pops it when it returns or raises.
    Anything else (another callable, keywords, *args, a generator, a full
    chunk of the frame stack, a PEP 523 frame evaluator) goes through PyObject_Vectorcall."""
    defaults = capi.FUNC_FIELDS[0]
    return f"""
define ptr @tiered_call(ptr %ts, ptr %f, ptr %args, i64 %nargsf, ptr %kwnames) {{
entry:
  %tyslot = getelementptr i8, ptr %f, i64 {capi.OB_TYPE}
  %ty = load ptr, ptr %tyslot
  %isfn = icmp eq ptr %ty, @PyFunction_Type
  %nokw = icmp eq ptr %kwnames, null
  %plain = and i1 %isfn, %nokw
  br i1 %plain, label %fn, label %slow
fn:
  %vcp = getelementptr i8, ptr %f, i64 {p["func_vectorcall"]}
  %vc = load ptr, ptr %vcp
  %ownvc = icmp eq ptr %vc, @_PyFunction_Vectorcall
  %codep = getelementptr i8, ptr %f, i64 {p["func_code"]}
  %code = load ptr, ptr %codep
  %flagsp = getelementptr i8, ptr %code, i64 {p["co_flags"]}
  %flags = load i32, ptr %flagsp
  %flagged = and i32 %flags, {pushframe.CO_NOT_PLAIN | pushframe.CO_OPTIMIZED}
  %flagsok = icmp eq i32 %flagged, {pushframe.CO_OPTIMIZED}
  %argcp = getelementptr i8, ptr %code, i64 {p["co_argcount"]}
  %argc = load i32, ptr %argcp
  %argc64 = sext i32 %argc to i64
  %nargs = and i64 %nargsf, 9223372036854775807
  %defsp = getelementptr i8, ptr %f, i64 {defaults}
  %defs = load ptr, ptr %defsp
  %hasdefs = icmp ne ptr %defs, null
  br i1 %hasdefs, label %countdefs, label %counted
countdefs:
  %ndefsp = getelementptr i8, ptr %defs, i64 {capi.OB_SIZE}
  %ndefs1 = load i64, ptr %ndefsp
  br label %counted
counted:
  %ndefs = phi i64 [0, %fn], [%ndefs1, %countdefs]
  %missing = sub i64 %argc64, %nargs
  %notmany = icmp sge i64 %missing, 0
  %defaulted = icmp sle i64 %missing, %ndefs
  %countok = and i1 %notmany, %defaulted
  %kwop = getelementptr i8, ptr %code, i64 {p["co_kwonlyargcount"]}
  %kwo = load i32, ptr %kwop
  %kwook = icmp eq i32 %kwo, 0
  %ok1 = and i1 %ownvc, %flagsok
  %ok2 = and i1 %countok, %kwook
  %ok3 = and i1 %ok1, %ok2
  br i1 %ok3, label %room, label %slow
room:
  %topp = getelementptr i8, ptr %ts, i64 {p["ts_datastack_top"]}
  %top = load ptr, ptr %topp
  %limitp = getelementptr i8, ptr %ts, i64 {p["ts_datastack_limit"]}
  %limit = load ptr, ptr %limitp
  %sizep = getelementptr i8, ptr %code, i64 {p["co_framesize"]}
  %size32 = load i32, ptr %sizep
  %size = sext i32 %size32 to i64
  %topi = ptrtoint ptr %top to i64
  %limiti = ptrtoint ptr %limit to i64
  %left = sub i64 %limiti, %topi
  %words = ashr i64 %left, 3
  %fits = icmp slt i64 %size, %words
  %hastop = icmp ne ptr %top, null
  %fits2 = and i1 %fits, %hastop
  %interpp = getelementptr i8, ptr %ts, i64 {p["ts_interp"]}
  %interp = load ptr, ptr %interpp
  %evalf = call ptr @_PyInterpreterState_GetEvalFrameFunc(ptr %interp)
  %default = icmp eq ptr %evalf, @_PyEval_EvalFrameDefault
  %go = and i1 %fits2, %default
  br i1 %go, label %push, label %slow
push:
  %newtop = getelementptr ptr, ptr %top, i64 %size
  store ptr %newtop, ptr %topp
  call void @Py_IncRef(ptr %f)
  call void @Py_IncRef(ptr %code)
  %fcode = getelementptr i8, ptr %top, i64 {p["f_code"]}
  store ptr %code, ptr %fcode
  %ffunc = getelementptr i8, ptr %top, i64 {p["f_funcobj"]}
  store ptr %f, ptr %ffunc
  %globp = getelementptr i8, ptr %f, i64 {p["func_globals"]}
  %glob = load ptr, ptr %globp
  %fglob = getelementptr i8, ptr %top, i64 {p["f_globals"]}
  store ptr %glob, ptr %fglob
  %builtp = getelementptr i8, ptr %f, i64 {p["func_builtins"]}
  %built = load ptr, ptr %builtp
  %fbuilt = getelementptr i8, ptr %top, i64 {p["f_builtins"]}
  store ptr %built, ptr %fbuilt
  %flocals = getelementptr i8, ptr %top, i64 {p["f_locals"]}
  store ptr null, ptr %flocals
  %fobj = getelementptr i8, ptr %top, i64 {p["f_frame_obj"]}
  store ptr null, ptr %fobj
  %nlpp = getelementptr i8, ptr %code, i64 {p["co_nlocalsplus"]}
  %nlp32 = load i32, ptr %nlpp
  %nlp = sext i32 %nlp32 to i64
  %fstack = getelementptr i8, ptr %top, i64 {p["f_stacktop"]}
  store i32 %nlp32, ptr %fstack
  %first = getelementptr i8, ptr %code, i64 {capi.FRAMES[2] - 2}
  %fprev = getelementptr i8, ptr %top, i64 {p["f_prev_instr"]}
  store ptr %first, ptr %fprev
  %fret = getelementptr i8, ptr %top, i64 {p["f_return_offset"]}
  store i16 0, ptr %fret
  %fowner = getelementptr i8, ptr %top, i64 {p["f_owner"]}
  store i8 0, ptr %fowner
  %locals = getelementptr i8, ptr %top, i64 {p["f_localsplus"]}
  %defitems = getelementptr i8, ptr %defs, i64 {capi.TUPLE_ITEMS}
  br label %argloop
argloop:
  %k = phi i64 [0, %push], [%k1, %argbody]
  %more = icmp slt i64 %k, %nargs
  br i1 %more, label %argbody, label %defloop
argbody:
  %ap = getelementptr ptr, ptr %args, i64 %k
  %a = load ptr, ptr %ap
  call void @Py_IncRef(ptr %a)
  %lp = getelementptr ptr, ptr %locals, i64 %k
  store ptr %a, ptr %lp
  %k1 = add i64 %k, 1
  br label %argloop
defloop:
  %d = phi i64 [%nargs, %argloop], [%d1, %defbody]
  %dmore = icmp slt i64 %d, %argc64
  br i1 %dmore, label %defbody, label %nullloop
defbody:
  %first_default = sub i64 %argc64, %ndefs
  %di = sub i64 %d, %first_default
  %dp = getelementptr ptr, ptr %defitems, i64 %di
  %dv = load ptr, ptr %dp
  call void @Py_IncRef(ptr %dv)
  %dl = getelementptr ptr, ptr %locals, i64 %d
  store ptr %dv, ptr %dl
  %d1 = add i64 %d, 1
  br label %defloop
nullloop:
  %j = phi i64 [%argc64, %defloop], [%j1, %nullbody]
  %nmore = icmp slt i64 %j, %nlp
  br i1 %nmore, label %nullbody, label %run
nullbody:
  %np = getelementptr ptr, ptr %locals, i64 %j
  store ptr null, ptr %np
  %j1 = add i64 %j, 1
  br label %nullloop
run:
  %r = call ptr @_PyEval_EvalFrameDefault(ptr %ts, ptr %top, i32 0)
  ret ptr %r
slow:
  %rs = call ptr @PyObject_Vectorcall(ptr %f, ptr %args, i64 %nargsf, ptr %kwnames)
  ret ptr %rs
}}
"""


# the shared helper native calls of Python code go through (3.12), or none: PyObject_Vectorcall
CALL_HELPER = (_push_frame_helper(pushframe.LAYOUT) if pushframe.LAYOUT is not None and capi.FRAMES
               and capi.FUNC_FIELDS else "")


def call_vector(e, f, argv, nargsf, kwnames="null"):
    """IR calling f(*argv[:nargsf], kwnames): through tiered_call where frames can be pushed
    natively, else PyObject_Vectorcall; a new reference, NULL with an exception."""
    if CALL_HELPER:
        return e.op(f"call ptr @tiered_call(ptr {e.thread_state()}, ptr {f}, ptr {argv}, i64 {nargsf}, ptr {kwnames})")
    return e.op(f"call ptr @PyObject_Vectorcall(ptr {f}, ptr {argv}, i64 {nargsf}, ptr {kwnames})")
