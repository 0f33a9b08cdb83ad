"""Base layer: code-object encodings. Instructions, labels and byte ranges of an existing code → a code object (bytecode, location table, exception table).

3.11 and 3.12 share these formats (CPython's Objects/locations.md and
Objects/exception_handling_notes.txt).  Ranges of the original code are copied byte for byte:
their jumps are relative, so they stay right wherever the range lands, and their exception
table entries move with them.
"""
import bisect
import dis
import itertools

_EXTENDED_ARG = dis.opmap["EXTENDED_ARG"]
_CACHES = dis._inline_cache_entries               # opcode → its inline cache entries
_BACKWARD = {op for name, op in dis.opmap.items() if "BACKWARD" in name}
# each instruction's opcode and what its argument names (resolved by _resolve)
_ROLES = {name: (op, "jump" if op in dis.hasjrel else "const" if op in dis.hasconst else
                 "local" if op in dis.haslocal else "cell" if op in dis.hasfree else
                 "name" if op in dis.hasname else "compare" if op in dis.hascompare else "number")
          for name, op in dis.opmap.items()}
# COMPARE_OP's argument for ==, as this CPython's compiler writes it (3.12 adds a mask)
_EQ = next(i.arg for i in dis.get_instructions(compile("a == b", "", "eval")) if i.opname == "COMPARE_OP")
_NO_POSITION = (None, None, None, None)


class AssemblyError(Exception):
    """The pieces cannot make a faithful code object (the caller keeps the original)."""


class Label:
    """A place in the code being assembled (a jump's target)."""

    __slots__ = ()


class Ins:
    """One instruction: its name, its argument (a Label for a jump, the object for LOAD_CONST,
    the name for local and cell ops, the name or (method flag, name) for name ops, "==" for
    COMPARE_OP, else the number) and its source position (a 4-tuple, None for none)."""

    __slots__ = ("name", "arg", "location")

    def __init__(self, name, arg=None, location=None):
        self.name, self.arg, self.location = name, arg, location


def assemble(orig, items, stacksize, handlers=()):
    """A code object like orig whose code is items in order: Ins, Label, or (start, end) byte
    ranges of orig's code, kept with their positions and the exception table entries inside
    them (the ranges in orig's order); handlers: (first, end, offset) labels whose code is
    covered by the handler covering orig's instruction at offset, if one does.  Returns the
    code and where(offset): an offset in orig's ranges → its offset in the code."""
    consts, names = list(orig.co_consts), list(orig.co_names)
    parts, places = _resolve(orig, items, consts, names)
    jumps = [k for k, p in enumerate(parts) if type(p) is list]
    marks = [(it, k) for k, it in enumerate(items) if type(it) is Label]
    sizes = [len(p) if type(p) is bytes else 2 * (1 + _CACHES[p[0]]) for p in parts]
    while True:                       # jumps grow EXTENDED_ARGs until every one fits
        starts = list(itertools.accumulate(sizes, initial=0))
        labels = {it: starts[k] for it, k in marks}
        grew = False
        for k in jumps:
            op, target, ext = parts[k]
            need = _ext(_jump_arg(op, starts[k], ext, labels[target]))
            if need > ext:
                parts[k][2], grew = need, True
                sizes[k] = 2 * (1 + need + _CACHES[op])
        if not grew:
            break
    for k in jumps:
        op, target, ext = parts[k]
        parts[k] = _encode(op, _jump_arg(op, starts[k], ext, labels[target]), ext)
    positions = []
    for place, size in zip(places, sizes):
        positions += place if type(place) is list else [place] * (size // 2)
    chunks = [(it[0], it[1], starts[k]) for k, it in enumerate(items) if type(it) is tuple]
    where = _mapper(chunks)
    table = _moved_handlers(orig, chunks, where, labels, handlers)
    made = orig.replace(co_code=b"".join(parts), co_consts=tuple(consts), co_names=tuple(names),
                        co_linetable=_line_table(positions, orig.co_firstlineno),
                        co_exceptiontable=_exception_table(table), co_stacksize=stacksize)
    if list(made.co_positions()) != positions:    # a traceback's line must never be wrong
        raise AssemblyError("the source positions did not survive")
    return made, where


def _encode(op, arg, ext=None):
    """One instruction's bytes: its EXTENDED_ARGs, itself and its caches."""
    ext = _ext(arg) if ext is None else ext
    out = bytearray()
    for j in range(ext, 0, -1):
        out += bytes((_EXTENDED_ARG, (arg >> (8 * j)) & 0xFF))
    out += bytes((op, arg & 0xFF))
    return bytes(out) + b"\0\0" * _CACHES[op]


def _resolve(orig, items, consts, names):
    """Each item's bytes (a label's: none; a jump's: [opcode, label, EXTENDED_ARGs] until laid
    out) and its positions (a range's: one per code unit; an instruction's: the one of all its
    units); new constants and names are appended to consts and names."""
    parts, places, encoded = [], [], {}
    const_at, name_at = {}, {n: i for i, n in enumerate(names)}
    local_at = {n: i for i, n in enumerate(orig.co_varnames)}
    cell_at = None
    code, orig_pos = orig.co_code, list(orig.co_positions())
    for it in items:
        kind = type(it)
        if kind is Label:
            parts.append(b"")
            places.append(_NO_POSITION)
            continue
        if kind is tuple:
            parts.append(code[it[0]:it[1]])
            places.append(orig_pos[it[0] // 2:it[1] // 2])
            continue
        op, role = _ROLES[it.name]
        arg = it.arg
        if role == "jump":
            if type(arg) is not Label:
                raise AssemblyError(f"{it.name} needs a label")
            part = [op, arg, 0]
        else:
            if role == "const":
                k = const_at.get(id(arg))
                if k is None:
                    k = const_at[id(arg)] = len(consts)
                    consts.append(arg)
                arg = k
            elif role == "local":
                arg = local_at[arg]
            elif role == "cell":
                cell_at = cell_at or _localsplus(orig)
                arg = cell_at[arg]
            elif role == "name":
                flag, name = arg if type(arg) is tuple else (None, arg)
                if name not in name_at:
                    name_at[name] = len(names)
                    names.append(name)
                arg = name_at[name] if flag is None else (name_at[name] << 1) | flag
            elif role == "compare":
                if arg != "==":
                    raise AssemblyError(f"comparison {arg!r}")
                arg = _EQ
            else:
                arg = arg or 0
            part = encoded.get((op, arg))
            if part is None:
                part = encoded[op, arg] = _encode(op, arg)
        parts.append(part)
        places.append(tuple(it.location) if it.location else _NO_POSITION)
    return parts, places


def instructions(code):
    """Lazily, a code's instructions from its start: (offset, name, argument with its
    EXTENDED_ARGs, offset of the next instruction)."""
    raw, ext, k = code.co_code, 0, 0
    while k < len(raw):
        op, arg = raw[k], raw[k + 1] | ext
        if op == _EXTENDED_ARG:
            ext, k = arg << 8, k + 2
            continue
        after = k + 2 + 2 * _CACHES[op]
        yield k, dis.opname[op], arg, after
        ext, k = 0, after


def _localsplus(code):
    """Name → index in the frame's fast locals (cells and free variables included)."""
    at, i = {}, 0
    while True:
        try:
            at.setdefault(code._varname_from_oparg(i), i)
        except IndexError:
            return at
        i += 1


def _ext(arg):
    """How many EXTENDED_ARGs an argument needs."""
    return 0 if arg < 1 << 8 else 1 if arg < 1 << 16 else 2 if arg < 1 << 24 else 3


def _jump_arg(op, start, ext, target):
    """A relative jump's argument: code units from the end of its instruction (with its
    EXTENDED_ARGs and caches) to the target, backwards for the BACKWARD ones."""
    after = start + 2 * (1 + ext + _CACHES[op])
    delta = (after - target) if op in _BACKWARD else (target - after)
    if delta < 0:
        raise AssemblyError(f"{dis.opname[op]} cannot jump that way")
    return delta // 2


def _mapper(chunks):
    """where(offset, end=False): orig's offset → the code's, through the ranges that hold it
    (end: an exclusive end, which may be a range's own end)."""
    firsts = [c[0] for c in chunks]

    def where(offset, end=False):
        k = bisect.bisect_left(firsts, offset) - 1 if end else bisect.bisect_right(firsts, offset) - 1
        if k < 0 or not (chunks[k][0] <= offset <= chunks[k][1] if end else offset < chunks[k][1]):
            raise AssemblyError(f"offset {offset} is in no range")
        return chunks[k][2] + offset - chunks[k][0]
    return where


def _moved_handlers(orig, chunks, where, labels, handlers):
    """orig's exception table entries (start, end, target, depth, lasti), in byte offsets,
    moved with their ranges, and the added handlers' entries, ordered by start."""
    moved, entries = [], _parse_exception_table(orig.co_exceptiontable)
    for start, end, target, depth, lasti in entries:
        s, e = where(start), where(end, end=True)
        if e - s != end - start:
            raise AssemblyError("an exception table entry spans code that was put between")
        moved.append((s, e, where(target), depth, lasti))
    for first, last, offset in handlers:
        for start, end, target, depth, lasti in entries:
            if start <= offset < end:
                moved.append((labels[first], labels[last], where(target), depth, lasti))
                break
    return sorted(moved)


def _parse_exception_table(table):
    """The entries of an exception table, in byte offsets."""
    out, k = [], 0

    def varint():
        nonlocal k
        b = table[k]
        k += 1
        value = b & 63
        while b & 64:
            b = table[k]
            k += 1
            value = (value << 6) | (b & 63)
        return value
    while k < len(table):
        start = varint() * 2
        end = start + varint() * 2
        target = varint() * 2
        dl = varint()
        out.append((start, end, target, dl >> 1, dl & 1))
    return out


def _exception_table(entries):
    """Entries (byte offsets) → an exception table: big-endian 6-bit groups, 64 marking more,
    128 marking an entry's first byte."""
    out = bytearray()

    def item(value, first=0):
        groups = [value & 63]
        value >>= 6
        while value:
            groups.append(value & 63)
            value >>= 6
        for k in range(len(groups) - 1, -1, -1):
            out.append(groups[k] | (64 if k else 0) | (first if k == len(groups) - 1 else 0))
    for start, end, target, depth, lasti in entries:
        item(start // 2, 128)
        item((end - start) // 2)
        item(target // 2)
        item((depth << 1) | lasti)
    return bytes(out)


def _line_table(positions, firstline):
    """Per code unit positions → a location table: runs of up to 8 equal ones, each as no
    position (15), line only (13) or the long form (14)."""
    out, line, k, n = bytearray(), firstline, 0, len(positions)
    while k < n:
        p, j = positions[k], k + 1
        while j < n and j - k < 8 and positions[j] == p:
            j += 1
        start, end, col, end_col = p
        if start is None and p != (None, None, None, None) or start is not None and end is None:
            raise AssemblyError(f"position {p} has no encoding")
        if start is None:
            out.append(0x80 | (15 << 3) | (j - k - 1))
        elif col is None and end_col is None and end == start:
            out.append(0x80 | (13 << 3) | (j - k - 1))
            _svarint(out, start - line)
            line = start
        else:
            out.append(0x80 | (14 << 3) | (j - k - 1))
            _svarint(out, start - line)
            _varint(out, end - start)
            _varint(out, 0 if col is None else col + 1)
            _varint(out, 0 if end_col is None else end_col + 1)
            line = start
        k = j
    return bytes(out)


def _varint(out, value):
    """A location table number: little-endian 6-bit groups, 64 marking more."""
    while value >= 64:
        out.append(64 | (value & 63))
        value >>= 6
    out.append(value)


def _svarint(out, value):
    """A signed location table number: the sign in the lowest bit."""
    _varint(out, ((-value) << 1) | 1 if value < 0 else value << 1)
