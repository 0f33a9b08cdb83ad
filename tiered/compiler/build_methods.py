"""Compiler stage 2e: method loads and calls on objects → [method, self] laid out as CPython does, guarded, native when frameless."""
import types

from ..cpython import capi
from ..cpython.quickened import method_cache, method_cache_version
from .exits import Known
from .ops import INT, OBJ, ObjType

# builtin types whose method calls skip the bound method (their instances have no __dict__)
METHOD_TYPES = (list, dict, str, tuple, set, frozenset, bytes, bytearray, int, float)
# methods that, on an exact instance and int arguments, run no Python code and raise before
# changing anything (a resumable callee may call them)
NO_PYTHON_METHODS = (list.pop,)


class Methods:
    """The method half of the object builder (mixed into Builder)."""

    def _load_builtin_method(self, name, st):
        """LOAD_ATTR of a method of an exact builtin type (the owner's class, or the one that
        CPython's specialisation saw, then guarded): CPython's [method, self] layout with the
        method descriptor known, so no bound method is made.  False when it does not apply: a
        builtin type cannot change and its instances have no __dict__, so the lookup is fixed."""
        owner = st.stack[-1]
        cls = owner.type.cls
        if owner.type == OBJ:
            version = method_cache_version(self.code, self.pre_offset, self._hint())
            cls = capi.type_with_version(version, METHOD_TYPES)
        if cls not in METHOD_TYPES:
            return False
        descr = next((k.__dict__[name] for k in cls.__mro__ if name in k.__dict__), None)
        if not isinstance(descr, types.MethodDescriptorType):
            return False
        self._as_class(st, -1, cls)
        st.stack.insert(len(st.stack) - 1, Known(descr))
        return True

    def _load_python_method(self, name, st):
        """LOAD_ATTR of a method of a plain class, where CPython's specialisation found it in
        the class and not in the instance: [function, self], guarded as CPython guards it (the
        class, its version, inline values, the version of its instances' shared keys).  False
        when it does not apply, or when what CPython cached is no longer so."""
        owner = st.stack[-1]
        cache = method_cache(self.code, self.pre_offset, self._hint())
        if cache is None or capi.CACHED_KEYS is None:
            return False
        version, keys, address = cache
        cls = capi.class_with_version(version)
        if cls is None or owner.type.cls not in (None, cls) or capi.keys_version(cls) != keys:
            return False
        func = next((k.__dict__[name] for k in cls.__mro__ if name in k.__dict__), None)
        if not isinstance(func, types.FunctionType) or id(func) != address:
            return False
        try:
            typed = ObjType(cls)
        except TypeError:                 # no weak references to it: the guard could not check it
            return False
        st.stack[-1] = self.emit("guard_method", [owner], {"cls": typed.ref, "version": version,
                                                            "keys": keys}, type=typed)
        st.stack.insert(len(st.stack) - 1, Known(func))
        return True

    def _call_python_method(self, func, i, st):
        """CALL of a plain class's method laid out as [function, self, args]: a native call of
        its frameless specialisation when there is one, else vectorcall of the function."""
        n = i.arg
        vals = self._top(st, n + 1)
        r = None if i.kwnames else self._call_python(func, vals)
        if r is None:
            vals = self._top(st, n + 2)
            r = self.emit("obj_call", vals, {"kwnames": i.kwnames} if i.kwnames else None)
        self._end_method_call(st, n, vals, r)

    def _end_method_call(self, st, n, vals, r):
        """After a method call of n arguments: release its operands, leave its result r in
        place of [method, self, args]."""
        for v in vals:
            self._release(v)
        del st.stack[-n - 2:]
        st.stack.append(r)

    def _call_builtin_method(self, descr, i, st):
        """CALL of a builtin type's method laid out as [method, self, args]: list.append
        natively, any other through vectorcall of the descriptor (no bound method)."""
        n = i.arg
        if descr is list.append and n == 1 and not i.kwnames:
            owner, item = self._top(st, 2)
            self.emit("list_append", [owner, item])
            r = self.const(None)
            vals = [owner, item]
        else:
            vals = self._top(st, n + 2)
            attrs = {"kwnames": i.kwnames} if i.kwnames else {}
            if descr in NO_PYTHON_METHODS and not i.kwnames and all(v.type == INT for v in vals[2:]):
                attrs["resumable"] = True         # it runs no Python code; it fails before any effect
            r = self.emit("obj_call", vals, attrs or None)
        self._end_method_call(st, n, vals, r)
