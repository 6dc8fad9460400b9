"""What the user-database conformance suites need from a backend: a way to open its
store (twice, as two clients would), and a clock the tests move by hand."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

from orca.store import UserStore, user_store
from orca.store.postgres import PostgresStore

BACKENDS = ["sqlite", "postgres"]
"""Every backend the suites run against; a new backend adds its name here and a branch
in ``open_backend``."""

START = dt.datetime(2026, 5, 13, 9, 0, tzinfo=dt.UTC)
TTL = 60.0


class Clock:
    """A clock the test moves by hand; it notes which threads read it (a backend reads
    the time inside each ledger operation, so this shows where the work ran)."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now
        self.threads: set[int] = set()
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            self.threads.add(threading.get_ident())
            return self.now

    def advance(self, **delta: float) -> None:
        with self._lock:
            self.now += dt.timedelta(**delta)


def open_backend(backend: str, where: Path | str, clock: Clock, hold_ttl_s: float) -> UserStore:
    """A store of ``backend`` over the data at ``where``: a folder for SQLite, a
    database's URL for PostgreSQL (a second call: a second client of the same data)."""
    if backend == "sqlite":
        return user_store(Path(where) / "orca.db", clock=clock, hold_ttl_s=hold_ttl_s)
    if backend == "postgres":
        store = PostgresStore(str(where), clock=clock, hold_ttl_s=hold_ttl_s)
        store.open_user()
        return store
    raise AssertionError(f"no such backend {backend!r}")
