"""Compiler stage 4, module data: a module's own data (counters, line sites, exit descriptors,
strings) → memory Python owns, named in the IR by address (engine.absolute says why)."""
import ctypes
import struct

# the address of a bytearray's buffer (a bytearray is no ctypes array: each `c_char * n` class
# is garbage for the cyclic collector once its last array dies, which a program counting what
# gc.collect() finds would see)
_buffer_of = ctypes.pythonapi.PyByteArray_AsString
_buffer_of.restype, _buffer_of.argtypes = ctypes.c_void_p, (ctypes.py_object,)


class Arena:
    """Memory for one module's data, handed out in CHUNK-byte blocks; it must live as long as
    the module's machine code (its Compiled handle holds it)."""
    CHUNK = 512

    def __init__(self):
        self.blocks, self.next, self.left = [], 0, 0

    def put(self, raw):
        """The address of a new copy of these bytes (8-byte aligned, zero-padded)."""
        size = (len(raw) + 7) & ~7 or 8
        if size > self.left:
            block = bytearray(max(self.CHUNK, size))    # zero-filled, never resized
            self.blocks.append(block)
            self.next, self.left = _buffer_of(block), len(block)
        address = self.next
        ctypes.memmove(address, raw, len(raw))
        self.next, self.left = self.next + size, self.left - size
        return address


def words(*values):
    """Native 64-bit words, as the module's data stores them."""
    return struct.pack(f"={len(values)}q", *values)
