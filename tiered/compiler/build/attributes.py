"""Compiler stage 2, names and attributes: LOAD_GLOBAL, LOAD_ATTR (methods too), STORE_ATTR → guarded known objects, attribute ops."""
import types

from .. import infer
from ...cpython import capi
from ...cpython.quickened import attr_cache, method_cache, method_cache_version
from ..exits import NULL, Known
from ..infer import Unsupported
from ..ir import Value
from ..ops import OBJ, ObjType, is_obj
from .core import as_class, hint, release, table, top
from .merge import plain_type

# builtin types whose method calls skip the bound method (their instances have no __dict__)
METHOD_TYPES = (list, dict, str, tuple, set, frozenset, bytes, bytearray, int, float)

HANDLERS, handles = table()


@handles("load_global")
def load_global(b, i, st, block, out):
    """LOAD_GLOBAL: push the guarded global or builtin (NULL first when asked)."""
    name, push_null = i.arg
    where = b.opts.globals if name in b.opts.globals else b.opts.builtins
    if name not in where:
        raise Unsupported("UNSUPPORTED_OPCODE", f"global {name} is not defined")
    obj = where[name]
    if b.at.pre_offset in b.opts.generic_at:       # it changed too often to guard: read it each time
        if push_null:
            st.stack.append(NULL)
        st.stack.append(b.emit("load_global_obj", [], {"dict": b.opts.globals, "name": name,
                                                       "builtins": b.opts.builtins}))
        return
    b.emit("guard_global", [], {"dict": b.opts.globals, "name": name, "expected": obj,
                                "builtins": b.opts.builtins})
    if push_null:
        st.stack.append(NULL)
    st.stack.append(_known_or_value(b, obj))


@handles("load_attr")
def load_attr(b, i, st, block, out):
    """LOAD_ATTR: replace a known module by its guarded attribute (NULL below for a method),
    or an object by its attribute."""
    name, is_method = i.arg
    owner = st.stack[-1]
    if isinstance(owner, Value) and is_obj(owner.type):
        if is_method and (_load_builtin_method(b, name, st) or _load_python_method(b, name, st)):
            return
        _load_attr_obj(b, name, st)
        if is_method:                 # the bound method, called with nothing below it
            st.stack.insert(len(st.stack) - 1, NULL)
        return
    if not (isinstance(owner, Known) and isinstance(owner.obj, types.ModuleType)):
        if isinstance(owner, Value):
            raise Unsupported("UNSUPPORTED_OPCODE", f"reads .{name} of {plain_type(owner.type)} "
                                                    "(methods and attributes of numbers are not compiled)")
        raise Unsupported("UNSUPPORTED_OPCODE", f"reads .{name} of something other than a module")
    d = owner.obj.__dict__
    if name not in d:
        raise Unsupported("UNSUPPORTED_OPCODE", f"module attribute {name} missing")
    b.emit("guard_global", [], {"dict": d, "name": name, "expected": d[name], "builtins": None})
    st.stack.pop()
    if is_method:
        st.stack.append(NULL)
    st.stack.append(_known_or_value(b, d[name]))


def _known_or_value(b, obj):
    """A constant for a supported scalar, else the object as Known."""
    if infer.type_of_constant(obj) is not None:
        return b.const(obj)
    return Known(obj)


def _load_attr_obj(b, name, st):
    """LOAD_ATTR on an object (not a method call): as CPython's specialisation of it read
    it when there is one, else through the C-API; the owner is released after."""
    owner = st.stack[-1]
    cache = attr_cache(b.opts.code, b.at.pre_offset, hint(b))
    if b.opts.frameless and cache is not None and owner.type == OBJ:
        owner = _narrow(b, st, cache[1])
    r = b.emit("getattr", [owner], {"name": name, "cache": cache})
    release(b, owner)
    st.stack[-1] = r


def _narrow(b, st, version):
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
    g = b.emit("guard_class", [owner], {"cls": cls}, type=typed)
    st.stack[-1] = g
    for name, v in st.locals.items():
        if v is owner:
            st.locals[name] = g
    return g


def _load_builtin_method(b, name, st):
    """LOAD_ATTR of a method of an exact builtin type (the owner's class, or the one that
    CPython's specialisation saw, then guarded): CPython's [method, self] layout with the
    method descriptor known, so no bound method is made.  False when it does not apply: a
    builtin type cannot change and its instances have no __dict__, so the lookup is fixed."""
    owner = st.stack[-1]
    cls = owner.type.cls
    if owner.type == OBJ:
        version = method_cache_version(b.opts.code, b.at.pre_offset, hint(b))
        cls = capi.type_with_version(version, METHOD_TYPES)
    if cls not in METHOD_TYPES:
        return False
    descr = next((k.__dict__[name] for k in cls.__mro__ if name in k.__dict__), None)
    if not isinstance(descr, types.MethodDescriptorType):
        return False
    as_class(b, st, -1, cls)
    st.stack.insert(len(st.stack) - 1, Known(descr))
    return True


def _load_python_method(b, name, st):
    """LOAD_ATTR of a method of a plain class, where CPython's specialisation found it in
    the class and not in the instance: [function, self], guarded as CPython guards it (the
    class, its version, inline values, the version of its instances' shared keys).  False
    when it does not apply, or when what CPython cached is no longer so."""
    owner = st.stack[-1]
    cache = method_cache(b.opts.code, b.at.pre_offset, hint(b))
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
    st.stack[-1] = b.emit("guard_method", [owner], {"cls": typed.ref, "version": version,
                                                    "keys": keys}, type=typed)
    st.stack.insert(len(st.stack) - 1, Known(func))
    return True


@handles("store_attr")
def store_attr(b, i, st, block, out):
    """STORE_ATTR: owner.name = value as CPython's specialisation of it stores it when there is
    one, else through PyObject_SetAttr (a number is boxed)."""
    value, owner = top(b, st, 2)
    if not is_obj(owner.type):
        raise Unsupported("UNSUPPORTED_TYPE", f"attribute store on {owner.type}")
    cache = attr_cache(b.opts.code, b.at.pre_offset, hint(b))
    # a store as CPython specialised it runs no Python code when native (ops/attributes.py)
    b.emit("obj_setattr", [owner, value], {"name": i.arg, "cache": cache, "resumable": cache is not None and capi.ATTRIBUTES is not None})
    release(b, value)
    release(b, owner)
    del st.stack[-2:]
