"""Profiles: named planner/worker pairs of models, stored in the user database."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orca.errors import ConfigError, UnknownProfileError, UnknownProviderError
from orca.llm import ModelSpec, Profile, Profiles, provider_names
from orca.store import SqliteStore, user_db_path, user_store

GPT = ModelSpec("openai", "gpt-4o", {"temperature": 0.2})
MINI = ModelSpec("openai", "gpt-4o-mini")
CLAUDE = ModelSpec("anthropic", "claude-sonnet-4-5", {"max_tokens": 4096})
LOCAL = ModelSpec("ollama", "llama3.1:8b", {"base_url": "http://localhost:11434/v1"})


def pair(name: str, planner: ModelSpec = GPT, worker: ModelSpec = MINI, **kw: Any) -> Profile:
    return Profile(name, planner, worker, **kw)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ORCA_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def store(home: Path) -> Iterator[SqliteStore]:
    with user_store() as opened:
        yield opened


@pytest.fixture
def conn(store: SqliteStore) -> Iterator[sqlite3.Connection]:
    """A plain connection to the same file, to look at the rows."""
    c = sqlite3.connect(store.path, isolation_level=None)
    yield c
    c.close()


@pytest.fixture
def profiles(store: SqliteStore) -> Profiles:
    return Profiles(store.profiles)


def active_names(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT name FROM llm_profiles WHERE active = 1")]


# -- CRUD -----------------------------------------------------------------------------------


def test_profiles_live_in_the_user_db_under_orca_home(home: Path, profiles: Profiles) -> None:
    profiles.create(pair("fast"))
    assert user_db_path() == home / "orca.db"
    assert (home / "orca.db").is_file()


def test_create_then_get_returns_the_same_profile(profiles: Profiles) -> None:
    created = profiles.create(pair("fast", CLAUDE, LOCAL, description="plan big, work local"))
    got = profiles.get("fast")
    assert got == created
    assert got.planner == CLAUDE
    assert got.worker == LOCAL
    assert got.description == "plan big, work local"
    assert got.spec("planner") == CLAUDE
    assert got.spec("worker") == LOCAL


def test_the_first_profile_becomes_active_and_later_ones_do_not(profiles: Profiles) -> None:
    assert profiles.active() is None
    first = profiles.create(pair("first"))
    assert first.active is True
    second = profiles.create(pair("second"))
    assert second.active is False
    active = profiles.active()
    assert active is not None
    assert active.name == "first"


def test_create_with_activate_switches_the_active_profile(
    profiles: Profiles, conn: sqlite3.Connection
) -> None:
    profiles.create(pair("a"))
    b = profiles.create(pair("b"), activate=True)
    assert b.active is True
    assert profiles.get("a").active is False
    assert active_names(conn) == ["b"]


def test_all_and_names_are_sorted_by_name(profiles: Profiles) -> None:
    for name in ("zeta", "alpha", "Mid", "beta.2"):
        profiles.create(pair(name))
    assert profiles.names() == sorted(["zeta", "alpha", "Mid", "beta.2"])
    assert [p.name for p in profiles.all()] == profiles.names()
    assert sum(p.active for p in profiles.all()) == 1


def test_update_changes_only_what_is_given(profiles: Profiles) -> None:
    profiles.create(pair("p", GPT, MINI, description="old"))
    updated = profiles.update("p", worker=LOCAL)
    assert (updated.planner, updated.worker, updated.description) == (GPT, LOCAL, "old")
    updated = profiles.update("p", planner=CLAUDE, description="new")
    assert (updated.planner, updated.worker, updated.description) == (CLAUDE, LOCAL, "new")
    assert profiles.update("p", description="").description == ""
    assert profiles.get("p") == Profile("p", CLAUDE, LOCAL, description="", active=True)


def test_update_keeps_the_active_flag(profiles: Profiles) -> None:
    profiles.create(pair("a"))
    profiles.create(pair("b"))
    assert profiles.update("a", worker=LOCAL).active is True
    assert profiles.update("b", worker=LOCAL).active is False


def test_delete_removes_a_profile(profiles: Profiles) -> None:
    profiles.create(pair("a"))
    profiles.create(pair("b"))
    profiles.delete("b")
    assert profiles.names() == ["a"]
    with pytest.raises(UnknownProfileError):
        profiles.get("b")
    active = profiles.active()
    assert active is not None
    assert active.name == "a"


def test_deleting_the_active_profile_leaves_at_most_one_active_and_use_still_works(
    profiles: Profiles, conn: sqlite3.Connection
) -> None:
    profiles.create(pair("a"))
    profiles.create(pair("b"))
    profiles.delete("a")
    assert len(active_names(conn)) <= 1
    assert profiles.get("b").planner == GPT
    assert profiles.use("b").active is True
    assert active_names(conn) == ["b"]


def test_use_makes_exactly_one_profile_active(profiles: Profiles, conn: sqlite3.Connection) -> None:
    for name in ("a", "b", "c"):
        profiles.create(pair(name))
    for name in ("c", "b", "b", "a", "c"):
        used = profiles.use(name)
        assert used.active is True
        assert active_names(conn) == [name]
        assert [p.name for p in profiles.all() if p.active] == [name]


def test_the_database_itself_rejects_a_second_active_profile(
    profiles: Profiles, conn: sqlite3.Connection
) -> None:
    profiles.create(pair("a"))
    profiles.create(pair("b"))
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        conn.execute("UPDATE llm_profiles SET active = 1 WHERE name = 'b'")
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        conn.execute(
            "INSERT INTO llm_profiles (id, name, planner_provider, planner_model, "
            "worker_provider, worker_model, active, created_at, updated_at) "
            "VALUES ('x', 'raw', 'openai', 'm', 'openai', 'm', 1, 'now', 'now')"
        )
    assert active_names(conn) == ["a"]


def test_the_database_rejects_an_active_flag_other_than_0_or_1(
    profiles: Profiles, conn: sqlite3.Connection
) -> None:
    profiles.create(pair("a"))
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        conn.execute("UPDATE llm_profiles SET active = 2 WHERE name = 'a'")


# -- errors -----------------------------------------------------------------------------------


def test_a_duplicate_name_raises_config_error_and_changes_nothing(
    profiles: Profiles, conn: sqlite3.Connection, store: SqliteStore
) -> None:
    profiles.create(pair("fast", description="original"))
    with pytest.raises(ConfigError) as info:
        profiles.create(pair("fast", CLAUDE, CLAUDE, description="impostor"), activate=True)
    assert info.value.key == "name"
    assert "already exists" in str(info.value)
    assert "Fix:" in str(info.value)
    assert profiles.get("fast").description == "original"
    assert conn.execute("SELECT COUNT(*) FROM llm_profiles").fetchone()[0] == 1
    # the failed transaction was rolled back: the store's connection keeps working
    assert not store._user.conn.in_transaction  # type: ignore[attr-defined]
    profiles.create(pair("other"))
    assert profiles.names() == ["fast", "other"]


@pytest.mark.parametrize("call", ["get", "use", "delete", "update"])
def test_an_unknown_profile_suggests_the_closest_name(profiles: Profiles, call: str) -> None:
    profiles.create(pair("fast-planner"))
    profiles.create(pair("cheap"))
    with pytest.raises(UnknownProfileError) as info:
        getattr(profiles, call)("fast-planer")
    message = str(info.value)
    assert "'fast-planer'" in message
    assert "did you mean 'fast-planner'?" in message
    assert "Fix:" in message
    assert info.value.name == "fast-planer"
    assert info.value.key == "profile"
    assert isinstance(info.value, LookupError)
    assert isinstance(info.value, ConfigError)
    assert profiles.names() == ["cheap", "fast-planner"]


def test_an_unknown_profile_with_no_profiles_says_there_are_none(profiles: Profiles) -> None:
    with pytest.raises(UnknownProfileError, match="none yet"):
        profiles.get("anything")


def test_an_unknown_profile_far_from_every_name_suggests_nothing(profiles: Profiles) -> None:
    profiles.create(pair("fast-planner"))
    with pytest.raises(UnknownProfileError) as info:
        profiles.get("zzzzzz")
    assert "did you mean" not in str(info.value)


@pytest.mark.parametrize(
    ("typo", "closest"), [("opena", "openai"), ("antropic", "anthropic"), ("olama", "ollama")]
)
def test_an_unknown_provider_suggests_the_closest(typo: str, closest: str) -> None:
    with pytest.raises(UnknownProviderError) as info:
        ModelSpec(typo, "some-model")
    message = str(info.value)
    assert f"did you mean {closest!r}?" in message
    assert info.value.key == "provider"
    assert info.value.name == typo
    for known in provider_names():
        assert known in message  # the fix lists every provider


def test_every_known_provider_is_accepted() -> None:
    names = provider_names()
    assert {"openai", "anthropic", "openrouter", "llamacpp", "ollama", "vllm"} <= set(names)
    for name in names:
        assert ModelSpec(name, "m").provider == name


@pytest.mark.parametrize("model", ["", None])
def test_an_empty_model_raises_config_error(model: Any) -> None:
    with pytest.raises(ConfigError) as info:
        ModelSpec("openai", model)
    assert info.value.key == "model"


def test_an_api_key_in_params_is_refused(profiles: Profiles, conn: sqlite3.Connection) -> None:
    with pytest.raises(ConfigError) as info:
        ModelSpec("openai", "gpt-4o", {"api_key": "sk-secret", "temperature": 0})
    assert info.value.key == "params.api_key"
    assert "never stored" in str(info.value)
    assert "sk-secret" not in str(info.value)
    with pytest.raises(ConfigError):
        Profile.from_dict(
            "p",
            {
                "planner": {"provider": "openai", "model": "gpt-4o", "api_key": "sk-secret"},
                "worker": {"provider": "openai", "model": "gpt-4o"},
            },
        )
    assert conn.execute("SELECT COUNT(*) FROM llm_profiles").fetchone()[0] == 0


@pytest.mark.parametrize(
    "name",
    ["", "-leading-dash", ".hidden", "_under", "has space", "slash/name", "x" * 65, "ünï", 42],
)
def test_an_invalid_profile_name_raises_config_error(name: Any) -> None:
    with pytest.raises(ConfigError) as info:
        Profile(name, GPT, MINI)
    assert info.value.key == "name"


@pytest.mark.parametrize("name", ["a", "A1", "fast-planner", "v1.2_beta", "9lives", "x" * 64])
def test_valid_profile_names_are_accepted(name: str, profiles: Profiles) -> None:
    assert profiles.create(pair(name)).name == name


def test_a_profile_name_with_a_trailing_newline_is_invalid() -> None:
    with pytest.raises(ConfigError):
        Profile("fast\n", GPT, MINI)


# -- parsing config tables ---------------------------------------------------------------------


def test_profile_from_dict_parses_models_and_params() -> None:
    profile = Profile.from_dict(
        "mixed",
        {
            "description": "big planner, small worker",
            "planner": {"provider": "anthropic", "model": "claude-sonnet-4-5", "max_tokens": 4096},
            "worker": {
                "provider": "ollama",
                "model": "llama3.1:8b",
                "base_url": "http://localhost:11434/v1",
            },
        },
    )
    assert profile == Profile("mixed", CLAUDE, LOCAL, "big planner, small worker")


def test_profile_from_dict_without_description_has_an_empty_one() -> None:
    profile = Profile.from_dict(
        "p",
        {
            "planner": {"provider": "openai", "model": "gpt-4o"},
            "worker": {"provider": "openai", "model": "gpt-4o-mini"},
        },
    )
    assert profile.description == ""
    assert profile.planner.params == {}


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"planner": {"provider": "openai", "model": "m"}}, "profiles.p.worker"),
        ({"worker": {"provider": "openai", "model": "m"}}, "profiles.p.planner"),
        (
            {"planner": {"provider": "openai", "model": "m"}, "worker": "openai/m"},
            "profiles.p.worker",
        ),
        (
            {"planner": {"model": "m"}, "worker": {"provider": "openai", "model": "m"}},
            "profiles.p.planner.provider",
        ),
        (
            {"planner": {"provider": "openai", "model": "m"}, "worker": {"provider": "openai"}},
            "profiles.p.worker.model",
        ),
        (
            {"planner": {}, "worker": {"provider": "openai", "model": "m"}},
            "profiles.p.planner.provider",
        ),
        (
            {
                "planner": {"provider": "openai", "model": "m"},
                "worker": {"provider": "openai", "model": "m"},
                "colour": "blue",
            },
            "profiles.p.colour",
        ),
    ],
)
def test_profile_from_dict_errors_name_the_key(data: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        Profile.from_dict("p", data)
    assert info.value.key == key
    assert "Fix:" in str(info.value)


def test_profile_from_dict_with_an_unknown_provider_suggests_the_closest() -> None:
    with pytest.raises(UnknownProviderError, match="did you mean 'anthropic'"):
        Profile.from_dict(
            "p",
            {
                "planner": {"provider": "anthropc", "model": "m"},
                "worker": {"provider": "openai", "model": "m"},
            },
        )


# -- storage ------------------------------------------------------------------------------------


def test_params_survive_a_round_trip_as_json(profiles: Profiles, conn: sqlite3.Connection) -> None:
    params = {
        "temperature": 0.25,
        "max_tokens": 1024,
        "stop": ["\n\n", "END"],
        "extra_body": {"nested": {"ok": True, "none": None}},
        "base_url": "http://127.0.0.1:8080/v1",
        "name": "ünïcødé ✓",
    }
    profiles.create(pair("p", ModelSpec("vllm", "qwen", params), MINI))
    got = profiles.get("p")
    assert dict(got.planner.params) == params
    assert dict(got.worker.params) == {}
    raw = conn.execute("SELECT planner_params, worker_params FROM llm_profiles").fetchone()
    assert raw[1] == "{}"
    assert json.loads(raw[0]) == params


def test_two_connections_see_each_others_writes(home: Path) -> None:
    one, two = user_store(), user_store()
    try:
        a, b = Profiles(one.profiles), Profiles(two.profiles)
        a.create(pair("from-one"))
        assert b.names() == ["from-one"]
        b.create(pair("from-two"), activate=True)
        active = a.active()
        assert active is not None
        assert active.name == "from-two"
        b.update("from-one", worker=LOCAL)
        assert a.get("from-one").worker == LOCAL
        a.delete("from-two")
        assert b.names() == ["from-one"]
    finally:
        one.close()
        two.close()


def test_profiles_persist_after_the_connection_closes(home: Path) -> None:
    with user_store() as first:
        Profiles(first.profiles).create(pair("kept", CLAUDE, LOCAL))
    with user_store() as again:
        assert Profiles(again.profiles).get("kept") == Profile("kept", CLAUDE, LOCAL, active=True)


def test_concurrent_creators_leave_exactly_one_active_profile(home: Path) -> None:
    user_store().close()  # create the file once, as a CLI would have
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(i: int) -> None:
        store = user_store()
        try:
            barrier.wait()
            Profiles(store.profiles).create(pair(f"p{i}"), activate=(i % 3 == 0))
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with user_store() as store:
        assert Profiles(store.profiles).names() == [f"p{i}" for i in range(8)]
    conn = sqlite3.connect(user_db_path())
    try:
        assert len(active_names(conn)) == 1
    finally:
        conn.close()
