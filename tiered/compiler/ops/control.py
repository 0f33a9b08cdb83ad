"""Compiler ops of control: block parameters, global and trace guards, loop polls, exits, with → LLVM IR lines."""
from ...reasons import Exit
from ...cpython import capi, dicts, threadstate
from . import NONE, OBJ, define, op
from .common import branch_if, entry_value, field, generic, pointer, type_of

TICK_SIGNALS = 0xFFFF          # poll signals every 2**16 loop iterations


@op("phi", -1, None, attrs=("param", "captured", "cell"))    # a parameter: its name, and whether a cell
def _phi(e, v):
    """A block parameter: lower_llvm.FnEmitter emits it at its block's start, never in a body."""
    raise AssertionError(f"phi %{v.id} in a block body")


def _dict_tag(e, d):
    """Load a dict's current version tag."""
    return e.op(f"load i64, ptr {e.op(f'getelementptr i8, ptr {pointer(d)}, i64 {capi.DICT_VERSION}')}")


def _table(e, d):
    """Load the table of keys of dict d (a constant)."""
    return field(e, pointer(d), capi.DICT_KEYS[0], "ptr")


def _keys_fast_path(e, a, where, index, slow):
    """Branch to `slow` unless the name's entry holds the expected object, read as CPython's
    LOAD_GLOBAL_MODULE or _BUILTIN reads it: the table of `where` (the globals, or the builtins)
    with the version it has now (the same table, laid out the same: the entry's value at a known
    offset) and, for a builtin, the globals' table too (no global of that name since).  False,
    with nothing emitted, without versions (no specialisation of CPython's made them)."""
    tables = [(where, dicts.versioned_value_offset(where, index))]
    if where is not a["dict"]:
        tables.append((a["dict"], dicts.versioned_value_offset(a["dict"], 0)))
    if any(found is None for _, found in tables):
        return False
    keys = []
    for d, (version, _) in tables:
        keys.append(_table(e, d))
        branch_if(e, e.op(f"icmp ne i32 {field(e, keys[-1], capi.DK_VERSION, 'i32')}, {version}"), slow)
    value = field(e, keys[0], tables[0][1][1], "ptr")
    branch_if(e, e.op(f"icmp ne ptr {value}, {pointer(a['expected'])}"), slow)
    return True


def _global_is_helper():
    """IR of the shared helper tiered_global_is(where, index, globals, builtins, name, expected,
    cache): whether the name's value is `expected`.  First the entry `index` of the table of
    `where` (a table of str keys, that many entries, that very key: a table changed since is
    never misread), for a builtin only while the globals' table keeps the version `cache` holds
    (no global of that name since); else the name looked up again (globals, then builtins), and
    `cache` takes the globals' version when it is a builtin found there and no global."""
    if capi.DICT_KEYS is None:
        entry = "  br label %lookup"
    else:
        keys_at, kind_at = capi.DICT_KEYS
        entry = f"""  %kp = getelementptr i8, ptr %where, i64 {keys_at}
  %k = load ptr, ptr %kp
  %kindp = getelementptr i8, ptr %k, i64 {kind_at}
  %kind = load i8, ptr %kindp
  %np = getelementptr i8, ptr %k, i64 {dicts.DK_NENTRIES}
  %n = load i64, ptr %np
  %uni = icmp eq i8 %kind, {dicts.UNICODE_KEYS}
  %inside = icmp slt i64 %index, %n
  %readable = and i1 %uni, %inside
  br i1 %readable, label %key, label %lookup
key:
  %l2p = getelementptr i8, ptr %k, i64 {dicts.DK_LOG2_INDEX_BYTES}
  %l2 = load i8, ptr %l2p
  %l2w = zext i8 %l2 to i64
  %isz = shl i64 1, %l2w
  %at0 = mul i64 %index, 16
  %at1 = add i64 %at0, {dicts.DK_INDICES}
  %at = add i64 %at1, %isz
  %ep = getelementptr i8, ptr %k, i64 %at
  %ek = load ptr, ptr %ep
  %vp = getelementptr i8, ptr %ep, i64 8
  %val = load ptr, ptr %vp
  %samekey = icmp eq ptr %ek, %name
  %sameval = icmp eq ptr %val, %expected
  %hit = and i1 %samekey, %sameval
  br i1 %hit, label %yes, label %lookup
yes:
  ret i1 true"""
    version = ("" if capi.DICT_KEYS is None else f"""
  %gkp = getelementptr i8, ptr %d, i64 {capi.DICT_KEYS[0]}
  %gk = load ptr, ptr %gkp
  %gvp = getelementptr i8, ptr %gk, i64 {capi.DK_VERSION}
  %gv32 = load i32, ptr %gvp
  %gv = zext i32 %gv32 to i64""")
    return f"""
define i1 @tiered_global_is(ptr %where, i64 %index, ptr %d, ptr %b, ptr %name, ptr %expected, ptr %cache) {{
entry:
  %hascache = icmp ne ptr %cache, null
  br i1 %hascache, label %globals, label %table
globals:{version or chr(10) + "  %gv = add i64 0, 0"}
  %cv = load i64, ptr %cache
  %gnz = icmp ne i64 %gv, 0
  %gsame = icmp eq i64 %gv, %cv
  %gok = and i1 %gnz, %gsame
  br i1 %gok, label %table, label %lookup
table:
{entry}
lookup:
  %found = call ptr @tiered_lookup(ptr %d, ptr %b, ptr %name)
  %ok = icmp eq ptr %found, %expected
  br i1 %hascache, label %refresh, label %out
refresh:
  ; a builtin found, and no global of that name now: the globals' version says so until it changes
  %global = call ptr @tiered_lookup(ptr %d, ptr null, ptr %name)
  %absent = icmp eq ptr %global, null
  %keep = and i1 %ok, %absent{version.replace("%g", "%n")}
  %put = select i1 %keep, i64 {"%nv" if version else "0"}, i64 0
  store i64 %put, ptr %cache
  br label %out
out:
  ret i1 %ok
}}
"""


GLOBAL_IS = _global_is_helper()


# attrs: name, dict (the globals), expected (the object found), builtins (or None)
@op("guard_global", 0, None, Exit.GLOBAL_CHANGED, pure=False, attrs=("name", "dict", "expected", "builtins"))
def _guard_global(e, v):
    """Fast: the name's entry holds the expected object, where CPython's own specialisation
    reads it (_keys_fast_path; where the entry cannot be read so, the dicts' version tags are
    unchanged); slow: the shared tiered_global_is, which reads the entry where it was, else
    looks the name up again, and compares."""
    a = v.attrs
    e.m.keep(a["name"], a["dict"], a["expected"], a["builtins"])
    d, name = a["dict"], a["name"]
    where = d if name in d else a["builtins"]
    index = dicts.entry_index(where, name) if capi.DICT_KEYS is not None and where is not None else None
    slow, done = e.tmp()[1:], e.tmp()[1:]
    if index is None:
        _version_fast_path(e, a, v, slow, done)
    else:
        if _keys_fast_path(e, a, where, index, slow):
            e.line(f"br label %{done}")
            e.label(slow)
        # a builtin: the globals' table version at which it was last found not to be a global
        cache = "null" if where is d else e.m.global_i64(dicts.table_version(d))
        builtins_ptr = "null" if where is d else pointer(a["builtins"])
        ok = e.op(f"call i1 @tiered_global_is(ptr {pointer(where)}, i64 {index}, ptr {pointer(d)}, "
                  f"ptr {builtins_ptr}, ptr {pointer(name)}, ptr {pointer(a['expected'])}, ptr {cache})")
        e.guard(e.op(f"xor i1 {ok}, true"), v)
        e.line(f"br label %{done}")
        e.label(done)
    if e.force:
        e.guard("false", v)


def _version_fast_path(e, a, v, slow, done):
    """guard_global where the entry cannot be read directly: fast while the dicts' version tags
    are unchanged (a store to any global changes them); slow: look the name up again and
    compare."""
    g = e.m.global_i64(capi.dict_version(a["dict"]))
    cur = _dict_tag(e, a["dict"])
    ok = e.op(f"icmp eq i64 {cur}, {e.op(f'load i64, ptr {g}')}")
    b_glob = b_cur = None
    if a["builtins"] is not None and a["name"] not in a["dict"]:
        b_glob = e.m.global_i64(capi.dict_version(a["builtins"]))
        b_cur = _dict_tag(e, a["builtins"])
        b_old = e.op(f"load i64, ptr {b_glob}")
        ok = e.op(f"and i1 {ok}, {e.op(f'icmp eq i64 {b_cur}, {b_old}')}")
    e.line(f"br i1 {ok}, label %{done}, label %{slow}")
    e.label(slow)
    builtins_ptr = pointer(a["builtins"]) if b_glob else "null"
    found = e.op(f"call ptr @tiered_lookup(ptr {pointer(a['dict'])}, ptr {builtins_ptr}, "
                 f"ptr {pointer(a['name'])})")
    e.guard(e.op(f"icmp ne ptr {found}, {pointer(a['expected'])}"), v)
    e.line(f"store i64 {cur}, ptr {g}")
    if b_glob:
        e.line(f"store i64 {b_cur}, ptr {b_glob}")
    e.line(f"br label %{done}")
    e.label(done)


# a global the function itself rebinds (STORE_GLOBAL): read at every load, never guarded
@op("global_load", 0, OBJ, Exit.GLOBAL_CHANGED, pure=False, attrs=("name", "dict", "builtins"))
def _global_load(e, v):
    """The name's value in the globals, else the builtins, as LOAD_GLOBAL reads it (a new
    reference): read at its entry where CPython's LOAD_GLOBAL_MODULE reads it, else looked up;
    exit when it is in neither, for the interpreter to raise the NameError."""
    a = v.attrs
    e.m.keep(a["name"], a["dict"], a["builtins"])
    index = dicts.entry_index(a["dict"], a["name"]) if capi.DICT_KEYS is not None else None
    lookup = (f"call ptr @tiered_lookup(ptr {pointer(a['dict'])}, ptr {pointer(a['builtins'])}, "
              f"ptr {pointer(a['name'])})")
    if index is None:
        found = e.op(lookup)
    else:
        slow, hit, done = (e.tmp()[1:] for _ in range(3))
        slot = entry_value(e, _table(e, a["dict"]), index, a["name"], lambda bad: branch_if(e, bad, slow))
        item = e.op(f"load ptr, ptr {slot}")
        e.line(f"br i1 {e.op(f'icmp eq ptr {item}, null')}, label %{slow}, label %{hit}")
        e.label(hit)
        e.line(f"br label %{done}")
        e.label(slow)
        looked = e.op(lookup)
        e.line(f"br label %{done}")
        e.label(done)
        found = e.op(f"phi ptr [{item}, %{hit}], [{looked}, %{slow}]")
    e.guard(e.op(f"icmp eq ptr {found}, null"), v)
    e.line(f"call void @tiered_incref(ptr {found})")
    e.alias(v, found)


# dict: the globals; name: the global's name
@op("store_global", 1, NONE, Exit.RAISED, pure=False, raises=True, python=True, attrs=("name", "dict"))
def _store_global(e, v):
    """STORE_GLOBAL: PyDict_SetItem(globals, name, value) as CPython does it (a number boxed
    for it); exit with the exception when it fails.  The dict's version tag changes, so every
    guard_global on it looks the name up again; the old value's destructor may run Python
    code (the op says so: passes/guards.py keeps the guards after it)."""
    a = v.attrs
    e.m.keep(a["name"], a["dict"])

    def call(ops):
        """The store itself."""
        return e.op(f"call i32 @PyDict_SetItem(ptr {pointer(a['dict'])}, ptr {pointer(a['name'])}, ptr {ops[0]})")
    r = generic(e, v, call)
    e.guard(e.op(f"icmp slt i32 {r}, 0"), v, with_exception=True, reason=v.spec.exit)


def _traced_lines(ts, op, base=None):
    """IR lines computing whether a trace or profile function, or another monitoring tool, is
    set (op(text) emits `%tmp = text`: its i1 operand, or "false").  The other tools' words are
    named by address, or (base: an IR pointer to the first) by their offsets from the first."""
    busy = "false"
    words = threadstate.other_tool_words()
    for word in words:                                  # another monitoring tool registered
        at = f"inttoptr (i64 {word} to ptr)" if base is None else \
            op(f"getelementptr i8, ptr {base}, i64 {word - words[0]}")
        held = op(f"load i64, ptr {at}")
        busy = op(f"or i1 {busy}, {op(f'icmp ne i64 {held}, 0')}")
    for offset in threadstate.TRACE_OFFSETS or ():
        f = op(f"load ptr, ptr {op(f'getelementptr i8, ptr {ts}, i64 {offset}')}")
        busy = op(f"or i1 {busy}, {op(f'icmp ne ptr {f}, null')}")
    return busy


def _traced_helper():
    """IR of the shared helper tiered_traced(ts) (one copy, in runtime_ir's module of helpers).
    It names no address of this process (the helpers' machine code is kept between runs,
    compiler/objcache.py): the other tools' words are read from @tiered_tool_words, which the
    engine points at the first of them once the helpers are loaded (TRACED_GLOBALS)."""
    lines = []

    def op(text):
        """Emit `%h<n> = text`."""
        lines.append(f"  %h{len(lines)} = {text}")
        return f"%h{len(lines) - 1}"
    busy = _traced_lines("%ts", op, op("load ptr, ptr @tiered_tool_words"))
    return ("\n@tiered_tool_words = global ptr null\n\ndefine i1 @tiered_traced(ptr %ts) {\n"
            + "\n".join(lines) + f"\n  ret i1 {busy}\n}}\n")


TRACED = _traced_helper()
# the helpers' globals that hold this process's addresses: set once the helpers are loaded
TRACED_GLOBALS = {"tiered_tool_words": threadstate.other_tool_words()[0]}


@op("trace_check", 0, None, Exit.TRACED, pure=False)   # after Python code ran: still untraced?
def _trace_check(e, v):
    """Exit when a trace or profile function, or a monitoring tool, is now set: inline at a
    loop header (every iteration checks), else one call of the shared tiered_traced (it
    follows a call of Python code, which costs far more)."""
    if e.block.loop_header:
        e.guard(_traced_lines(e.thread_state(), e.op), v)
    else:
        e.guard(e.op(f"call i1 @tiered_traced(ptr {e.thread_state()})"), v)


# at: where a handler sees the frame; raise_only: its state is only good for raising there (no
# forced exit: the stack is not the one that instruction expects)
@op("loop_poll", 0, None, Exit.SIGNAL, pure=False, raises=True, python=True, frameless=True,
    attrs=("at", "raise_only"))
def _loop_poll(e, v):
    """Count an iteration; every 2**16 point the frame at the loop, check signals (exit if a
    handler raised) and yield."""
    c = e.op(f"load i32, ptr {e.m.tick}")
    c1 = e.op(f"add i32 {c}, 1")
    e.line(f"store i32 {c1}, ptr {e.m.tick}")
    poll, cont = e.tmp()[1:], e.tmp()[1:]
    due = e.op(f"icmp eq i32 {e.op(f'and i32 {c1}, {TICK_SIGNALS}')}, 0")
    e.line(f"br i1 {due}, label %{poll}, label %{cont}, !prof !0")
    e.label(poll)
    # a thread reading the frame without the GIL (faulthandler, an outside sampler) sees the
    # running loop from here on (a store in every iteration stopped LLVM vectorising the loop:
    # sum_squares 2.4x slower); a handler, and a thread that runs while this one lets it, see
    # the loop's back edge and the current locals
    e.point_at_loop(v.attrs.get("at", v.state.offset))
    token = e.line_enter(v, v.attrs.get("at"), inline=True)
    if e.m.promote_at:                    # first-tier code: a loop this long is hot
        ok, before = e.op(f"call i1 @tiered_hot(ptr {pointer(e.m.hot_helper)})"), e.cur
        check, after = e.tmp()[1:], e.tmp()[1:]
        e.line(f"br i1 {ok}, label %{check}, label %{after}")
        e.label(check)
        signalled = e.op(f"icmp ne i32 {e.op('call i32 @PyErr_CheckSignals()')}, 0")
        e.line(f"br label %{after}")
        e.label(after)
        raised = e.op(f"phi i1 [true, %{before}], [{signalled}, %{check}]")
    else:
        raised = e.op(f"icmp ne i32 {e.op('call i32 @PyErr_CheckSignals()')}, 0")
    e.line(f"call void @tiered_yield(i32 {c1})")
    e.line_leave(token)
    e.guard(raised, v, with_exception=True)
    e.line(f"br label %{cont}")
    e.label(cont)
    if e.force and not v.attrs.get("raise_only"):
        e.guard("false", v)


# always exits (the block ends "exit")
define("leave", 0, None, Exit.RAISE, pure=False, lower=lambda e, v: e.guard("true", v))
define("hand_over", 0, None, Exit.HANDED_OVER, pure=False,      # the same, at a cold site (frameless)
       lower=lambda e, v: e.guard("true", v))


_NO_EXIT = "'%.200s' object does not support the context manager protocol (missed __exit__ method)"


# with (build/objects.py): the manager → its bound __exit__, after calling its __enter__
@op("before_with", 1, OBJ, Exit.RAISED, pure=False, raises=True, python=True, attrs=("entered_slot",))
def _before_with(e, v):
    """BEFORE_WITH as CPython runs it: __enter__ and __exit__ bound from the manager's class,
    then __enter__() called (its result kept for with_entered); v is the bound __exit__.  A
    class without either exits before anything ran, for the interpreter to raise its TypeError;
    any later failure exits with its exception, what was bound released first."""
    e.force_point(v)
    mgr = e.ref(v.args[0])
    e.m.keep("__enter__", "__exit__")
    names = {n: pointer(n) for n in ("__enter__", "__exit__")}
    ty = type_of(e, mgr)
    for name in names.values():
        e.guard(e.op(f"icmp eq ptr {e.op(f'call ptr @_PyType_Lookup(ptr {ty}, ptr {name})')}, null"), v,
                reason=Exit.TYPE_GUARD)
    token = e.line_enter(v)
    enter = e.op(f"call ptr @_PyObject_LookupSpecial(ptr {mgr}, ptr {names['__enter__']})")
    e.guard(e.op(f"icmp eq ptr {enter}, null"), v, with_exception=True, reason=v.spec.exit)
    exit_ = e.op(f"call ptr @_PyObject_LookupSpecial(ptr {mgr}, ptr {names['__exit__']})")
    _release_on(e, e.op(f"icmp eq ptr {exit_}, null"), [enter], missing=(exit_, ty))
    e.guard(e.op(f"icmp eq ptr {exit_}, null"), v, with_exception=True, reason=v.spec.exit)
    r = e.op(f"call ptr @PyObject_Vectorcall(ptr {enter}, ptr null, i64 0, ptr null)")
    e.line(f"call void @tiered_discard(ptr {enter})")
    _release_on(e, e.op(f"icmp eq ptr {r}, null"), [exit_])
    e.line_leave(token)
    e.guard(e.op(f"icmp eq ptr {r}, null"), v, with_exception=True, reason=v.spec.exit)
    slot = e.entry_alloca("ptr")
    e.line(f"store ptr {r}, ptr {slot}")
    v.attrs["entered_slot"] = slot
    e.alias(v, exit_)


def _release_on(e, cond, objs, missing=None):
    """When cond holds: release objs (an exception may be pending); with missing=(x, type),
    when x is NULL with no exception (a descriptor removed __exit__), set CPython's TypeError."""
    drop, go = e.tmp()[1:], e.tmp()[1:]
    e.line(f"br i1 {cond}, label %{drop}, label %{go}, !prof !0")
    e.label(drop)
    if missing is not None:
        name = e.op(f"load ptr, ptr {e.op(f'getelementptr i8, ptr {missing[1]}, i64 {capi.TYPE_NAME}')}")
        raised, set_, done = e.op("call ptr @PyErr_Occurred()"), e.tmp()[1:], e.tmp()[1:]
        e.line(f"br i1 {e.op(f'icmp eq ptr {raised}, null')}, label %{set_}, label %{done}")
        e.label(set_)
        e.line(f"call ptr (ptr, ptr, ...) @PyErr_Format(ptr {pointer(TypeError)}, ptr {e.m.c_string(_NO_EXIT)}, "
               f"ptr {name})")
        e.line(f"br label %{done}")
        e.label(done)
    for o in objs:
        e.line(f"call void @tiered_discard(ptr {o})")
    e.line(f"br label %{go}")
    e.label(go)


define("with_entered", 1, OBJ, pure=False,            # a before_with → what __enter__() returned
       lower=lambda e, v: e.alias(v, e.op(f"load ptr, ptr {v.args[0].attrs['entered_slot']}")))
