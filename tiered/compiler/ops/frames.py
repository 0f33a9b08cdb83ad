"""Compiler ops that keep the running frame truthful: set_local / sync_frame → LLVM IR lines that store locals into the interpreter frame.

Native code keeps locals in registers; the interpreter frame it runs in is what Python code
sees (`locals()`, `eval`, `f_locals`, a saved frame, a sampling thread).  The frame's slots
mirror the locals: each slot owns its own reference to what it holds.
- An object stored into a local is stored into its slot at once (`set_local`): the slot's old
  object is released there, so destructors run when CPython runs them, and at return the
  interpreter releases the locals in slot order, as CPython does.  Unbinding clears the slot.
- A number is boxed into its slot lazily: before anything that may run Python code (the
  emitter's line_enter calls sync_locals) and at a return when a frame object exists (the
  frame may outlive the call).  A shadow word per slot remembers what was written last, so an
  unchanged local is not boxed again.
A frameless specialisation runs inside its caller's frame: there these ops emit nothing.
An exit's stub stores every carried local over the mirror, releasing it.
"""
from ...cpython import capi
from . import BOOL, FLOAT, INT, NONE, is_obj, op

SHADOW_KINDS = _KIND = {INT: 1, FLOAT: 2, BOOL: 3, NONE: 4}

# the slot takes a new reference (NULL: cleared); the old is released
PRELUDE = """
declare void @llvm.memset.p0.i64(ptr, i8, i64, i1)

define internal void @tiered_frame_put(ptr %slot, ptr %new) alwaysinline {
entry:
  %old = load ptr, ptr %slot
  store ptr %new, ptr %slot
  call void @tiered_xrelease(ptr %old)
  ret void
}
"""

# the shared helper (one copy, in runtime_ir's module of helpers) that syncs number locals
SYNC_LOCALS = """
define void @tiered_sync_locals(ptr %frame, ptr %spec, ptr %buf, i64 %n, ptr %shk, ptr %shw) noinline {
entry:
  ; the frame's slots take the number locals' values (ops/frames.py): n locals, each a raw word
  ; in buf and (kind, slot) bytes in spec; a slot whose shadow (shk, shw) holds that kind and
  ; word has it already; a box that fails leaves the slot cleared (tiered's MemoryError dropped)
  %nofr = icmp eq ptr %frame, null
  br i1 %nofr, label %done, label %loop
loop:
  %i = phi i64 [0, %entry], [%i1, %next]
  %i2 = shl i64 %i, 1
  %kp = getelementptr i8, ptr %spec, i64 %i2
  %kind = load i8, ptr %kp
  %sp = getelementptr i8, ptr %kp, i64 1
  %slot8 = load i8, ptr %sp
  %slot = zext i8 %slot8 to i64
  %wp = getelementptr i64, ptr %buf, i64 %i
  %w = load i64, ptr %wp
  %hkp = getelementptr i8, ptr %shk, i64 %slot
  %hk = load i8, ptr %hkp
  %hwp = getelementptr i64, ptr %shw, i64 %slot
  %hw = load i64, ptr %hwp
  %ksame = icmp eq i8 %hk, %kind
  %wsame = icmp eq i64 %hw, %w
  %same = and i1 %ksame, %wsame
  br i1 %same, label %next, label %write
write:
  %new = call ptr @tiered_box_word(i8 %kind, i64 %w)
  %failed = icmp eq ptr %new, null
  br i1 %failed, label %clear, label %swap
clear:
  call void @PyErr_Clear()
  br label %swap
swap:
  %locals = getelementptr i8, ptr %frame, i64 LOCALSPLUS
  %slotp = getelementptr ptr, ptr %locals, i64 %slot
  %old = load ptr, ptr %slotp
  store ptr %new, ptr %slotp
  call void @tiered_xdecref(ptr %old)
  store i8 %kind, ptr %hkp
  store i64 %w, ptr %hwp
  br label %next
next:
  %i1 = add i64 %i, 1
  %more = icmp ult i64 %i1, %n
  br i1 %more, label %loop, label %done
done:
  ret void
}

define void @tiered_share_slot(ptr %frame, i64 %from, i64 %to) noinline {
entry:
  ; slot `to` takes the object of slot `from`: locals that hold one number (`y = x`) hold one
  ; object, as in CPython (their shadows hold the same value)
  %nofr = icmp eq ptr %frame, null
  br i1 %nofr, label %done, label %read
read:
  %locals = getelementptr i8, ptr %frame, i64 LOCALSPLUS
  %fp = getelementptr ptr, ptr %locals, i64 %from
  %tp = getelementptr ptr, ptr %locals, i64 %to
  %a = load ptr, ptr %fp
  %b = load ptr, ptr %tp
  %same = icmp eq ptr %a, %b
  %none = icmp eq ptr %a, null
  %skip = or i1 %same, %none
  br i1 %skip, label %done, label %put
put:
  call void @Py_IncRef(ptr %a)
  store ptr %a, ptr %tp
  call void @tiered_xdecref(ptr %b)
  br label %done
done:
  ret void
}

define void @tiered_share_held(ptr %frame, i64 %a, i64 %b, i8 %kind, i64 %w, ptr %shk, ptr %shw) noinline {
entry:
  ; before a sync: where one of slots a and b (two locals of one number) holds it already (its
  ; shadow says so), the other takes that object (and its shadow), so that the object a callee
  ; may have kept stays the locals' (the sync then boxes neither)
  %nofr = icmp eq ptr %frame, null
  br i1 %nofr, label %done, label %look
look:
  %locals = getelementptr i8, ptr %frame, i64 LOCALSPLUS
  %ap = getelementptr ptr, ptr %locals, i64 %a
  %bp = getelementptr ptr, ptr %locals, i64 %b
  %ao = load ptr, ptr %ap
  %bo = load ptr, ptr %bp
  %akp = getelementptr i8, ptr %shk, i64 %a
  %awp = getelementptr i64, ptr %shw, i64 %a
  %bkp = getelementptr i8, ptr %shk, i64 %b
  %bwp = getelementptr i64, ptr %shw, i64 %b
  %ak = load i8, ptr %akp
  %aw = load i64, ptr %awp
  %bk = load i8, ptr %bkp
  %bw = load i64, ptr %bwp
  %ak1 = icmp eq i8 %ak, %kind
  %aw1 = icmp eq i64 %aw, %w
  %an = icmp ne ptr %ao, null
  %ah0 = and i1 %ak1, %aw1
  %aheld = and i1 %ah0, %an
  %bk1 = icmp eq i8 %bk, %kind
  %bw1 = icmp eq i64 %bw, %w
  %bn = icmp ne ptr %bo, null
  %bh0 = and i1 %bk1, %bw1
  %bheld = and i1 %bh0, %bn
  %any = or i1 %aheld, %bheld
  br i1 %any, label %pick, label %done
pick:
  %src = select i1 %aheld, ptr %ao, ptr %bo
  %dst = select i1 %aheld, ptr %bp, ptr %ap
  %dkp = select i1 %aheld, ptr %bkp, ptr %akp
  %dwp = select i1 %aheld, ptr %bwp, ptr %awp
  %old = load ptr, ptr %dst
  store i8 %kind, ptr %dkp
  store i64 %w, ptr %dwp
  %same = icmp eq ptr %old, %src
  br i1 %same, label %done, label %put
put:
  call void @Py_IncRef(ptr %src)
  store ptr %src, ptr %dst
  call void @tiered_xdecref(ptr %old)
  br label %done
done:
  ret void
}
"""


def mirrors(e):
    """Whether this specialisation keeps its frame's slots (it runs in a frame of its own and
    the frame's layout is known)."""
    return (capi.FRAME_LOCALS is not None and capi.CURRENT_FRAME is not None
            and not e.fn.attrs.get("frameless") and "slots" in e.fn.attrs)


def _numbers(e, pairs):
    """(slot, value) of the number locals among `pairs` ((name, value)) that have a slot the
    sync helper can name (the first 256)."""
    slots = e.fn.attrs["slots"]
    return [(slots[n], x) for n, x in pairs
            if slots.get(n, 256) < 256 and not is_obj(x.type) and x.type in _KIND]


def _word(e, x):
    """Number value x as a raw i64 (its bits), as the shadows keep it."""
    ref = e.ref(x)
    if x.type == FLOAT:
        return e.op(f"bitcast double {ref} to i64")
    if x.type in (BOOL, NONE):
        return e.op(f"zext i1 {ref if x.type == BOOL else 'false'} to i64")
    return ref


def _sync(e, todo):
    """One call of the shared helper: the slots of `todo` ((slot, number value)) take their
    values unless their shadows say they hold them (SYNC_LOCALS)."""
    shk, shw = e.shadows_of_frame()
    first = {}                  # locals holding one value (`y = x`): one object, as in CPython
    for slot, x in todo:
        if id(x) in first:      # one of them holds it already: the other takes that object
            e.line(f"call void @tiered_share_held(ptr {e.own_frame()}, i64 {first[id(x)]}, i64 {slot}, "
                   f"i8 {_KIND[x.type]}, i64 {_word(e, x)}, ptr {shk}, ptr {shw})")
        first.setdefault(id(x), slot)
    buf = e.frame_buffer(len(todo))
    for k, (_, x) in enumerate(todo):
        e.line(f"store i64 {_word(e, x)}, ptr {e.op(f'getelementptr i64, ptr {buf}, i64 {k}')}")
    spec = e.m.c_bytes(b"".join(bytes((_KIND[x.type], slot)) for slot, x in todo))
    e.line(f"call void @tiered_sync_locals(ptr {e.own_frame()}, ptr {spec}, ptr {buf}, i64 {len(todo)}, "
           f"ptr {shk}, ptr {shw})")
    for slot, x in todo:        # neither held it: the sync boxed both, one box is shared
        if first[id(x)] != slot:
            e.line(f"call void @tiered_share_slot(ptr {e.own_frame()}, i64 {first[id(x)]}, i64 {slot})")


def _unheld(e, pairs, numbers):
    """The (slot, value) of `numbers` whose slots may not hold their values: all but a number
    parameter that holds its own argument, in a code that never rebinds it (its slot keeps the
    caller's object all along) and that no other of the locals holds (those share one object)."""
    untouched, params = e.fn.attrs.get("untouched", ()), {id(p) for p in e.fn.params}
    names = dict(pairs)
    held = {slot for slot, x in numbers
            if id(x) in params and x.attrs.get("param") in untouched
            and e.fn.attrs["slots"].get(x.attrs.get("param")) == slot and names.get(x.attrs["param"]) is x
            and sum(y is x for _, y in numbers) == 1}
    return [(slot, x) for slot, x in numbers if slot not in held]


def sync_locals(e, pairs):
    """Before Python code may run: box every number local of `pairs` ((name, value)) whose slot
    does not hold it yet."""
    pairs = list(pairs)
    todo = _unheld(e, pairs, _numbers(e, pairs)) if mirrors(e) else []
    if todo:
        _sync(e, todo)


def synced_slots(e, v):
    """Before op v calls out: sync the number locals of its frame state into their slots now,
    and return {id of a number value: its slot} so that an argument that is such a local is
    passed as the slot's object (CPython passes the local's own object) instead of a new box."""
    numbers = _numbers(e, v.state.locals) if v.state is not None and mirrors(e) else []
    if not numbers:
        return {}
    todo = _unheld(e, v.state.locals, numbers)
    if todo:
        _sync(e, todo)
    return {id(x): slot for slot, x in numbers}


def slot_object(e, x, slot, box):
    """A new reference to the object in the frame's slot that sync_locals filled for number
    value x; box(x) where there is none (no frame, or boxing it there failed)."""
    frame = e.own_frame()
    read, got, make, done = (e.tmp()[1:] for _ in range(4))
    e.line(f"br i1 {e.op(f'icmp eq ptr {frame}, null')}, label %{make}, label %{read}")
    e.label(read)
    held = e.op(f"load ptr, ptr {e.op(f'getelementptr i8, ptr {frame}, i64 {capi.FRAME_LOCALS[1] + 8 * slot}')}")
    e.line(f"br i1 {e.op(f'icmp eq ptr {held}, null')}, label %{make}, label %{got}")
    e.label(got)
    e.line(f"call void @tiered_incref(ptr {held})")
    e.line(f"br label %{done}")
    e.label(make)
    made = box(x)
    made_end = e.cur
    e.line(f"br label %{done}")
    e.label(done)
    return e.op(f"phi ptr [{held}, %{got}], [{made}, %{made_end}]")


# a local's new value (an object: its slot takes a reference now; a number: boxed now, only
# where the local held an object before); no argument: the local is unbound, its slot cleared
@op("set_local", -1, NONE, pure=False, frameless=True, attrs=("slot",))
def _set_local(e, v):
    """Store a local's new value (or NULL) into its frame slot, releasing the old content."""
    if not mirrors(e):
        return
    slot = v.attrs["slot"]
    if v.args and not is_obj(v.args[0].type):
        if slot < 256:
            _sync(e, [(slot, v.args[0])])
        return
    frame = e.own_frame()
    go, done = e.tmp()[1:], e.tmp()[1:]
    e.line(f"br i1 {e.op(f'icmp ne ptr {frame}, null')}, label %{go}, label %{done}")
    e.label(go)
    new = "null"
    if v.args:
        new = e.ref(v.args[0])
        e.line(f"call void @{'tiered_xincref' if v.args[0].attrs.get('maybe_null') else 'tiered_incref'}(ptr {new})")
    at = e.op(f"getelementptr i8, ptr {frame}, i64 {capi.FRAME_LOCALS[1] + 8 * slot}")
    e.line(f"call void @tiered_frame_put(ptr {at}, ptr {new})")
    if slot < 256:
        e.line(f"store i8 0, ptr {e.op(f'getelementptr i8, ptr {e.shadows_of_frame()[0]}, i64 {slot}')}")
    e.line(f"br label %{done}")
    e.label(done)


# after a loop whose variable the compiled code no longer holds: ran (bool), last (its value)
# (only in a function that calls Python code: build/merge.py adds it then)
@op("sync_local", 2, NONE, pure=False, frameless=True, attrs=("slot",))
def _sync_local(e, v):
    """When the loop ran, the frame's slot takes the loop variable's last value."""
    ran, last = v.args
    if not mirrors(e) or v.attrs["slot"] >= 256:
        return
    go, done = e.tmp()[1:], e.tmp()[1:]
    frame = e.own_frame()
    there = e.op(f"icmp ne ptr {frame}, null")
    e.line(f"br i1 {e.op(f'and i1 {e.ref(ran)}, {there}')}, label %{go}, label %{done}")
    e.label(go)
    _sync(e, [(v.attrs["slot"], last)])
    e.line(f"br label %{done}")
    e.label(done)



# at a return (the instruction at `at`): the frame points at it, as CPython's does while the
# call ends (a thread may look in between); and the frame may outlive the call (a frame object
# exists): its slots take the locals' last values (args: the number locals; names: theirs)
@op("sync_frame", -1, NONE, pure=False, frameless=True, attrs=("names", "at"))
def _sync_frame(e, v):
    """Point the frame at the return; when it has a frame object, box the number locals into
    their slots."""
    pairs = list(zip(v.attrs["names"], v.args))
    todo = _unheld(e, pairs, _numbers(e, pairs)) if mirrors(e) else []
    point = capi.FRAMES is not None and capi.CURRENT_FRAME is not None and not e.fn.attrs.get("frameless")
    if not (todo or point):
        return
    frame = e.own_frame()
    go, done = e.tmp()[1:], e.tmp()[1:]
    e.line(f"br i1 {e.op(f'icmp ne ptr {frame}, null')}, label %{go}, label %{done}")
    e.label(go)
    if point:
        slot = e.op(f"getelementptr i8, ptr {frame}, i64 {capi.FRAMES[1]}")
        e.point_frame_inline(slot, e.op(f"load i64, ptr {e.m.line_site(v.attrs['at'])}"))
    if todo:
        at = e.op(f"getelementptr i8, ptr {frame}, i64 {capi.FRAME_LOCALS[0]}")
        has = e.op(f"icmp ne ptr {e.op(f'load ptr, ptr {at}')}, null")
        sync = e.tmp()[1:]
        e.line(f"br i1 {has}, label %{sync}, label %{done}")
        e.label(sync)
        _sync(e, todo)
    e.line(f"br label %{done}")
    e.label(done)
