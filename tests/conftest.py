"""Every test runs twice: with guards as compiled, and with guards forced to fail (every exit path runs)."""
import pytest


@pytest.fixture(autouse=True, params=["guards", "forced-exits"])
def exit_mode(request, monkeypatch):
    monkeypatch.setenv("TIERED_FORCE_EXITS", "1" if request.param == "forced-exits" else "0")
    return request.param
