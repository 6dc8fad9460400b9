"""b_floor_us: what durable commits cost on this disk, with no engine at all.

Raw sqlite3, WAL, synchronous=FULL: 1000 x (INSERT one row with a 100-byte blob, COMMIT).
"""

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager

from _dbfiles import fresh_db
from _measure import Trial, elapsed

COMMITS = 1000
BLOB = os.urandom(100)


def _trial() -> dict[str, float]:
    with fresh_db("floor") as path, closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB NOT NULL)")
        conn.commit()
        start = time.perf_counter_ns()
        for _ in range(COMMITS):
            conn.execute("INSERT INTO t (data) VALUES (?)", (BLOB,))
            conn.commit()
        seconds = elapsed(start)
    return {"b_floor_us": seconds / COMMITS * 1e6}


@contextmanager
def prepare() -> Iterator[Trial]:
    yield _trial
