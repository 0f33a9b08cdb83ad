"""Base layer: facts about the running CPython (C-API, struct layouts, opcodes, code objects); imports nothing else of tiered.

`V` is the table of the running version's differences (py311.py, py312.py); every other
module of tiered asks it instead of testing sys.version_info.
"""
import sys

PY = sys.version_info[:2]
SUPPORTED = ((3, 11), (3, 12))

if PY == (3, 11):
    from . import py311 as V  # noqa: F401 - the running version's table
else:                            # 3.12, and the newest table for a version enable() refuses
    from . import py312 as V     # noqa: F401
