"""Compiler backend, object-code cache: (what a module's machine code depends on) → the object
code kept in TIERED_CACHE by an earlier run, checked before it is trusted.

Only the shared runtime helpers are kept: their module is the same in every run (it names the
C-API by symbol, never by address) and costs every process about 0.1 s of LLVM.  A file holds
a magic word, the SHA-256 of its object code, then the code; one that does not match (torn,
truncated, another version's) is ignored and written again.  Writes go to a temporary file
renamed into place, so a reader sees a whole file or none; any OSError means "not kept".
"""
import hashlib
import os
import sys
import tempfile

import llvmlite
import llvmlite.binding as llvm

from .. import config

MAGIC = b"tiered-objcache-1\n"


def key(*parts):
    """The cache key of a module: its text and everything its machine code depends on (this
    Python, llvmlite and its LLVM, the host CPU and its features)."""
    h = hashlib.sha256()
    for part in (*parts, sys.version, llvmlite.__version__, ".".join(map(str, llvm.llvm_version_info)),
                 llvm.get_process_triple(), llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()):
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:32]


def _path(k):
    """The file for key k, or None when nothing is kept (TIERED_CACHE=off)."""
    directory = config.get("TIERED_CACHE")
    return os.path.join(directory, f"helpers-{k}.o") if directory else None


def load(k):
    """The object code kept for key k, or None (none kept, unreadable, or not what was written)."""
    path = _path(k)
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    head, digest, obj = data[:len(MAGIC)], data[len(MAGIC):len(MAGIC) + 32], data[len(MAGIC) + 32:]
    if head != MAGIC or not obj or hashlib.sha256(obj).digest() != digest:
        return None
    return obj


def store(k, obj):
    """Keep obj for key k (whole or not at all); True when it was written."""
    path = _path(k)
    if path is None:
        return False
    tmp = None
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".helpers-", dir=os.path.dirname(path))
        with os.fdopen(fd, "wb") as f:
            f.write(MAGIC + hashlib.sha256(obj).digest() + obj)
        os.replace(tmp, path)
        return True
    except OSError:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
        return False
