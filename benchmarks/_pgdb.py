"""Fresh PostgreSQL databases for the PostgreSQL workloads (b_pg, c_pg, d_pg).

One private cluster (tests/_pg.py: initdb into a temporary folder, a free loopback port)
serves the whole benchmark run, with PostgreSQL's durable defaults (fsync on, commits
flushed): both engines pay for real commits. Each trial gets a database of its own,
dropped afterwards. The cluster stops when the process exits.
"""

import atexit
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _pg import Cluster

_cluster: Cluster | None = None


def cluster() -> Cluster:
    """The run's cluster, started on first use."""
    global _cluster
    if _cluster is None:
        started = Cluster()
        started.start()
        atexit.register(started.close)
        _cluster = started
    return _cluster


@contextmanager
def fresh_pg(tag: str) -> Iterator[str]:
    """The URL of a new, empty database; dropped afterwards."""
    running = cluster()
    url = running.create_database(f"{tag}_{id(object()):x}".replace("-", "_"))
    try:
        yield url
    finally:
        running.drop_database(url)


def size_of(url: str) -> int:
    """Bytes of every table of the database's own schemas, with their indexes and TOAST
    (``pg_total_relation_size``): what the checkpoints take, without the catalog."""
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute("CHECKPOINT")
        row: Any = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p', 'm') "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchone()
    return int(row[0])
