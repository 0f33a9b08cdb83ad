"""Runtime markers: the objects installed code and native code compare results against, and each thread's pending resume states."""
import threading

SENTINEL = type("TieredExit", (), {"__repr__": lambda self: "<tiered exit>"})()
# "run this call in the interpreter from the start" (a tracer is active, no specialisation
# matched, ...): the prologue jumps to the original body without calling any Python helper,
# so a tracer or debugger sees no frame of tiered's
INTERPRET = type("TieredInterpret", (), {"__repr__": lambda self: "<tiered interpret>"})()
# an exit's value for a local not bound yet: the stub leaves that local unbound
UNBOUND = type("TieredUnbound", (), {"__repr__": lambda self: "<tiered unbound>"})()
STATES = threading.local()     # .stack: this thread's pending (stub, values) resume states
