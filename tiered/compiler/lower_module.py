"""Compiler stage 4, module: the IR specialisations of one function → one LLVM module (their inner
functions, see lower_llvm.py, plus the boxed entry that picks one by the arguments' types)."""
from ..cpython import capi, threadstate
from . import runtime_ir
from .data import Arena, words
from .lower_llvm import FnEmitter
from .ops.common import LL, pointer, result_type
from ..reasons import Exit
from .exits import REASONS
from .ops.calls import PRELUDE as CALLS_PRELUDE, STACK_ALLOWANCE
from .ops.numbers import PRELUDE
from .ops.objects import PRELUDE as REFCOUNT_PRELUDE
from .ops.frames import PRELUDE as FRAMES_PRELUDE
from .ops import BOOL, FLOAT, INT, NONE, is_obj


class ModuleEmitter:
    """Collects the specialisations of one function into one LLVM module."""

    def __init__(self, prefix, helpers, sentinels, force_exits=False, globals_=None, promote_at=0,
                 absolute=False):
        self.prefix, self.force = prefix, force_exits
        # first tier: the runtime's promotion helper, called at the entry's promote_at-th call
        # and at loop polls (0: none)
        self.promote_at = promote_at if len(helpers) > 3 else 0
        self.hot_helper = helpers[3] if self.promote_at else None
        # the globals the code was compiled for: compared by address only, never kept (the
        # function holds them whenever its code runs as that function)
        self.globals_address = id(globals_) if globals_ is not None else None
        self.sentinel, self.interpret, self.unbound = sentinels
        self.exit_helper, self.miss_helper = helpers[:2]
        self.globals, self.kept = [], list(helpers) + list(sentinels)
        self.line_sites = {}     # original instruction offset -> global of its installed address
        self.dispatch_arity = None   # a specialisation calls the dispatcher with this many objects
        self.strings = {}            # bytes -> the private constant holding them
        self.string_addresses = {}   # absolute: the reference to a string -> its address
        # absolute: the module's data lives in the arena, named by address (data.py); name -> address
        self.arena, self.addresses = (Arena() if absolute else None), {}
        self.site_refs = {}          # original instruction offset -> the reference to its line site
        self.tick = self.datum("tiered_tick", "internal global i32 0", words(0))
        self.force_state = self.datum("tiered_force_state", "internal global [2 x i64] [i64 1, i64 1]",
                                      words(1, 1))

    def datum(self, name, definition, raw):
        """Data of the module named `name`: the global `@name = definition`, or (absolute) a copy
        of its bytes `raw` in the arena; how the IR refers to it."""
        if self.arena is None:
            self.globals.append(f"@{name} = {definition}")
            return f"@{name}"
        self.addresses[name] = self.arena.put(raw)
        return f"inttoptr (i64 {self.addresses[name]} to ptr)"

    def line_site(self, offset):
        """The global holding the installed address of the instruction at `offset`; the globals
        `code_lo` and `code_hi` (key "lo" and "hi") bound the installed instructions."""
        if offset not in self.line_sites:
            self.line_sites[offset] = f"{self.prefix}_line{offset}"
            self.site_refs[offset] = self.datum(self.line_sites[offset], "global i64 0", words(0))
        return self.site_refs[offset]

    def code_bounds(self):
        """The globals holding where the installed code's instructions start and end (filled in
        after install, as the line sites are: 0 and 0 until then, which nothing is inside)."""
        return self.line_site("lo"), self.line_site("hi")

    def dispatcher(self, n):
        """The symbol of the module's dispatcher for recursion on n objects (emitted with the module)."""
        self.dispatch_arity = n
        return f"@{self.prefix}_dispatch"

    def keep(self, *objs):
        """Keep objects alive as long as the module (those its code points at)."""
        self.kept.extend(o for o in objs if o is not None)

    def c_string(self, text):
        """A private constant holding text as a NUL-terminated C string; how the IR refers to it."""
        return self.c_bytes(text.encode())

    def c_bytes(self, raw):
        """A private constant holding these bytes and a NUL; how the IR refers to it (one per
        distinct text; no '@' inside, which engine.absolute would read as a symbol)."""
        if raw in self.strings:
            return self.strings[raw]
        name = f"s{len(self.strings)}"
        data = bytes(raw) + b"\0"
        chars = "".join(chr(b) if 32 <= b < 127 and chr(b) not in '"\\@' else f"\\{b:02X}" for b in data)
        ref = self.strings[raw] = self.datum(name, f'private unnamed_addr constant [{len(data)} x i8] c"{chars}"',
                                             data)
        self.string_addresses[ref] = self.addresses.get(name)
        return ref

    def global_i64(self, value):
        """Add an internal i64 global with an initial value; how the IR refers to it."""
        return self.datum(f"g{len(self.globals) + len(self.addresses)}", f"internal global i64 {value}",
                          words(value))

    def exit_descriptor(self, name, code, kinds):
        """The constant an exit hands the runtime: its code, how many words it saves and their
        kinds (deopt reads them); how the IR refers to it."""
        strings = self.c_string("".join(map(chr, kinds))) if kinds else "null"
        return self.datum(name, f"private unnamed_addr constant {{i64, i64, ptr}} "
                                f"{{i64 {code}, i64 {len(kinds)}, ptr {strings}}}",
                          words(code, len(kinds), self.string_addresses.get(strings) or 0))

    def emit(self, specs):
        """LLVM IR text for specs [(ir function, exit base)], and the entry symbol name."""
        bodies, inner = [], []
        for k, (fn, base) in enumerate(specs):
            sym = f"{self.prefix}_s{k}"
            inner.append(sym)
            bodies.append(FnEmitter(self, fn, sym, base, self.force).emit())
        self.counters = {k: self.datum(f"{self.prefix}_{k}", "global i64 0", words(0))
                         for k in ("calls", "traced", "quiet")}
        entry = self._entry([fn for fn, _ in specs], inner)
        if self.dispatch_arity is not None:
            entry += "\n" + self._dispatch([fn for fn, _ in specs], inner, self.dispatch_arity)
        text = "\n".join([capi.declarations(), PRELUDE, REFCOUNT_PRELUDE, FRAMES_PRELUDE, CALLS_PRELUDE, runtime_ir.declarations(),
                          *self.globals, *bodies, entry,
                          '!0 = !{!"branch_weights", i32 1, i32 100000}'])
        return text, f"{self.prefix}_entry", inner, (f"{self.prefix}_calls", f"{self.prefix}_traced",
                                                      f"{self.prefix}_quiet")

    def _traced_check(self):
        """Entry lines that send the call to the interpreter while a tracer or profiler is active."""
        counter, interpret = self.counters["traced"], pointer(self.interpret)
        return traced_check() + [
            "  br i1 %busy2, label %traced, label %untraced", "traced:",
            f"  %nt = load i64, ptr {counter}", "  %nt1 = add i64 %nt, 1", f"  store i64 %nt1, ptr {counter}",
            f"  call void @Py_IncRef(ptr {interpret})", f"  ret ptr {interpret}", "untraced:"]

    def _globals_check(self):
        """Entry lines that send the call to the interpreter when the running frame has other
        globals than the code was compiled for (a function made from this code object with
        other globals: its guards would read the wrong dict)."""
        if self.globals_address is None or capi.CURRENT_FRAME is None or capi.FRAME_GLOBALS is None:
            return []
        cframe, current = capi.CURRENT_FRAME
        interpret = pointer(self.interpret)
        # the thread state the trace check read already, when it read one
        ts = ["  %gts = bitcast ptr %ts to ptr"] if threadstate.TRACE_OFFSETS is not None else \
            ["  %gts = call ptr @PyThreadState_Get()"]
        return ts + [f"  %gcfp = getelementptr i8, ptr %gts, i64 {cframe}", "  %gcf = load ptr, ptr %gcfp",
                f"  %gifp = getelementptr i8, ptr %gcf, i64 {current}", "  %gif = load ptr, ptr %gifp",
                "  %gnone = icmp eq ptr %gif, null", "  br i1 %gnone, label %othergl, label %readgl",
                "readgl:", f"  %gglp = getelementptr i8, ptr %gif, i64 {capi.FRAME_GLOBALS}",
                "  %ggl = load ptr, ptr %gglp",
                f"  %gsame = icmp eq ptr %ggl, inttoptr (i64 {self.globals_address} to ptr)",
                "  br i1 %gsame, label %ownglobals, label %othergl", "othergl:",
                f"  call void @Py_IncRef(ptr {interpret})", f"  ret ptr {interpret}", "ownglobals:",
                *self._code_check()]

    def _code_check(self):
        """Entry lines that send the call to the interpreter when the running frame's code is
        not the installed code (the program replaced the function's code with a copy that still
        holds this entry, `f.__code__ = f.__code__.replace(...)`): the frame then runs its own
        bytecode.  The installed code's address is filled in after install (0 until then)."""
        if capi.FRAME_CODE is None or capi.FRAMES is None:
            return []
        lo = self.code_bounds()[0]
        return [f"  %gcodep = getelementptr i8, ptr %gif, i64 {capi.FRAME_CODE}", "  %gcode = load i64, ptr %gcodep",
                f"  %gstart = add i64 %gcode, {capi.FRAMES[2]}", f"  %glo = load i64, ptr {lo}",
                "  %gours = icmp eq i64 %gstart, %glo", "  %gunset = icmp eq i64 %glo, 0",
                "  %gcodeok = or i1 %gours, %gunset", "  br i1 %gcodeok, label %owncode, label %othergl",
                "owncode:"]

    def _depth_check(self):
        """Entry lines: the chain's C stack floor (%floor); and while a chain of this thread went
        too deep (threadstate.DEEP), calls deeper than where it started go to the interpreter,
        which then recurses as CPython does (its frames, its RecursionError)."""
        interpret, chain = pointer(self.interpret), threadstate.CHAIN_ADDRESS
        # the thread state the trace check read already, when it read one (on 3.12 each read is
        # a thread-local one, through __tls_get_addr)
        lines = ["  %rts = bitcast ptr %ts to ptr" if threadstate.TRACE_OFFSETS is not None
                 else "  %rts = call ptr @PyThreadState_Get()",
                 "  %sp0p = call ptr @llvm.frameaddress.p0(i32 0)",
                 "  %sp0 = ptrtoint ptr %sp0p to i64", f"  %ownfloor = sub i64 %sp0, {STACK_ALLOWANCE}"]
        if threadstate.C_RECURSION_REMAINING is not None:     # 3.12 counts C recursion itself
            lines.append("  %floor = add i64 %ownfloor, 0")
        else:
            lines += [
                # the floor of this thread's chain (threadstate.CHAIN): native code that calls
                # Python code generically, which calls native code again, shares one C stack
                # allowance; below it calls run in the interpreter (no C recursion there)
                "  %crts = ptrtoint ptr %rts to i64",
                f"  %cts = load i64, ptr inttoptr (i64 {chain} to ptr)",
                f"  %cfl = load i64, ptr inttoptr (i64 {chain + 8} to ptr)",
                f"  %ctop = add i64 %cfl, {STACK_ALLOWANCE}", "  %cmine = icmp eq i64 %cts, %crts",
                "  %cabove = icmp ugt i64 %sp0, %ctop", "  %cother = xor i1 %cmine, true",
                "  %cnew = or i1 %cother, %cabove", "  br i1 %cnew, label %chainnew, label %chainold",
                "chainnew:", f"  store i64 %crts, ptr inttoptr (i64 {chain} to ptr)",
                f"  store i64 %ownfloor, ptr inttoptr (i64 {chain + 8} to ptr)", "  br label %chained",
                "chainold:", "  %cdeep = icmp ult i64 %sp0, %cfl",
                "  br i1 %cdeep, label %cdeeper, label %chained",
                "cdeeper:", f"  call void @Py_IncRef(ptr {interpret})", f"  ret ptr {interpret}",
                "chained:", "  %floor = phi i64 [%ownfloor, %chainnew], [%cfl, %chainold]"]
        if threadstate.RECURSION_REMAINING is None:
            return lines
        deep = threadstate.DEEP_ADDRESS
        return lines + [
            f"  %rremp = getelementptr i8, ptr %rts, i64 {threadstate.RECURSION_REMAINING}",
            "  %rrem32 = load i32, ptr %rremp", "  %rrem = sext i32 %rrem32 to i64",
            "  %rtsi = ptrtoint ptr %rts to i64",
            f"  %dts = load i64, ptr inttoptr (i64 {deep} to ptr)", "  %mine = icmp eq i64 %dts, %rtsi",
            "  br i1 %mine, label %deepthread, label %shallow", "deepthread:",
            f"  %drem = load i64, ptr inttoptr (i64 {deep + 8} to ptr)", "  %below = icmp slt i64 %rrem, %drem",
            "  br i1 %below, label %deeper, label %cleardeep", "deeper:",
            f"  call void @Py_IncRef(ptr {interpret})", f"  ret ptr {interpret}",
            "cleardeep:", f"  store i64 0, ptr inttoptr (i64 {deep} to ptr)", "  br label %shallow", "shallow:"]

    def _mark_deep(self):
        """Exit lines: a chain that exited for its depth (RECURSION) marks this thread, so that
        the interpreter, calling again below this frame, recurses without native code."""
        if threadstate.RECURSION_REMAINING is None:
            return ["  br label %handoff"]
        deep, idx = threadstate.DEEP_ADDRESS, REASONS.index(Exit.RECURSION)
        return [f"  %isdeep = call i1 @tiered_exit_reason_is(ptr %state, i64 {idx})",
                "  br i1 %isdeep, label %markdeep, label %handoff", "markdeep:",
                f"  store i64 %rtsi, ptr inttoptr (i64 {deep} to ptr)",
                f"  store i64 %rrem, ptr inttoptr (i64 {deep + 8} to ptr)", "  br label %handoff"]

    def _class_check(self, t, ty, out):
        """Lines setting `out` to whether the type pointer `ty` is exactly the IR type's class
        (always, for an object of any class).
        A class that may die is compared through a weak reference, which the module keeps:
        once it died, no other class at its address matches (it may die while the module is
        being built: a specialisation on it then never matches)."""
        scalar = {INT: "@PyLong_Type", FLOAT: "@PyFloat_Type", BOOL: "@PyBool_Type"}
        if not is_obj(t):
            return [f"  {out} = icmp eq ptr {ty}, {scalar[t]}"]
        if t.ref is None:                 # any object (a parameter seen with several classes)
            return [f"  {out} = icmp eq ptr {ty}, {ty}"]
        cls = t.cls
        if cls is not None and not cls.__flags__ & capi.HEAP_TYPE:
            self.keep(cls)
            return [f"  {out} = icmp eq ptr {ty}, {pointer(cls)}"]
        self.keep(t.ref)
        return [f"  {out}w = load ptr, ptr getelementptr (i8, ptr {pointer(t.ref)}, i64 {capi.WEAKREF_OBJECT})",
                f"  {out} = icmp eq ptr {ty}, {out}w"]

    def _match(self, k, fn, nxt, lines):
        """Append lines that go on to label `nxt` unless the objects %a0.. (types %ty0..) match
        specialisation k's parameters; return its arguments, numbers unboxed (%ovf: an i32 slot)."""
        args = []
        for j, p in enumerate(fn.params):
            ok = f"c{k}_{j}"
            lines += self._class_check(p.type, f"%ty{j}", f"%is{k}_{j}")
            lines += [f"  br i1 %is{k}_{j}, label %{ok}, label %{nxt}", f"{ok}:"]
            if is_obj(p.type):
                lines.append(f"  %u{k}_{j} = bitcast ptr %a{j} to ptr")
            elif p.type == INT:
                lines += ["  store i32 0, ptr %ovf",
                          f"  %u{k}_{j} = call i64 @PyLong_AsLongLongAndOverflow(ptr %a{j}, ptr %ovf)",
                          f"  %o{k}_{j} = load i32, ptr %ovf", f"  %big{k}_{j} = icmp ne i32 %o{k}_{j}, 0",
                          f"  br i1 %big{k}_{j}, label %{nxt}, label %{ok}u", f"{ok}u:"]
            elif p.type == FLOAT:
                lines += [f"  %fp{k}_{j} = getelementptr i8, ptr %a{j}, i64 {capi.OB_FVAL}",
                          f"  %u{k}_{j} = load double, ptr %fp{k}_{j}"]
            else:
                lines.append(f"  %u{k}_{j} = icmp eq ptr %a{j}, @_Py_TrueStruct")
            args.append(f"{LL[p.type]} %u{k}_{j}")
        return args

    def _entry(self, fns, inner):
        """The boxed entry: match argument types to a spec, unbox, call, box; else exit or miss."""
        n = len(fns[0].params)
        lines = [f"define ptr @{self.prefix}_entry(ptr %self, ptr %args, i64 %nargs) {{", "entry:",
                 "  %ovf = alloca i32"]
        lines += self._traced_check()
        lines += self._globals_check()
        lines += self._depth_check()
        for j in range(n):
            lines += [f"  %p{j} = getelementptr ptr, ptr %args, i64 {j}", f"  %a{j} = load ptr, ptr %p{j}",
                      f"  %tp{j} = getelementptr i8, ptr %a{j}, i64 {capi.OB_TYPE}",
                      f"  %ty{j} = load ptr, ptr %tp{j}"]
        lines.append("  br label %spec0")
        for k, fn in enumerate(fns):
            nxt = f"spec{k + 1}" if k + 1 < len(fns) else "miss"
            lines.append(f"spec{k}:")
            args = self._match(k, fn, nxt, lines)
            ret = fn.return_type or NONE
            lines += [f"  br label %spec{k}_call", f"spec{k}_call:",
                      f"  %n{k} = load i64, ptr {self.counters['calls']}", f"  %n{k}b = add i64 %n{k}, 1",
                      f"  store i64 %n{k}b, ptr {self.counters['calls']}"]
            if self.promote_at:                   # hot: ask for the optimised tier
                lines += [f"  %hm{k} = and i64 %n{k}b, {self.promote_at - 1}", f"  %hot{k} = icmp eq i64 %hm{k}, 0",
                          f"  br i1 %hot{k}, label %promote{k}, label %go{k}, !prof !0", f"promote{k}:",
                          f"  %hr{k} = call i1 @tiered_hot(ptr {pointer(self.hot_helper)})",
                          f"  br i1 %hr{k}, label %go{k}, label %failed", f"go{k}:"]
            ty = result_type(LL[ret])
            lines.append(f"  %pr{k} = call {ty} @{inner[k]}({', '.join(args + ['i64 %floor', 'ptr %rts'])})")
            lines += [f"  %r{k} = extractvalue {ty} %pr{k}, 0", f"  %x{k} = extractvalue {ty} %pr{k}, 2",
                      f"  %s{k} = extractvalue {ty} %pr{k}, 1", f"  %ok{k} = icmp eq i32 %s{k}, 0",
                      f"  br i1 %ok{k}, label %box{k}, label %exited", f"box{k}:"]
            if is_obj(ret):                       # the reference the function returned
                lines.append(f"  ret ptr %r{k}")
            else:
                lines += [f"  %b{k} = call ptr @tiered_box_{ret}({LL[ret]} %r{k})", f"  ret ptr %b{k}"]
        k = len(fns)
        calls = [f"go{j}" if self.promote_at else f"spec{j}_call" for j in range(k)]   # the calls' blocks
        phis = ", ".join(f"[%s{j}, %{calls[j]}]" for j in range(k))
        states = ", ".join(f"[%x{j}, %{calls[j]}]" for j in range(k))
        lines += ["exited:", f"  %st = phi i32 {phis}", f"  %state = phi ptr {states}",
                  "  %nostate = icmp eq ptr %state, null",       # MemoryError while exiting
                  "  br i1 %nostate, label %failed, label %deepcheck", "deepcheck:",
                  *self._mark_deep(), "handoff:",
                  f"  %handed = call i1 @tiered_exit(ptr {pointer(self.exit_helper)}, ptr %state, i32 %st)",
                  "  br i1 %handed, label %resume, label %failed", "failed:", "  ret ptr null",
                  "resume:", f"  call void @Py_IncRef(ptr {pointer(self.sentinel)})", f"  ret ptr {pointer(self.sentinel)}",
                  "miss:", f"  %quiet = load i64, ptr {self.counters['quiet']}",     # nothing more to learn
                  "  %hush = icmp ne i64 %quiet, 0", "  br i1 %hush, label %hushed, label %count", "hushed:",
                  f"  call void @Py_IncRef(ptr {pointer(self.interpret)})", f"  ret ptr {pointer(self.interpret)}",
                  "count:",
                  f"  %m = call ptr @PyObject_Vectorcall(ptr {pointer(self.miss_helper)}, ptr %args, "
                  f"i64 %nargs, ptr null)", "  ret ptr %m", "}"]
        return "\n".join(lines)


    def _dispatch(self, fns, inner, n):
        """The dispatcher `{ptr, i32, ptr} dispatch(ptr args..., i64 floor, ptr ts)`: the first frameless
        specialisation whose classes match the n borrowed objects is called (numbers unboxed,
        its result boxed) and its status and exit state passed on; none matching is an exit
        with no state (the native caller exits at its call, and the interpreter calls again)."""
        ty = result_type("ptr")
        lines = [f"define {ty} @{self.prefix}_dispatch("
                 + "".join(f"ptr %a{j}, " for j in range(n)) + "i64 %floor, ptr %ts) {", "entry:", "  %ovf = alloca i32"]
        for j in range(n):
            lines += [f"  %tp{j} = getelementptr i8, ptr %a{j}, i64 {capi.OB_TYPE}", f"  %ty{j} = load ptr, ptr %tp{j}"]
        lines.append("  br label %spec0")
        specs = [(fn, sym) for fn, sym in zip(fns, inner) if fn.attrs.get("frameless") and len(fn.params) == n]
        for k, (fn, sym) in enumerate(specs):
            nxt = f"spec{k + 1}" if k + 1 < len(specs) else "miss"
            lines.append(f"spec{k}:")
            args = self._match(k, fn, nxt, lines)
            ret = fn.return_type or NONE
            rty = result_type(LL[ret])
            lines += [f"  %pr{k} = call {rty} @{sym}({', '.join(args + ['i64 %floor', 'ptr %ts'])})",
                      f"  %r{k} = extractvalue {rty} %pr{k}, 0", f"  %s{k} = extractvalue {rty} %pr{k}, 1",
                      f"  %x{k} = extractvalue {rty} %pr{k}, 2", f"  %ok{k} = icmp eq i32 %s{k}, 0",
                      f"  br i1 %ok{k}, label %box{k}, label %out{k}", f"out{k}:",
                      f"  %e{k}a = insertvalue {ty} undef, i32 %s{k}, 1",
                      f"  %e{k} = insertvalue {ty} %e{k}a, ptr %x{k}, 2", f"  ret {ty} %e{k}", f"box{k}:"]
            if is_obj(ret):
                lines.append(f"  %b{k} = bitcast ptr %r{k} to ptr")
            else:                           # a number boxed; out of memory: exit, nothing pending
                lines += [f"  %b{k} = call ptr @tiered_box_{ret}({LL[ret]} %r{k})",
                          f"  %nb{k} = icmp eq ptr %b{k}, null", f"  br i1 %nb{k}, label %nomem{k}, label %boxed{k}",
                          f"nomem{k}:", "  call void @PyErr_Clear()", "  br label %miss", f"boxed{k}:"]
            lines += [f"  %v{k}a = insertvalue {ty} undef, ptr %b{k}, 0",
                      f"  %v{k} = insertvalue {ty} %v{k}a, i32 0, 1", f"  %v{k}b = insertvalue {ty} %v{k}, ptr null, 2",
                      f"  ret {ty} %v{k}b"]
        lines += ["miss:", f"  %m = insertvalue {ty} undef, i32 1, 1", f"  %m2 = insertvalue {ty} %m, ptr null, 2",
                  f"  ret {ty} %m2", "}"]
        return "\n".join(lines)


def traced_check():
    """IR lines setting %busy2: a trace or profile function is set in this thread, or another
    sys.monitoring tool is registered."""
    lines, acc = [], "0"
    for k, word in enumerate(threadstate.other_tool_words()):     # another monitoring tool
        lines += [f"  %tool{k} = load i64, ptr inttoptr (i64 {word} to ptr)",
                  f"  %tools{k} = or i64 {acc}, %tool{k}"]
        acc = f"%tools{k}"
    lines.append(f"  %busy = icmp ne i64 {acc}, 0")
    if threadstate.TRACE_OFFSETS is None:
        return lines + ["  %busy2 = or i1 %busy, false"]
    t, p = threadstate.TRACE_OFFSETS
    return lines + ["  %ts = call ptr @PyThreadState_Get()",
                    f"  %tfp = getelementptr i8, ptr %ts, i64 {t}", "  %tf = load ptr, ptr %tfp",
                    f"  %pfp = getelementptr i8, ptr %ts, i64 {p}", "  %pf = load ptr, ptr %pfp",
                    "  %tr = icmp ne ptr %tf, null", "  %pr = icmp ne ptr %pf, null",
                    "  %either = or i1 %tr, %pr", "  %busy2 = or i1 %either, %busy"]


def gate_module(interpret):
    """IR of `tiered_gate(self, args, n)`: `interpret` while a tool traces this thread, else
    self(*args).  It fronts the first-call hook (a Python function a tracer would see).  An
    Exception from self (its frames reached the recursion limit, say) also gives `interpret`:
    the program's call goes on in the interpreter as without tiered; a BaseException that is
    no Exception (KeyboardInterrupt from a signal handler) goes on to the program."""
    back = [f"  call void @Py_IncRef(ptr {pointer(interpret)})", f"  ret ptr {pointer(interpret)}"]
    return "\n".join([capi.declarations(), "define ptr @tiered_gate(ptr %self, ptr %args, i64 %nargs) {",
                      "entry:", *traced_check(), "  br i1 %busy2, label %traced, label %call", "traced:", *back,
                      "call:", "  %r = call ptr @PyObject_Vectorcall(ptr %self, ptr %args, i64 %nargs, ptr null)",
                      "  %failed = icmp eq ptr %r, null", "  br i1 %failed, label %raised, label %done",
                      "raised:", f"  %m = call i32 @PyErr_ExceptionMatches(ptr {pointer(Exception)})",
                      "  %ours = icmp ne i32 %m, 0", "  br i1 %ours, label %swallow, label %done", "swallow:",
                      "  call void @PyErr_Clear()", *back, "done:", "  ret ptr %r", "}"])
