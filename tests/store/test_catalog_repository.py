"""The model catalog's records (``CatalogRepository``) over a real project database, on
both backends, through the protocol only: a digest and a name catalogued once, lookups
by id or name, filters, lifecycle moves checked in the same transaction (retired is
final), checks recorded, bad values refused before anything is written."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import threading

import pytest

from orca.errors import (
    CatalogConflictError,
    InvalidFieldError,
    InvalidInputError,
    InvalidTransitionError,
    UnknownCatalogModelError,
)
from orca.store import CatalogModel, CatalogRepository
from orca.store._catalog import LIFECYCLE, TRANSITIONS, model_id

from ._project import Opener, open_project_fixture  # noqa: F401 - a fixture

T0 = dt.datetime(2026, 12, 6, 21, 0, tzinfo=dt.UTC)


def model(name: str, *, content: str | None = None, **changes: object) -> CatalogModel:
    digest = "sha256:" + hashlib.sha256((content or name).encode()).hexdigest()
    made = CatalogModel(
        id=model_id(digest),
        name=name,
        path=f"/models/{name}.gguf",
        digest=digest,
        size_bytes=1234,
        format="gguf",
        metadata={"architecture": "llama", "block_count": 2, "quantization": "F32"},
        tags=("chat",),
        state="draft",
        trust="unverified",
        verified_at=None,
        created_at="",
        updated_at="",
        stamp="1:2:1234:17:17",
    )
    return dataclasses.replace(made, **changes)  # type: ignore[arg-type]


@pytest.fixture
def catalog(open_project: Opener) -> CatalogRepository:
    repository = open_project(clock=lambda: T0).catalog
    assert isinstance(repository, CatalogRepository)
    return repository


def test_an_added_model_reads_back_by_id_and_by_name(catalog: CatalogRepository) -> None:
    added = catalog.add(model("tiny", tags=("b", "a")))
    assert added.created_at == added.updated_at == T0.isoformat()
    assert added.id == "mdl_" + added.digest[7:23]
    assert catalog.get(added.id) == added
    assert catalog.get("tiny") == added
    assert catalog.get("nope") is None
    assert catalog.get("nul\x00") is None
    assert added.metadata == {"architecture": "llama", "block_count": 2, "quantization": "F32"}
    assert added.tags == ("a", "b")  # sorted
    assert added.to_dict()["tags"] == ["a", "b"]


def test_a_digest_is_catalogued_once(catalog: CatalogRepository) -> None:
    first = catalog.add(model("one", content="bytes"))
    with pytest.raises(CatalogConflictError) as caught:
        catalog.add(model("two", content="bytes"))
    assert caught.value.existing == first.id
    assert "catalogued already, as model 'one'" in str(caught.value)
    assert [m.name for m in catalog.list()] == ["one"]


def test_a_name_is_catalogued_once(catalog: CatalogRepository) -> None:
    first = catalog.add(model("same", content="a"))
    with pytest.raises(CatalogConflictError) as caught:
        catalog.add(model("same", content="b"))
    assert caught.value.existing == first.id
    assert "--name" in str(caught.value)


def test_bad_records_are_refused_before_anything_is_written(catalog: CatalogRepository) -> None:
    for bad, field in [
        (model("-starts-badly"), "name"),
        (model("x" * 129), "name"),
        (model("ok", tags=("bad tag",)), "tags"),
        (model("ok", tags=tuple(f"t{i}" for i in range(33))), "tags"),
        (model("ok", state="retired"), "state"),
        (model("ok", state="deprecated"), "state"),
        (model("ok", trust="sure"), "trust"),
        (model("ok", path="/a\x00b"), "path"),
        (model("ok", digest="md5:abc"), "digest"),
        (model("ok", id="mdl_0000000000000000"), "digest"),
    ]:
        with pytest.raises(InvalidFieldError) as caught:
            catalog.add(bad)
        assert caught.value.field == field, bad
    assert catalog.list() == []


def test_lists_filter_by_state_tag_and_trust(catalog: CatalogRepository) -> None:
    catalog.add(model("b-chat", tags=("chat", "7b")))
    catalog.add(model("a-code", tags=("code",), state="active"))
    catalog.add(model("c-chat", tags=("chat",), state="canary"))
    assert [m.name for m in catalog.list()] == ["a-code", "b-chat", "c-chat"]
    assert [m.name for m in catalog.list(tag="chat")] == ["b-chat", "c-chat"]
    assert [m.name for m in catalog.list(tag="7b")] == ["b-chat"]
    assert [m.name for m in catalog.list(tag="ch")] == []
    assert [m.name for m in catalog.list(state="active")] == ["a-code"]
    assert [m.name for m in catalog.list(state="canary", tag="chat")] == ["c-chat"]
    assert [m.name for m in catalog.list(trust="unverified")] == ["a-code", "b-chat", "c-chat"]
    assert catalog.list(trust="verified") == []
    with pytest.raises(InvalidInputError):
        catalog.list(state="live")
    with pytest.raises(InvalidInputError):
        catalog.list(trust="sure")


def test_every_lifecycle_move_is_allowed_or_refused_as_the_table_says(
    catalog: CatalogRepository,
) -> None:
    for start in ("draft", "active", "canary"):
        for target in LIFECYCLE:
            name = f"{start}-{target}"
            catalog.add(model(name, state=start))
            if target == start or target in TRANSITIONS[start]:
                assert catalog.set_state(name, target).state == target
            else:
                with pytest.raises(InvalidTransitionError) as caught:
                    catalog.set_state(name, target)
                assert caught.value.allowed == TRANSITIONS[start]
                assert catalog.get(name).state == start  # type: ignore[union-attr]


def test_retired_is_final(catalog: CatalogRepository) -> None:
    added = catalog.add(model("old", state="active"))
    assert catalog.set_state(added.id, "deprecated").state == "deprecated"
    assert catalog.set_state(added.id, "active").state == "active"
    assert catalog.set_state("old", "retired").state == "retired"
    for target in ("draft", "active", "canary", "deprecated"):
        with pytest.raises(InvalidTransitionError) as caught:
            catalog.set_state("old", target)
        assert "retired is final" in str(caught.value)
    assert catalog.set_state("old", "retired").state == "retired"  # a no-op
    with pytest.raises(CatalogConflictError) as again:
        catalog.add(model("old-again", content="old"))
    assert "a retired one stays retired" in str(again.value)


def test_unknown_models_and_states_are_named(catalog: CatalogRepository) -> None:
    catalog.add(model("qwen-small"))
    with pytest.raises(UnknownCatalogModelError) as caught:
        catalog.set_state("qwen-smal", "active")
    assert "did you mean 'qwen-small'" in str(caught.value)
    assert isinstance(caught.value, LookupError)
    with pytest.raises(InvalidFieldError):
        catalog.set_state("qwen-small", "live")
    with pytest.raises(UnknownCatalogModelError):
        catalog.record_check("mdl_ffffffffffffffff", trust="verified", size_bytes=1, stamp="s")


def test_a_check_records_trust_size_and_stamp(open_project: Opener) -> None:
    now = [T0]
    catalog = open_project(clock=lambda: now[0]).catalog
    added = catalog.add(model("m"))
    now[0] = T0 + dt.timedelta(minutes=5)
    verified = catalog.record_check(added.id, trust="verified", size_bytes=1234, stamp="a")
    assert (verified.trust, verified.verified_at, verified.stamp) == (
        "verified",
        now[0].isoformat(),
        "a",
    )
    assert verified.updated_at == now[0].isoformat()
    now[0] = T0 + dt.timedelta(minutes=9)
    bad = catalog.record_check(added.id, trust="untrusted", size_bytes=7, stamp="")
    assert (bad.trust, bad.verified_at, bad.size_bytes) == ("untrusted", verified.verified_at, 7)
    assert catalog.get("m") == bad
    with pytest.raises(InvalidFieldError):
        catalog.record_check(added.id, trust="sure", size_bytes=1, stamp="b")


def test_another_client_sees_the_catalog(open_project: Opener) -> None:
    first = open_project().catalog
    added = first.add(model("shared"))
    second = open_project().catalog
    assert second.get(added.id) == added


def test_concurrent_moves_from_one_state_do_not_both_win(open_project: Opener) -> None:
    # retiring and activating a draft at once: each move is checked against the state
    # it replaces, so activation never lands on a retired model
    open_project().catalog.add(model("race", state="draft"))
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def move(target: str) -> None:
        repo = open_project().catalog
        barrier.wait()
        try:
            outcomes.append(repo.set_state("race", target).state)
        except InvalidTransitionError:
            outcomes.append("refused")

    threads = [threading.Thread(target=move, args=(t,)) for t in ("retired", "active")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    final = open_project().catalog.get("race")
    assert final is not None
    # whichever came first, a retired model never became active after it
    assert final.state == "retired"
    assert sorted(outcomes) in (["active", "retired"], ["refused", "retired"])
