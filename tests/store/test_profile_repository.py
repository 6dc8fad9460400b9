"""The profile repository's contract, for every backend: CRUD of records, exactly one
active profile (concurrent creators included), params as JSON, hostile names."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from orca.errors import ConfigError, UnknownProfileError
from orca.store import ModelRecord, ProfileRecord, ProfileRepository, UserStore

from .conftest import Opener

BIG = ModelRecord("openai", "gpt-4o", {"temperature": 0.2})
SMALL = ModelRecord("openai", "gpt-4o-mini")


def record(name: str, planner: ModelRecord = BIG, worker: ModelRecord = SMALL) -> ProfileRecord:
    return ProfileRecord(name, planner, worker)


@pytest.fixture
def profiles(store: UserStore) -> ProfileRepository:
    return store.profiles


def active(profiles: ProfileRepository) -> list[str]:
    return [p.name for p in profiles.all() if p.active]


def test_a_profile_reads_back_as_it_was_stored(profiles: ProfileRepository) -> None:
    made = profiles.create(ProfileRecord("p", BIG, SMALL, "for tests"))
    assert made == ProfileRecord("p", BIG, SMALL, "for tests", active=True)
    assert profiles.get("p") == made
    assert profiles.names() == ["p"]


def test_params_round_trip_as_json(profiles: ProfileRepository) -> None:
    params: dict[str, Any] = {
        "temperature": 0.7,
        "stop": ["\n\n", "END"],
        "extra": {"nested": {"deep": [1, 2, {"x": None}]}},
        "label": "ünïcode ✓",
        "flag": True,
    }
    profiles.create(record("p", ModelRecord("vllm", "qwen", params)))
    got = profiles.get("p")
    assert dict(got.planner.params) == params
    assert dict(got.worker.params) == {}


def test_update_changes_only_what_it_is_given(profiles: ProfileRepository) -> None:
    profiles.create(ProfileRecord("p", BIG, SMALL, "old"))
    local = ModelRecord("ollama", "llama3.1:8b", {"base_url": "http://localhost:11434/v1"})
    new = profiles.update("p", worker=local)
    assert (new.planner, new.worker, new.description, new.active) == (BIG, local, "old", True)
    assert profiles.update("p", description="").description == ""
    assert profiles.get("p").worker == local


def test_delete_and_unknown_names(profiles: ProfileRepository) -> None:
    profiles.create(record("research"))
    for action in ("get", "use", "delete"):
        with pytest.raises(UnknownProfileError, match="research"):
            getattr(profiles, action)("reserch")
    with pytest.raises(UnknownProfileError):
        profiles.update("reserch", description="x")
    profiles.delete("research")
    assert profiles.names() == []
    assert profiles.active() is None


def test_a_duplicate_name_is_refused_and_changes_nothing(profiles: ProfileRepository) -> None:
    profiles.create(ProfileRecord("fast", BIG, SMALL, "original"))
    with pytest.raises(ConfigError) as info:
        profiles.create(ProfileRecord("fast", SMALL, SMALL, "impostor"), activate=True)
    assert info.value.key == "name"
    assert profiles.get("fast").description == "original"


def test_exactly_one_profile_is_active(profiles: ProfileRepository) -> None:
    profiles.create(record("a"))
    profiles.create(record("b"))
    assert active(profiles) == ["a"]  # the first one
    profiles.create(record("c"), activate=True)
    assert active(profiles) == ["c"]
    for name in ("a", "b", "c", "a"):
        assert profiles.use(name).active
        assert active(profiles) == [name]
    found = profiles.active()
    assert found is not None
    assert found.name == "a"


def test_concurrent_creators_leave_exactly_one_active_profile(open_store: Opener) -> None:
    clients = [open_store().profiles for _ in range(6)]
    barrier = threading.Barrier(len(clients))
    errors: list[BaseException] = []

    def create(i: int, profiles: ProfileRepository) -> None:
        try:
            barrier.wait()
            profiles.create(record(f"p{i}"), activate=(i % 2 == 0))
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=create, args=(i, c)) for i, c in enumerate(clients)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    assert clients[0].names() == [f"p{i}" for i in range(6)]
    assert len(active(clients[0])) == 1


@pytest.mark.parametrize(
    "name", ["", "x'); DROP TABLE llm_profiles; --", "a b", "-lead", "é", "x" * 65, 7]
)
def test_a_hostile_name_is_refused_naming_the_field(name: Any) -> None:
    with pytest.raises(ConfigError) as info:
        record(name)
    assert info.value.key == "name"


def test_a_hostile_name_to_look_up_is_just_unknown(profiles: ProfileRepository) -> None:
    profiles.create(record("p"))
    with pytest.raises(UnknownProfileError):
        profiles.get("p' OR '1'='1")
    assert profiles.names() == ["p"]


@pytest.mark.parametrize(
    ("model", "key"),
    [
        (ModelRecord("", "m"), "planner.provider"),
        (ModelRecord("openai", ""), "planner.model"),
        (ModelRecord("openai", "m", {"f": float("nan")}), "planner.params"),
        (ModelRecord("openai", "m", {"f": object()}), "planner.params"),
        (ModelRecord("openai", "m", ["not", "a", "mapping"]), "planner.params"),  # type: ignore[arg-type]
    ],
)
def test_a_model_that_cannot_be_stored_is_refused(model: ModelRecord, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        ProfileRecord("p", model, SMALL)
    assert info.value.key == key
