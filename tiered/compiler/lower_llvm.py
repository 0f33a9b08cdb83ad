"""Compiler stage 4: one IR specialisation → its LLVM inner function (lower_module.py adds the entry).

Each specialisation becomes `{T, i32 status, ptr state} inner(args unboxed..., i64 floor, ptr ts)`.
Status 0: the result is valid; 1: it exited; 2: it exited and an exception is pending (a
signal handler or a C-API call raised).  An exit boxes its exit code and live values into a
new tuple, `state` (owned; NULL with status 2 when even that failed: the MemoryError is
pending).  A native caller that sees a non-zero status drops the callee's state and exits at
its own call instruction (the callee is pure, so the interpreter simply calls it again), so
the state that reaches the boxed entry is the outermost frame's, which the entry hands to the
runtime before returning the sentinel.  `floor` is the lowest stack address the chain of native
calls may reach (ops/calls.py counts each native frame in the thread state as CPython would,
and exits at the recursion limit or the floor); `ts` is the running thread's state.
"""
from ..reasons import Exit
from ..cpython import capi
from .exits import REASON_BITS, decode_exit, exit_code, exit_tree
from .ops import BOOL, FLOAT, INT, NONE, OPS, is_obj
from .ops.common import LL, box_call, pointer, result_type
from .ops.frames import SHADOW_KINDS, sync_locals


class FnEmitter:
    """Emits one specialisation: each value by its op's lowering (OPS[op].lower, defined beside
    the op in ops/<domain>.py), which calls back into it to reference values and exit."""

    def __init__(self, module, fn, symbol, exit_base, force_exits):
        self.m, self.fn, self.symbol = module, fn, symbol
        self.exit_base, self.force = exit_base, force_exits
        self.lines, self.names, self.n = [], {}, 0
        self.exits_used = {}               # exit id -> (value, with_exception)
        self.block_end = {}
        self.allocas = []                  # entry-block lines: stack slots (never inside a loop)
        self.allocas_named = set()         # and values computed once there
        self.lookup_slots = {}             # a shared `k in d` test's id -> its (item, version) slots
        self.resume_slots = {}             # a call of a resumable callee's id -> its exit state's slot
        self.method_slots = {}             # a load_method's id -> the slot of what it found (method_self)
        self.entry_values = {}             # what the entry block computes once (frame, shadows, ...)
        self.pointing = None               # True once a loop points the frame (point_at_loop)
        # a borrowed attribute read's id -> where its slow path's own reference is kept (or NULL)
        self.borrow_slots = {v.id: self.entry_alloca("ptr") for b in fn.blocks for v in b.body
                             if v.attrs.get("borrow")}

    # -- helpers the op lowerings (ops/<domain>.py) call back into
    def tmp(self):
        """A fresh temporary name."""
        self.n += 1
        return f"%t{self.n}"

    def line(self, text):
        """Append one indented instruction line."""
        self.lines.append("  " + text)

    def label(self, name):
        """Start a new basic block with this label."""
        self.lines.append(f"{name}:")
        self.cur = name

    def op(self, text):
        """Emit `%tmp = text` and return the temporary."""
        t = self.tmp()
        self.line(f"{t} = {text}")
        return t

    def define(self, v, text):
        """Emit text as the definition of IR value v (%v<id>)."""
        self.names[v.id] = f"%v{v.id}"
        self.line(f"%v{v.id} = {text}")

    def alias(self, v, ref):
        """Let IR value v be referred to by an existing LLVM operand."""
        self.names[v.id] = ref

    def ref(self, v):
        """The LLVM operand for IR value v."""
        return self.names[v.id]

    def entry_alloca(self, ll_type):
        """A stack slot allocated once in the entry block; its pointer."""
        name = f"%a{len(self.allocas)}"
        self.allocas.append(f"  {name} = alloca {ll_type}")
        return name

    def thread_state(self):
        """This thread's PyThreadState, read once on entry: native code runs on one thread
        from entry to return, which holds that thread state whenever it runs."""
        return "%ts"                       # the boxed entry's, passed down every native call

    def exit_id(self, v):
        """The module-wide exit number of v (the function's exit base + its own index)."""
        return self.exit_base + v.attrs["exit"]

    def guard(self, cond, v, with_exception=False, reason=None, forced=True):
        """Leave for the interpreter at v's frame state when cond is true (forced=False: this
        guard comes after v's effect, so a forced exit here would lose it: never forced)."""
        if self.force and forced and not with_exception:    # testing: the guard fails now and then
            self._branch_exit(self.op(f"call i1 @tiered_force(ptr {self.m.force_state})"), v, False, Exit.FORCED)
        self._branch_exit(cond, v, with_exception, reason or (Exit.SIGNAL if with_exception else v.spec.exit))

    def line_enter(self, v, offset=None, inline=False, sync=True):
        """Before a call that may run Python code: point the running frame at v's instruction
        (or the one at `offset`; in the installed code: the address is filled in after
        install), so that what runs sees the frame's f_lineno as CPython shows it.  What
        line_leave restores.  Only when the running frame runs this code: a function of
        numbers called natively runs in its caller's frame, whose code is another (a frameless
        specialisation never points a frame: it may run inside its caller's too).  inline: without
        the shared helper's call (a loop's poll: the call there made LLVM keep a loop's float in
        memory, horner ran 2x slower); sync=False: the caller synced the locals already."""
        if v.state is not None and sync:     # the frame's slots take the number locals' values
            sync_locals(self, v.state.locals)
        offset = offset if offset is not None else v.state.offset if v.state is not None else None
        if capi.FRAMES is None or offset is None or self.fn.attrs.get("frameless"):
            return None
        if not inline:
            return self.point_frame(self.frame_slot(), self.m.line_site(offset))
        addr = self.op(f"load i64, ptr {self.m.line_site(offset)}")
        slot, (use, go), before = self.frame_slot(), (self.tmp()[1:], self.tmp()[1:]), self.cur
        ok = self.op(f"and i1 {self.op(f'icmp ne ptr {slot}, null')}, {self.op(f'icmp ne i64 {addr}, 0')}")
        self.line(f"br i1 {ok}, label %{use}, label %{go}")
        self.label(use)
        saved = self.op(f"load ptr, ptr {slot}")
        self.point_frame_inline(slot, addr, saved)
        self.line(f"br label %{go}")
        self.label(go)
        return (self.op(f"phi ptr [{slot}, %{use}], [null, %{before}]"),
                self.op(f"phi ptr [{saved}, %{use}], [null, %{before}]"), "inline")

    def frame(self):
        """The running interpreter frame (NULL if there is none), read once on entry through the
        thread state (capi.CURRENT_FRAME must be known): a function that keeps its frame runs
        in that one frame from entry to return."""
        if "frame" not in self.entry_values:
            cframe, current = capi.CURRENT_FRAME
            self.allocas += [f"  %fcfp = getelementptr i8, ptr %ts, i64 {cframe}", "  %fcf = load ptr, ptr %fcfp",
                             f"  %ffrp = getelementptr i8, ptr %fcf, i64 {current}", "  %frame = load ptr, ptr %ffrp"]
            self.entry_values["frame"] = "%frame"
        return self.entry_values["frame"]

    def own_frame(self):
        """The running frame when it runs this code (its instruction lies in the installed
        code's bounds), else NULL, read once on entry: a function of numbers called natively
        runs in its caller's frame, whose slots are another code's (ops/frames.py mirrors)."""
        if capi.FRAMES is None:
            return self.frame()
        if "own_frame" not in self.entry_values:
            frame = self.frame()
            lo, hi = self.m.code_bounds()
            self.allocas.insert(0, "  %odummy = alloca i64")
            self.allocas += [
                "  store i64 0, ptr %odummy", f"  %onull = icmp eq ptr {frame}, null",
                f"  %oslot = getelementptr i8, ptr {frame}, i64 {capi.FRAMES[1]}",
                "  %oslot1 = select i1 %onull, ptr %odummy, ptr %oslot", "  %oat = load i64, ptr %oslot1",
                f"  %olo = load i64, ptr {lo}", f"  %ohi = load i64, ptr {hi}",
                "  %oge = icmp uge i64 %oat, %olo", "  %olt = icmp ult i64 %oat, %ohi",
                "  %oours = and i1 %oge, %olt", f"  %oframe = select i1 %oours, ptr {frame}, ptr null"]
            self.entry_values["own_frame"] = "%oframe"
        return self.entry_values["own_frame"]

    def shadows_of_frame(self):
        """The (kinds [n x i8], words [n x i64]) stack arrays remembering which number each
        frame slot was given last (kind 0: none); a number parameter's slot holds it already."""
        if "shadows" not in self.entry_values:
            n = min(len(self.fn.attrs["slots"]), 256)
            self.allocas += ["  %shk = alloca [256 x i8]", "  %shw = alloca [256 x i64]",
                             f"  call void @llvm.memset.p0.i64(ptr %shk, i8 0, i64 {n}, i1 false)"]
            for p in self.fn.params:
                slot = self.fn.attrs["slots"].get(p.attrs.get("param"), 256)
                if p.attrs.get("captured") or p.type not in SHADOW_KINDS or slot >= 256:
                    continue
                word = f"%v{p.id}" if p.type == INT else f"%pw{p.id}"
                if p.type != INT:
                    self.allocas.append(f"  {word} = " + (f"bitcast double %v{p.id} to i64" if p.type == FLOAT
                                                          else f"zext i1 %v{p.id} to i64"))
                self.allocas += [f"  %shkp{p.id} = getelementptr i8, ptr %shk, i64 {slot}",
                                 f"  store i8 {SHADOW_KINDS[p.type]}, ptr %shkp{p.id}",
                                 f"  %shwp{p.id} = getelementptr i64, ptr %shw, i64 {slot}",
                                 f"  store i64 {word}, ptr %shwp{p.id}"]
            self.entry_values["shadows"] = ("%shk", "%shw")
        return self.entry_values["shadows"]

    def frame_buffer(self, n):
        """A stack buffer of at least n words for the values a sync hands over (one per function)."""
        if "frame_buffer" not in self.entry_values:
            self.allocas.append("  %fbuf = alloca [256 x i64]")
            self.entry_values["frame_buffer"] = "%fbuf"
        assert n <= 256
        return self.entry_values["frame_buffer"]

    def point_frame(self, slot, site):
        """Point the frame's instruction slot `slot` (NULL: no frame) at the installed instruction
        whose address the global `site` holds (0 until install: then nothing), only when the
        frame runs this code (the slot holds an address inside it): one call of the shared
        tiered_line_enter.  The token line_leave takes: (the slot to restore, a spare one when
        nothing was pointed; its value before)."""
        lo, hi = self.m.code_bounds()
        pair = self.op(f"call {{ptr, ptr}} @tiered_line_enter(ptr {slot}, ptr {site}, ptr {lo}, ptr {hi})")
        return self.op(f"extractvalue {{ptr, ptr}} {pair}, 0"), self.op(f"extractvalue {{ptr, ptr}} {pair}, 1")

    def point_frame_inline(self, slot, addr, saved=None):
        """point_frame without the call, for a frame slot known to be there (a return's: it runs
        at every call of the function, and no C-API call around it pays for a helper's)."""
        saved = saved or self.op(f"load ptr, ptr {slot}")
        at = self.op(f"ptrtoint ptr {saved} to i64")
        lo, hi = (self.op(f"load i64, ptr {g}") for g in self.m.code_bounds())
        ours = self.op(f"and i1 {self.op(f'icmp uge i64 {at}, {lo}')}, {self.op(f'icmp ult i64 {at}, {hi}')}")
        ok = self.op(f"and i1 {ours}, {self.op(f'icmp ne i64 {addr}, 0')}")
        point = self.op(f"select i1 {ok}, ptr {self.op(f'inttoptr i64 {addr} to ptr')}, ptr {saved}")
        self.line(f"store ptr {point}, ptr {slot}")

    def frame_slot(self):
        """Where the running interpreter frame keeps its current instruction (NULL if there is
        no frame): read through this call's thread state, once on entry, when the path is known."""
        if capi.CURRENT_FRAME is None:
            return self.op("call ptr @tiered_frame_slot()")
        if "frame_slot" not in self.entry_values:
            iframe = self.frame()
            self.allocas += [f"  %fslotp = getelementptr i8, ptr {iframe}, i64 {capi.FRAMES[1]}",
                             f"  %fnone = icmp eq ptr {iframe}, null",
                             "  %fslot = select i1 %fnone, ptr null, ptr %fslotp"]
            self.entry_values["frame_slot"] = "%fslot"
        return self.entry_values["frame_slot"]

    def point_at_loop(self, offset):
        """Point the running frame at the loop (the instruction at `offset`)
        without giving it back, so that a thread reading it without the GIL (faulthandler, an
        outside sampler) sees the running loop's line; a return points it at the return
        (ops/frames.py sync_frame).  Everything but the store is computed once, on entry."""
        if capi.FRAMES is None or capi.CURRENT_FRAME is None or self.fn.attrs.get("frameless"):
            return
        if self.pointing is None:
            frame = self.frame()
            lo, hi = self.m.code_bounds()
            self.allocas += [
                f"  %pnull = icmp eq ptr {frame}, null",
                f"  %pslot = getelementptr i8, ptr {frame}, i64 {capi.FRAMES[1]}",
                "  %pslot1 = select i1 %pnull, ptr %dummy.slot, ptr %pslot",
                "  %psaved = load i64, ptr %pslot1",
                f"  %plo = load i64, ptr {lo}", f"  %phi = load i64, ptr {hi}",
                "  %pge = icmp uge i64 %psaved, %plo", "  %plt = icmp ult i64 %psaved, %phi",
                "  %pours = and i1 %pge, %plt"]
            self.allocas.insert(0, "  %dummy.slot = alloca i64")
            self.pointing = True
        site = self.op(f"load i64, ptr {self.m.line_site(offset)}")
        point = self.op(f"select i1 {self.op(f'icmp ne i64 {site}, 0')}, i1 %pours, i1 false")
        at = self.op(f"select i1 {point}, i64 {site}, i64 %psaved")
        self.line(f"store i64 {at}, ptr %pslot1")

    def line_leave(self, token):
        """After the call: give the frame back the instruction it was at (when nothing was
        pointed, tiered_line_enter gave a spare slot of its own for this store)."""
        if token is None:
            return
        if len(token) == 2:
            self.line(f"store ptr {token[1]}, ptr {token[0]}")
            return
        put, go = self.tmp()[1:], self.tmp()[1:]      # line_enter(inline=True)'s: NULL when none
        self.line(f"br i1 {self.op(f'icmp ne ptr {token[0]}, null')}, label %{put}, label %{go}")
        self.label(put)
        self.line(f"store ptr {token[1]}, ptr {token[0]}")
        self.line(f"br label %{go}")
        self.label(go)

    def force_point(self, v):
        """Testing (TIERED_FORCE_EXITS): now and then leave at v's state before an op that may
        run Python code, whose only exit is with its exception, runs at all."""
        if self.force:
            self._branch_exit(self.op(f"call i1 @tiered_force(ptr {self.m.force_state})"), v, False, Exit.FORCED)

    def _branch_exit(self, cond, v, with_exception, reason):
        """Branch to the exit block for (v, exception, reason) when cond holds, else continue."""
        k = self.exit_id(v)
        code = exit_code(k, with_exception, reason)
        self.exits_used.setdefault(code, v)
        go = self.tmp()[1:]
        self.line(f"br i1 {cond}, label %x{code}, label %{go}, !prof !0")
        self.label(go)

    # -- the function
    def emit(self):
        """LLVM IR text of the whole specialisation: blocks, phis and exit blocks."""
        fn = self.fn
        params = ", ".join(f"{LL[p.type]} %v{p.id}" for p in fn.params)
        for p in fn.params:
            self.names[p.id] = f"%v{p.id}"
        ret = LL[fn.return_type or NONE]
        head = [f"define {result_type(ret)} @{self.symbol}({params}{', ' if params else ''}i64 %floor, ptr %ts) {{",
                "entry:", f"  br label %b{fn.blocks[0].id}"]
        for b in fn.blocks:
            self.block = b
            self.label(f"b{b.id}")
            for p in b.phis:
                self.names[p.id] = f"%v{p.id}"
                self.lines.append(("PHI", b, p))
            for v in b.body:
                OPS[v.op].lower(self, v)
            self.block_end[b.id] = self.cur
            self._terminate(b)
        body = [self._phi(x) if isinstance(x, tuple) else x for x in self.lines]
        exits = self._exit_blocks()
        return "\n".join(head[:2] + self.allocas + head[2:] + body + exits + ["}"])

    def _phi(self, item):
        """The LLVM phi line of an IR phi, with each predecessor's final label."""
        _, b, p = item
        inc = ", ".join(f"[{self.ref(a)}, %{self.block_end[pred.id]}]" for a, pred in zip(p.args, b.preds))
        return f"  %v{p.id} = phi {LL[p.type]} {inc}"

    def _terminate(self, b):
        """Emit a block's terminator: branch, conditional branch, return with status 0, or none
        after an unconditional exit."""
        t = b.term
        blk = {x.offset: x for x in self.fn.blocks}
        if t[0] == "br":
            self.line(f"br label %b{blk[t[1]].id}")
        elif t[0] == "cbr":
            self.line(f"br i1 {self.ref(t[1])}, label %b{blk[t[2]].id}, label %b{blk[t[3]].id}")
        elif t[0] == "exit":                     # the block's last op always left
            self.line("unreachable")
        else:
            v = t[1]
            self.line(self._ret(self.ref(v) if v.type != NONE else "false", 0))

    def _ret(self, value, status, state="null"):
        """`ret {T, i32, ptr}` of a value, a status (0 ok, 1 exited, 2 exited with an exception)
        and an exit state tuple."""
        ll = LL[self.fn.return_type or NONE]
        ty = result_type(ll)
        part = self.op(f"insertvalue {ty} undef, {ll} {value}, 0")
        part = self.op(f"insertvalue {ty} {part}, i32 {status}, 1")
        return f"ret {ty} {self.op(f'insertvalue {ty} {part}, ptr {state}, 2')}"

    def _exit_blocks(self):
        """The exits' blocks.  Each used exit has a block `x<code>` that records its descriptor
        (exit code, number of values, their kinds: a constant) and jumps into a tree of blocks
        that store its live values, as raw words, into the function's exit buffer; every exit
        ends in `xret`, the function's one call of tiered_exit_state (which boxes the words by
        their kinds into the exit state tuple; each object value's reference moves in) and
        return.  Exits hand over mostly the same values (the locals), so the tree stores each
        (position, value) that many exits share once, at its root end (exit_tree): a function's
        IR was mostly its exits' stores, and codegen time follows IR size."""
        if not self.exits_used:
            return []
        heads, paths = {}, {}
        desc = self.entry_alloca("ptr")
        buf = self.entry_alloca(f"[{self._exit_words()} x i64]")
        for code, v in sorted(self.exits_used.items(), key=lambda kv: kv[0]):
            reason = decode_exit(code)[3]
            self.lines = []
            for x in v.attrs.get("pinned", ()):           # a copy whose incref was dropped
                if x.id in self.borrow_slots:             # a borrowed read: unless its slow path owns one
                    owned = self.op(f"load ptr, ptr {self.borrow_slots[x.id]}")
                    borrowed = self.op(f"icmp eq ptr {owned}, null")
                    self.line(f"call void @Py_IncRef(ptr {self.op(f'select i1 {borrowed}, ptr {self.ref(x)}, ptr null')})")
                else:
                    self.line(f"call void @tiered_incref(ptr {self.ref(x)})")
            words = [(self._exit_kind(x), self._exit_conv(x), self.ref(x)) for x in v.state.values()]
            # a resumed callee's exit state travels last (deopt.Resumer), its reference moves in
            if reason is Exit.CALLEE_RESUMED:
                words.append((0, "ptr", self.op(f"load ptr, ptr {self.resume_slots[v.id]}")))
            kinds = [6 if (k, ref) == (5, "null") else k for k, _, ref in words]   # 4, 6: no word
            name = self.m.exit_descriptor(f"{self.symbol}_x{code}", code, kinds)
            self.line(f"store ptr {name}, ptr {desc}")
            heads[code] = self.lines
            paths[code] = [(k, conv, ref) for k, (_, conv, ref) in enumerate(words) if kinds[k] not in (4, 6)]
        blocks, entries = exit_tree(paths)
        out = []
        for code, lines in heads.items():
            out += [f"x{code}:"] + lines + [f"  br label %{entries[code]}"]
        for label, words, then in blocks:
            self.lines = []
            for k, conv, ref in words:
                if conv == "ptr":
                    ref = "0" if ref == "null" else self.op(f"ptrtoint ptr {ref} to i64")
                elif conv in ("double", "i1"):
                    ref = self.op(f"{'bitcast double' if conv == 'double' else 'zext i1'} {ref} to i64")
                self.line(f"store i64 {ref}, ptr {self.op(f'getelementptr i64, ptr {buf}, i64 {k}')}")
            out += [f"{label}:"] + self.lines + [f"  br label %{then}"]
        self.lines = []
        d = self.op(f"load ptr, ptr {desc}")
        code = self.op(f"load i64, ptr {d}")
        n = self.op(f"load i64, ptr {self.op(f'getelementptr i8, ptr {d}, i64 8')}")
        kinds = self.op(f"load ptr, ptr {self.op(f'getelementptr i8, ptr {d}, i64 16')}")
        t = self.op(f"call ptr @tiered_exit_state(i64 {code}, ptr {kinds}, ptr {buf}, i64 {n}, "
                    f"ptr {pointer(self.m.unbound)})")
        raised = self.op(f"trunc i64 {self.op(f'lshr i64 {code}, {REASON_BITS}')} to i1")   # the code says so
        status = self.op(f"select i1 {raised}, i32 2, i32 1")
        failed = self.op(f"icmp eq ptr {t}, null")    # no memory: MemoryError is pending
        self.line(self._ret("undef", self.op(f"select i1 {failed}, i32 2, i32 {status}"), t))
        return out + ["xret:"] + self.lines

    def _exit_words(self):
        """The most words any exit of this function passes (its live values and an inner state)."""
        return max(len(v.state.values()) + 1 for v in self.exits_used.values())

    @staticmethod
    def _exit_kind(x):
        """How tiered_exit_state boxes value x: 0 object, 1 int, 2 float, 3 bool, 4 None, 5 object or NULL."""
        if is_obj(x.type):
            return 5 if x.attrs.get("maybe_null") else 0
        return {INT: 1, FLOAT: 2, BOOL: 3, NONE: 4}[x.type]

    @staticmethod
    def _exit_conv(x):
        """How value x becomes a raw i64 word for the exit buffer: from a ptr, a double, an i1
        (None: a constant 0), or already one."""
        if is_obj(x.type):
            return "ptr"
        return {FLOAT: "double", BOOL: "i1", NONE: "none"}.get(x.type, "i64")

