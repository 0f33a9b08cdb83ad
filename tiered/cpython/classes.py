"""Base layer: reading an attribute through a class (`Strength.REQUIRED`, `Cls.method`) → the value it gives for as long as the class's version tag holds."""
import ctypes
import types

from . import capi


def version_tag(cls):
    """The class's current type version tag (0: none valid; it changes when the class or a base
    changes, and a tag is never given twice)."""
    if capi.ATTRIBUTES is None:
        return 0
    return ctypes.c_uint32.from_address(id(cls) + capi.ATTRIBUTES[0]).value


def class_constant(cls, name):
    """(value, version tag) when `cls.name` gives `value` for as long as cls keeps that tag, as
    CPython's LOAD_ATTR_CLASS reads it: the metaclass is type itself (which cannot change)
    with no attribute of that name, and the class's own (a plain function, a staticmethod's
    function, or an object that is no descriptor) is what type.__getattribute__ returns.
    None otherwise."""
    if type(cls) is not type or name in type.__dict__ or name in object.__dict__:
        return None
    version = version_tag(cls)
    owner = next((k for k in cls.__mro__ if name in k.__dict__), None)
    if not version or owner is None:
        return None
    value = owner.__dict__[name]
    if isinstance(value, staticmethod):
        value = value.__func__
    elif not isinstance(value, types.FunctionType) and hasattr(type(value), "__get__"):
        return None                   # a classmethod, a property...: made anew at each read
    return value, version


IS_ABSTRACT = 1 << 20       # Py_TPFLAGS_IS_ABSTRACT


def plain_constructor(cls):
    """(version tag, __init__) when cls(*args) is what type.__call__ does for a plain class,
    for as long as cls keeps that tag: a new instance from object.__new__ (which, with an
    __init__ of the class's own, takes any arguments), then __init__(instance, *args), a Python
    function, whose result must be None.  None otherwise (a metaclass, a __new__ of its own, no
    Python __init__, an abstract class, a builtin)."""
    if (type(cls) is not type or capi.TP_NEW is None or not cls.__flags__ & capi.HEAP_TYPE
            or cls.__flags__ & IS_ABSTRACT):
        return None
    mro = type.__getattribute__(cls, "__mro__")
    new = next((vars(k)["__new__"] for k in mro if "__new__" in vars(k)), None)
    init = next((vars(k)["__init__"] for k in mro if "__init__" in vars(k)), None)
    object_new = ctypes.c_void_p.from_address(id(object) + capi.TP_NEW).value
    type.__getattribute__(cls, "__init__")     # a lookup through the class gives it a version tag
    version = version_tag(cls)
    if new is not object.__new__ or not isinstance(init, types.FunctionType) or not version \
            or ctypes.c_void_p.from_address(id(cls) + capi.TP_NEW).value != object_new:
        return None
    return version, init
