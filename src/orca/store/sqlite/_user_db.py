"""The user tables' one connection in a SQLite store, shared by its repositories."""

from __future__ import annotations

import asyncio
import functools
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from orca.store._clock import Clock
from orca.store.sqlite import _db
from orca.store.sqlite._schema import USER_COMPONENT, USER_MIGRATIONS

T = TypeVar("T")


class UserDb:
    """One connection to the user tables of ``path``: opened and migrated on first use,
    used by one thread at a time (``lock``), and a worker thread that runs the async
    repositories' SQLite work off the event loop.

    Args:
        path: the SQLite file.
        key: the setting that chose ``path``, named by the errors of opening it.
        clock: the current time for everything the repositories stamp or expire.
        busy_timeout_ms: how long a write waits for another process's lock.
    """

    def __init__(self, path: str | Path, *, key: str, clock: Clock, busy_timeout_ms: int) -> None:
        self.path = Path(path)
        self.key = key
        self.clock = clock
        self.busy_timeout_ms = busy_timeout_ms
        self.lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._worker: ThreadPoolExecutor | None = None
        # its own lock: starting the worker must not wait behind a write of another thread
        self._worker_lock = threading.Lock()

    @property
    def conn(self) -> sqlite3.Connection:
        """The connection, opened (and the schema migrated) on first use."""
        if self._conn is None:
            with self.lock:
                if self._conn is None:
                    self._conn = _db.open_db(
                        self.path,
                        USER_COMPONENT,
                        USER_MIGRATIONS,
                        self.key,
                        busy_timeout_ms=self.busy_timeout_ms,
                    )
        return self._conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction, under the lock."""
        with self.lock, _db.transaction(self.conn) as conn:
            yield conn

    def read(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        """Every row of one query, under the lock (the connection is shared by threads,
        and another thread's transaction must not see this query inside it)."""
        with self.lock:
            return self.conn.execute(sql, args).fetchall()

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` on this store's worker thread. One thread per store,
        not ``asyncio.to_thread``'s shared pool: the work is serialised by the lock
        anyway, and a thread that is already running takes it with less hand-off
        (measured in ``benchmarks/ledger_figures.py``)."""
        worker = self._worker
        if worker is None:
            with self._worker_lock:
                if self._worker is None:
                    self._worker = ThreadPoolExecutor(1, thread_name_prefix="orca-user-db")
                worker = self._worker
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(worker, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        with self._worker_lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.shutdown(wait=True)  # what was handed to it finishes first
        with self.lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
