"""The layouts the runtime finds on live objects at import: each found, and each leading where it says."""
import ctypes
import dis
import sys
import threading

from tiered.cpython import capi, quickened


def test_the_running_frame_is_reached_through_the_thread_state():
    # native code points the running frame at its instruction through this path; a wrong
    # path would write into some other memory
    assert capi.FRAMES is not None and capi.CURRENT_FRAME is not None
    get_ts = ctypes.pythonapi.PyThreadState_Get
    get_ts.restype = ctypes.c_void_p

    def here():
        cframe = ctypes.c_void_p.from_address(get_ts() + capi.CURRENT_FRAME[0]).value
        running = ctypes.c_void_p.from_address(cframe + capi.CURRENT_FRAME[1]).value
        return running == ctypes.c_void_p.from_address(id(sys._getframe()) + capi.FRAMES[0]).value

    seen = []
    worker = threading.Thread(target=lambda: seen.append(here()))   # another thread's own state
    worker.start()
    worker.join()
    assert here() and list(map(lambda _: here(), [0])) == [True] and seen == [True]   # and from C


def test_method_loads_and_dict_sizes_are_read_where_cpython_keeps_them():
    assert capi.CACHED_KEYS is not None and capi.ATTRIBUTES is not None

    class Thing:
        def __init__(self):
            self.a = 1

        def m(self):
            return self.a

    ns = {}
    exec("def call(o):\n    return o.m()\n", ns)     # a new code object: its caches are fresh
    call = ns["call"]
    for _ in range(64):                 # CPython specialises the method load and caches versions
        call(Thing())
    at, hint = next((i.offset, i.opname) for i in dis.get_instructions(call.__code__, adaptive=True)
                    if i.opname in quickened.METHOD_WITH_VALUES)
    type_version, keys_version, address = quickened.method_cache(call.__code__, at, hint)
    assert capi.keys_version(Thing) == keys_version and address == id(Thing.__dict__["m"])
    assert capi.class_with_version(type_version) is Thing
    d = {k: k for k in range(5)}
    assert ctypes.c_ssize_t.from_address(id(d) + capi.DICT_USED).value == 5
