"""Runtime: native code → installed callables, exits back into the interpreter."""
