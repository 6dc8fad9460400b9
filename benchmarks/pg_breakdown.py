"""Where d_pg_size goes: workload d run once by Orca on a fresh database of the private
cluster, then every table of the database with its heap, indexes and TOAST (bytes, as
``pg_total_relation_size`` counts them) and the bytes of checkpoint_blobs by channel
(snapshots are the rows over 2 KB, which PostgreSQL moves to TOAST).

Run: ``PYTHONPATH=src python benchmarks/pg_breakdown.py``; prints a table.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import psycopg  # noqa: E402

from _engines import ENGINES  # noqa: E402
from _pgdb import fresh_pg  # noqa: E402
from workloads import d_messages  # noqa: E402
from workloads._common import MAX_STEPS, new_thread_id, pg_checkpointed  # noqa: E402
from workloads.graphs import counter_loop  # noqa: E402

TABLES = (
    "SELECT c.relname, pg_relation_size(c.oid), pg_indexes_size(c.oid), "
    "coalesce(pg_total_relation_size(nullif(c.reltoastrelid, 0)), 0), "
    "pg_total_relation_size(c.oid), "
    "(SELECT count(*) FROM pg_index AS i WHERE i.indrelid = c.oid) "
    "FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace "
    "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND c.relkind = 'r' "
    "ORDER BY 5 DESC, 1"
)
CHANNELS = (
    "SELECT channel, count(*), sum(octet_length(data)), "
    "count(*) FILTER (WHERE octet_length(data) > 2000) "
    "FROM checkpoint_blobs GROUP BY channel ORDER BY channel"
)


def main() -> None:
    engine = ENGINES["orca"]()
    builder = counter_loop(
        engine, d_messages.STEPS, log=("messages", d_messages.MESSAGES.__getitem__)
    )
    with fresh_pg("breakdown") as url:
        with pg_checkpointed(engine, builder, url) as app:
            engine.invoke(app, {"count": 0}, thread_id=new_thread_id("d"), max_steps=MAX_STEPS)
        with psycopg.connect(url) as conn:
            conn.execute("CHECKPOINT")
            tables: list[Any] = conn.execute(TABLES).fetchall()
            channels: list[Any] = conn.execute(CHANNELS).fetchall()
    print(f"{'table':<18}{'heap':>9}{'indexes':>9}{'toast':>9}{'total':>9}  n_idx")
    for name, heap, indexes, toast, total, count in tables:
        print(f"{name:<18}{heap:>9}{indexes:>9}{toast:>9}{total:>9}  {count}")
    print(f"{'all':<45}{sum(row[4] for row in tables):>9}")
    print("checkpoint_blobs by channel: rows, bytes, snapshots over 2 KB")
    for channel, rows, size, big in channels:
        print(f"  {channel:<16}{rows:>6}{size:>9}{big:>5}")


if __name__ == "__main__":
    main()
