"""Compiler runtime IR: helper functions every module calls, compiled once per process and shared."""
import re

from ..cpython import capi
from .exits import REASON_BITS
from .ops.control import GLOBAL_IS, TRACED, TRACED_GLOBALS
from .ops.framecall import CALL_HELPER
from .ops.frames import SYNC_LOCALS
from .ops.objects import DEALLOC_AT, UNBOX_INT

HELPERS = r"""
@tiered_spare_slot = global ptr null   ; what a frame pointing that pointed nothing restores

define i1 @tiered_force(ptr %state) {
entry:
  %c = load i64, ptr %state
  %c1 = sub i64 %c, 1
  %fire = icmp sle i64 %c1, 0
  br i1 %fire, label %reset, label %keep
keep:
  store i64 %c1, ptr %state
  ret i1 false
reset:
  %nextp = getelementptr i64, ptr %state, i64 1
  %n = load i64, ptr %nextp
  %n1 = add i64 %n, 1
  store i64 %n1, ptr %nextp
  store i64 %n, ptr %state
  ret i1 true
}

define void @tiered_xdecref(ptr %o) {
entry:
  %z = icmp eq ptr %o, null
  br i1 %z, label %done, label %dec
dec:
  call void @Py_DecRef(ptr %o)
  br label %done
done:
  ret void
}

define ptr @tiered_lookup(ptr %d, ptr %b, ptr %name) {
entry:
  %o = call ptr @PyDict_GetItemWithError(ptr %d, ptr %name)
  %z = icmp eq ptr %o, null
  %hasb = icmp ne ptr %b, null
  %try = and i1 %z, %hasb
  br i1 %try, label %inb, label %done
inb:
  %o2 = call ptr @PyDict_GetItemWithError(ptr %b, ptr %name)
  br label %done
done:
  %r = phi ptr [%o, %entry], [%o2, %inb]
  call void @PyErr_Clear()
  ret ptr %r
}

define i1 @tiered_exit(ptr %helper, ptr %state, i32 %status) cold noinline {
entry:
  ; %state: the exit's own tuple (exit code, live values...), owned here
  %hasexc = icmp eq i32 %status, 2
  br i1 %hasexc, label %fetch, label %call
fetch:
  %fetched = call ptr @tiered_fetch_exception()
  br label %call
call:
  %exc = phi ptr [null, %entry], [%fetched, %fetch]
  %argv = alloca [2 x ptr]
  store ptr %state, ptr %argv
  %p1 = getelementptr ptr, ptr %argv, i64 1
  store ptr %exc, ptr %p1
  %n = select i1 %hasexc, i64 2, i64 1
  ; a tracer may have been set by what native code called: it must not see tiered's helper
  %ts = call ptr @PyThreadState_Get()
  call void @PyThreadState_EnterTracing(ptr %ts)
  %r = call ptr @PyObject_Vectorcall(ptr %helper, ptr %argv, i64 %n, ptr null)
  call void @PyThreadState_LeaveTracing(ptr %ts)
  %ok = icmp ne ptr %r, null
  call void @tiered_xdecref(ptr %r)
  call void @tiered_xdecref(ptr %state)
  call void @tiered_xdecref(ptr %exc)
  ret i1 %ok
}

define void @tiered_discard(ptr %o) cold noinline {
entry:
  ; drop a reference while an exception may be pending (a destructor must not see it)
  %z = icmp eq ptr %o, null
  br i1 %z, label %done, label %dec
dec:
  %t = alloca ptr
  %v = alloca ptr
  %tb = alloca ptr
  call void @PyErr_Fetch(ptr %t, ptr %v, ptr %tb)
  call void @Py_DecRef(ptr %o)
  %tv = load ptr, ptr %t
  %vv = load ptr, ptr %v
  %tbv = load ptr, ptr %tb
  call void @PyErr_Restore(ptr %tv, ptr %vv, ptr %tbv)
  br label %done
done:
  ret void
}

define ptr @tiered_exit_state(i64 %code, ptr %kinds, ptr %buf, i64 %n, ptr %unbound) cold noinline {
entry:
  ; an exit's state: a new tuple (code, n values) from the raw words in buf, each boxed by its
  ; kind (0 object, its reference moves in; 1 int; 2 float; 3 bool; 4 None; 5 object or NULL,
  ; NULL travelling as the unbound marker; 6 the unbound marker: no word for 4 and 6); NULL when memory ran out (MemoryError pending),
  ; every reference the values owned then released
  %total = add i64 %n, 1
  %t = call ptr @PyTuple_New(i64 %total)
  %tnull = icmp eq ptr %t, null
  br i1 %tnull, label %release, label %fill
fill:
  %items = getelementptr i8, ptr %t, i64 TUPLE_ITEMS
  %c = call ptr @tiered_box_int(i64 %code)
  store ptr %c, ptr %items
  br label %loop
loop:
  %k = phi i64 [0, %fill], [%k1, %store]
  %done = icmp eq i64 %k, %n
  br i1 %done, label %check, label %item
item:
  %kp = getelementptr i8, ptr %kinds, i64 %k
  %kind = load i8, ptr %kp
  %vp = getelementptr i64, ptr %buf, i64 %k
  %v = load i64, ptr %vp
  switch i8 %kind, label %obj [i8 1, label %num i8 2, label %num i8 3, label %num i8 4, label %num i8 5, label %maybe i8 6, label %unbound_item]
obj:
  %o = inttoptr i64 %v to ptr
  br label %store
num:
  %bn = call ptr @tiered_box_word(i8 %kind, i64 %v)
  br label %store
maybe:
  %mo = inttoptr i64 %v to ptr
  %isnull = icmp eq ptr %mo, null
  br i1 %isnull, label %unbound_item, label %store
unbound_item:
  call void @Py_IncRef(ptr %unbound)
  br label %store
store:
  %x = phi ptr [%o, %obj], [%bn, %num], [%mo, %maybe], [%unbound, %unbound_item]
  %k1 = add i64 %k, 1
  %slot = getelementptr ptr, ptr %items, i64 %k1
  store ptr %x, ptr %slot
  br label %loop
check:
  %ok = call i1 @tiered_tuple_complete(ptr %t, i64 %total)
  br i1 %ok, label %good, label %bad
good:
  ret ptr %t
bad:
  call void @tiered_discard(ptr %t)
  ret ptr null
release:
  %r = phi i64 [0, %entry], [%r1, %next]
  %rdone = icmp eq i64 %r, %n
  br i1 %rdone, label %gone, label %relitem
relitem:
  %rkp = getelementptr i8, ptr %kinds, i64 %r
  %rkind = load i8, ptr %rkp
  %robj = icmp eq i8 %rkind, 0
  %rmaybe = icmp eq i8 %rkind, 5
  %owned = or i1 %robj, %rmaybe
  br i1 %owned, label %drop, label %next
drop:
  %rvp = getelementptr i64, ptr %buf, i64 %r
  %rv = load i64, ptr %rvp
  %ro = inttoptr i64 %rv to ptr
  call void @tiered_discard(ptr %ro)
  br label %next
next:
  %r1 = add i64 %r, 1
  br label %release
gone:
  ret ptr null
}

define i1 @tiered_tuple_complete(ptr %t, i64 %n) cold noinline {
entry:
  br label %loop
loop:
  %k = phi i64 [0, %entry], [%k1, %next]
  %end = icmp eq i64 %k, %n
  br i1 %end, label %yes, label %check
check:
  %p = getelementptr ptr, ptr %t, i64 %k
  %slot = getelementptr i8, ptr %p, i64 TUPLE_ITEMS
  %item = load ptr, ptr %slot
  %missing = icmp eq ptr %item, null
  %k1 = add i64 %k, 1
  br i1 %missing, label %no, label %next
next:
  br label %loop
yes:
  ret i1 true
no:
  ret i1 false
}

define {ptr, ptr} @tiered_line_enter(ptr %slot, ptr %site, ptr %lo, ptr %hi) {
entry:
  ; before a call that may run Python code: point the frame's instruction slot (NULL: no frame)
  ; at the installed instruction whose address *site holds (0 until install: nothing), when the
  ; frame runs this code (its instruction lies in [*lo, *hi)); what to restore after the call:
  ; (the slot, or @tiered_spare_slot when nothing was pointed; its value before)
  %addr = load i64, ptr %site
  %hass = icmp ne ptr %slot, null
  %hasa = icmp ne i64 %addr, 0
  %ok = and i1 %hass, %hasa
  br i1 %ok, label %use, label %none
use:
  %saved = load ptr, ptr %slot
  %at = ptrtoint ptr %saved to i64
  %l = load i64, ptr %lo
  %h = load i64, ptr %hi
  %ge = icmp uge i64 %at, %l
  %lt = icmp ult i64 %at, %h
  %ours = and i1 %ge, %lt
  %p = inttoptr i64 %addr to ptr
  %point = select i1 %ours, ptr %p, ptr %saved
  store ptr %point, ptr %slot
  %r0 = insertvalue {ptr, ptr} undef, ptr %slot, 0
  %r1 = insertvalue {ptr, ptr} %r0, ptr %saved, 1
  ret {ptr, ptr} %r1
none:
  ret {ptr, ptr} {ptr @tiered_spare_slot, ptr null}
}

define ptr @tiered_frame_slot() {
entry:
  ; where the running frame keeps its current instruction (NULL if there is no frame)
  %holder = call ptr FIND_HOLDER
  %none = icmp eq ptr %holder, null
  br i1 %none, label %out, label %get
get:
  %fp = getelementptr i8, ptr %holder, i64 HOLDER_OFFSET
  %iframe = load ptr, ptr %fp
  %slot = getelementptr i8, ptr %iframe, i64 PREV_INSTR
  br label %out
out:
  %r = phi ptr [null, %entry], [%slot, %get]
  ret ptr %r
}

define ptr @tiered_cframe() {
  ; the thread state's cframe, which points at the running interpreter frame
  %ts = call ptr @PyThreadState_Get()
  %p = getelementptr i8, ptr %ts, i64 CFRAME_OFFSET
  %cf = load ptr, ptr %p
  ret ptr %cf
}

define ptr @tiered_fetch_exception() {
  %t = alloca ptr
  %v = alloca ptr
  %tb = alloca ptr
  call void @PyErr_Fetch(ptr %t, ptr %v, ptr %tb)
  call void @PyErr_NormalizeException(ptr %t, ptr %v, ptr %tb)
  %vv = load ptr, ptr %v
  %tbv = load ptr, ptr %tb
  %hastb = icmp ne ptr %tbv, null
  br i1 %hastb, label %settb, label %done
settb:
  %ignored = call i32 @PyException_SetTraceback(ptr %vv, ptr %tbv)
  br label %done
done:
  %tv = load ptr, ptr %t
  call void @tiered_xdecref(ptr %tv)
  call void @tiered_xdecref(ptr %tbv)
  ret ptr %vv
}

define i1 @tiered_hot(ptr %helper) noinline {
entry:
  ; first-tier code that proved hot calls the runtime's promotion helper (it never raises but
  ; for a signal's exception, KeyboardInterrupt: false then, with it pending)
  %r = call ptr @PyObject_Vectorcall(ptr %helper, ptr null, i64 0, ptr null)
  call void @tiered_xdecref(ptr %r)
  %ok = icmp ne ptr %r, null
  ret i1 %ok
}

define void @tiered_yield(i32 %tick) {
entry:
  %m = and i32 %tick, 4194303                ; let other threads run every 2**22 loop iterations
  %due = icmp eq i32 %m, 0
  br i1 %due, label %check, label %done
check:
  %me = call ptr @PyThreadState_Get()
  %interp = call ptr @PyThreadState_GetInterpreter(ptr %me)
  %head = call ptr @PyInterpreterState_ThreadHead(ptr %interp)
  %second = call ptr @PyThreadState_Next(ptr %head)
  %others = icmp ne ptr %second, null
  br i1 %others, label %let, label %done
let:
  %ts = call ptr @PyEval_SaveThread()
  %ignored = call i32 @usleep(i32 1)
  call void @PyEval_RestoreThread(ptr %ts)
  br label %done
done:
  ret void
}

define ptr @tiered_box_word(i8 %kind, i64 %w) {
entry:
  ; a number from its raw word by its kind (1 int, 2 float, 3 bool, else None): a new reference
  switch i8 %kind, label %none [i8 1, label %int i8 2, label %flt i8 3, label %bool]
int:
  %bi = call ptr @tiered_box_int(i64 %w)
  ret ptr %bi
flt:
  %d = bitcast i64 %w to double
  %bf = call ptr @tiered_box_float(double %d)
  ret ptr %bf
bool:
  %b1 = trunc i64 %w to i1
  %bb = call ptr @tiered_box_bool(i1 %b1)
  ret ptr %bb
none:
  %bn = call ptr @tiered_box_none(i1 false)
  ret ptr %bn
}

define ptr @tiered_box_int(i64 %x) {
  %r = call ptr @PyLong_FromLongLong(i64 %x)
  ret ptr %r
}

define ptr @tiered_box_float(double %x) {
  %r = call ptr @PyFloat_FromDouble(double %x)
  ret ptr %r
}

define ptr @tiered_box_bool(i1 %x) {
  %r = select i1 %x, ptr @_Py_TrueStruct, ptr @_Py_FalseStruct
  call void @Py_IncRef(ptr %r)
  ret ptr %r
}

define i1 @tiered_exit_reason_is(ptr %state, i64 %reason) cold noinline {
entry:
  ; whether an exit state tuple (code, values...) was left for this reason (the code's low bits)
  %z = icmp eq ptr %state, null
  br i1 %z, label %no, label %read
read:
  %slot = getelementptr i8, ptr %state, i64 TUPLE_ITEMS
  %item = load ptr, ptr %slot
  %ovf = alloca i32
  store i32 0, ptr %ovf
  %code = call i64 @PyLong_AsLongLongAndOverflow(ptr %item, ptr %ovf)
  %r = and i64 %code, REASON_MASK
  %same = icmp eq i64 %r, %reason
  ret i1 %same
no:
  ret i1 false
}

define ptr @tiered_box_none(i1 %x) {
  call void @Py_IncRef(ptr @_Py_NoneStruct)
  ret ptr @_Py_NoneStruct
}
"""


HELPERS += SYNC_LOCALS + TRACED + GLOBAL_IS + UNBOX_INT + DEALLOC_AT + CALL_HELPER    # beside the ops that call them
# the helpers name no address of the process (their machine code is kept between runs): these
# globals of theirs get this process's addresses once they are loaded (engine._init)
PROCESS_GLOBALS = dict(TRACED_GLOBALS)
HELPERS = HELPERS.replace("TUPLE_ITEMS", str(capi.TUPLE_ITEMS))
HELPERS = HELPERS.replace("LOCALSPLUS", str((capi.FRAME_LOCALS or (0, 72))[1]))
HELPERS = HELPERS.replace("REASON_MASK", str((1 << REASON_BITS) - 1))
# what holds the running interpreter frame: the thread state's cframe (no frame object is
# made), else the frame object PyEval_GetFrame makes (one for every new frame)
_HOLDER = (("@tiered_cframe()", capi.CURRENT_FRAME[1], capi.CURRENT_FRAME[0]) if capi.CURRENT_FRAME
           else ("@PyEval_GetFrame()", (capi.FRAMES or (24, 56, 0))[0], 0))
HELPERS = HELPERS.replace("FIND_HOLDER", _HOLDER[0]).replace("HOLDER_OFFSET", str(_HOLDER[1]))
HELPERS = HELPERS.replace("CFRAME_OFFSET", str(_HOLDER[2]))
HELPERS = HELPERS.replace("F_FRAME", str((capi.FRAMES or (24, 56, 0))[0]))
HELPERS = HELPERS.replace("PREV_INSTR", str((capi.FRAMES or (24, 56, 0))[1]))


def declarations():
    """IR declarations of the shared helpers, for the modules that call them."""
    out = []
    for m in re.finditer(r"^define (?!internal)(.+?) (@\w+)\(([^)]*)\)", HELPERS, re.M):
        params = ", ".join(p.split()[0] for p in m.group(3).split(",") if p.strip())
        out.append(f"declare {m.group(1)} {m.group(2)}({params})")
    return "\n".join(out) + "\n"


def names():
    """The symbol names of the shared helpers."""
    return re.findall(r"^define (?!internal).+? @(\w+)\(", HELPERS, re.M)
