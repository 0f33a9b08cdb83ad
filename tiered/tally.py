"""Shared: Tally, the counting dict tiered keeps its own counts in (instead of collections.Counter)."""
# bound at import: exits and misses run inside the program, which may rebind builtins
from builtins import sorted  # noqa: A004


class Tally(dict):
    """Counts by key; a missing key counts 0.  Not collections.Counter: that is library code
    the JIT may compile, and counts are taken while native code exits or misses, where a
    compiled Counter.__missing__ would miss again and recurse."""

    def __missing__(self, key):
        return 0

    def most_common(self, n):
        """The n largest counts as (key, count) pairs, largest first."""
        return sorted(self.items(), key=lambda kv: kv[1], reverse=True)[:n]
