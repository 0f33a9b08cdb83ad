"""Compiler: bytecode of one function + observed types → native code."""
