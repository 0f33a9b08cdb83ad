"""Settings: every TIERED_* variable parses; a malformed value warns once, names it, and uses the default."""
import warnings

import pytest

from tiered import config


@pytest.mark.parametrize("name,raw", [("TIERED_THRESHOLD", "abc"), ("TIERED_THRESHOLD", "0"),
                                      ("TIERED_OPT_LEVEL", "7"), ("TIERED_LOG", "loud"),
                                      ("TIERED_DISABLE", "maybe"), ("TIERED_MAX_SPECIALIZATIONS", "-1")])
def test_bad_value_warns_and_uses_default(name, raw):
    config._warned.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = config.get(name, {name: raw})
    assert value == config.SETTINGS[name].default
    assert len(caught) == 1
    text = str(caught[0].message)
    assert name in text and repr(raw) in text and repr(config.SETTINGS[name].default) in text


def test_good_values_parse():
    assert config.get("TIERED_THRESHOLD", {"TIERED_THRESHOLD": " 250 "}) == 250
    assert config.get("TIERED_DISABLE", {"TIERED_DISABLE": "1"}) is True
    assert config.get("TIERED_LOG", {"TIERED_LOG": "DEBUG"}) == "debug"
    assert config.get("TIERED_OPT_LEVEL", {}) == config.SETTINGS["TIERED_OPT_LEVEL"].default


def test_every_setting_documented():
    for s in config.SETTINGS.values():
        assert s.name.startswith("TIERED_") and s.doc


def test_disable_variable_turns_enable_off(monkeypatch):
    import tiered
    monkeypatch.setenv("TIERED_DISABLE", "1")
    assert tiered.enable() is False
