"""The saved-flow repository (``FlowRepository``) over a real project database: versions
made, ordered by semantic-version precedence, saved idempotently by content, never
overwritten; its own schema component; two clients of one file see each other's saves.
The suite runs through the protocol once per backend."""

from __future__ import annotations

import datetime as dt
import itertools
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orca.errors import CorruptDatabaseError, FlowVersionExistsError, InvalidFieldError
from orca.store import FlowRepository, SqliteStore, check_flow_name
from orca.store._flows import Semver, newest_first
from orca.store.postgres import PostgresStore
from orca.store.postgres._schema import FLOWS_MIGRATIONS as PG_FLOWS_MIGRATIONS
from orca.store.sqlite._schema import FLOWS_MIGRATIONS

from ._project import Opener, open_project_fixture, rows, write  # noqa: F401 - a fixture

T0 = dt.datetime(2026, 5, 13, 9, 0, tzinfo=dt.UTC)

FlowOpener = Callable[[], FlowRepository]


def _doc(prompt: str = "Plan: {{question}}") -> dict[str, object]:
    return {
        "format": "orca.flow/v1",
        "name": "triage",
        "state": [{"key": "question", "type": "string"}],
        "nodes": [{"id": "plan", "kind": "llm", "prompt": prompt, "output": "plan"}],
        "edges": [{"from": "__start__", "to": "plan"}, {"from": "plan", "to": "__end__"}],
    }


@pytest.fixture
def open_flows(open_project: Opener) -> FlowOpener:
    """Opens another client of one project's flows (on each backend of ``BACKENDS``)."""
    return lambda: open_project(clock=lambda: T0).flows


@pytest.fixture
def flows(open_flows: FlowOpener) -> FlowRepository:
    return open_flows()


def test_a_first_save_is_0_1_0_and_later_saves_bump_the_patch(flows: FlowRepository) -> None:
    assert isinstance(flows, FlowRepository)
    first, made = flows.put("triage", _doc(), "sha256:a", message="first")
    assert made
    assert (first.version, first.hash, first.message) == ("0.1.0", "sha256:a", "first")
    assert first.created_at == "2026-05-13T09:00:00+00:00"
    second, made = flows.put("triage", _doc("v2"), "sha256:b")
    assert made
    assert second.version == "0.1.1"
    assert second.message is None
    assert [i.version for i in flows.versions("triage")] == ["0.1.1", "0.1.0"]


def test_saving_the_latest_content_again_gives_the_same_version(flows: FlowRepository) -> None:
    first, _ = flows.put("triage", _doc(), "sha256:a")
    again, made = flows.put("triage", _doc(), "sha256:a", message="ignored")
    assert not made
    assert again == first
    assert len(flows.versions("triage")) == 1


def test_an_explicit_version_is_kept_and_never_overwritten(flows: FlowRepository) -> None:
    info, made = flows.put("triage", _doc(), "sha256:a", version="1.2.0")
    assert made
    assert info.version == "1.2.0"
    same, made = flows.put("triage", _doc(), "sha256:a", version="1.2.0")
    assert not made
    assert same == info
    with pytest.raises(FlowVersionExistsError) as caught:
        flows.put("triage", _doc("other"), "sha256:b", version="1.2.0")
    assert (caught.value.name, caught.value.version, caught.value.hash) == (
        "triage",
        "1.2.0",
        "sha256:a",
    )
    saved = flows.get("triage", "1.2.0")
    assert saved is not None
    assert saved.flow == _doc()
    assert saved.info.hash == "sha256:a"


def test_latest_is_the_highest_precedence_not_the_newest_save(flows: FlowRepository) -> None:
    flows.put("triage", _doc("a"), "sha256:a", version="2.0.0-rc.1")
    flows.put("triage", _doc("b"), "sha256:b", version="1.9.0")
    flows.put("triage", _doc("c"), "sha256:c", version="2.0.0-beta.2")
    latest = flows.get("triage")
    assert latest is not None
    assert latest.info.version == "2.0.0-rc.1"
    assert latest.flow == _doc("a")
    # the next patch of a prerelease is its release
    info, _ = flows.put("triage", _doc("d"), "sha256:d")
    assert info.version == "2.0.0"
    assert [i.version for i in flows.versions("triage")] == [
        "2.0.0",
        "2.0.0-rc.1",
        "2.0.0-beta.2",
        "1.9.0",
    ]


def test_a_bump_skips_versions_saved_by_hand(flows: FlowRepository) -> None:
    flows.put("triage", _doc("a"), "sha256:a", version="1.0.1")
    flows.put("triage", _doc("b"), "sha256:b", version="1.0.0")  # a backport: not latest
    info, _ = flows.put("triage", _doc("c"), "sha256:c")
    assert info.version == "1.0.2"


def test_get_of_an_absent_flow_or_version_is_none(flows: FlowRepository) -> None:
    assert flows.get("nothing") is None
    flows.put("triage", _doc(), "sha256:a")
    assert flows.get("triage", "9.9.9") is None
    assert flows.versions("nothing") == []


def test_flows_lists_each_name_with_its_latest_and_count(flows: FlowRepository) -> None:
    flows.put("beta", _doc(), "sha256:a")
    flows.put("alpha", _doc(), "sha256:a", version="3.0.0")
    flows.put("alpha", _doc("x"), "sha256:x", version="0.9.0")
    listed = flows.flows()
    assert [(f.name, f.latest.version, f.versions) for f in listed] == [
        ("alpha", "3.0.0", 2),
        ("beta", "0.1.0", 1),
    ]
    assert listed[0].to_dict()["latest"]["hash"] == "sha256:a"


def test_delete_forgets_one_version_and_latest_moves_down(flows: FlowRepository) -> None:
    flows.put("triage", _doc("a"), "sha256:a")
    flows.put("triage", _doc("b"), "sha256:b")
    assert flows.delete("triage", "latest")
    latest = flows.get("triage")
    assert latest is not None
    assert latest.info.version == "0.1.0"
    assert not flows.delete("triage", "0.1.1")
    assert flows.delete("triage", "0.1.0")
    assert flows.get("triage") is None
    assert flows.flows() == []
    assert not flows.delete("triage", "latest")


@pytest.mark.parametrize(
    "version", ["1", "1.0", "01.0.0", "1.0.0-", "1.0.0+build", "1.0.0-01", "v1.0.0", "a" * 80]
)
def test_a_bad_version_is_refused_naming_the_field(flows: FlowRepository, version: str) -> None:
    with pytest.raises(InvalidFieldError) as caught:
        flows.put("triage", _doc(), "sha256:a", version=version)
    assert caught.value.field == "version"
    assert "MAJOR.MINOR.PATCH" in caught.value.fix
    with pytest.raises(InvalidFieldError):
        flows.get("triage", version)
    assert flows.versions("triage") == []


@pytest.mark.parametrize("name", ["", "../etc", "a/b", ".hidden", "x" * 65, "a b", "n\x00"])
def test_a_bad_name_is_refused(flows: FlowRepository, name: str) -> None:
    with pytest.raises(InvalidFieldError) as caught:
        flows.put(name, _doc(), "sha256:a")
    assert caught.value.field == "name"
    with pytest.raises(InvalidFieldError):
        check_flow_name(name)


def test_two_clients_of_one_file_see_each_others_saves(open_flows: FlowOpener) -> None:
    one, two = open_flows(), open_flows()
    one.put("triage", _doc(), "sha256:a")
    info, made = two.put("triage", _doc("b"), "sha256:b")
    assert made
    assert info.version == "0.1.1"
    assert [i.version for i in one.versions("triage")] == ["0.1.1", "0.1.0"]


@pytest.mark.parametrize(
    ("field", "change"),
    [("message", {"message": "first\x00"}), ("hash", {"content_hash": "sha256:\x00"})],
)
def test_hostile_text_is_refused_naming_the_field(
    flows: FlowRepository, field: str, change: dict[str, str]
) -> None:
    flows.put("triage", _doc(), "sha256:a")
    args = {"content_hash": "sha256:b", **change}
    with pytest.raises(InvalidFieldError) as caught:
        flows.put("triage", _doc("b"), args.pop("content_hash"), **args)
    assert caught.value.field == field
    assert [i.version for i in flows.versions("triage")] == ["0.1.0"]


def test_a_document_holding_a_nul_is_kept_whole(flows: FlowRepository) -> None:
    flows.put("triage", _doc("a\x00b"), "sha256:a")  # JSON escapes it
    saved = flows.get("triage")
    assert saved is not None
    assert saved.flow == _doc("a\x00b")


def test_lookups_by_a_name_holding_a_nul_find_nothing(flows: FlowRepository) -> None:
    flows.put("triage", _doc(), "sha256:a")
    assert flows.get("triage\x00") is None
    assert flows.versions("triage\x00") == []
    assert not flows.delete("triage\x00", "latest")
    assert len(flows.versions("triage")) == 1


def test_a_damaged_document_is_reported_as_damage(open_project: Opener) -> None:
    store = open_project()
    store.flows.put("triage", _doc(), "sha256:a")
    write(store, "UPDATE flow_versions SET document = '{\"cut'")
    with pytest.raises(CorruptDatabaseError, match=r"flow triage@0\.1\.0's document is damaged"):
        store.flows.get("triage")


# SQLite only: it reads the file with sqlite3; the next test is PostgreSQL's twin.
def test_the_flows_component_has_its_own_schema_version(tmp_path: Path) -> None:
    db = tmp_path / ".orca" / "project.db"
    with SqliteStore(db) as store:
        store.flows.put("triage", _doc(), "sha256:a")
    conn = sqlite3.connect(db)
    try:
        versions = dict(conn.execute("SELECT component, version FROM orca_schema"))
        [row] = conn.execute("SELECT name, version, hash FROM flow_versions").fetchall()
    finally:
        conn.close()
    assert versions["flows"] == len(FLOWS_MIGRATIONS)
    assert row == ("triage", "0.1.0", "sha256:a")


def test_the_flows_component_has_its_own_schema_version_in_postgres(pg_url: str) -> None:
    with PostgresStore(pg_url) as store:
        store.flows.put("triage", _doc(), "sha256:a")
        versions = store.db.versions()
        found = rows(store, "SELECT name, version, hash FROM flow_versions")
    assert versions == {"flows": len(PG_FLOWS_MIGRATIONS)}
    assert found == [("triage", "0.1.0", "sha256:a")]


def test_semver_precedence_follows_the_spec_example() -> None:
    # semver.org, item 11
    spelled = [
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.1.0",
        "2.0.0",
        "10.0.0",
    ]
    parsed = [Semver.parse(v) for v in spelled]
    assert all(a < b for a, b in itertools.pairwise(parsed))
    assert newest_first(list(reversed(spelled))) == list(reversed(spelled))
    assert [str(p) for p in parsed] == spelled


_ident = st.one_of(
    st.integers(0, 10**6).map(str),
    st.from_regex(r"[a-z][a-z0-9-]{0,4}", fullmatch=True),
)
_version = st.builds(
    lambda m, n, p, pre: f"{m}.{n}.{p}" + (f"-{'.'.join(pre)}" if pre else ""),
    st.integers(0, 50),
    st.integers(0, 50),
    st.integers(0, 50),
    st.lists(_ident, max_size=3),
)


@given(st.lists(_version, min_size=1, max_size=8))
def test_precedence_is_a_total_order_consistent_with_spelling(versions: list[str]) -> None:
    parsed = [Semver.parse(v) for v in versions]
    ordered = sorted(parsed, key=lambda s: s.key)
    for a, b in itertools.pairwise(ordered):
        assert a <= b
        assert (a.key == b.key) == (str(a) == str(b))
    for v in versions:
        assert str(Semver.parse(v)) == v
        bumped = Semver.parse(v).next_patch()
        assert bumped > Semver.parse(v)
