"""Every test runs twice: with guards as compiled, and with guards forced to fail (every exit path runs);
object-tier tests ask for the object_tier fixture."""
import pytest


@pytest.fixture(autouse=True, params=["guards", "forced-exits"])
def exit_mode(request, monkeypatch):
    monkeypatch.setenv("TIERED_FORCE_EXITS", "1" if request.param == "forced-exits" else "0")
    return request.param


@pytest.fixture
def object_tier(monkeypatch):
    """The object tier on (TIERED_OBJECTS=1), for tests about it."""
    monkeypatch.setenv("TIERED_OBJECTS", "1")
