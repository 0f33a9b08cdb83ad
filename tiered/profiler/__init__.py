"""Profiler: calls and argument types of running functions → hot functions queued for the compiler."""
