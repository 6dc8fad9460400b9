"""The PostgreSQL ledger's lock order: every transaction that moves money locks its
budget periods in id order, so clients that name the same budgets in opposite orders
wait on each other and never deadlock (PostgreSQL counts every deadlock it breaks, even
one the ledger would retry and hide). PostgreSQL only: SQLite has one writer at a time."""

from __future__ import annotations

import threading
from typing import Any

import psycopg

from orca.cost import Budget, Charge
from orca.errors import BudgetExceeded
from orca.store.postgres import PgDb, PostgresStore

THREADS = 6
TRIES = 25
COST = 7


def test_clients_naming_budgets_in_opposite_orders_never_deadlock(pg_url: str) -> None:
    setup = PostgresStore(pg_url)
    first = setup.ledger.budgets.create(Budget("first", 10**9))
    second = setup.ledger.budgets.create(Budget("second", COST * 40, scope="run", scope_ref="r"))
    clients = [PostgresStore(pg_url) for _ in range(THREADS)]
    barrier = threading.Barrier(THREADS)
    wins: list[int] = []
    errors: list[BaseException] = []

    def spend(i: int, store: PostgresStore) -> None:
        ledger = store.ledger
        order = [first, second] if i % 2 else [second, first]
        try:
            barrier.wait()
            for _ in range(TRIES):
                try:
                    hold = ledger.reserve(order, {"usd": COST})
                except BudgetExceeded:
                    continue
                ledger.settle(hold, Charge("openai", "m", 1, 1, cost_nano_usd=COST))
                wins.append(1)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=spend, args=(i, c)) for i, c in enumerate(clients)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    for client in clients:
        client.close()  # their server processes end, reporting what they counted
    try:
        assert errors == []
        assert len(wins) == 40  # the smaller budget, exactly spent
        for name in ("first", "second"):
            status = setup.ledger.budgets.status(name)
            assert (status.spent, status.reserved) == (COST * 40, 0)
    finally:
        setup.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    assert row[0] == 0


def test_a_transaction_that_loses_a_deadlock_is_run_again(pg_url: str) -> None:
    # two transactions lock two rows in opposite orders, each waiting for the other
    # inside: PostgreSQL breaks the deadlock by failing one, and ``retrying`` runs it
    # again, so both complete (no error, nothing reported as the server being gone)
    db = PgDb(pg_url)
    with db.transaction() as conn:
        conn.execute("CREATE TABLE orca_schema (component TEXT PRIMARY KEY, version INTEGER)")
        conn.execute("CREATE TABLE pair (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
        conn.execute("INSERT INTO pair VALUES (1, 0), (2, 0)")
    both_in = threading.Barrier(2, timeout=30)
    runs: list[int] = []
    errors: list[BaseException] = []

    def bump(first: int, second: int) -> None:
        def work(conn: psycopg.Connection[Any]) -> None:
            runs.append(first)
            conn.execute("UPDATE pair SET n = n + 1 WHERE id = %s", (first,))
            if len(runs) <= 2:  # the first tries meet
                both_in.wait()
            conn.execute("UPDATE pair SET n = n + 1 WHERE id = %s", (second,))

        try:
            db.retrying(work)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=bump, args=pair) for pair in ((1, 2), (2, 1))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    try:
        with db.read() as conn:
            counts = conn.execute("SELECT n FROM pair ORDER BY id").fetchall()
    finally:
        db.close()
    assert errors == []
    assert len(runs) >= 3  # one ran again (both may have lost the same race)
    assert counts == [(2,), (2,)]
