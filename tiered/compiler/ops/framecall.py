"""Compiler ops calling Python functions: a native call of Python code → the shared helper that pushes its frame itself (3.12), else PyObject_Vectorcall."""
from ...cpython import capi, pushframe, threadstate
from .nativeentry import framed_code, native_entry
from .objects import REFCOUNTS

# reference counts changed inline, with the modules' own helpers (and their branch weights)
_REFCOUNTS = REFCOUNTS + '!0 = !{!"branch_weights", i32 1, i32 100000}\n'


def _push_frame_helper(p):
    """IR of `tiered_call(ts, f, args, nargsf, kwnames)`: what PyObject_Vectorcall does for a
    plain Python function whose parameters are all positional-or-keyword, without its four
    layers of calls: the function's interpreter frame pushed on the thread's frame stack and
    initialised as _PyEval_Vector initialises it (the function, its code, its globals and
    builtins; new references to the arguments, bound as initialize_locals binds them: by
    position, by keyword, the rest to the defaults; NULL other locals), then run by
    _PyEval_EvalFrameDefault, which links it, and clears and pops it when it returns or raises.
    Anything else (another callable, a keyword that is no parameter's very name object, an
    argument missing, *args, keyword-only parameters, a generator, a full chunk of the frame
    stack, a PEP 523 frame evaluator) goes through PyObject_Vectorcall, which raises as CPython does."""
    defaults = capi.FUNC_FIELDS[0]
    items = capi.TUPLE_ITEMS
    native = native_entry(p) if pushframe.EXTRA_INDEX is not None and threadstate.RECURSION_REMAINING \
        and threadstate.C_RECURSION_REMAINING else ""
    after_fill = "checkentry" if native else "run"
    framed, code_at = (framed_code(p), "fncode") if native else ("  %code = bitcast ptr %code0 to ptr", "fn")
    return _REFCOUNTS + f"""
define ptr @tiered_call(ptr %ts, ptr %f, ptr %args, i64 %nargsf, ptr %kwnames) {{
entry:
  %maskp = alloca i64
  %nkwp = alloca i64
  %kwidx = alloca [16 x i64]
  store i64 0, ptr %maskp
  store i64 0, ptr %nkwp
  %tyslot = getelementptr i8, ptr %f, i64 {capi.OB_TYPE}
  %ty = load ptr, ptr %tyslot
  %isfn = icmp eq ptr %ty, @PyFunction_Type
  br i1 %isfn, label %fn, label %slow
fn:
  %vcp = getelementptr i8, ptr %f, i64 {p["func_vectorcall"]}
  %vc = load ptr, ptr %vcp
  %ownvc = icmp eq ptr %vc, @_PyFunction_Vectorcall
  %codep = getelementptr i8, ptr %f, i64 {p["func_code"]}
  %code0 = load ptr, ptr %codep
{framed}
  %flagsp = getelementptr i8, ptr %code, i64 {p["co_flags"]}
  %flags = load i32, ptr %flagsp
  %flagged = and i32 %flags, {pushframe.CO_NOT_PLAIN | pushframe.CO_OPTIMIZED}
  %flagsok = icmp eq i32 %flagged, {pushframe.CO_OPTIMIZED}
  %argcp = getelementptr i8, ptr %code, i64 {p["co_argcount"]}
  %argc = load i32, ptr %argcp
  %argc64 = sext i32 %argc to i64
  %nargs = and i64 %nargsf, 9223372036854775807
  %kwop = getelementptr i8, ptr %code, i64 {p["co_kwonlyargcount"]}
  %kwo = load i32, ptr %kwop
  %kwook = icmp eq i32 %kwo, 0
  %small = icmp sle i64 %argc64, 63
  %notmany = icmp sle i64 %nargs, %argc64
  %defsp = getelementptr i8, ptr %f, i64 {defaults}
  %defs = load ptr, ptr %defsp
  %hasdefs = icmp ne ptr %defs, null
  br i1 %hasdefs, label %countdefs, label %counted
countdefs:
  %ndefsp = getelementptr i8, ptr %defs, i64 {capi.OB_SIZE}
  %ndefs1 = load i64, ptr %ndefsp
  br label %counted
counted:
  %ndefs = phi i64 [0, %{code_at}], [%ndefs1, %countdefs]
  %fewdefs = icmp sle i64 %ndefs, %argc64
  %ok1 = and i1 %ownvc, %flagsok
  %ok2 = and i1 %kwook, %small
  %ok3 = and i1 %notmany, %fewdefs
  %ok4 = and i1 %ok1, %ok2
  %ok = and i1 %ok3, %ok4
  br i1 %ok, label %bykeyword, label %slow
bykeyword:
  %nokw = icmp eq ptr %kwnames, null
  br i1 %nokw, label %required, label %kwstart
kwstart:
  %nkwsp = getelementptr i8, ptr %kwnames, i64 {capi.OB_SIZE}
  %nkw0 = load i64, ptr %nkwsp
  store i64 %nkw0, ptr %nkwp
  %fewkw = icmp sle i64 %nkw0, 16
  br i1 %fewkw, label %kwnames_ok, label %slow
kwnames_ok:
  %namesp = getelementptr i8, ptr %code, i64 {p["co_localsplusnames"]}
  %names = load ptr, ptr %namesp
  %nameitems = getelementptr i8, ptr %names, i64 {items}
  %kwitems = getelementptr i8, ptr %kwnames, i64 {items}
  br label %kwloop
kwloop:
  %j = phi i64 [0, %kwnames_ok], [%j1, %kwfound]
  %kwmore = icmp slt i64 %j, %nkw0
  br i1 %kwmore, label %kwname, label %required
kwname:
  %kp = getelementptr ptr, ptr %kwitems, i64 %j
  %kname = load ptr, ptr %kp
  br label %search
search:
  %i = phi i64 [%nargs, %kwname], [%i1, %searchbody]
  %inrange = icmp slt i64 %i, %argc64
  br i1 %inrange, label %searchbody, label %slow
searchbody:
  %np = getelementptr ptr, ptr %nameitems, i64 %i
  %nm = load ptr, ptr %np
  %hit = icmp eq ptr %nm, %kname
  %i1 = add i64 %i, 1
  br i1 %hit, label %kwfound, label %search
kwfound:
  %bit = shl i64 1, %i
  %m0 = load i64, ptr %maskp
  %m1 = or i64 %m0, %bit
  store i64 %m1, ptr %maskp
  %kwslot = getelementptr i64, ptr %kwidx, i64 %j
  store i64 %i, ptr %kwslot
  %j1 = add i64 %j, 1
  br label %kwloop
required:
  ; the parameters after the positional arguments and before the defaulted ones: by keyword
  %given = load i64, ptr %maskp
  %firstdef = sub i64 %argc64, %ndefs
  %below = shl i64 1, %firstdef
  %upto = sub i64 %below, 1
  %lowbit = shl i64 1, %nargs
  %low = sub i64 %lowbit, 1
  %notlow = xor i64 %low, -1
  %needed = and i64 %upto, %notlow
  %notgiven = xor i64 %given, -1
  %lack = and i64 %needed, %notgiven
  %allgiven = icmp eq i64 %lack, 0
  br i1 %allgiven, label %room, label %slow
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
  call void @tiered_incref(ptr %f)
  call void @tiered_incref(ptr %code)
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
  %defitems = getelementptr i8, ptr %defs, i64 {items}
  %nkw = load i64, ptr %nkwp
  br label %argloop
argloop:
  %k = phi i64 [0, %push], [%k1, %argbody]
  %more = icmp slt i64 %k, %nargs
  br i1 %more, label %argbody, label %kwfill
argbody:
  %ap = getelementptr ptr, ptr %args, i64 %k
  %a = load ptr, ptr %ap
  call void @tiered_incref(ptr %a)
  %lp = getelementptr ptr, ptr %locals, i64 %k
  store ptr %a, ptr %lp
  %k1 = add i64 %k, 1
  br label %argloop
kwfill:
  %w = phi i64 [0, %argloop], [%w1, %kwbody]
  %wmore = icmp slt i64 %w, %nkw
  br i1 %wmore, label %kwbody, label %defloop
kwbody:
  %wslot = getelementptr i64, ptr %kwidx, i64 %w
  %windex = load i64, ptr %wslot
  %wat = add i64 %nargs, %w
  %wp = getelementptr ptr, ptr %args, i64 %wat
  %wv = load ptr, ptr %wp
  call void @tiered_incref(ptr %wv)
  %wl = getelementptr ptr, ptr %locals, i64 %windex
  store ptr %wv, ptr %wl
  %w1 = add i64 %w, 1
  br label %kwfill
defloop:
  %d = phi i64 [%nargs, %kwfill], [%d1, %defnext]
  %dmore = icmp slt i64 %d, %argc64
  br i1 %dmore, label %defcheck, label %nullloop
defcheck:
  %dbit = shl i64 1, %d
  %dgiven = and i64 %given, %dbit
  %dset = icmp ne i64 %dgiven, 0
  br i1 %dset, label %defnext, label %defbody
defbody:
  %di = sub i64 %d, %firstdef
  %dp = getelementptr ptr, ptr %defitems, i64 %di
  %dv = load ptr, ptr %dp
  call void @tiered_incref(ptr %dv)
  %dl = getelementptr ptr, ptr %locals, i64 %d
  store ptr %dv, ptr %dl
  br label %defnext
defnext:
  %d1 = add i64 %d, 1
  br label %defloop
nullloop:
  %z = phi i64 [%argc64, %defloop], [%z1, %nullbody]
  %zmore = icmp slt i64 %z, %nlp
  br i1 %zmore, label %nullbody, label %{after_fill}
nullbody:
  %zp = getelementptr ptr, ptr %locals, i64 %z
  store ptr null, ptr %zp
  %z1 = add i64 %z, 1
  br label %nullloop
{native}run:
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
