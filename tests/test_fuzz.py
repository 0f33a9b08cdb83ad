"""The differential fuzzer in CI: a fixed-seed run per conftest mode, no divergence, numeric programs really ran native."""
from tests import fuzz
from tests.fuzz import total

PROGRAMS = 250                                  # per conftest mode: about 13 s
SEEDS = {"guards": 20240501, "forced-exits": 20240502}   # every program already runs in both guard modes


def test_fuzz_finds_no_divergence_and_compiles_numeric_programs(exit_mode):
    stats = fuzz.run(PROGRAMS, SEEDS[exit_mode])        # a divergence fails here with its reproducer
    report = fuzz.summary(stats)
    skipped = total(stats, "skipped (too slow under CPython)", "numeric")
    numeric = total(stats, "programs", "numeric") - skipped
    assert numeric >= PROGRAMS // 3 and total(stats, "programs", "objects") >= PROGRAMS // 5, report
    for mode, _ in fuzz.MODES:
        assert total(stats, "compiled (native entry ran)", mode, "numeric") >= 0.8 * numeric, report
        assert total(stats, "refused", mode) > 0, report       # the object programs stay in CPython
    assert total(stats, "exits", "jit") > total(stats, "exits", "jit", "FORCED") == 0, report
    assert total(stats, "exits", "forced", "FORCED") > 0, report
    assert stats["divergences",] == 0, report
