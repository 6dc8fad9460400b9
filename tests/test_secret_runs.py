"""A run's models take their API key from the tenant's stored secrets (``api_keys=
store.secrets``) before the environment, against a real OpenAI-wire server on loopback;
the key reaches the provider's Authorization header and nothing else: not the run's
event log, not its checkpoints, not a log line."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypedDict

import pytest

from orca import END, START, StateGraph
from orca.errors import InvalidInputError, MissingAPIKeyError, SecretKeyError
from orca.llm import ModelSpec
from orca.store import KeySource, SqliteStore
from orca.store._sealing import KEY_ENV, new_key_text
from orca.store.postgres import PostgresStore

STORED = "sk-stored-7c1e9b2f40a85d36e1f2a3b4c5d6e7f8"
FROM_ENV = "sk-environment-0a1b2c3d4e5f"

Store = SqliteStore | PostgresStore


class State(TypedDict, total=False):
    word: str
    said: str


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "llm"))
    from wire import WireServer

    server = WireServer()
    yield server
    server.close()


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    keys = KeySource(env={KEY_ENV: new_key_text()})
    opened: Store
    if request.param == "postgres":
        opened = PostgresStore(request.getfixturevalue("pg_url"), secret_keys=keys)
    else:
        opened = SqliteStore(tmp_path / ".orca" / "project.db", secret_keys=keys)
    yield opened
    opened.close()


def graph(store: Store) -> Any:
    async def ask(state: State, ctx: Any) -> dict[str, Any]:
        answer = await ctx.llm("ask").acomplete(f"Say {state['word']}", max_tokens=4)
        return {"said": answer.text}

    g = StateGraph(State)
    g.add_node("ask", ask)
    g.add_edge(START, "ask")
    g.add_edge("ask", END)
    return g.compile(checkpointer=store.checkpoints)


def spec(wire: Any, **params: Any) -> ModelSpec:
    return ModelSpec("openai", "gpt-sim", {"base_url": f"{wire.url}/v1", **params})


def authorization(wire: Any) -> list[str]:
    return [r.headers["authorization"] for r in wire.requests]


def at_rest(store: Store) -> bytes:
    """Every byte of the store's database: its SQLite files, or its PostgreSQL rows."""
    if isinstance(store, PostgresStore):
        found = b""
        with store.db.read() as conn:
            tables = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
            for (table,) in tables:
                for row in conn.execute(f"SELECT * FROM {table}".encode()).fetchall():
                    found += repr(tuple(row)).encode()
        return found
    base = Path(store.path)
    return b"".join(p.read_bytes() for p in base.parent.glob(base.name + "*"))


def test_a_run_calls_with_the_stored_key_and_keeps_it_nowhere(
    store: Store,
    wire: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("OPENAI_API_KEY", FROM_ENV)
    store.secrets.put("OPENAI_API_KEY", STORED)
    out = graph(store).invoke(
        {"word": "hi"},
        thread_id="t1",
        run_id="r1",
        models={"ask": spec(wire)},
        ledger=False,
        api_keys=store.secrets,
    )
    assert out["said"]
    assert authorization(wire) == [f"Bearer {STORED}"]  # the stored key won over the env
    events = store.checkpoints.read_events("r1")
    assert {"run.started", "run.finished"} <= {e["type"] for e in events}
    assert STORED not in repr(events)
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert STORED not in logged
    if isinstance(store, SqliteStore):
        store.close()
    assert STORED.encode() not in at_rest(store)


def test_without_a_stored_key_the_environment_is_used(
    store: Store, wire: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FROM_ENV)
    store.secrets.put("ANTHROPIC_API_KEY", STORED)  # another provider's: not this one's
    graph(store).invoke(
        {"word": "hi"}, thread_id="t1", models={"ask": spec(wire)}, ledger=False,
        api_keys=store.secrets,
    )  # fmt: skip
    graph(store).invoke({"word": "hi"}, thread_id="t2", models={"ask": spec(wire)}, ledger=False)
    assert authorization(wire) == [f"Bearer {FROM_ENV}", f"Bearer {FROM_ENV}"]


def test_api_key_env_names_the_stored_secret(
    store: Store, wire: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TEAM_OPENAI_KEY", raising=False)
    store.secrets.put("TEAM_OPENAI_KEY", STORED)
    model = spec(wire, api_key_env="TEAM_OPENAI_KEY")
    graph(store).invoke(
        {"word": "hi"}, thread_id="t1", models={"ask": model}, ledger=False,
        api_keys=store.secrets,
    )  # fmt: skip
    assert authorization(wire) == [f"Bearer {STORED}"]
    # neither stored nor in the environment: the error names both fixes
    store.secrets.delete("TEAM_OPENAI_KEY")
    with pytest.raises(MissingAPIKeyError) as err:
        graph(store).invoke(
            {"word": "hi"}, thread_id="t2", models={"ask": model}, ledger=False,
            api_keys=store.secrets,
        )  # fmt: skip
    assert "orca secret set TEAM_OPENAI_KEY" in str(err.value)
    assert len(wire.requests) == 1


def test_a_stored_key_under_another_master_key_stops_the_run_with_the_fix(
    store: Store, wire: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", FROM_ENV)
    store.secrets.put("OPENAI_API_KEY", STORED)
    other = KeySource(env={KEY_ENV: new_key_text()})
    if isinstance(store, PostgresStore):
        wrong: Store = PostgresStore(store.url, secret_keys=other)
    else:
        wrong = SqliteStore(store.path, secret_keys=other)
    try:
        with pytest.raises(SecretKeyError) as err:
            graph(wrong).invoke(
                {"word": "hi"}, thread_id="t1", models={"ask": spec(wire)}, ledger=False,
                api_keys=wrong.secrets,
            )  # fmt: skip
    finally:
        wrong.close()
    assert "sealed under master key" in str(err.value)
    assert STORED not in str(err.value)
    assert wire.requests == []  # never called with the environment's key instead


def test_api_keys_of_the_wrong_type_are_refused(store: Store, wire: Any) -> None:
    with pytest.raises(InvalidInputError, match="api_keys is 'dict'"):
        graph(store).invoke(
            {"word": "hi"}, thread_id="t1", models={"ask": spec(wire)}, ledger=False,
            api_keys={"OPENAI_API_KEY": STORED},
        )  # fmt: skip
