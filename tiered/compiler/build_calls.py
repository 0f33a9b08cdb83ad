"""Compiler stage 2c: globals, module attributes and calls → guarded known objects, native calls, builtins."""
import types

from . import infer
from .exits import NULL, Known, RangeArgs
from .infer import Unsupported
from .ir import Value
from .ops import BOOL, INT, NONE, OBJ, is_obj


class NeedReturnType(Exception):
    """A self-recursive call was met before the function's return type is known."""


class Calls:
    """The names-and-calls half of the builder (mixed into Builder)."""

    def _op_load_global(self, i, st, block, out):
        """LOAD_GLOBAL: push the guarded global or builtin (NULL first when asked)."""
        name, push_null = i.arg
        where = self.globals if name in self.globals else self.builtins
        if name not in where:
            raise Unsupported("UNSUPPORTED_OPCODE", f"global {name} is not defined")
        obj = where[name]
        self.emit("guard_global", [], {"dict": self.globals, "name": name, "expected": obj,
                                       "builtins": self.builtins})
        if push_null:
            st.stack.append(NULL)
        st.stack.append(self._known_or_value(obj))

    def _op_load_attr(self, i, st, block, out):
        """LOAD_ATTR: replace a known module by its guarded attribute (NULL below for a method),
        or an object by its attribute."""
        name, is_method = i.arg
        owner = st.stack[-1]
        if isinstance(owner, Value) and is_obj(owner.type):
            if is_method and (self._load_builtin_method(name, st) or self._load_python_method(name, st)):
                return
            self._load_attr_obj(name, st)
            if is_method:                 # the bound method, called with nothing below it
                st.stack.insert(len(st.stack) - 1, NULL)
            return
        if not (isinstance(owner, Known) and isinstance(owner.obj, types.ModuleType)):
            raise Unsupported("UNSUPPORTED_OPCODE", f"attribute {name}")
        d = owner.obj.__dict__
        if name not in d:
            raise Unsupported("UNSUPPORTED_OPCODE", f"module attribute {name} missing")
        self.emit("guard_global", [], {"dict": d, "name": name, "expected": d[name], "builtins": None})
        st.stack.pop()
        if is_method:
            st.stack.append(NULL)
        st.stack.append(self._known_or_value(d[name]))

    def _known_or_value(self, obj):
        """A constant for a supported scalar, else the object as Known."""
        if infer.type_of_constant(obj) is not None:
            return self.const(obj)
        return Known(obj)

    def _op_call(self, i, st, block, out):
        """CALL: range(), a native call of a compiled function, a specialised builtin, or any
        other call (keyword arguments too) through PyObject_Vectorcall."""
        n = i.arg
        callee, below = st.stack[-n - 1], st.stack[-n - 2]
        if below is not NULL:
            if isinstance(below, Known) and isinstance(below.obj, types.FunctionType):
                return self._call_python_method(below.obj, i, st)
            if isinstance(below, Value) and is_obj(below.type):   # [callable, self, args]: a
                vals = self._top(st, n + 2)                      # with's __exit__(None, None, None)
                r = self.emit("obj_call", vals, {"kwnames": i.kwnames} if i.kwnames else None)
                return self._end_method_call(st, n, vals, r)
            if not (isinstance(below, Known) and isinstance(below.obj, types.MethodDescriptorType)):
                raise Unsupported("UNSUPPORTED_CALL", "a method call laid out as [method, self]")
            return self._call_builtin_method(below.obj, i, st)
        vals = self._top(st, n)
        known = isinstance(callee, Known) and not i.kwnames
        r = self._call_known(callee.obj, vals) if known else None
        if r is None:
            fn = self._top(st, n + 1)[0]
            r = self.emit("obj_call", [fn] + vals, {"kwnames": i.kwnames} if i.kwnames else None)
            self._release(fn)
            for v in vals:
                self._release(v)
        del st.stack[-n - 2:]
        st.stack.append(r)

    def _call_known(self, fn, vals):
        """The specialised call of a known callable (None: make a generic call)."""
        if any(is_obj(v.type) for v in vals):
            r = self._call_with_objects(fn, vals)
            if r is None and isinstance(fn, types.FunctionType):
                r = self._call_python(fn, vals)
                if r is not None:             # the callee took its own references
                    for v in vals:
                        self._release(v)
            return r
        if fn is range and (not self.objects or self._loop_over(self.k + 1) is not None):
            return self._range(vals)
        if isinstance(fn, types.FunctionType):
            return self._call_python(fn, vals)
        if infer.has_specialisation(fn):
            return infer.call_known(self, fn, vals)
        return None

    def _loop_over(self, k):
        """The FOR_ITER instruction that iterates what the GET_ITER at k makes (after 3.12's
        comprehension set-up: the saved variable and the new container), or None when the
        iterator goes elsewhere (to a generator expression or a 3.11 comprehension)."""
        if k >= len(self.ins) or self.ins[k].op != "get_iter":
            return None
        for i in self.ins[k + 1:]:
            if i.op == "for_iter":
                return i
            if i.op not in ("load_fast_and_clear", "swap", "build_list", "build_map", "build_set"):
                return None
        return None

    def _range(self, vals):
        """range() arguments as RangeArgs (ints, bools widened; a given step is guarded nonzero)."""
        if not 1 <= len(vals) <= 3 or any(v.type not in (INT, BOOL) for v in vals):
            raise Unsupported("UNSUPPORTED_CALL", "range() needs 1-3 int arguments")
        vals = [self.emit("bool_to_int", [v]) if v.type == BOOL else v for v in vals]
        if len(vals) == 1:
            return RangeArgs(self.const(0), vals[0], self.const(1))
        if len(vals) == 2:
            return RangeArgs(vals[0], vals[1], self.const(1))
        self.emit("guard_nonzero", [vals[2]])
        return RangeArgs(*vals)

    def _call_python(self, fn, vals):
        """Emit a native call to fn (itself, or a compiled specialisation that an exit may call
        again: a function of numbers, or a frameless one); None: call it generically."""
        types_ = tuple(v.type for v in vals)
        if fn is self.func and len(vals) != len(self.param_names):
            return None                       # defaults are bound by CPython: call it there
        if fn is self.func and self.self_calls and types_ != tuple(p.type for p in self.fn.params):
            if not all(is_obj(t) for t in types_):
                return None
            # recursion on objects of other classes: the module's dispatcher picks the
            # specialisation by their classes at run time (lower_module), the result boxed
            self.made_self_call = True
            self.fn.attrs["dispatch"] = True
            return self.emit("call_native", vals, {"target": None, "self": True, "dispatch": True}, type=OBJ)
        if any(is_obj(t) and t.cls is None for t in types_):
            return None                       # a callee is specialised on exact classes
        if fn is self.func:
            if not self.self_calls:
                return None
            self.made_self_call = True
            if self.self_return is None:
                raise NeedReturnType()
            return self.emit("call_native", vals, {"target": None, "self": True},
                             type=self.self_return)
        target = self.resolve_callee(fn, types_)
        if target is None or (target.resumable and target.return_type is None):
            return None                       # not compiled for these types (or it never returns
            # natively: its paths that return run in the interpreter): call it generically
        # a callee none of whose compiled paths returns (it always raises) has no return type:
        # its call always exits, so the value it does not produce is typed None
        return self.emit("call_native", vals, {"target": target, "self": False},
                         type=target.return_type or NONE)
