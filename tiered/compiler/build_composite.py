"""Compiler stage 2f: slices, f-strings, star-unpacking, constant-key dicts, del x[k] (values made of
others, and calls with *args) → object ops."""
from ..cpython import capi
from .exits import NULL, VTuple
from .infer import Unsupported
from .ops import ObjType, is_obj

CONVERSIONS = {0: None, 1: "PyObject_Str", 2: "PyObject_Repr", 3: "PyObject_ASCII"}


class Composites:
    """The slices-and-strings part of the builder (mixed into Builder).  Each instruction's
    operands are released after its op, which exits before any count changes."""

    def _finish(self, st, operands, result, pops):
        """Release the operands, pop `pops` stack slots and push the result (if any)."""
        for v in operands:
            self._release(v)
        del st.stack[len(st.stack) - pops:]
        if result is not None:
            st.stack.append(result)

    def _op_format_value(self, i, st, block, out):
        """FORMAT_VALUE: str()/repr()/ascii() when asked, then format() with the spec if any."""
        conv, has_spec = i.arg
        operands = self._top(st, 2 if has_spec else 1)
        r = self.emit("obj_format", operands, {"conv": CONVERSIONS[conv]}, type=ObjType(str))
        self._finish(st, operands, r, len(operands))

    def _op_build_string(self, i, st, block, out):
        """BUILD_STRING: the strings joined into one."""
        parts = self._top(st, i.arg)
        if not all(p.type.cls is str for p in parts):
            raise Unsupported("UNSUPPORTED_TYPE", "BUILD_STRING of something other than str")
        r = self.emit("build_string", parts, type=ObjType(str))
        self._finish(st, parts, r, i.arg)

    def _op_build_slice(self, i, st, block, out):
        """BUILD_SLICE: a slice object of start, stop (and step)."""
        parts = self._top(st, i.arg)
        r = self.emit("build_slice", parts, type=ObjType(slice))
        self._finish(st, parts, r, i.arg)

    def _op_binary_slice(self, i, st, block, out):
        """BINARY_SLICE (3.12): container[start:stop]."""
        operands = self._top(st, 3)
        if not is_obj(operands[0].type):
            raise Unsupported("UNSUPPORTED_TYPE", f"slice of {operands[0].type}")
        r = self.emit("obj_getslice", operands)
        self._finish(st, operands, r, 3)

    def _op_store_slice(self, i, st, block, out):
        """STORE_SLICE (3.12): container[start:stop] = value."""
        value, container, start, stop = self._top(st, 4)
        if not is_obj(container.type):
            raise Unsupported("UNSUPPORTED_TYPE", f"slice of {container.type}")
        self.emit("obj_setslice", [container, start, stop, value])
        self._finish(st, [value, container, start, stop], None, 4)

    def _op_list_extend(self, i, st, block, out):
        """LIST_EXTEND: the list below gets the items of a list or tuple (what 3.12 builds
        constant lists with, and [*a]); other iterables stay in CPython, whose message for a
        non-iterable is its own."""
        items = self._top(st, 1)[0]
        target = st.stack[-1 - i.arg]
        if items.type.cls not in (list, tuple) or getattr(target, "type", None) != ObjType(list):
            raise Unsupported("UNSUPPORTED_TYPE", "LIST_EXTEND of something other than a list or tuple")
        self.emit("list_extend", [target, items])
        self._finish(st, [items], None, 1)


    def _op_list_to_tuple(self, i, st, block, out):
        """LIST_TO_TUPLE (3.11) / CALL_INTRINSIC_1 (3.12): the list built for (*a, *b) as a tuple."""
        items = self._top(st, 1)[0]
        if items.type.cls is not list:
            raise Unsupported("UNSUPPORTED_TYPE", "LIST_TO_TUPLE of something other than a list")
        r = self.emit("list_to_tuple", [items], type=ObjType(tuple))
        self._finish(st, [items], r, 1)

    def _op_call_ex(self, i, st, block, out):
        """CALL_FUNCTION_EX: callable(*args[, **kwargs]) for a tuple (or list) of args and the
        call's own keyword dict; other iterables stay in CPython, whose message for a
        non-iterable is its own."""
        n = 2 + (i.arg & 1)
        if st.stack[-1 - n] is not NULL:
            raise Unsupported("UNSUPPORTED_CALL", "CALL_FUNCTION_EX without its NULL")
        operands = self._top(st, n)
        fn, args, kwargs = operands[0], operands[1], operands[2:]
        if kwargs and kwargs[0].type != ObjType(dict):
            raise Unsupported("UNSUPPORTED_CALL", "**kwargs not gathered in a dict")
        if args.type.cls is list:
            tupled = self.emit("list_to_tuple", [args], type=ObjType(tuple))
            r = self.emit("obj_call_ex", [fn, tupled] + kwargs)
            self._release(tupled)
        elif args.type.cls is tuple:
            r = self.emit("obj_call_ex", [fn, args] + kwargs)
        else:
            raise Unsupported("UNSUPPORTED_CALL", "*args of something other than a tuple or list")
        self._finish(st, operands, r, n + 1)

    def _op_dict_update(self, i, st, block, out):
        """DICT_UPDATE ({**x}): the dict below is updated from x."""
        x = self._top(st, 1)[0]
        target = st.stack[-1 - i.arg]
        if not is_obj(x.type) or getattr(target, "type", None) != ObjType(dict):
            raise Unsupported("UNSUPPORTED_TYPE", "DICT_UPDATE of something other than objects")
        self.emit("dict_update", [target, x])
        self._finish(st, [x], None, 1)

    def _op_dict_merge(self, i, st, block, out):
        """DICT_MERGE (f(k=1, **x)): only an exact dict x merged first into the call's new
        keyword dict, whose keys are the call's constant keyword names (dict_merge checks x
        has none of them); the rest stays in CPython, whose messages name the function called."""
        x = self._top(st, 1)[0]
        target = st.stack[-1 - i.arg]
        names = getattr(target, "args", [])[0::2]
        if (getattr(target, "op", None) != "build_map" or target.attrs.get("merged")
                or any(k.op != "obj_const" or type(k.attrs["value"]) is not str for k in names)
                or x.type != ObjType(dict) or capi.DICT_KEYS is None):
            raise Unsupported("UNSUPPORTED_CALL", "**x of something other than one exact dict")
        target.attrs["merged"] = True
        self.emit("dict_merge", [target, x], {"names": tuple(k.attrs["value"] for k in names)})
        self._finish(st, [x], None, 1)

    def _op_set_update(self, i, st, block, out):
        """SET_UPDATE ({*x}): the set below gets x's items."""
        x = self._top(st, 1)[0]
        target = st.stack[-1 - i.arg]
        if not is_obj(x.type) or getattr(target, "type", None) != ObjType(set):
            raise Unsupported("UNSUPPORTED_TYPE", "SET_UPDATE of something other than objects")
        self.emit("set_update", [target, x])
        self._finish(st, [x], None, 1)

    def _op_build_const_key_map(self, i, st, block, out):
        """BUILD_CONST_KEY_MAP: a dict of the values below and the constant keys on top (the
        module keeps the keys alive; PyDict_SetItem takes its own references)."""
        names = st.stack[-1]
        if isinstance(names, VTuple):
            keys = list(names.items)
        elif getattr(names, "op", None) == "obj_const" and type(names.attrs["value"]) is tuple:
            keys = [self.emit("obj_const", [], {"value": k}, type=ObjType(type(k)))
                    for k in names.attrs["value"]]
        else:
            raise Unsupported("UNSUPPORTED_TYPE", "BUILD_CONST_KEY_MAP without constant keys")
        values = self._top(st, i.arg + 1)[:-1]
        r = self.emit("build_map", [x for kv in zip(keys, values) for x in kv], type=ObjType(dict))
        self._release_item(st.stack.pop())
        self._finish(st, values, r, i.arg)

    def _op_delete_subscr(self, i, st, block, out):
        """DELETE_SUBSCR: del container[key] through PyObject_DelItem."""
        container, key = self._top(st, 2)
        if not is_obj(container.type):
            raise Unsupported("UNSUPPORTED_TYPE", f"del of {container.type}[...]")
        self.emit("obj_delitem", [container, key])
        self._finish(st, [container, key], None, 2)

    def _op_before_with(self, i, st, block, out):
        """BEFORE_WITH: the manager is replaced by its bound __exit__, and what its __enter__()
        returned is pushed (before_with looks both up, calls, and raises as CPython does)."""
        mgr = self._top(st, 1)[0]                 # a known object (a global lock) as a value too
        if not is_obj(mgr.type):
            raise Unsupported("UNSUPPORTED_TYPE", f"with on {mgr.type}")
        exit_ = self.emit("before_with", [mgr])
        entered = self.emit("with_entered", [exit_])
        self._release(mgr)
        st.stack[-1] = exit_
        st.stack.append(entered)

    def _op_build_set(self, i, st, block, out):
        """BUILD_SET: a new set of the items (PySet_Add takes its own references: the items'
        are released after)."""
        items = self._top(st, i.arg)
        r = self.emit("build_set", items, type=ObjType(set))
        for v in items:
            self._release(v)
        del st.stack[len(st.stack) - i.arg:]
        st.stack.append(r)

    def _op_set_add(self, i, st, block, out):
        """SET_ADD (a set comprehension): add the popped item to the set below."""
        self._add_to(i, st, set, "set_add")
