"""Checkpoint storage grows linearly with history, not quadratically.

A real graph appends a 1 KiB string at every superstep to an append channel, with a
``SqliteCheckpointer`` or a ``PgCheckpointer``. Full copies of the list at every
checkpoint would need about ``steps / 2`` times the appended bytes (~200x for 400
steps); deltas plus periodic snapshots need a small constant factor.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Annotated, Any, TypedDict

import psycopg
import pytest

from orca import END, START, SqliteCheckpointer, StateGraph, reducers
from orca.checkpoint import Checkpointer
from orca.store.postgres import PgCheckpointer

ITEM_BYTES = 1024


class Log(TypedDict):
    log: Annotated[list[str], reducers.append]
    i: int


def append_one(state: dict[str, Any]) -> dict[str, Any]:
    i = state["i"]
    return {"log": [f"{i:06d}".ljust(ITEM_BYTES, "abcdefghijklmnopqrstuvwxyz"[i % 26])], "i": i + 1}


def run_graph(
    path: Path | str, steps: int, *, log_events: bool = False, thread: str = "grow"
) -> tuple[dict[str, Any], Checkpointer]:
    """Checkpoint storage alone unless ``log_events`` (the event log has its own test);
    ``path`` is a SQLite file or a PostgreSQL URL."""
    g = StateGraph(Log)
    g.add_node("append", append_one)
    g.add_edge(START, "append")
    g.add_conditional_edges("append", lambda s: "append" if s["i"] < steps else END)
    store: Checkpointer = (
        PgCheckpointer(path) if isinstance(path, str) else SqliteCheckpointer(path)
    )
    app = g.compile(checkpointer=store)
    out = app.invoke({"i": 0}, thread_id=thread, max_steps=steps + 1, log_events=log_events)
    return out, store


def pg_bytes(url: str, sql: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql.encode()).fetchone()
    return int(row[0] or 0) if row else 0


# every table of the database with its indexes and TOAST: what the history takes on disk
PG_SIZE = (
    "SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class AS c "
    "WHERE c.relkind = 'r' AND c.relnamespace = 'public'::regnamespace"
)


def stored_blob_bytes(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        (total,) = conn.execute("SELECT SUM(LENGTH(data)) FROM checkpoint_blobs").fetchone()
    finally:
        conn.close()
    return int(total)


def test_four_hundred_appends_of_one_kib_store_a_small_multiple_of_the_data(
    tmp_path: Path,
) -> None:
    path = tmp_path / "grow.db"
    out, store = run_graph(path, 400)
    assert len(out["log"]) == 400
    assert len(store.history("grow")) == 401
    # every checkpoint still reads back its own prefix of the list
    for info in store.history("grow", limit=400)[::37]:
        cp = store.get("grow", info.checkpoint_id)
        assert cp is not None
        assert cp.values["log"] == out["log"][: cp.values["i"]]
    store.close()
    raw = 400 * ITEM_BYTES
    # the pages of an empty store (its schema: the project's run, task and audit tables
    # beside the checkpoints) are a constant, not history
    SqliteCheckpointer(tmp_path / "empty.db").close()
    size = os.path.getsize(path) - os.path.getsize(tmp_path / "empty.db")
    assert (
        not path.with_name(path.name + "-wal").exists()
        or os.path.getsize(path.with_name(path.name + "-wal")) == 0
    )
    # full copies would take ~200x; deltas plus doubling snapshots ~3x the data
    assert stored_blob_bytes(path) < 3.5 * raw
    assert size < 4 * raw, f"the database takes {size / raw:.1f}x the appended bytes"


def test_four_hundred_appends_of_one_kib_on_postgresql_store_a_small_multiple(
    pg_url: str,
) -> None:
    PgCheckpointer(pg_url).close()
    empty = pg_bytes(pg_url, PG_SIZE)  # the tables and indexes of an empty store
    out, store = run_graph(pg_url, 400)
    assert len(out["log"]) == 400
    assert len(store.history("grow")) == 401
    for info in store.history("grow", limit=400)[::37]:
        cp = store.get("grow", info.checkpoint_id)
        assert cp is not None
        assert cp.values["log"] == out["log"][: cp.values["i"]]
    store.close()
    raw = 400 * ITEM_BYTES
    # the bytes handed to the database, before TOAST compresses them
    assert pg_bytes(pg_url, "SELECT SUM(octet_length(data)) FROM checkpoint_blobs") < 3.5 * raw
    size = pg_bytes(pg_url, PG_SIZE) - empty
    assert size < 4 * raw, f"the database takes {size / raw:.1f}x the appended bytes"


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_doubling_the_history_roughly_doubles_the_database(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    sizes = {}
    for steps in (200, 400):
        if kind == "postgres":
            url = request.getfixturevalue("pg_cluster").create_database()
            PgCheckpointer(url).close()
            empty = pg_bytes(url, PG_SIZE)
            _, store = run_graph(url, steps)
            store.close()
            sizes[steps] = pg_bytes(url, PG_SIZE) - empty
            request.getfixturevalue("pg_cluster").drop_database(url)
            continue
        path = tmp_path / f"grow-{steps}.db"
        _, store = run_graph(path, steps)
        store.close()
        sizes[steps] = os.path.getsize(path)
    # linear growth gives ~2x; quadratic growth (full copies) would give ~4x
    assert sizes[400] / sizes[200] < 2.6


def test_the_event_log_adds_a_constant_per_superstep_on_postgresql(pg_url: str) -> None:
    def log_bytes(steps: int) -> int:
        _, store = run_graph(pg_url, steps, log_events=True, thread=f"log-{steps}")
        store.close()
        return pg_bytes(
            pg_url, f"SELECT SUM(octet_length(batch)) FROM events WHERE thread_id = 'log-{steps}'"
        )

    small, large = log_bytes(100), log_bytes(200)
    assert small / 100 < 1200
    assert 1.8 < large / small < 2.2


def test_the_event_log_adds_a_constant_per_superstep(tmp_path: Path) -> None:
    def log_bytes(steps: int) -> int:
        path = tmp_path / f"log-{steps}.db"
        _, store = run_graph(path, steps, log_events=True)
        store.close()
        conn = sqlite3.connect(path)
        try:
            # small batches ride in their checkpoint's row, the rest (the run's tail) apart
            (total,) = conn.execute(
                "SELECT (SELECT SUM(LENGTH(events)) FROM checkpoints) "
                "+ (SELECT SUM(LENGTH(batch)) FROM events)"
            ).fetchone()
        finally:
            conn.close()
        return int(total)

    small, large = log_bytes(100), log_bytes(200)
    # the written values live in the checkpoints, not in the log: a few hundred bytes a step
    assert small / 100 < 1200
    assert 1.8 < large / small < 2.2
