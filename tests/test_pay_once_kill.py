"""Paid once across a SIGKILL where a paid call's answer is recorded: real processes
(``tests/programs/paid_call.py``), the tiny model on llama.cpp through ``ctx.llm`` or a
LangChain chat model under ``metered(ctx)``, a block budget, real PostgreSQL and SQLite.

Where one PostgreSQL database keeps the ledger and the call records, the answer's usage
on its hold and the call's record commit in one statement: a process killed right after
it is answered from the record when it runs again (the model called once) and charged
once, by the sweep, from the hold. Where they live apart (SQLite's two files, two
PostgreSQL databases) the hold's record commits first: a process killed between the two
has paid, and its task run again calls once more, each call charged once."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

pytest.importorskip("llama_cpp")

from orca.cost import Budget
from orca.llm.tiny import ensure_tiny_model
from orca.store import user_store
from orca.store.postgres import PostgresStore

PROGRAM = Path(__file__).parent / "programs" / "paid_call.py"
SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(ensure_tiny_model(seed=0, path=tmp_path_factory.mktemp("m") / "tiny.gguf"))


class Place:
    """Where the ledger and the call records live, and what is in them."""

    def __init__(self, ledger: str, checkpoints: str, caller: str, calls_file: Path) -> None:
        self.ledger = ledger
        self.checkpoints = checkpoints
        self.caller = caller  # ctx.llm, or a LangChain chat model under metered()
        self.calls_file = calls_file
        with self._store() as store:
            store.ledger.budgets.create(Budget("b", 10**12))  # block: every call holds

    def _store(self, clock: Any = None) -> Any:
        later = {"clock": clock} if clock is not None else {}
        if self.ledger.startswith("postgresql://"):
            store = PostgresStore(self.ledger, **later)
            store.open_user()
            return store
        return user_store(self.ledger, **later)

    def run(self, model: str, kill: str | None) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "ORCA_KILL"}
        env["PYTHONPATH"] = str(SRC)
        env["ORCA_CALLS"] = str(self.calls_file)
        if kill is not None:
            env["ORCA_KILL"] = kill
        argv = [sys.executable, str(PROGRAM), model, self.ledger, self.checkpoints]
        argv.append(self.caller)
        return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)

    def sweep_later(self) -> None:
        """The sweep once the dead process's hold has expired: settled from its answer,
        or released when none was recorded."""
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        with self._store(clock=lambda: later) as store:
            store.ledger.sweep()

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        if self.ledger.startswith("postgresql://"):
            with psycopg.connect(self.ledger) as pg:
                return [tuple(r) for r in pg.execute(sql).fetchall()]
        conn = sqlite3.connect(self.ledger)
        try:
            return [tuple(r) for r in conn.execute(sql).fetchall()]
        finally:
            conn.close()

    def call_records(self) -> int:
        if self.checkpoints.startswith("postgresql://"):
            with psycopg.connect(self.checkpoints) as pg:
                row = pg.execute("SELECT count(*) FROM call_records").fetchone()
        else:
            conn = sqlite3.connect(self.checkpoints)
            try:
                row = conn.execute("SELECT count(*) FROM call_records").fetchone()
            finally:
                conn.close()
        assert row is not None
        return int(row[0])

    def usage(self) -> tuple[int, int]:
        """Usage rows (each a call the model answered, charged) and their cost."""
        ((rows, cost),) = self.query("SELECT count(*), coalesce(sum(cost_nano_usd), 0) FROM usage")
        return int(rows), int(cost)

    def budget(self) -> tuple[int, int]:
        """The budget's spent and reserved (nano-USD)."""
        ((spent, reserved),) = self.query("SELECT spent, reserved FROM budget_periods")
        return int(spent), int(reserved)

    def langchain_calls(self) -> int:
        """The LangChain model's real calls (the ``ctx.llm`` caller makes none)."""
        return len(self.calls_file.read_text().splitlines()) if self.calls_file.exists() else 0


@pytest.fixture(params=["ctx.llm", "langchain"])
def caller(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def one_database(pg_url: str, caller: str, tmp_path: Path) -> Place:
    return Place(pg_url, pg_url, caller, tmp_path / "calls")


@pytest.fixture
def two_databases(pg_url: str, pg_cluster: Any, caller: str, tmp_path: Path) -> Any:
    other = pg_cluster.create_database()
    yield Place(pg_url, other, caller, tmp_path / "calls")
    pg_cluster.drop_database(other)


@pytest.fixture
def two_files(tmp_path: Path, caller: str) -> Place:
    return Place(
        str(tmp_path / "orca.db"), str(tmp_path / "project.db"), caller, tmp_path / "calls"
    )


def killed_then_resumed(place: Place, model: str, kill: str) -> dict[str, Any]:
    """Run until the program kills itself at ``kill``, then run it again to the end;
    the final state."""
    killed = place.run(model, kill)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert place.usage() == (0, 0)  # nothing settled yet: the process died first
    kept = place.call_records()
    recorded = place.query("SELECT count(*) FROM holds WHERE recorded IS NOT NULL")[0][0]
    if kill == "after_hold_record":
        assert recorded == 1
    else:
        assert (recorded, kept) == (0, 0)  # the dead transaction wrote nothing
    done = place.run(model, None)
    assert done.returncode == 0, done.stderr[-3000:]
    place.sweep_later()
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    out["kept_before_resume"] = kept
    return out


def test_one_database_killed_after_the_answer_is_recorded_calls_once_and_charges_once(
    one_database: Place, model_path: str
) -> None:
    out = killed_then_resumed(one_database, model_path, "after_hold_record")
    assert out["kept_before_resume"] == 1  # the call's record committed with the hold's
    assert out["cached"] is True  # answered from it: the model was not called again
    if one_database.caller == "langchain":
        assert one_database.langchain_calls() == 1
    rows, cost = one_database.usage()
    assert rows == 1  # the one call, charged once (by the sweep)
    assert cost > 0
    assert one_database.budget() == (cost, 0)


def test_one_database_killed_before_the_commit_has_neither_and_charges_the_call_it_makes(
    one_database: Place, model_path: str
) -> None:
    out = killed_then_resumed(one_database, model_path, "before_paid_commit")
    # the answer the dead process got is lost with its hold (released, charged nothing);
    # the task run again calls, and that call is charged
    assert out["cached"] is False
    if one_database.caller == "langchain":
        assert one_database.langchain_calls() == 2
    rows, cost = one_database.usage()
    assert rows == 1
    assert cost > 0
    assert one_database.budget() == (cost, 0)


@pytest.mark.parametrize("place", ["two_databases", "two_files"])
def test_apart_killed_between_the_hold_s_record_and_the_call_s_pays_again_charging_each(
    place: str, model_path: str, caller: str, request: pytest.FixtureRequest
) -> None:
    where: Place = request.getfixturevalue(place)
    assert where.caller == caller
    out = killed_then_resumed(where, model_path, "after_hold_record")
    assert out["kept_before_resume"] == 0  # the hold's answer only: the documented window
    assert out["cached"] is False  # so the task run again calls again
    if where.caller == "langchain":
        assert where.langchain_calls() == 2
    rows, cost = where.usage()
    assert rows == 2  # both calls were real, and each is charged once
    assert where.budget() == (cost, 0)
