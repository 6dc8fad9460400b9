"""The configuration repository's contract, for every backend: text values by key,
overwritten in place, deleted, listed; bad keys and values refused naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from orca.errors import ConfigError
from orca.store import ConfigurationRepository, UserStore

from .conftest import Opener


@pytest.fixture
def configurations(store: UserStore) -> ConfigurationRepository:
    return store.configurations


def test_a_setting_is_stored_overwritten_and_deleted(
    configurations: ConfigurationRepository,
) -> None:
    assert configurations.get("ui.theme") is None
    configurations.set("ui.theme", "dark")
    assert configurations.get("ui.theme") == "dark"
    configurations.set("ui.theme", "light")
    assert configurations.get("ui.theme") == "light"
    assert configurations.delete("ui.theme")
    assert not configurations.delete("ui.theme")
    assert configurations.get("ui.theme") is None


def test_all_lists_every_setting_by_key(configurations: ConfigurationRepository) -> None:
    for key in ("b", "a:1", "c-d"):
        configurations.set(key, key.upper())
    assert configurations.all() == {"a:1": "A:1", "b": "B", "c-d": "C-D"}


@pytest.mark.parametrize(
    "value", ["", "x'); DROP TABLE configurations; --", "line\nbreak", "ünïcode ✓", '{"j": 1}']
)
def test_any_text_value_round_trips(configurations: ConfigurationRepository, value: str) -> None:
    configurations.set("k", value)
    assert configurations.get("k") == value


@pytest.mark.parametrize(
    "key", ["", " ", "a b", "x'); DROP TABLE configurations; --", "-lead", "k" * 129, None, 3]
)
def test_a_bad_key_is_refused_naming_the_field(
    configurations: ConfigurationRepository, key: Any
) -> None:
    for attempt in (
        lambda: configurations.set(key, "v"),
        lambda: configurations.get(key),
        lambda: configurations.delete(key),
    ):
        with pytest.raises(ConfigError) as info:
            attempt()
        assert info.value.key == "key"
    assert configurations.all() == {}


@pytest.mark.parametrize("value", [None, 3, b"bytes", ["list"], "nul\x00inside", "x" * 70_000])
def test_a_bad_value_is_refused_naming_the_key(
    configurations: ConfigurationRepository, value: Any
) -> None:
    with pytest.raises(ConfigError) as info:
        configurations.set("k", value)
    assert info.value.key == "k"
    assert configurations.get("k") is None


def test_another_client_sees_the_setting(open_store: Opener) -> None:
    open_store().configurations.set("shared", "yes")
    assert open_store().configurations.get("shared") == "yes"
