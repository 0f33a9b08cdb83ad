"""Compiler stage 2d: instructions on Python objects → reference-counted object ops and guarded fast paths.

The reference rule is CPython's: every place that holds an object (a local, a stack slot,
a virtual iterator) owns one reference to it.  Pushing a local's value takes a reference,
popping releases one, an instruction releases its operands after its result exists, and
an exit hands every place's reference to the interpreter's frame.  Ops that may exit come
before any count changes of their instruction, so an exit always sees the state before it.
"""
from ..cpython import capi
from ..cpython.quickened import SPECIALISED_BINARY, attr_cache, specialisation_failed
from .exits import SeqIter, VTuple
from .infer import Unsupported
from .ir import Value
from .ops import BOOL, FLOAT, INT, NONE, OBJ, PLAIN_INSTANCES, ObjType, is_obj

SEQUENCES = (list, tuple)
# builtin containers whose iteration runs no Python code (may be frameless) → their iterator's class
C_ITERATORS = {dict: type(iter({})), set: type(iter(set())), frozenset: type(iter(frozenset()))}
# a specialised instruction of CPython's → the class its operands had
_HINT_CLASS = {"BINARY_SUBSCR_LIST_INT": list, "BINARY_SUBSCR_TUPLE_INT": tuple,
               "STORE_SUBSCR_LIST_INT": list, "FOR_ITER_LIST": list, "FOR_ITER_TUPLE": tuple}


class Objects:
    """The object half of the builder (mixed into Builder)."""

    def _acquire(self, v):
        """A new place holds v: take a reference when it is an object."""
        if is_obj(v.type):
            self.emit("incref", [v])

    def _release(self, v):
        """A place let go of v: release its reference when it is an object."""
        if is_obj(v.type):       # at: a destructor sees the frame at this instruction
            self.emit("xdecref" if v.attrs.get("maybe_null") else "decref", [v], {"at": self.pre_offset})

    def _release_item(self, item):
        """Release whatever a stack item owns (a value, a virtual tuple's items, an iterator's
        sequence)."""
        if isinstance(item, Value):
            self._release(item)
        elif isinstance(item, VTuple):
            for x in item.items:
                self._release(x)
        elif isinstance(item, SeqIter):
            self._release(item.seq)

    def _object_constant(self, obj):
        """A new place holding a constant object (a str, a global's value): an object value
        typed by its class, with its reference."""
        v = self.emit("obj_const", [], {"value": obj}, type=ObjType(type(obj)))
        self._acquire(v)
        return v

    def _hint(self, offset=None):
        """CPython's specialised name for the instruction at offset (the current one by default)."""
        return self.hints.get(self.pre_offset if offset is None else offset, "")

    def _as_class(self, st, pos, cls):
        """The stack item at pos (negative) guarded to be exactly of cls (exit if not); the
        guarded value replaces it in the slot, which keeps its one reference."""
        v = st.stack[pos]
        if v.type.cls is cls:
            return v
        if v.type != OBJ:
            raise Unsupported("UNSUPPORTED_TYPE", f"{v.type} used as {cls.__name__}")
        g = self.emit("guard_class", [v], {"cls": cls}, type=ObjType(cls))
        st.stack[pos] = g
        return g

    # ---- numbers inside objects ----------------------------------------------------------
    def _numbers(self, i, x, y):
        """Operands for numeric code, or None when the operation must be generic.  An object
        operand is unboxed under a guard, to the type CPython saw (the instruction's
        specialisation) or else to the other operand's number type; an object of a known
        class (not int or float: those are numbers already) is never a number.  When CPython
        tried to specialise this instruction and gave up, it saw types it has no fast path
        for (a float compared with an int, say): the operation stays generic."""
        hint = self._hint()
        want = FLOAT if "FLOAT" in hint else INT if "INT" in hint else None
        if (want is None and (i.op != "binary" or i.arg in SPECIALISED_BINARY)
                and specialisation_failed(self.code, self.pre_offset)):
            return None
        out = []
        for v, other in ((x, y), (y, x)):
            if not is_obj(v.type):
                out.append(v)
                continue
            t = want or (other.type if other.type in (INT, FLOAT) else None)
            if v.type.cls is not None or t is None:
                return None
            out.append(self.emit("unbox_float" if t == FLOAT else "unbox_int", [v]))
        return out

    def _operate(self, i, st, numeric, generic):
        """BINARY_OP / COMPARE_OP: replace the top two values by the result, numeric (the
        function `numeric(builder, sym, x, y)`) when both are or can be numbers, else the
        C-API op `generic`; object operands are released after the result exists."""
        x, y = self._top(st, 2)
        nums = self._numbers(i, x, y) if (is_obj(x.type) or is_obj(y.type)) else (x, y)
        if nums is None:
            r = self.emit(generic, [x, y], {"sym": i.arg, "inplace": i.inplace})
        else:
            r = numeric(self, i.arg, *nums)
        self._release(x)
        self._release(y)
        del st.stack[-2:]
        st.stack.append(r)

    def _object_truth(self, cond):
        """The truth of an object (its __bool__ or __len__ may raise: then the interpreter does)."""
        t = self.emit("obj_truth", [cond])
        self._release(cond)
        return t

    # ---- containers ------------------------------------------------------------------------
    def _op_subscr(self, i, st, block, out):
        """BINARY_SUBSCR: list/tuple[int] on the fast path, any other object through the C-API."""
        seq, key = self._top(st, 2)
        if not is_obj(seq.type):
            raise Unsupported("UNSUPPORTED_TYPE", f"subscript of {seq.type}")
        cls = seq.type.cls or _HINT_CLASS.get(self._hint())
        if cls in SEQUENCES and key.type in (INT, BOOL):
            seq = self._as_class(st, -2, cls)
            r = self.emit("seq_getitem", [seq, key])
        else:           # an exact dict read by an object key may be frameless (lower_objects)
            r = self.emit("obj_getitem", [seq, key],
                          {"frameless": True} if cls is dict and is_obj(key.type) else None)
        self._release(seq)
        self._release(key)
        del st.stack[-2:]
        st.stack.append(r)

    def _op_store_subscr(self, i, st, block, out):
        """STORE_SUBSCR: list[int] = value on the fast path (the list takes its own reference),
        anything else through PyObject_SetItem."""
        value, seq, key = self._top(st, 3)
        if not is_obj(seq.type):
            raise Unsupported("UNSUPPORTED_TYPE", f"{seq.type}[{key.type}] = ...")
        cls = seq.type.cls or _HINT_CLASS.get(self._hint())
        if cls is list and key.type in (INT, BOOL):
            seq = self._as_class(st, -2, list)
            self.emit("list_setitem", [seq, key, value])
        else:
            self.emit("obj_setitem", [seq, key, value])
        for v in (value, seq, key):
            self._release(v)
        del st.stack[-3:]

    def _seq_get_iter(self, st):
        """GET_ITER on a list or tuple that a for loop runs over: a virtual iterator that takes
        over the slot's reference; anything else (an iterator handed to a generator
        expression or a 3.11 comprehension) is a real iterator object."""
        seq = st.stack[-1]
        loop = self._loop_over(self.k)
        cls = seq.type.cls or (_HINT_CLASS.get(self._hint(loop.offset)) if loop else None)
        if cls in SEQUENCES and loop is not None:
            seq = self._as_class(st, -1, cls)
            st.stack[-1] = SeqIter(seq, self.const(0))
            return
        it_cls = C_ITERATORS.get(seq.type.cls)  # any other iterable: its real iterator
        it = self.emit("obj_iter", [seq], {"frameless": True} if it_cls else None,
                       type=ObjType(it_cls) if it_cls else None)
        self._release(seq)
        st.stack[-1] = it

    def _iter_for_iter(self, i, st, block, out):
        """FOR_ITER over an iterator object: its next item, or the end (the iterator goes)."""
        it = st.stack[-1]
        item = self.emit("iter_next", [it], {"frameless": True} if it.type.cls in C_ITERATORS.values() else None)
        more = self.emit("bool_not", [self.emit("is_null", [item])])
        self.emit("release_unless", [it, more], {"at": self.pre_offset})
        return self._for_iter_edges(i, st, block, out, more, it, item)

    def _seq_for_iter(self, i, st, block, out):
        """FOR_ITER over a list or tuple: the length is read at every step (a list may change
        while it is iterated); when done, the iterator's reference to the sequence goes."""
        it = st.stack[-1]
        more = self.emit("int_cmp", [it.index, self.emit("seq_len", [it.seq])], {"pred": "<"})
        item = self.emit("seq_next", [it.seq, it.index, more])
        self.emit("release_unless", [it.seq, more], {"at": self.pre_offset})
        nxt = SeqIter(it.seq, self.emit("int_add_wrap", [it.index, self.const(1)]))
        return self._for_iter_edges(i, st, block, out, more, nxt, item)

    def _for_iter_edges(self, i, st, block, out, more, advanced, item):
        """End a FOR_ITER block: the body gets the advanced iterator and the item, the exit
        edge the stack without the iterator."""
        body = st.copy()
        body.stack[-1] = advanced
        body.stack.append(item)
        done = st.copy()
        done.stack.pop()
        nxt = self._next_offset(i)
        out[(block.offset, nxt)] = body
        out[(block.offset, i.target)] = done
        block.term = ("cbr", more, nxt, i.target)
        return True

    # ---- attributes and calls --------------------------------------------------------------
    def _load_attr_obj(self, name, st):
        """LOAD_ATTR on an object (not a method call): as CPython's specialisation of it read
        it when there is one, else through the C-API; the owner is released after."""
        owner = st.stack[-1]
        cache = attr_cache(self.code, self.pre_offset, self._hint())
        if self.frameless and cache is not None and owner.type == OBJ:
            owner = self._narrow(st, cache[1])
        r = self.emit("getattr", [owner], {"name": name, "cache": cache})
        self._release(owner)
        st.stack[-1] = r

    def _narrow(self, st, version):
        """The object on top of the stack guarded to be of the class whose version CPython's
        cache holds (a frameless read exits on any other class anyway), in its slot and in the
        locals that hold it: the calls that follow then know its class."""
        owner = st.stack[-1]
        cls = capi.class_with_version(version)
        try:
            typed = ObjType(cls) if cls is not None else None
        except TypeError:                 # no weak references to it: the guard could not check it
            typed = None
        if typed is None:
            return owner
        g = self.emit("guard_class", [owner], {"cls": cls}, type=typed)
        st.stack[-1] = g
        for name, v in st.locals.items():
            if v is owner:
                st.locals[name] = g
        return g

    def _op_list_append(self, i, st, block, out):
        """LIST_APPEND (a list comprehension): append the popped value to the list below."""
        self._add_to(i, st, list, "list_append")

    def _add_to(self, i, st, cls, op):
        """LIST_APPEND / SET_ADD: `op` adds the popped item to the container of class cls that
        sits i.arg below it (it takes its own reference; the item's is released)."""
        item = self._top(st, 1)[0]
        target = st.stack[-1 - i.arg]
        if not (isinstance(target, Value) and target.type.cls is cls):
            raise Unsupported("UNSUPPORTED_TYPE", f"adding to something other than a {cls.__name__}")
        self.emit(op, [target, item])
        self._release(item)
        st.stack.pop()

    def _op_map_add(self, i, st, block, out):
        """MAP_ADD (a dict comprehension): set the popped key and value in the dict below."""
        key, value = self._top(st, 2)
        target = st.stack[-2 - i.arg]
        if not (isinstance(target, Value) and target.type.cls is dict):
            raise Unsupported("UNSUPPORTED_TYPE", "MAP_ADD to something other than a dict")
        self.emit("obj_setitem", [target, key, value])
        self._release(key)
        self._release(value)
        del st.stack[-2:]

    def _call_with_objects(self, fn, vals):
        """A builtin called with objects: len() (read directly from a list or tuple),
        isinstance(); the arguments are released after."""
        if fn is len and len(vals) == 1:
            r = self.emit("seq_len" if vals[0].type.cls in SEQUENCES else "obj_len", [vals[0]])
        elif fn is isinstance and len(vals) == 2:
            r = self._isinstance(*vals)
            if r is None:
                return None
        else:
            return None
        for v in vals:
            self._release(v)
        return r

    def _isinstance(self, x, cls):
        """isinstance(x, cls): of a number or an object of an exact builtin class, answered now
        when cls is a plain class (no metaclass can change the answer, and a builtin's class
        hierarchy is fixed); of any other object, tested natively (None: call the builtin)."""
        if not is_obj(x.type):
            c = cls.attrs.get("value") if cls.op == "obj_const" else None
            if type(c) is not type or x.type == NONE:
                return None
            return self.const(c in {INT: int, FLOAT: float, BOOL: bool}[x.type].__mro__)
        plain = cls.op == "obj_const" and type(cls.attrs.get("value")) is type     # no __instancecheck__
        if plain and x.type.cls in PLAIN_INSTANCES:         # a builtin's bases never change
            return self.const(issubclass(x.type.cls, cls.attrs["value"]))
        return self.emit("obj_isinstance", [x, cls], {"plain": plain})

    # ---- identity, membership, attribute stores, lists -------------------------------------
    def _op_is(self, i, st, block, out):
        """IS_OP: identity of two objects or of an object and None; on numbers only where the
        answer is fixed (a number is not None)."""
        x, y = self._top(st, 2)
        kinds = {is_obj(x.type) or x.type == NONE, is_obj(y.type) or y.type == NONE}
        if x.type == NONE and y.type == NONE:
            r = self.const(True)
        elif kinds == {True}:
            r = self.emit("same_object", [self._none_or(x), self._none_or(y)])
        elif NONE in (x.type, y.type):
            r = self.const(False)                 # a number is never None
        else:
            raise Unsupported("UNSUPPORTED_TYPE", f"{x.type} is {y.type}")
        for v in (x, y):
            self._release(v)
        del st.stack[-2:]
        st.stack.append(self.emit("bool_not", [r]) if i.arg else r)

    def _is_none(self, v):
        """`v is None` as a bool (v is released: the branch pops it)."""
        if v.type == NONE:
            return self.const(True)
        if not is_obj(v.type):
            return self.const(False)
        r = self.emit("same_object", [v, self._none_or(self.const(None))])
        self._release(v)
        return r

    def _none_or(self, v):
        """v, or the None object for the None constant (borrowed: None lives forever)."""
        return self.emit("obj_const", [], {"value": None}, type=ObjType(type(None))) if v.type == NONE else v

    def _op_contains(self, i, st, block, out):
        """CONTAINS_OP: `x in container` through PySequence_Contains (a number is boxed)."""
        x, c = self._top(st, 2)
        if not is_obj(c.type):
            raise Unsupported("UNSUPPORTED_TYPE", f"in {c.type}")
        r = self.emit("obj_contains", [c, x])
        for v in (x, c):
            self._release(v)
        del st.stack[-2:]
        st.stack.append(self.emit("bool_not", [r]) if i.arg else r)

    def _op_store_attr(self, i, st, block, out):
        """STORE_ATTR: owner.name = value as CPython's specialisation of it stores it when there is
        one, else through PyObject_SetAttr (a number is boxed)."""
        value, owner = self._top(st, 2)
        if not is_obj(owner.type):
            raise Unsupported("UNSUPPORTED_TYPE", f"attribute store on {owner.type}")
        cache = attr_cache(self.code, self.pre_offset, self._hint())
        # a store as CPython specialised it runs no Python code when native (lower_attrs)
        self.emit("obj_setattr", [owner, value], {"name": i.arg, "cache": cache, "resumable": cache is not None and capi.ATTRIBUTES is not None})
        self._release(value)
        self._release(owner)
        del st.stack[-2:]

    def _op_build_map(self, i, st, block, out):
        """BUILD_MAP: a new dict of the key/value pairs, which are released after it exists."""
        items = self._top(st, 2 * i.arg)
        r = self.emit("build_map", items, type=ObjType(dict))
        for v in items:
            self._release(v)
        del st.stack[len(st.stack) - 2 * i.arg:]
        st.stack.append(r)

    def _materialise(self, st, k):
        """The virtual tuple at stack slot k as a real tuple (its items' references move in)."""
        t = st.stack[k]
        st.stack[k] = self.emit("build_tuple", list(t.items), type=ObjType(tuple))
        return st.stack[k]

    def _op_build_list(self, i, st, block, out):
        """BUILD_LIST: a new list; the items' references move into it (numbers are boxed)."""
        items = self._top(st, i.arg)
        r = self.emit("build_list", items, type=ObjType(list))
        del st.stack[len(st.stack) - i.arg:]
        st.stack.append(r)
