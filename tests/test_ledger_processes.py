"""The ledger across real processes, on every backend: many processes racing for one
block budget never take it past its amount, processes killed mid-call are recovered by
``sweep`` (released, or settled from the recorded answer, exactly once), a hold settled
after another process swept it overdraws the budget; on SQLite a locked database is
reported, and on PostgreSQL a server restarted between reserve and settle loses nothing
and charges nothing twice."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from _pg import Cluster, wait_ready
from _stores import Rows, opened
from orca.cost import Budget, Charge, Hold
from orca.errors import BudgetExceeded, DatabaseLockedError, StoreUnavailableError
from orca.store import LedgerRepository, SqliteStore, UserStore
from orca.store.sqlite import _db
from orca.store.sqlite._schema import USER_COMPONENT, USER_MIGRATIONS

WORKER = Path(__file__).parent / "ledger_worker.py"
SRC = Path(__file__).resolve().parents[1] / "src"

SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
"""For tests of SQLite's own file lock (PostgreSQL's counterpart, a server that goes away,
is ``test_a_settle_across_a_server_restart_charges_once``)."""


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def db(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Path | str:
    """Where the ledger lives: the user database's file, or a new PostgreSQL database's
    URL (the workers are given it)."""
    if backend == "postgres":
        return str(request.getfixturevalue("pg_url"))
    home = tmp_path / "home"
    monkeypatch.setenv("ORCA_HOME", str(home))
    return home / "orca.db"


@pytest.fixture
def store(db: Path | str) -> Iterator[UserStore]:
    opened_store = opened(db)
    try:
        yield opened_store
    finally:
        opened_store.close()


@pytest.fixture
def conn(db: Path | str, store: UserStore) -> Iterator[Rows]:
    c = Rows(db)
    yield c
    c.close()


def worker(*args: object) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(
        [sys.executable, str(WORKER), *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def read_line(proc: subprocess.Popen[str]) -> str:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line:
        _, err = proc.communicate(timeout=30)
        pytest.fail(f"worker said nothing (rc {proc.returncode}): {err}")
    return line


def numbers(ledger: LedgerRepository, name: str) -> tuple[int, int, int]:
    s = ledger.status([ledger.budgets.get(name)])[0]
    return s.limit, s.spent, s.reserved


def scalar(conn: Rows, sql: str, *args: object) -> int:
    return int(conn.execute(sql, args).fetchone()[0])


def recovering(db: Path | str) -> LedgerRepository:
    """A ledger whose clock is past any hold the workers took (their TTL is 600 s)."""
    moved = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    return opened(db, clock=lambda: moved).ledger


# -- many processes, one budget ------------------------------------------------------------------

PROCESSES = 8
TRIES = 40
COST = 1_000_000  # $0.001
AFFORDABLE = 100  # well under PROCESSES * TRIES
LIMIT = AFFORDABLE * COST + COST // 2  # half a call is left over


def test_racing_processes_never_overspend_a_block_budget(
    db: Path | str, conn: Rows, store: UserStore
) -> None:
    ledger = store.ledger
    ledger.budgets.create(Budget("shared", LIMIT))
    procs = [worker("stress", db, "shared", COST, TRIES) for _ in range(PROCESSES)]
    try:
        for p in procs:
            assert read_line(p) == "ready"
        for p in procs:  # every worker is started and waiting: let them all go at once
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        results = [json.loads(read_line(p)) for p in procs]
        for p in procs:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    successes = sum(r["ok"] for r in results)
    refused = sum(r["refused"] for r in results)
    assert successes + refused == PROCESSES * TRIES
    assert refused > 0
    limit, spent, reserved = numbers(ledger, "shared")
    assert limit == LIMIT
    assert spent <= LIMIT
    assert reserved == 0
    rows = scalar(conn, "SELECT COUNT(*) FROM usage")
    charged = scalar(conn, "SELECT COALESCE(SUM(amount), 0) FROM usage_charges")
    assert spent == charged == COST * rows == COST * successes
    assert scalar(conn, "SELECT COUNT(*) FROM usage_charges") == rows
    assert scalar(conn, "SELECT COUNT(*) FROM holds WHERE state = 'settled'") == successes
    assert scalar(conn, "SELECT COUNT(*) FROM holds WHERE state != 'settled'") == 0
    # every refusal came when the budget was nearly full, so it ends full to within one call
    assert LIMIT - spent < COST
    assert successes == AFFORDABLE
    # each worker's calls each have their usage row
    assert scalar(conn, "SELECT COUNT(DISTINCT hold_id) FROM usage") == rows


def test_processes_settling_one_hold_at_once_charge_it_once(
    db: Path | str, conn: Rows, store: UserStore
) -> None:
    # the settle of one call retried from several processes at the same instant (each
    # lost the answer of an earlier try): one settles it, every other finds that one
    ledger = store.ledger
    team = ledger.budgets.create(Budget("team", 10_000))
    hold = ledger.reserve([team], {"usd": 3000})
    procs = [worker("settle-race", db, "team", hold.id, 2500) for _ in range(PROCESSES)]
    try:
        for p in procs:
            assert read_line(p) == "ready"
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        results = [json.loads(read_line(p)) for p in procs]
        for p in procs:
            _, err = p.communicate(timeout=60)
            assert p.returncode == 0, err
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert sorted(r["repeated"] for r in results) == [False] + [True] * (PROCESSES - 1)
    assert len({r["usage_id"] for r in results}) == 1
    assert numbers(ledger, "team") == (10_000, 2500, 0)
    assert scalar(conn, "SELECT COUNT(*) FROM usage") == 1
    assert scalar(conn, "SELECT COUNT(*) FROM usage_charges") == 1
    assert conn.execute("SELECT state FROM holds").fetchall() == [("settled",)]


# -- a process killed before it settles ----------------------------------------------------------


def test_a_call_killed_before_its_answer_is_released_by_sweep(
    db: Path | str, conn: Rows, store: UserStore
) -> None:
    ledger = store.ledger
    ledger.budgets.create(Budget("team", 10_000))
    ledger.settle(ledger.reserve([ledger.budgets.get("team")], {"usd": 700}), charge(700))
    proc = worker("die-held", db, "team", 2500)
    try:
        line = read_line(proc)
        assert line.startswith("reserved ")
        hold_id = line.split()[1]
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    # the dead call's reservation is still held
    assert numbers(ledger, "team") == (10_000, 700, 2500)
    assert conn.execute("SELECT state FROM holds WHERE id = ?", (hold_id,)).fetchone() == ("held",)
    # before its time, sweep leaves it alone
    assert ledger.sweep().expired == []
    assert numbers(ledger, "team") == (10_000, 700, 2500)

    later = recovering(db)
    swept = later.sweep()
    assert (swept.expired, swept.settled) == ([hold_id], [])
    assert numbers(later, "team") == (10_000, 700, 0)
    assert conn.execute("SELECT state FROM holds WHERE id = ?", (hold_id,)).fetchone() == (
        "expired",
    )
    assert scalar(conn, "SELECT COUNT(*) FROM usage WHERE hold_id = ?", hold_id) == 0
    again = later.sweep()
    assert (again.expired, again.settled) == ([], [])
    assert numbers(later, "team") == (10_000, 700, 0)
    assert scalar(conn, "SELECT COUNT(*) FROM usage") == 1


def test_a_call_killed_after_its_answer_is_settled_by_sweep_once(
    db: Path | str, conn: Rows, store: UserStore
) -> None:
    ledger = store.ledger
    ledger.budgets.create(Budget("team", 10_000))
    proc = worker("die-recorded", db, "team", 4000, 1234, "run-7")
    try:
        line = read_line(proc)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 9
    assert line.startswith("recorded ")
    hold_id = line.split()[1]

    assert numbers(ledger, "team") == (10_000, 0, 4000)
    assert scalar(conn, "SELECT COUNT(*) FROM usage") == 0
    assert conn.execute("SELECT state FROM holds").fetchall() == [("recorded",)]
    assert ledger.sweep().settled == []  # not yet expired

    later = recovering(db)
    swept = later.sweep()
    assert (swept.expired, swept.settled) == ([], [hold_id])
    assert numbers(later, "team") == (10_000, 1234, 0)
    usage = conn.execute(
        "SELECT id, hold_id, run_id, node, input_tokens, output_tokens, cost_nano_usd FROM usage"
    ).fetchall()
    assert len(usage) == 1
    usage_id = usage[0][0]
    assert usage[0][1:] == (hold_id, "run-7", "call", 120, 80, 1234)
    assert conn.execute("SELECT usage_id, amount FROM usage_charges").fetchall() == [
        (usage_id, 1234)
    ]

    # recovery twice, or the "dead" process settling late, changes nothing
    again = later.sweep()
    assert (again.expired, again.settled) == ([], [])
    late = ledger.settle(Hold(hold_id), charge(9999))
    assert late.repeated
    assert late.usage_id == usage_id
    later.release(Hold(hold_id, ((1, 4000),)))
    assert numbers(ledger, "team") == (10_000, 1234, 0)
    assert scalar(conn, "SELECT COUNT(*) FROM usage") == 1
    assert scalar(conn, "SELECT COUNT(*) FROM usage_charges") == 1


# -- a hold that expired while its holder was away ------------------------------------------------


def test_a_hold_settled_after_another_process_swept_and_spent_it_overdraws_the_budget(
    db: Path | str, conn: Rows, store: UserStore
) -> None:
    # the stress test's first overspend: A reserves 600,000 of 1,000,000 and is away past
    # its hold's TTL; B sweeps it, reserves and settles 600,000; then A settles
    ledger = store.ledger
    team = ledger.budgets.create(Budget("team", 1_000_000))
    proc = worker("late-settle", db, "team", 600_000, 1)
    try:
        line = read_line(proc)
        assert line.startswith("reserved ")
        hold_id = line.split()[1]
        deadline = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30)
        while hold_id not in ledger.sweep().expired:  # B, on the real clock
            assert dt.datetime.now(dt.UTC) < deadline, "A's hold never expired"
            time.sleep(0.02)
        ledger.settle(ledger.reserve([team], {"usd": 600_000}), charge(600_000))
        assert proc.stdin is not None
        proc.stdin.write("settle\n")
        proc.stdin.flush()
        settled = json.loads(read_line(proc))
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert settled == {"overdrafts": [200_000], "over_bound": False}
    status = ledger.budgets.status("team")
    # the money A spent is recorded, the overdraft on record, and the budget refuses
    assert (status.spent, status.reserved, status.overdrawn, status.overdraft) == (
        1_200_000,
        0,
        True,
        200_000,
    )
    assert scalar(conn, "SELECT SUM(overdraft) FROM usage_charges") == 200_000
    with pytest.raises(BudgetExceeded, match="overdrawn"):
        ledger.reserve([team], {"usd": 1})


# -- a locked database ---------------------------------------------------------------------------


@SQLITE_ONLY
def test_a_locked_database_is_reported_and_nothing_is_half_written(
    db: Path, conn: Rows, store: SqliteStore
) -> None:
    store.ledger.budgets.create(Budget("team", 1000))
    with SqliteStore(db, busy_timeout_ms=100) as impatient:
        _locked_then_free(db, conn, impatient.ledger)


def _locked_then_free(db: Path, conn: Rows, ledger: LedgerRepository) -> None:
    team = ledger.budgets.get("team")
    blocker = sqlite3.connect(db, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        with pytest.raises(DatabaseLockedError) as info:
            ledger.reserve([team], {"usd": 300})
        assert os.path.realpath(info.value.path) == os.path.realpath(db)
        assert str(db) in str(info.value) or os.path.realpath(db) in str(info.value)
        assert "nothing was written" in str(info.value)
        # the failed attempt left no transaction open on the ledger's connection
        assert not ledger._db.conn.in_transaction  # type: ignore[attr-defined]
        # and a reader sees nothing of it
        assert scalar(conn, "SELECT COUNT(*) FROM holds") == 0
        assert scalar(conn, "SELECT COUNT(*) FROM budget_periods") == 0
        # every write waits for the lock the same way
        with pytest.raises(DatabaseLockedError):
            ledger.sweep()
        with pytest.raises(DatabaseLockedError):
            ledger.budgets.raise_("team", by=1)
        blocker.execute("COMMIT")
    finally:
        blocker.close()

    hold = ledger.reserve([team], {"usd": 300})
    assert numbers(ledger, "team") == (1000, 0, 300)
    assert conn.execute("SELECT id, state FROM holds").fetchall() == [(hold.id, "held")]
    assert scalar(conn, "SELECT COUNT(*) FROM budget_periods") == 1
    ledger.settle(hold, charge(200))
    assert numbers(ledger, "team") == (1000, 200, 0)


@SQLITE_ONLY
def test_opening_a_locked_database_is_reported(db: Path, conn: Rows) -> None:
    blocker = sqlite3.connect(db, isolation_level=None)
    try:
        blocker.execute("BEGIN EXCLUSIVE")
        impatient = _db.connect(db, busy_timeout_ms=50)
        try:
            with pytest.raises(sqlite3.OperationalError) as info:
                _db.prepare(impatient, str(db), USER_COMPONENT, USER_MIGRATIONS)
            assert _db.is_locked(info.value)
        finally:
            impatient.close()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


# -- a PostgreSQL server that goes away -------------------------------------------------------


def test_a_settle_across_a_server_restart_charges_once(pg_cluster: Cluster, pg_url: str) -> None:
    # the server crashes (no shutdown checkpoint) between a call's reserve and its
    # settle, then is down when the settle comes, then is back: the hold survived, the
    # settle that failed wrote nothing, the one after reconnecting charges once, and
    # every later settle (a retry whose answer was lost) finds that one
    store = opened(pg_url)
    try:
        ledger = store.ledger
        team = ledger.budgets.create(Budget("team", 10_000))
        hold = ledger.reserve([team], {"usd": 4000})
        pg_cluster.restart("immediate")
        wait_ready(pg_url)
        assert numbers(ledger, "team") == (10_000, 0, 4000)  # the committed hold survived

        pg_cluster.stop("immediate")
        try:
            with pytest.raises(StoreUnavailableError):
                ledger.settle(hold, charge(1234))
        finally:
            pg_cluster.start()
        wait_ready(pg_url)
        first = ledger.settle(hold, charge(1234))
        assert not first.repeated
        pg_cluster.restart("immediate")
        wait_ready(pg_url)
        again = ledger.settle(hold, charge(1234))
        assert again.repeated
        assert again.usage_id == first.usage_id
        assert numbers(ledger, "team") == (10_000, 1234, 0)
        assert ledger.sweep().settled == []
    finally:
        store.close()
    rows = Rows(pg_url)
    try:
        assert scalar(rows, "SELECT COUNT(*) FROM usage") == 1
        assert rows.execute("SELECT usage_id, amount FROM usage_charges").fetchall() == [
            (first.usage_id, 1234)
        ]
        assert rows.execute("SELECT state FROM holds").fetchall() == [("settled",)]
    finally:
        rows.close()


def charge(cost: int) -> Charge:
    return Charge("openai", "gpt-test", 10, 5, cost_nano_usd=cost)
