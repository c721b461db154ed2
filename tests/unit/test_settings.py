from dataclasses import dataclass

import pytest

from shared.settings import SettingsError, load


@dataclass(frozen=True)
class Example:
    table_name: str
    ttl_seconds: int = 60
    keys: tuple[str, ...] = ()
    enabled: bool = False


def test_settings_are_read_and_typed_from_the_environment():
    got = load(Example, {"TABLE_NAME": "t", "TTL_SECONDS": "90", "KEYS": "a, b,", "ENABLED": "true"})
    assert got == Example("t", 90, ("a", "b"), True)


def test_a_missing_variable_is_reported_by_name():
    with pytest.raises(SettingsError, match="TABLE_NAME"):
        load(Example, {})


def test_a_malformed_integer_is_reported_by_name():
    with pytest.raises(SettingsError, match="TTL_SECONDS"):
        load(Example, {"TABLE_NAME": "t", "TTL_SECONDS": "soon"})
