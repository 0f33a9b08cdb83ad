"""Runtime installation: original code + native entry + exit layouts → a code object that runs native first.

The installed code is the ORIGINAL bytecode with a prologue after RESUME:

    r = NATIVE(*params); if r is not SENTINEL and r is not INTERPRET: return r
    if r is INTERPRET: <jump to the original body>      # traced, no match: no helper call
    stub, values = STATES.stack.pop()   # which exit, and the live values (this thread's)
    <jump to the stub of that exit>     # restores locals and stack, jumps to the resume instruction

so an exit continues in the same frame at the exact instruction, and exceptions and
tracebacks are CPython's own.  Exits that carry a pending exception (a call raised, a
signal handler raised) jump to a raise placed after the body, at the resume instruction's
position and in its try region, which raises it as it is (its context unchained: _raise_as_is).  On 3.12 a
stub that resumes mid-line (or raises) ends with a jump placed before RESUME, where nothing is
instrumented, carrying the resume line: a tracer that a callee set sees no line event CPython
would not send.  Everything about code-object shapes per version lives in
the base layer (cpython/py3*.py), and their encodings in cpython/assembler.py.
"""
import ctypes
import dis

from ..cpython import V, capi, pushframe
from ..cpython.assembler import AssemblyError, Ins, Label, assemble, instructions
from ..cpython.code import param_count
from ..weaktable import WeakTable
from .deopt import stub_numbers
from .markers import INTERPRET, SENTINEL, STATES, UNBOUND


def _finished():
    """A generator, to be finished at once."""
    yield


_done = _finished()
_done.close()
# raises its argument as it is: the throw() of a finished generator restores the exception
# (PyErr_Restore) and runs nothing, so no frame and no chaining (an exit's pending exception)
RAISE_AS_IS = _done.throw
del _done


class InstallError(Exception):
    """The code object cannot be rewritten safely (the function stays interpreted)."""


def param_names(code):
    """Names of all parameters (keyword-only, *args and **kwargs too), in slot order."""
    return list(code.co_varnames[:param_count(code)])


class _Native:
    """The constant that stands for the native callable in a remembered installed code."""

    def __repr__(self):
        return "<native entry>"


_NATIVE = _Native()
_MADE = WeakTable()      # original code → {(with an entry, stub shapes): (code with _NATIVE, offsets)}
_KEPT_PER_CODE = 4       # shapes remembered per original code (a promotion asks for the last one)


def build_code(orig, native, layouts, installed=None):
    """The installed code object for `orig` calling `native`, with stubs for every exit layout
    (native None: the code of a resumption, whose prologue only takes the pushed state).
    When `installed` (a dict) is given, it receives each original instruction's offset in the
    installed code.  The code depends only on orig and the stubs' shapes besides native: one
    assembled before for the same shapes (a promotion, a resumption's code) is copied with
    native as its constant, instead of assembled again (a few ms a function)."""
    key = (native is not None, _stub_shapes(layouts))
    made = _MADE.get(orig)
    if made is None:
        made = _MADE[orig] = {}
    if key not in made:
        offsets = {}
        if len(made) >= _KEPT_PER_CODE:
            made.clear()
        made[key] = (_assemble(orig, _NATIVE if native is not None else None, layouts, offsets), offsets)
    template, offsets = made[key]
    if installed is not None:
        installed.update(offsets)
    return template.replace(co_consts=tuple(native if c is _NATIVE else c for c in template.co_consts))


def _stub_shapes(layouts):
    """The shapes of the installed code's stubs, in their numbers' order (deopt.stub_numbers)."""
    shapes = {}
    for _, lay in sorted(layouts.items()):
        shapes.setdefault(lay.shape(), len(shapes))
    return tuple(shapes)


def _assemble(orig, native, layouts, installed):
    """build_code's work: the original bytecode with the prologue and the stubs, assembled.
    Layout: what comes before RESUME, [3.12: the stubs' quiet jumps], RESUME, the prologue and
    the stubs, the original body as it was (its jumps are relative and its exception entries
    move with it), then the raise sites of exits with an exception, each covered by the handler
    of its resume instruction."""
    instrs, begins = _instructions(orig)
    at = {i.offset: i for i in instrs}
    mid_line = {b.offset for a, b in zip(instrs, instrs[1:])      # CPython came from the same line
                if b.positions.lineno is not None and a.positions.lineno == b.positions.lineno}
    first = None                                    # no line: tracers see no extra line event
    resume_at = next(i.offset for i in instrs if i.opname == "RESUME")
    body_at = resume_at + 2
    if begins[resume_at] != resume_at or any(i.opcode in dis.hasjrel and i.argval < body_at for i in instrs):
        raise InstallError("a jump of the original lands before its body")

    resume, raise_at, ends = {}, {}, {}             # labels at each resume instruction, its raise site
    for lay in layouts.values():
        off = lay.offset
        if off not in at or begins[off] < body_at:
            raise InstallError(f"no instruction of the body at offset {off}")
        resume.setdefault(off, Label())
        if lay.raises and off not in raise_at:
            raise_at[off], ends[off] = Label(), Label()

    body, slow, interpret = Label(), Label(), Label()
    loads, pro = [], []                  # native None: a resumption (deopt.Resumer), no native entry
    if native is not None:
        # the arguments (one an inner function captures is read from its cell: MAKE_CELL ran)
        loads = [Ins("LOAD_DEREF", n, first) if n in orig.co_cellvars else Ins("LOAD_FAST", n, first)
                 for n in param_names(orig)]
        # then the frame's cells (made before RESUME), in the order compiler.build.cells.cell_names gives
        loads += [Ins("LOAD_CLOSURE", n, first) for n in orig.co_cellvars + orig.co_freevars]
        pro = V.prologue_call(native, loads, first, Ins) + [
            Ins("COPY", 1, first), Ins("LOAD_CONST", SENTINEL, first),
            Ins("IS_OP", 0, first), Ins(V.JUMP_IF_TRUE, slow, first),
            Ins("COPY", 1, first), Ins("LOAD_CONST", INTERPRET, first),
            Ins("IS_OP", 0, first), Ins(V.JUMP_IF_TRUE, interpret, first),
            Ins("RETURN_VALUE", None, first),
            interpret, Ins("POP_TOP", None, first), Ins("JUMP_FORWARD", body, first),
            slow, Ins("POP_TOP", None, first)]
    pro += V.prologue_pop(STATES, "stack", first, Ins)       # no Python frame a tracer could see
    pro.append(Ins("UNPACK_SEQUENCE", 2, first))
    stubs = {}                           # stub number -> (label, a layout of its shape)
    for k, number in stub_numbers(layouts).items():
        if number not in stubs:
            stubs[number] = (Label(), layouts[k])
            pro += [Ins("COPY", 1, first), Ins("LOAD_CONST", number, first),
                    Ins("COMPARE_OP", "==", first), Ins(V.JUMP_IF_TRUE, stubs[number][0], first)]
    pro += [Ins("POP_TOP", None, first), Ins("POP_TOP", None, first), Ins("JUMP_FORWARD", body, first)]
    quiet = []                           # (label, jump): a stub's last jump, placed before RESUME
    depth = 0                            # the deepest stack a stub makes
    for lab, lay in stubs.values():
        loc = tuple(at[lay.offset].positions)
        jumps = []
        for with_exc in (True, False) if lay.raises else (False,):
            target = (raise_at if with_exc else resume)[lay.offset]
            if V.QUIET_JUMP_BEFORE_RESUME and (with_exc or lay.offset in mid_line):
                quiet.append((Label(), Ins("JUMP_FORWARD", target, loc)))
                jumps.append(Ins("JUMP_BACKWARD_NO_INTERRUPT", quiet[-1][0], first))
            else:
                jumps.append(Ins("JUMP_FORWARD", target, first))
        pro += [lab] + _stub(lay, jumps, first)
        depth = max(depth, len(lay.slots) + len(lay.local_names) + 4)

    items = [(0, resume_at)] if resume_at else []
    if quiet:
        # each jump after a NOP of its line that never runs: the NOP starts that line for
        # f_lineno's setter (pdb's jump), which skips it as unreachable, never the jump
        skip = Label()
        items += ([Ins("JUMP_FORWARD", skip, first)]
                  + [x for lab, jump in quiet for x in (Ins("NOP", None, jump.location), lab, jump)]
                  + [skip, Ins("NOP", None, first)])
    items += [(resume_at, body_at)] + pro + [body]
    cut = body_at                        # the body, cut where a resume label goes
    for off in sorted(resume):
        if begins[off] > cut:
            items.append((cut, begins[off]))
            cut = begins[off]
        items.append(resume[off])
    items.append((cut, len(orig.co_code)))
    handlers = []
    for off in sorted(raise_at):         # after a NOP of its line that never runs: no line starts
        loc = tuple(at[off].positions)   # at the raise (3.12 instruments a line's first instruction)
        items += [Ins("NOP", None, loc), raise_at[off], *_raise_as_is(loc), ends[off]]
        handlers.append((raise_at[off], ends[off], off))
    stacksize = max(orig.co_stacksize + max(len(loads) + 3, 4), depth)
    try:
        code, where = assemble(orig, items, stacksize, handlers)
    except AssemblyError as e:
        raise InstallError(str(e)) from None
    installed.update((off, where(off)) for off in at)
    return code


def _instructions(orig):
    """orig's instructions (EXTENDED_ARG and caches left out), and where each begins (its
    first EXTENDED_ARG's offset, where a jump to it lands)."""
    instrs, begins, pending = [], {}, None
    for i in dis.get_instructions(orig):
        if i.opname == "EXTENDED_ARG":
            pending = i.offset if pending is None else pending
        elif i.opname != "CACHE":
            instrs.append(i)
            begins[i.offset] = i.offset if pending is None else pending
            pending = None
    return instrs, begins


def _raise_as_is(loc):
    """Instructions raising the exception on top of the stack as it is: RAISE_AS_IS(exc) restores
    it (PyErr_Restore), so the error path of the CALL adds this frame to its traceback where the
    call is, as an exception coming out of a call does, and its __context__ stays what it was
    (RAISE_VARARGS would chain it to the exception being handled).  The RAISE after the call
    never runs: it ends the block, as a raise does."""
    return ([Ins("LOAD_CONST", RAISE_AS_IS, loc), Ins("PUSH_NULL", None, loc),
             Ins("SWAP", 3, loc)] + V.call_ops(1, loc, Ins)
            + [Ins("RAISE_VARARGS", 1, loc)])


def _stub(lay, jumps, loc):
    """Instructions that rebuild the stack and locals from the values tuple (deopt.Layout.values:
    locals, the exception or None, the stack items top to bottom), then jump to the resume
    instruction, or with an exception to its raise site (jumps: [raise,] resume).

    One UNPACK_SEQUENCE leaves the stack items in place, the exception above them and the locals
    on top; each local is stored, then the items that are not the value itself are put right
    where they sit (depth d: SWAP d, replace the top, SWAP d back)."""
    seq = [Ins("POP_TOP", None, loc),                          # the stub id
           Ins("UNPACK_SEQUENCE", len(lay.local_names) + 1 + len(lay.slots), loc)]
    in_locals = {n: p for kind, n, p in lay.from_params if kind == "local"}
    for name in lay.local_names:
        if name in in_locals:                  # the parameter's slot holds the argument itself
            seq.append(Ins("POP_TOP", None, loc))
            if in_locals[name] != name:
                seq += [Ins("LOAD_FAST", in_locals[name], loc), Ins("STORE_FAST", name, loc)]
        elif name in lay.maybe_unbound:        # UNBOUND: leave the local unbound, as it was
            store, done = Label(), Label()
            seq += [Ins("COPY", 1, loc), Ins("LOAD_CONST", UNBOUND, loc),
                    Ins("IS_OP", 0, loc), Ins(V.JUMP_IF_FALSE, store, loc),
                    Ins("POP_TOP", None, loc), Ins("JUMP_FORWARD", done, loc), store,
                    Ins("STORE_FAST", name, loc), done]
        else:
            seq.append(Ins("STORE_FAST", name, loc))
    on_stack = {at: p for kind, at, p in lay.from_params if kind == "stack"}
    for at, slot in enumerate(lay.slots):
        d = len(lay.slots) - at + 1            # its depth below the exception's place
        if slot.skip:                          # the NULL below a callable (None in the tuple)
            put = [Ins("POP_TOP", None, loc), Ins("PUSH_NULL", None, loc)]
        elif at in on_stack:                   # the argument itself, from its parameter's slot
            put = [Ins("POP_TOP", None, loc), Ins("LOAD_FAST", on_stack[at], loc)]
        elif slot.nullable:                    # UNBOUND: the NULL a comprehension saved
            keep = Label()
            put = [Ins("COPY", 1, loc), Ins("LOAD_CONST", UNBOUND, loc),
                   Ins("IS_OP", 0, loc), Ins(V.JUMP_IF_FALSE, keep, loc),
                   Ins("POP_TOP", None, loc), Ins("PUSH_NULL", None, loc), keep]
        else:
            continue
        seq += [Ins("SWAP", d, loc)] + put + [Ins("SWAP", d, loc)]
    if len(jumps) == 2:                        # the exception on top: raised, or None
        plain = Label()
        seq += [Ins("COPY", 1, loc), Ins("LOAD_CONST", None, loc),
                Ins("IS_OP", 0, loc), Ins(V.JUMP_IF_TRUE, plain, loc),
                jumps[0], plain]
    return seq + [Ins("POP_TOP", None, loc), jumps[-1]]


_BLOCK = ctypes.c_uint64 * 6   # one class for every block, made once (not garbage for the collector)


def entry_block():
    """The block a framed native call reads (cpython/pushframe.py): the native entry's address,
    the byte offset where the interpreter goes on after the prologue's call of it, the
    markers the entry returns for an exit and for "interpret", and (a function run natively
    only by native callers, point_framed) the code its frames run and the function; made
    before the native callable, which keeps it (the installed code holds the callable)."""
    return _BLOCK()


def point_entry_block(code, block, entry, native):
    """Fill block for the installed code and point code's co_extra at it: a native caller that
    pushes this code's frame itself then runs the native entry in it, and hands the frame to the
    interpreter right after the prologue's call when the entry exits.  Only for code whose
    prologue passes exactly the positional parameters (no cells, keyword-only or * parameters)."""
    if code.co_cellvars or code.co_freevars or param_count(code) != code.co_argcount:
        return
    after = _after_prologue_call(code, native)
    if after is None:
        return
    block[0], block[1], block[2], block[3] = entry, after, id(SENTINEL), id(INTERPRET)
    pushframe.set_native_entry(code, block)


def _after_prologue_call(code, native):
    """The offset of the instruction after the prologue's CALL of native (None: no such call);
    the prologue comes first, so only the instructions up to it are decoded."""
    seen = False
    for offset, name, arg, after in instructions(code):    # not dis: it reads the whole code first
        if name == "LOAD_CONST" and code.co_consts[arg] is native:
            seen = True
        elif seen and name == "CALL":
            return after
    return None


def point_framed(func, code, block):
    """Native callers that push a frame for func (which keeps its original code) run `code`
    in it instead, and its native entry: the original code's co_extra word points at code's
    block, which names code and func (another function of the same code runs its own).  False
    when code has no native entry block.  The caller keeps code alive until unframe."""
    if pushframe.native_entry_of(code) != ctypes.addressof(block) or not block[0]:
        return False
    block[4], block[5] = id(code), id(func)
    pushframe.set_native_entry(func.__code__, block)
    return True


def point_line_sites(sites, compiled, code, installed):
    """Give each line site of the module the address of its instruction in the installed code,
    and the code bounds theirs (a site left at 0 leaves the frame's line as it is)."""
    if capi.FRAMES is None:
        return
    start = id(code) + capi.FRAMES[2]
    bounds = {"lo": start, "hi": start + len(code.co_code)}
    for offset, name in sites.items():
        address = bounds.get(offset) if offset in bounds else \
            start + installed[offset] if offset in installed else None
        if address is not None:
            ctypes.c_int64.from_address(compiled[name]).value = address
