"""Runtime callables: a native entry address → a real builtin callable that owns what the code needs."""
import ctypes

METH_FASTCALL = 0x0080


class _MethodDef(ctypes.Structure):
    """ctypes mirror of CPython's PyMethodDef."""
    _fields_ = [("ml_name", ctypes.c_char_p), ("ml_meth", ctypes.c_void_p),
                ("ml_flags", ctypes.c_int), ("ml_doc", ctypes.c_char_p)]


_new = ctypes.pythonapi.PyCFunction_NewEx
_new.restype = ctypes.py_object
_new.argtypes = [ctypes.c_void_p, ctypes.py_object, ctypes.py_object]


class _Owner(str):
    """The callable's __module__: a str that keeps the method def and baked objects alive."""


def make_callable(address, name, keep=(), self_obj=None):
    """Wrap `PyObject *f(PyObject *self, PyObject *const *args, Py_ssize_t n)` as a builtin
    (self_obj is what the C function receives as self)."""
    method = _MethodDef(name.encode(), address, METH_FASTCALL, None)
    owner = _Owner("tiered.native")
    owner.keep = (method,) + tuple(keep)
    return _new(ctypes.addressof(method), self_obj, owner)
