"""Compiler runtime IR: helper functions every module calls, compiled once per process and shared."""
import re

HELPERS = r"""
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

define i1 @tiered_exit(ptr %helper, ptr %buffer, i64 %nvals, i32 %status) cold noinline {
entry:
  ; the module's buffer is shared by all threads: copy the values out before any Python code
  ; runs (the helper's first instruction may hand the GIL to a thread that exits too)
  %vals = getelementptr i64, ptr %buffer, i64 1
  %nbytes = mul i64 %nvals, 8
  %raw = call ptr @PyBytes_FromStringAndSize(ptr %vals, i64 %nbytes)
  %argv = alloca [3 x ptr]
  %code = load i64, ptr %buffer
  %c = call ptr @PyLong_FromLongLong(i64 %code)
  %rawnull = icmp eq ptr %raw, null
  %cnull = icmp eq ptr %c, null
  %nomem = or i1 %rawnull, %cnull
  br i1 %nomem, label %oom, label %boxed
oom:                                     ; MemoryError is set: the call raises it
  call void @tiered_xdecref(ptr %raw)
  call void @tiered_xdecref(ptr %c)
  ret i1 false
boxed:
  %hasexc = icmp eq i32 %status, 2
  br i1 %hasexc, label %fetch, label %call
fetch:
  %fetched = call ptr @tiered_fetch_exception()
  br label %call
call:
  %exc = phi ptr [null, %boxed], [%fetched, %fetch]
  store ptr %c, ptr %argv
  %p1 = getelementptr ptr, ptr %argv, i64 1
  store ptr %raw, ptr %p1
  %p2 = getelementptr ptr, ptr %argv, i64 2
  store ptr %exc, ptr %p2
  %n = select i1 %hasexc, i64 3, i64 2
  %r = call ptr @PyObject_Vectorcall(ptr %helper, ptr %argv, i64 %n, ptr null)
  %ok = icmp ne ptr %r, null
  call void @tiered_xdecref(ptr %r)
  call void @tiered_xdecref(ptr %c)
  call void @tiered_xdecref(ptr %raw)
  call void @tiered_xdecref(ptr %exc)
  ret i1 %ok
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

define ptr @tiered_box_none(i1 %x) {
  call void @Py_IncRef(ptr @_Py_NoneStruct)
  ret ptr @_Py_NoneStruct
}
"""


def declarations():
    """IR declarations of the shared helpers, for the modules that call them."""
    out = []
    for m in re.finditer(r"^define (\S+) (@\w+)\(([^)]*)\)", HELPERS, re.M):
        params = ", ".join(p.split()[0] for p in m.group(3).split(",") if p.strip())
        out.append(f"declare {m.group(1)} {m.group(2)}({params})")
    return "\n".join(out) + "\n"


def names():
    """The symbol names of the shared helpers."""
    return re.findall(r"^define \S+ @(\w+)\(", HELPERS, re.M)
