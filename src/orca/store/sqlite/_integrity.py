"""Checking a database for damage: SQLite's own page check, then a decode of the rows
read most often (recent runs, their events and their threads' latest checkpoints)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from orca.checkpoint import Checkpointer
from orca.errors import CheckpointError

QUICK_CHECK_ERRORS = 10
"""How many of SQLite's findings a report names at most."""


def page_problems(path: str | Path) -> list[str]:
    """What ``PRAGMA quick_check`` finds wrong in the file at ``path`` (an empty list
    when it is sound). It reads every page but writes nothing; a file that is missing
    is not checked (and not created)."""
    where = Path(path)
    if not where.exists():
        return []
    try:
        conn = sqlite3.connect(f"{where.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return [f"cannot open it ({exc})"]
    try:
        found = [str(r[0]) for r in conn.execute(f"PRAGMA quick_check({QUICK_CHECK_ERRORS})")]
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
        return [f"{type(exc).__name__}: {exc}"]
    finally:
        conn.close()
    return [] if found == ["ok"] else found


def decode_problems(store: Checkpointer, *, runs: int = 20, events: int = 1000) -> list[str]:
    """Decode the ``runs`` latest run records, the first ``events`` events of each, and
    the latest checkpoints of their threads; what fails to decode (``CheckpointError``:
    damaged rows) is reported, one line each."""
    problems: list[str] = []
    try:
        recent = store.list_runs(limit=runs)
    except CheckpointError as exc:
        return [str(exc)]
    for run in recent:
        try:
            store.read_events(run.run_id, limit=events)
        except CheckpointError as exc:
            problems.append(str(exc))
    for thread_id in dict.fromkeys(r.thread_id for r in recent):
        try:
            store.history(thread_id, limit=runs)
            store.get(thread_id)
        except CheckpointError as exc:
            problems.append(str(exc))
    return problems
