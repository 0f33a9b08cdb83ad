"""Compiler stage 2, names and attributes: LOAD_GLOBAL, LOAD_ATTR (methods too), STORE_ATTR → guarded known objects, attribute ops."""
import types

from .. import infer
from ...cpython import capi
from ...cpython.classes import class_constant, version_tag
from ...cpython.code import rebound_globals, stored_globals
from ...cpython import dicts
from ...cpython.quickened import attr_cache, method_cache, method_cache_version
from ..exits import NULL, Known
from ..infer import Unsupported
from ..ir import Value
from ..ops import BOOL, FLOAT, INT, OBJ, ObjType, is_obj
from .core import as_class, generic_here, hint, release, table, top
from .merge import plain_type

# builtin types whose method calls skip the bound method (their instances have no __dict__)
METHOD_TYPES = (list, dict, str, tuple, set, frozenset, bytes, bytearray, int, float)
NUMBER_CLASSES = {INT: int, FLOAT: float, BOOL: bool}     # the exact class of an unboxed number

HANDLERS, handles = table()


@handles("load_global")
def load_global(b, i, st, block, out):
    """LOAD_GLOBAL: push the guarded global or builtin (NULL first when asked)."""
    name, push_null = i.arg
    if b.opts.objects and (name in _rebound_globals(b) or b.at.pre_offset in b.opts.generic_at):
        # a variable of the module that functions rebind, or whose guard failed too often
        # (records.RESPECIALISE): read at each load (a guard on its value would keep failing)
        v = b.emit("global_load", [], {"name": name, "dict": b.opts.globals, "builtins": b.opts.builtins})
        now = b.opts.globals.get(name, b.opts.builtins.get(name))
        if type(now) in (int, float) and infer.type_of_constant(now) is not None:
            # a number now: unboxed under a guard on its class (typed as its constant was)
            boxed = v
            v = b.emit("unbox_int" if type(now) is int else "unbox_float", [boxed])
            release(b, boxed)
        if push_null:
            st.stack.append(NULL)
        st.stack.append(v)
        return
    where = b.opts.globals if name in b.opts.globals else b.opts.builtins
    if name not in where:
        raise Unsupported("UNSUPPORTED_OPCODE", f"global {name} is not defined")
    obj = where[name]
    b.emit("guard_global", [], {"dict": b.opts.globals, "name": name, "expected": obj,
                                "builtins": b.opts.builtins})
    if push_null:
        st.stack.append(NULL)
    st.stack.append(_known_or_value(b, obj))


def _rebound_globals(b):
    """The globals this function's code, or any function or method of its module, rebinds
    (STORE_GLOBAL): variables, not constants."""
    if b.made.rebound is None:        # once per build: it walks the module's functions
        b.made.rebound = stored_globals(b.opts.code) | rebound_globals(b.opts.globals)
    return b.made.rebound


@handles("store_global")
def store_global(b, i, st, block, out):
    """STORE_GLOBAL: the value (a number boxed) stored in the globals through PyDict_SetItem,
    as CPython stores it."""
    if not b.opts.objects:
        raise Unsupported("UNSUPPORTED_OPCODE", "STORE_GLOBAL (TIERED_OBJECTS=1 compiles it)")
    value = top(b, st, 1)[0]               # a known object (another global) as a value too
    b.emit("store_global", [value], {"name": i.arg, "dict": b.opts.globals})
    release(b, value)
    st.stack.pop()


@handles("load_attr")
def load_attr(b, i, st, block, out):
    """LOAD_ATTR: replace a known module by its guarded attribute (NULL below for a method),
    or an object by its attribute."""
    name, is_method = i.arg
    owner = st.stack[-1]
    unspeculated(b, owner)
    if isinstance(owner, Known) and not isinstance(owner.obj, types.ModuleType) and b.opts.objects:
        if isinstance(owner.obj, type) and _load_class_attr(b, name, is_method, st):
            return
        owner = top(b, st, 1)[0]      # a global's object (a class, an instance): its value
    if isinstance(owner, Value) and owner.type in NUMBER_CLASSES:
        return _load_number_attr(b, name, is_method, st)
    if isinstance(owner, Value) and is_obj(owner.type):
        if is_method and (_load_builtin_method(b, name, st) or _load_python_method(b, name, st)
                          or _load_dict_method(b, name, st) or _load_any_method(b, name, st)):
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


def unspeculated(b, owner):
    """An object read at an offset whose guard failed too often (generic_at) is taken to be of
    any class from there on: its other attribute reads and stores speculate nothing either
    (deltablue's add_propagate reads three methods of `d`, whose class varies: one compile
    again, not three one after the other, each after a thousand exits)."""
    if not isinstance(owner, Value) or owner.type != OBJ:
        return
    if b.at.pre_offset in b.opts.generic_at:
        b.made.polymorphic.add(owner.id)
    elif owner.id in b.made.polymorphic:
        b.made.generic.add(b.at.pre_offset)


def _load_any_method(b, name, st):
    """LOAD_ATTR of a method where nothing is known of it (polymorphic, or no cache of CPython's):
    CPython's lookup, [method or NULL, self or the attribute] (load_method, method_self), so
    that no bound method is made and the call (obj_call's `method`) passes self first.  False
    in a frameless specialisation (it may run Python code) and where CPython's cache says how
    to read the attribute natively."""
    owner = st.stack[-1]
    if b.opts.frameless or _attr_cache(b, owner, name) is not None:
        return False
    method = b.emit("load_method", [owner], {"name": name, "maybe_null": True})
    st.stack[-1] = b.emit("method_self", [method, owner])
    release(b, owner)
    st.stack.insert(len(st.stack) - 1, method)
    return True


def _load_class_attr(b, name, is_method, st):
    """LOAD_ATTR through a known class (`Strength.REQUIRED`, `Strength.stronger(a, b)`): the
    value it holds now, behind a guard on the class's version tag, as CPython's LOAD_ATTR_CLASS
    reads it.  False when the read is not such a constant (cpython/classes.py)."""
    found = class_constant(st.stack[-1].obj, name)
    if found is None:
        return False
    value, version = found
    b.emit("guard_class_version", [], {"cls": st.stack[-1].obj, "version": version})
    st.stack.pop()
    if is_method:
        st.stack.append(NULL)
    st.stack.append(_known_or_value(b, value))
    return True


def _load_number_attr(b, name, is_method, st):
    """LOAD_ATTR on a number (`n.bit_length()`, `x.is_integer()`, `z.real`): a method of its
    exact builtin class laid out as [descriptor, number] (the number is boxed for a generic call
    only; a method with a native op is called as one), anything else read from the boxed number
    through PyObject_GetAttr, which raises CPython's AttributeError."""
    owner = st.stack[-1]
    cls = NUMBER_CLASSES[owner.type]
    descr = next((k.__dict__[name] for k in cls.__mro__ if name in k.__dict__), None)
    if is_method and isinstance(descr, types.MethodDescriptorType):
        st.stack.insert(len(st.stack) - 1, Known(descr))
        return
    boxed = b.emit("box", [owner])
    r = b.emit("getattr", [boxed], {"name": name, "cache": None})
    release(b, boxed)
    st.stack[-1] = r
    if is_method:                     # the bound method, called with nothing below it
        st.stack.insert(len(st.stack) - 1, NULL)


def _known_or_value(b, obj):
    """A constant for a supported scalar, else the object as Known."""
    if infer.type_of_constant(obj) is not None:
        return b.const(obj)
    return Known(obj)


def _load_attr_obj(b, name, st):
    """LOAD_ATTR on an object (not a method call): as CPython's specialisation of it read
    it when there is one, else through the C-API; the owner is released after."""
    owner = st.stack[-1]
    cache = _attr_cache(b, owner, name)
    # an instance with a __dict__ of its own: typed here, its method calls can be native
    if cache is not None and owner.type == OBJ and (b.opts.frameless or cache[0] in dicts.HINTED):
        owner = _narrow(b, st, cache[1])
    r = b.emit("getattr", [owner], {"name": name, "cache": cache})
    release(b, owner)
    st.stack[-1] = r


def _attr_cache(b, owner=None, name=None, store=False):
    """CPython's attribute cache at this instruction (quickened.attr_cache), when native code
    can read the attribute where it says (an instance's own __dict__ only if its layout is
    known); for an owner of a known class that CPython's cache was not made for (a method
    inherited by several subclasses), the cache CPython would make for that class."""
    cache = attr_cache(b.opts.code, b.at.pre_offset, hint(b))
    if cache is not None and cache[0] in dicts.HINTED and dicts.INSTANCE_DICT is None:
        return None
    cls = owner.type.cls if owner is not None else None
    if cls is not None and not generic_here(b) and \
            (cache is None or cache[1] != version_tag(cls)):
        return dicts.own_attr_cache(cls, name, store) or cache
    return cache


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
    the class and not in the instance (or would, for an owner of a known class it was not
    made for): [function, self], guarded as CPython guards it (the class, its version, inline
    values, the version of its instances' shared keys).  False when it does not apply, or
    when what CPython cached is no longer so."""
    owner = st.stack[-1]
    cache = method_cache(b.opts.code, b.at.pre_offset, hint(b))
    known = owner.type.cls
    # CPython's cache here was made for another class (with none, _load_dict_method guards
    # either layout)
    if known is not None and not generic_here(b) and \
            cache is not None and cache[0] != version_tag(known):
        own = dicts.own_method_cache(known, name)    # a method inherited by several classes
        cache = own[:2] + (id(own[2]),) if own else cache
    if cache is None:
        return _load_slots_method(b, name, st)
    if capi.CACHED_KEYS is None:
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


def _load_slots_method(b, name, st):
    """LOAD_ATTR of a method of a plain class whose instances have no __dict__ (all
    __slots__), as CPython's LOAD_ATTR_METHOD_NO_DICT finds it (for the owner's known class,
    or the one that specialisation saw): [function, self] behind guard_method with no keys
    (the class and its version say it all).  False when it does not apply."""
    owner = st.stack[-1]
    cls = owner.type.cls
    if cls is None or generic_here(b):
        cls = capi.class_with_version(method_cache_version(b.opts.code, b.at.pre_offset, hint(b)))
    found = dicts.no_dict_method(cls, name) if cls is not None and owner.type.cls in (None, cls) else None
    if found is None or generic_here(b) and owner.type.cls is None:
        return False
    try:
        typed = ObjType(cls)
    except TypeError:                 # no weak references to it: the guard could not check it
        return False
    st.stack[-1] = b.emit("guard_method", [owner], {"cls": typed.ref, "version": found[0], "keys": 0}, type=typed)
    st.stack.insert(len(st.stack) - 1, Known(found[1]))
    return True


def _load_dict_method(b, name, st):
    """LOAD_ATTR of a method of a known plain class that CPython did not specialise here (its
    instance keeps a __dict__ of its own, or the site saw several classes): [function, self]
    behind guard_method_dict, which checks either layout.  False when it does not apply (the
    class is not known, or its lookup is not the plain one)."""
    owner = st.stack[-1]
    cls = owner.type.cls
    if cls is None or not dicts.managed(cls) or capi.DICT_KEYS is None or generic_here(b) \
            or cls.__getattribute__ is not object.__getattribute__:
        return False
    func = next((k.__dict__[name] for k in cls.__mro__ if name in k.__dict__), None)
    version = version_tag(cls)
    if not isinstance(func, types.FunctionType) or not version:
        return False
    own = dicts.own_method_cache(cls, name)         # for instances keeping attributes inline
    st.stack[-1] = b.emit("guard_method_dict", [owner], {"cls": owner.type.ref, "version": version, "name": name,
                                                         "keys": own[1] if own else 0}, type=owner.type)
    st.stack.insert(len(st.stack) - 1, Known(func))
    return True


@handles("load_super_attr")
def load_super_attr(b, i, st, block, out):
    """LOAD_SUPER_ATTR (3.12): [super, class, self] → super(class, self).name, as CPython's
    generic path does it (a method load leaves [NULL, bound method]).  The builtin super is
    always given both arguments: native code has no frame for its zero-argument form to read."""
    name, is_method, two_args = i.arg
    fn = st.stack[-3]
    if not two_args and not (isinstance(fn, Known) and fn.obj is super):
        raise Unsupported("UNSUPPORTED_CALL", "super() through something other than the builtin super")
    vals = top(b, st, 3)
    r = b.emit("super_attr", vals, {"name": name})
    for v in vals:
        release(b, v)
    del st.stack[-3:]
    if is_method:
        st.stack.append(NULL)
    st.stack.append(r)


@handles("delete_attr")
def delete_attr(b, i, st, block, out):
    """DELETE_ATTR: del owner.name through PyObject_SetAttr with no value, as CPython does it."""
    owner = top(b, st, 1)[0]
    if not is_obj(owner.type):
        raise Unsupported("UNSUPPORTED_TYPE", f"attribute deletion on {owner.type}")
    b.emit("obj_delattr", [owner], {"name": i.arg})
    release(b, owner)
    st.stack.pop()


@handles("store_attr")
def store_attr(b, i, st, block, out):
    """STORE_ATTR: owner.name = value as CPython's specialisation of it stores it when there is
    one, else through PyObject_SetAttr (a number is boxed)."""
    value, owner = top(b, st, 2)
    if not is_obj(owner.type):
        raise Unsupported("UNSUPPORTED_TYPE", f"attribute store on {owner.type}")
    unspeculated(b, owner)
    cache = _attr_cache(b, owner, i.arg, store=True)
    # a store as CPython specialised it runs no Python code when native (ops/attributes.py)
    b.emit("obj_setattr", [owner, value], {"name": i.arg, "cache": cache, "resumable": cache is not None and capi.ATTRIBUTES is not None})
    release(b, value)
    release(b, owner)
    del st.stack[-2:]
