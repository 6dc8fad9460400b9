"""A damaged project database: every command that reads a damaged row says so in two
lines (``error:`` what, ``fix:`` how) and exits 6, never with a traceback; ``orca
doctor`` checks every database and fails on a damaged one. And ``orca runs events
--max`` reads what it shows, however long the log."""

from __future__ import annotations

import json
import re
import sqlite3
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from orca.cli import app

OK, FAILED, DATABASE = 0, 1, 6

runner = CliRunner()

FLOW = """\
from typing import Annotated, TypedDict

from orca import END, START, StateGraph, reducers


class S(TypedDict):
    log: Annotated[list[str], reducers.append]


def a(s: S) -> dict:
    return {"log": ["a"]}


flow = StateGraph(S, name="flow")
flow.add_node("a", a)
flow.add_edge(START, "a")
flow.add_edge("a", END)
"""


def orca(project: Path, *args: Any) -> Result:
    result = runner.invoke(app, ["-C", str(project), *map(str, args)])
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    assert not crashed, f"crashed: {result.exception!r}\n{result.output}"
    return result


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, str]:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "flow.py").write_text(FLOW)
    assert orca(root, "init").exit_code == OK
    ran = orca(root, "run", root / "flow.py", "-i", '{"log": ["x"]}', "--thread", "t1")
    assert ran.exit_code == OK, ran.output
    listed = json.loads(orca(root, "runs", "list", "--json").stdout)
    return root, listed[0]["run_id"]


def _sql(*statements: str) -> Callable[[Path], None]:
    def damage(db: Path) -> None:
        conn = sqlite3.connect(db)
        for statement in statements:
            conn.execute(statement)
        conn.commit()
        conn.close()

    return damage


def _flip_the_schema_page(db: Path) -> None:
    """Byte flips over the first page (past the file header): where SQLite keeps the
    schema, so that no table can be read."""
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(db.read_bytes())
    for i in range(100, 4096, 7):
        data[i] ^= 0xFF
    db.write_bytes(bytes(data))


RUN_COMMANDS = ["show", "events", "inspect", "history", "trace", "replay", "resume"]
DAMAGES: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "a checkpoint body that is not JSON": (
        _sql("UPDATE checkpoints SET body = x'DEADBEEF'"),
        ["history", "replay", "resume"],
    ),
    "a state value that is not JSON": (
        _sql("UPDATE checkpoint_blobs SET data = CAST('{{{' AS BLOB)"),
        ["replay", "resume"],
    ),
    "a damaged tag": (
        _sql(
            """UPDATE checkpoint_blobs SET data = CAST('{"__orca__":"bytes","v":"!!"}' AS BLOB)"""
        ),
        ["replay", "resume"],
    ),
    "a 200 MB blob": (
        _sql(
            "UPDATE checkpoint_blobs SET data = zeroblob(200 * 1024 * 1024) "
            "WHERE rowid = (SELECT MAX(rowid) FROM checkpoint_blobs)"
        ),
        ["resume"],
    ),
    "an event batch that is not JSON": (
        _sql(
            "UPDATE checkpoints SET events = CAST('garbage' AS BLOB) WHERE events IS NOT NULL",
            "UPDATE events SET batch = CAST('[[' AS BLOB)",
        ),
        ["events", "inspect", "trace", "replay"],
    ),
    "run metadata that is not JSON": (
        _sql("UPDATE runs SET metadata = '{{'"),
        ["list", *RUN_COMMANDS],
    ),
    "byte flips in the file": (_flip_the_schema_page, ["list", *RUN_COMMANDS]),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_every_command_reading_a_damaged_row_says_so_and_exits_6(
    project: tuple[Path, str], tmp_path: Path, damage: str
) -> None:
    root, run_id = project
    harm, commands = DAMAGES[damage]
    harm(root / ".orca" / "project.db")
    for command in commands:
        args = ["runs", command] if command == "list" else ["runs", command, run_id]
        if command == "trace":
            args += ["-o", str(tmp_path / "trace.json")]
        result = orca(root, *args)
        # (a replay's own log lines aside: it runs the graph before it reads the state)
        said = [
            line
            for line in result.stderr.splitlines()
            if line.strip() and not re.match(r"\d{4}-\d\d-\d\dT", line)
        ]
        where = f"orca {' '.join(args)} with {damage}: {result.output}"
        assert result.exit_code == DATABASE, where
        assert len(said) == 2, where
        assert said[0].startswith("error: "), where
        assert "damaged" in said[0], where
        assert said[1].startswith("fix: "), where
        assert "Traceback" not in result.output
        assert "JSONDecodeError" not in result.output


def test_doctor_checks_the_databases_and_fails_on_a_damaged_one(
    project: tuple[Path, str],
) -> None:
    root, _ = project
    healthy = orca(root, "doctor", "--json")
    found = {c["check"]: c for c in json.loads(healthy.stdout)["checks"]}
    assert found["project db integrity"]["status"] == "ok"
    assert found["user db integrity"]["status"] == "ok"

    _sql("UPDATE events SET batch = CAST('[[' AS BLOB)")(root / ".orca" / "project.db")
    _sql("UPDATE checkpoints SET events = CAST('[[' AS BLOB) WHERE events IS NOT NULL")(
        root / ".orca" / "project.db"
    )
    damaged = orca(root, "doctor", "--json")
    assert damaged.exit_code == FAILED
    found = {c["check"]: c for c in json.loads(damaged.stdout)["checks"]}
    assert found["project db integrity"]["status"] == "fail"
    assert "event log" in found["project db integrity"]["detail"]


def test_doctor_fails_when_sqlite_finds_damaged_pages(project: tuple[Path, str]) -> None:
    root, _ = project
    _flip_the_schema_page(root / ".orca" / "project.db")
    result = orca(root, "doctor", "--json")
    assert result.exit_code == FAILED
    found = {c["check"]: c for c in json.loads(result.stdout)["checks"]}
    assert found["project db integrity"]["status"] == "fail"
    assert "Traceback" not in result.output


def test_runs_events_max_reads_only_what_it_shows(project: tuple[Path, str]) -> None:
    from orca.checkpoint import EventRecord
    from orca.store import project_store

    root, _ = project
    with project_store(root) as store:
        store.checkpoints.put_events(
            [
                EventRecord("custom", "long", "t9", 1, i, 1_000.0 + i, {"data": "x" * 20})
                for i in range(100_000)
            ]
        )
    orca(root, "runs", "events", "long", "--max", "1", "--json")  # warm: imports, caches
    tracemalloc.start()
    try:
        result = orca(root, "runs", "events", "long", "--max", "10", "--json")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.exit_code == OK, result.output
    assert [e["seq"] for e in json.loads(result.stdout)] == list(range(10))
    assert peak < 5_000_000  # the whole log would take well over a hundred megabytes


def test_damaged_rows_of_the_user_database_say_so_and_exit_6(
    project: tuple[Path, str], tmp_path: Path
) -> None:
    import os

    root, _ = project
    spec = f"llamacpp:{tmp_path / 'model.gguf'}"
    assert orca(root, "budget", "create", "wallet", "--amount", "5").exit_code == OK
    assert orca(root, "profile", "create", "p", "--planner", spec, "--worker", spec).exit_code == OK
    _sql(
        "UPDATE budgets SET thresholds = '{{'",
        "UPDATE llm_profiles SET planner_params = '[[['",
    )(Path(os.environ["ORCA_HOME"]) / "orca.db")
    for args, row in (
        (["budget", "list"], "budget 'wallet'"),
        (["profile", "list"], "profile 'p'"),
    ):
        result = orca(root, *args)
        said = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.exit_code == DATABASE, result.output
        assert len(said) == 2, result.output
        assert said[0].startswith("error: the user database"), result.output
        assert f"the row of {row}" in said[0]
        assert said[1].startswith("fix: ")
        assert "Traceback" not in result.output
