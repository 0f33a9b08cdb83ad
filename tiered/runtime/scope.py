"""Runtime scope: a code object → whether tiered may ever profile or compile it (never generators, nor its own code)."""
import importlib.util
import os

from ..cpython.code import CO_GENERATOR_LIKE

_OWN_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _library_dir(name):
    """The directory of an installed package, found without importing it (None if absent)."""
    spec = importlib.util.find_spec(name)
    return os.path.dirname(spec.origin) + os.sep if spec is not None and spec.origin else None


# tiered's own code and the libraries its compiler runs: compiling those could re-enter the
# compiler from inside itself (a destructor of an llvmlite object that misses, say)
_NEVER_DIRS = tuple(d for d in (_OWN_DIR, _library_dir("llvmlite")) if d)


def never_counted(code):
    """Generators and coroutines, tiered's own code and its compiler's libraries are never profiled."""
    return bool(code.co_flags & CO_GENERATOR_LIKE) or code.co_filename.startswith(_NEVER_DIRS)
