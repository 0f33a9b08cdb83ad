"""Settings: every TIERED_* variable parses; a malformed value warns once, names it, and uses the default."""
import warnings

import pytest

from tiered import config


@pytest.mark.parametrize("name,raw", [("TIERED_THRESHOLD", "abc"), ("TIERED_THRESHOLD", "0"),
                                      ("TIERED_OPT_LEVEL", "7"), ("TIERED_LOG", "loud"),
                                      ("TIERED_DISABLE", "maybe"), ("TIERED_MAX_SPECIALIZATIONS", "-1"),
                                      ("TIERED_CACHE", "a\0b")])
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
    assert config.get("TIERED_CACHE", {"TIERED_CACHE": "OFF"}) is None
    assert config.get("TIERED_CACHE", {"TIERED_CACHE": "~/jit"}).endswith("/jit") and "~" not in \
        config.get("TIERED_CACHE", {"TIERED_CACHE": "~/jit"})
    assert config.SETTINGS["TIERED_CACHE"].default.endswith("tiered")


def test_every_setting_documented():
    for s in config.SETTINGS.values():
        assert s.name.startswith("TIERED_") and s.doc


def test_disable_variable_turns_enable_off(monkeypatch):
    import tiered
    monkeypatch.setenv("TIERED_DISABLE", "1")
    assert tiered.enable() is False


def test_check_all_warns_once_at_the_callers_line(monkeypatch):
    config._warned.clear()
    env = {"TIERED_OPT_LEVEL": "9", "TIERED_THRESHHOLD": "5", "TIERED_LOG": "info"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        config.check_all(environ=env)
        config.check_all(environ=env)                     # once per value and name
    texts = [str(w.message) for w in caught]
    assert len(caught) == 2 and all(w.filename == __file__ for w in caught), texts
    assert "TIERED_OPT_LEVEL='9'" in texts[0] and "using the default 2" in texts[0]
    assert "TIERED_THRESHHOLD is not a tiered setting" in texts[1]


def test_enable_validates_settings_at_the_programs_line(monkeypatch):
    import tiered
    config._warned.clear()
    monkeypatch.setenv("TIERED_OPT_LEVEL", "9")
    monkeypatch.setenv("TIERED_DISABLE", "1")                 # validated, then nothing starts
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert tiered.enable() is False
    assert [w.filename for w in caught] == [__file__] and "TIERED_OPT_LEVEL" in str(caught[0].message)


def test_an_unsupported_python_warns_once_from_enable_and_jit(monkeypatch):
    import tiered
    from tiered.profiler import policy
    monkeypatch.setattr(policy, "supported", lambda: False)
    monkeypatch.setattr(tiered, "_warned_version", False)

    def f(x):
        return x + 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert tiered.jit(f) is f and f(1) == 2
        assert tiered.enable() is False
        assert tiered.jit(f) is f
    assert len(caught) == 1 and caught[0].filename == __file__
    assert "not supported" in str(caught[0].message) and "stays off" in str(caught[0].message)
    assert f.__code__.co_name == "f" and not hasattr(f, "__wrapped__")
