"""Tenants in the store: the registry, tokens that belong to one tenant, and each
tenant's namespace (its own SQLite files, its own PostgreSQL schema) that no other
tenant's store can see into. On both backends."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from orca.checkpoint import RunRecord
from orca.cost import Budget
from orca.errors import InvalidInputError, UnknownBudgetError
from orca.store import (
    DEFAULT_TENANT,
    STORE_ENV,
    TENANT_ENV,
    SqliteStore,
    Store,
    TenantRepository,
    current_tenant,
    open_store,
    project_store,
    user_store,
)
from orca.store._tenants import schema_of, tenant_path
from orca.store.postgres import PgDb, PostgresStore
from orca.store.postgres._schema import TOKEN_MIGRATIONS as PG_TOKEN_MIGRATIONS
from orca.store.sqlite import _db
from orca.store.sqlite._schema import TOKEN_COMPONENT, TOKEN_MIGRATIONS

from ._project import BACKENDS, Opener, open_project_fixture, rows  # noqa: F401 - a fixture

T0 = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)
HOSTILE = ["", "A", "acme corp", "../etc", "a/b", "a\x00b", "-acme", "_x", "x" * 41, "é", "a.b"]


def test_the_default_tenant_is_always_registered(open_project: Opener) -> None:
    tenants = open_project(clock=lambda: T0).tenants
    assert isinstance(tenants, TenantRepository)
    [default] = tenants.list()
    assert (default.name, default.disabled) == (DEFAULT_TENANT, False)
    assert tenants.get(DEFAULT_TENANT) == default
    with pytest.raises(InvalidInputError, match="default tenant cannot be disabled"):
        tenants.set_disabled(DEFAULT_TENANT, True)


def test_tenants_are_made_listed_disabled_and_enabled(open_project: Opener) -> None:
    tenants = open_project(clock=lambda: T0).tenants
    made = tenants.create("globex", "Globex Corp")
    tenants.create("acme")
    assert made.to_dict() == {
        "name": "globex",
        "display_name": "Globex Corp",
        "created_at": "2026-12-06T09:00:00+00:00",
        "disabled_at": None,
    }
    assert [t.name for t in tenants.list()] == ["default", "acme", "globex"]
    with pytest.raises(InvalidInputError, match="a tenant is named 'acme'"):
        tenants.create("acme", "again")
    off = tenants.set_disabled("acme", True)
    assert off.disabled
    assert tenants.get("acme") == off
    assert not tenants.set_disabled("acme", False).disabled
    with pytest.raises(InvalidInputError, match=r"no tenant is named 'acmee'.*acme"):
        tenants.set_disabled("acmee", True)
    assert tenants.get("nobody") is None


@pytest.mark.parametrize("name", HOSTILE)
def test_bad_tenant_names_are_refused_naming_the_rule(open_project: Opener, name: str) -> None:
    tenants = open_project().tenants
    with pytest.raises(InvalidInputError, match="lowercase letters"):
        tenants.create(name)
    with pytest.raises(InvalidInputError, match="lowercase letters"):
        open_project().tokens.create("bot", "read", tenant=name)
    assert [t.name for t in tenants.list()] == ["default"]


def test_bad_display_names_are_refused(open_project: Opener) -> None:
    tenants = open_project().tenants
    for text in ("x" * 201, "line\nbreak", "nul\x00"):
        with pytest.raises(InvalidInputError, match="display_name"):
            tenants.create("acme", text)
    assert tenants.get("acme") is None


def test_a_token_belongs_to_one_tenant(open_project: Opener) -> None:
    store = open_project()
    store.tenants.create("acme")
    store.tenants.create("globex")
    tokens = store.tokens
    acme, acme_token = tokens.create("bot", "run", tenant="acme")
    globex, globex_token = tokens.create("bot", "admin", tenant="globex")  # same name: fine
    tokens.create("bot", "read")  # and in the default tenant
    with pytest.raises(InvalidInputError, match="a live token is named 'bot' in tenant 'acme'"):
        tokens.create("bot", "read", tenant="acme")
    with pytest.raises(InvalidInputError, match="orca tenant create nobody"):
        tokens.create("bot", "read", tenant="nobody")
    found = tokens.verify(acme_token)
    assert found is not None
    assert (found.tenant, found.scope) == ("acme", "run")
    assert [t.id for t in tokens.list(tenant="acme")] == [acme.id]
    assert {t.tenant for t in tokens.list(tenant=None)} == {"default", "acme", "globex"}
    assert [t.tenant for t in tokens.list()] == ["default"]
    with pytest.raises(InvalidInputError, match="no live token is named 'bot'"):
        tokens.revoke("bot", tenant="nobody")
    assert tokens.revoke("bot", tenant="globex").id == globex.id
    assert tokens.verify(globex_token) is None
    assert tokens.verify(acme_token) is not None  # another tenant's 'bot' is untouched


def test_a_disabled_tenants_tokens_do_not_verify_until_it_is_enabled(
    open_project: Opener,
) -> None:
    store = open_project()
    store.tenants.create("acme")
    _, token = store.tokens.create("bot", "run", tenant="acme")
    store.tenants.set_disabled("acme", True)
    assert open_project().tokens.verify(token) is None  # another client sees it at once
    with pytest.raises(InvalidInputError, match="orca tenant enable acme"):
        store.tokens.create("other", "run", tenant="acme")
    store.tenants.set_disabled("acme", False)
    assert open_project().tokens.verify(token) is not None


def test_tokens_of_an_older_database_become_the_default_tenants(open_project: Opener) -> None:
    """A project database made before tenants (tokens schema version 1) migrates: its
    tokens keep working and belong to the default tenant."""
    store = open_project()
    if isinstance(store, PostgresStore):
        db = PgDb(store.db.url)
        try:
            db.prepare([(TOKEN_COMPONENT, PG_TOKEN_MIGRATIONS[:1])])
        finally:
            db.close()
    else:
        conn = _db.connect(store.path)
        try:
            _db.prepare(conn, store.path, TOKEN_COMPONENT, TOKEN_MIGRATIONS[:1])
        finally:
            conn.close()
    old = "orca_0123456789ab_" + "k" * 43
    sha = __import__("hashlib").sha256(old.encode()).hexdigest()
    insert = (
        "INSERT INTO api_tokens (id, name, scope, token_sha256, created_at) VALUES "
        f"('0123456789ab', 'old', 'admin', '{sha}', '2026-01-01T00:00:00+00:00')"
    )
    if isinstance(store, PostgresStore):
        with store.db.transaction() as conn:
            conn.execute(insert.encode())
    else:
        with sqlite3.connect(store.path) as conn:
            conn.execute(insert)
    found = store.tokens.verify(old)
    assert found is not None
    assert (found.name, found.tenant) == ("old", DEFAULT_TENANT)
    assert [t.name for t in store.tenants.list()] == ["default"]


# -- namespaces ---------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def shared(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """``ORCA_STORE`` naming one store for everything: a PostgreSQL database, or a
    SQLite file."""
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")
    else:
        url = f"sqlite:///{tmp_path / 'shared.db'}"
    monkeypatch.setenv(STORE_ENV, url)
    monkeypatch.delenv(TENANT_ENV, raising=False)
    return url


def _run(run_id: str) -> RunRecord:
    return RunRecord(run_id, "t-1", "g", "queued", "2026-12-06T09:00:00+00:00")


def _everything(store: Store) -> tuple[list[str], list[str], list[str]]:
    """What a store shows of runs, threads and budgets."""
    runs = [r.run_id for r in store.checkpoints.list_runs()]
    budgets = [b.name for b in store.ledger.budgets.all()]
    return runs, store.checkpoints.threads(), budgets


def test_each_tenant_sees_only_its_own_namespace(shared: str, tmp_path: Path) -> None:
    opened = {t: project_store(tmp_path, tenant=t) for t in (DEFAULT_TENANT, "acme", "globex")}
    users = {t: user_store(tenant=t) for t in opened}
    try:
        for tenant, store in opened.items():
            store.checkpoints.put_run(_run(f"r-{tenant}"))
            users[tenant].ledger.budgets.create(Budget(f"b-{tenant}", 100))
        for tenant in opened:
            again = project_store(tmp_path, tenant=tenant)
            user = user_store(tenant=tenant)
            try:
                assert [r.run_id for r in again.checkpoints.list_runs()] == [f"r-{tenant}"]
                assert [b.name for b in user.ledger.budgets.all()] == [f"b-{tenant}"]
                others = [t for t in opened if t != tenant]
                for other in others:
                    assert again.checkpoints.get_run(f"r-{other}") is None
                    with pytest.raises(UnknownBudgetError):
                        user.ledger.budgets.get(f"b-{other}")
            finally:
                again.close()
                user.close()
    finally:
        for store in [*opened.values(), *users.values()]:
            store.close()


def test_orca_tenant_chooses_the_namespace(
    shared: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with project_store(tmp_path, tenant="acme") as acme:
        acme.checkpoints.put_run(_run("r-acme"))
    monkeypatch.setenv(TENANT_ENV, "acme")
    assert current_tenant() == "acme"
    with project_store(tmp_path) as store:
        assert store.tenant == "acme"
        assert store.checkpoints.get_run("r-acme") is not None
    monkeypatch.setenv(TENANT_ENV, "../default")
    with pytest.raises(InvalidInputError, match=r"ORCA_TENANT '\.\./default' is not a tenant name"):
        project_store(tmp_path)


def test_where_a_tenants_data_lives(shared: str, tmp_path: Path) -> None:
    with open_store(shared, tenant="acme") as store:
        store.checkpoints.put_run(_run("r-1"))
        if isinstance(store, PostgresStore):
            assert store.db.schema == schema_of("acme") == "orca_t_acme"
            [(count,)] = rows(store, "SELECT count(*) FROM orca_t_acme.runs")
            assert count == 1
            with open_store(shared) as default:
                default.checkpoints.threads()  # its tables made
                [(public,)] = rows(default, "SELECT count(*) FROM runs")
                assert public == 0
        else:
            assert isinstance(store, SqliteStore)
            assert Path(store.path) == tmp_path / "tenants" / "acme" / "shared.db"
            assert not (tmp_path / "shared.db").exists()


def test_tenant_paths_stay_inside_their_folder() -> None:
    assert tenant_path("/x/.orca/project.db", DEFAULT_TENANT) == Path("/x/.orca/project.db")
    assert tenant_path("/x/.orca/project.db", "a-1") == Path("/x/.orca/tenants/a-1/project.db")
    for name in ("..", "../x", "a/b", "A"):
        with pytest.raises(InvalidInputError):
            tenant_path("/x/.orca/project.db", name)


def test_two_tenants_of_one_database_are_not_one_home(pg_url: str) -> None:
    """The joint write of a paid call's answer and its call record needs both in one
    schema: two tenants' stores on one URL do not qualify, one tenant's twice does."""
    with (
        open_store(pg_url, tenant="acme") as acme,
        open_store(pg_url, tenant="acme") as again,
        open_store(pg_url, tenant="globex") as globex,
        open_store(pg_url) as default,
    ):
        assert isinstance(acme, PostgresStore)
        assert isinstance(again, PostgresStore)
        assert isinstance(globex, PostgresStore)
        assert isinstance(default, PostgresStore)
        assert acme.db.same_database(again.db)
        assert not acme.db.same_database(globex.db)
        assert not acme.db.same_database(default.db)
