"""Compiler ops calling Python functions, the native entry: a callee's code with a co_extra block (runtime/install.py) → IR of framecall's tiered_call that runs its native entry in the frame pushed for it."""
from ...cpython import capi, pushframe, threadstate


def _block_of(p, code, pfx, missing):
    """IR lines reading %{pfx}block, the word at tiered's index in the co_extra of `code` (NULL
    when unset), going on in block %{pfx}read; to label `missing` when code has no such word."""
    return f"""  %{pfx}xp = getelementptr i8, ptr {code}, i64 {p["co_extra"]}
  %{pfx}x = load ptr, ptr %{pfx}xp
  %{pfx}hasx = icmp ne ptr %{pfx}x, null
  br i1 %{pfx}hasx, label %{pfx}size, label %{missing}
{pfx}size:
  %{pfx}n = load i64, ptr %{pfx}x
  %{pfx}ok = icmp sgt i64 %{pfx}n, {pushframe.EXTRA_INDEX}
  br i1 %{pfx}ok, label %{pfx}read, label %{missing}
{pfx}read:
  %{pfx}bp = getelementptr i8, ptr %{pfx}x, i64 {8 + 8 * pushframe.EXTRA_INDEX}
  %{pfx}block = load ptr, ptr %{pfx}bp
"""


def framed_code(p):
    """IR lines choosing the code to push for %f: the one its code's co_extra block names for
    this very function (runtime/install.py point_framed: a function run natively only by
    native callers), else the function's own code; continues in block %fncode."""
    return _block_of(p, "%code0", "a", "owncode") + f"""  %abhas = icmp ne ptr %ablock, null
  br i1 %abhas, label %altfunc, label %owncode
altfunc:
  %afp = getelementptr i64, ptr %ablock, i64 5
  %afn = load ptr, ptr %afp
  %forf = icmp eq ptr %afn, %f
  %acp = getelementptr i64, ptr %ablock, i64 4
  %acode = load ptr, ptr %acp
  %alt = select i1 %forf, ptr %acode, ptr %code0
  br label %fncode
owncode:
  br label %fncode
fncode:
  %code = phi ptr [%alt, %altfunc], [%code0, %owncode]"""


# what the interpreter takes off the thread's count of C recursion when it runs a frame
# (3.12's PY_EVAL_C_STACK_UNITS): the native entry run in place of it takes as much, so call
# sites' depth guards (ops/calls.py) hand deep recursion to the interpreter as before
C_STACK_UNITS = 2


def native_entry(p):
    """IR lines of tiered_call after the frame is filled: when the code is an installed code
    whose co_extra word points at its native entry (runtime/install.py point_entry_block), run
    the entry in the pushed frame, linked as the thread's current frame and counted in its
    recursion (Python frames, and C recursion as the interpreter counts itself), as the
    prologue's call would run it, without the interpreter; a result then
    leaves with the frame cleared and popped as the interpreter clears it.  The interpreter
    takes the frame over: from its start when the entry says to interpret (a tracer), right
    after the prologue's call (with the result on the stack) when the entry exited or a frame
    object was made for this frame, and raising there when the entry failed."""
    start, cframe, current = capi.FRAMES[2], capi.CURRENT_FRAME[0], capi.CURRENT_FRAME[1]
    return "checkentry:\n" + _block_of(p, "%code", "e", "run") + f"""  %hasb = icmp ne ptr %eblock, null
  %ncellp = getelementptr i8, ptr %code, i64 {p["co_ncellvars"]}
  %ncell = load i32, ptr %ncellp
  %nfreep = getelementptr i8, ptr %code, i64 {p["co_nfreevars"]}
  %nfree = load i32, ptr %nfreep
  %ncf = or i32 %ncell, %nfree
  %nocells = icmp eq i32 %ncf, 0
  %useit = and i1 %hasb, %nocells
  br i1 %useit, label %depth, label %run
depth:
  %rrp = getelementptr i8, ptr %ts, i64 {threadstate.RECURSION_REMAINING}
  %rr = load i32, ptr %rrp
  %roomy = icmp sgt i32 %rr, 2
  %crp = getelementptr i8, ptr %ts, i64 {threadstate.C_RECURSION_REMAINING}
  %cr = load i32, ptr %crp
  %croomy = icmp sgt i32 %cr, {C_STACK_UNITS * 2}
  %bothroomy = and i1 %roomy, %croomy
  br i1 %bothroomy, label %native, label %run
native:
  %entryfn = load ptr, ptr %eblock
  %resp = getelementptr i64, ptr %eblock, i64 1
  %resume = load i64, ptr %resp
  %sentp = getelementptr i64, ptr %eblock, i64 2
  %sentinel = load ptr, ptr %sentp
  %intp = getelementptr i64, ptr %eblock, i64 3
  %interpret = load ptr, ptr %intp
  %cfp = getelementptr i8, ptr %ts, i64 {cframe}
  %cf = load ptr, ptr %cfp
  %curp = getelementptr i8, ptr %cf, i64 {current}
  %cur = load ptr, ptr %curp
  %fprevious = getelementptr i8, ptr %top, i64 {p["f_previous"]}
  store ptr %cur, ptr %fprevious
  store ptr %top, ptr %curp
  ; the frame at the prologue's call, as the interpreter leaves it while the entry runs: the
  ; entry's code finds its own frame by that (lower_llvm own_frame) and keeps it truthful
  %at0 = add i64 %resume, {start - 2}
  %after = getelementptr i8, ptr %code, i64 %at0
  store ptr %after, ptr %fprev
  %rr1 = sub i32 %rr, 1
  store i32 %rr1, ptr %rrp
  %cr1 = sub i32 %cr, {C_STACK_UNITS}
  store i32 %cr1, ptr %crp
  %rn = call ptr %entryfn(ptr null, ptr %locals, i64 %argc64)
  store i32 %rr, ptr %rrp
  store i32 %cr, ptr %crp
  store ptr %cur, ptr %curp
  %failed = icmp eq ptr %rn, null
  br i1 %failed, label %threw, label %classify
classify:
  %isint = icmp eq ptr %rn, %interpret
  br i1 %isint, label %restart, label %plain
plain:
  %issent = icmp eq ptr %rn, %sentinel
  %fobjp = getelementptr i8, ptr %top, i64 {p["f_frame_obj"]}
  %fobjnow = load ptr, ptr %fobjp
  %hasfobj = icmp ne ptr %fobjnow, null
  %special = or i1 %issent, %hasfobj
  br i1 %special, label %handover, label %clear
clear:
  %c = phi i64 [0, %plain], [%c1, %clearbody]
  %cmore = icmp slt i64 %c, %nlp
  br i1 %cmore, label %clearbody, label %cleared
clearbody:
  %cp = getelementptr ptr, ptr %locals, i64 %c
  %cv = load ptr, ptr %cp
  call void @tiered_xrelease(ptr %cv)
  %c1 = add i64 %c, 1
  br label %clear
cleared:
  call void @tiered_xrelease(ptr %f)
  call void @tiered_xrelease(ptr %code)
  store ptr %top, ptr %topp
  ret ptr %rn
restart:
  call void @tiered_xrelease(ptr %rn)
  store ptr %first, ptr %fprev
  %rr2 = call ptr @_PyEval_EvalFrameDefault(ptr %ts, ptr %top, i32 0)
  ret ptr %rr2
handover:
  %stackslot = getelementptr ptr, ptr %locals, i64 %nlp
  store ptr %rn, ptr %stackslot
  %nlp1 = add i32 %nlp32, 1
  store i32 %nlp1, ptr %fstack
  store ptr %after, ptr %fprev
  %rr3 = call ptr @_PyEval_EvalFrameDefault(ptr %ts, ptr %top, i32 0)
  ret ptr %rr3
threw:
  store ptr %after, ptr %fprev
  %rr4 = call ptr @_PyEval_EvalFrameDefault(ptr %ts, ptr %top, i32 1)
  ret ptr %rr4
"""
