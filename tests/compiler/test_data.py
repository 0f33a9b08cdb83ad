"""compiler/data.py: a module's own data lives in memory Python owns, aligned, and dies without garbage."""
import ctypes
import gc

from tiered.compiler.data import Arena, words


def test_each_datum_gets_an_aligned_copy_of_its_bytes():
    arena = Arena()
    counter = arena.put(words(5, -7))
    text = arena.put(b"abc\0")
    big = arena.put(bytes(range(200)) * 4)          # more than a block: a block of its own
    assert [a % 8 for a in (counter, text, big)] == [0, 0, 0]
    assert ctypes.c_int64.from_address(counter + 8).value == -7
    assert ctypes.string_at(text) == b"abc"
    assert ctypes.string_at(big, 800) == bytes(range(200)) * 4
    assert text == counter + 16                     # packed in the same block
    ctypes.c_int64.from_address(counter).value = 41   # the code (and the runtime) write it
    assert ctypes.c_int64.from_address(counter).value == 41


def test_a_dead_modules_data_leaves_nothing_for_the_cyclic_collector():
    # a program counting what gc.collect() finds sees only its own garbage (a ctypes array
    # class made per block size was garbage once its last block died)
    gc.collect()
    arena = Arena()
    for k in range(40):
        arena.put(words(k) * (k % 7 + 1))
    arena.put(bytes(1000))
    del arena
    assert gc.collect() == 0
