"""Compiler stage 4, module data: a module's own data (counters, line sites, exit descriptors,
strings) → memory Python owns, named in the IR by address (engine.absolute says why)."""
import ctypes
import struct


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
            block = (ctypes.c_char * max(self.CHUNK, size))()   # zero-filled
            self.blocks.append(block)
            self.next, self.left = ctypes.addressof(block), len(block)
        address = self.next
        ctypes.memmove(address, raw, len(raw))
        self.next, self.left = self.next + size, self.left - size
        return address


def words(*values):
    """Native 64-bit words, as the module's data stores them."""
    return struct.pack(f"={len(values)}q", *values)
