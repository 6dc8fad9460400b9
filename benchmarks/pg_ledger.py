"""The budget ledger on PostgreSQL: ``pg_reserve_settle_ms``.

pg_reserve_settle_ms   one ``reserve`` + ``settle`` pair against a block budget on a
                       private PostgreSQL cluster with its durable settings (fsync on,
                       full_page_writes on, synchronous_commit on: each of the two
                       commits waits for its WAL flush), median ms per pair over
                       ``PAIRS`` pairs after a warm-up, from one client over loopback TCP.

Run: ``PYTHONPATH=src python benchmarks/pg_ledger.py [--pairs N]``; prints one JSON
object (``pg_reserve_settle_ms``, ``p95``, the parts). The cluster is started in a
temporary folder (``tests/_pg.py``) and removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

ID = "pg_reserve_settle_ms"
LIMIT = 3.0
PAIRS = 2000
WARMUP = 200


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(url: str, pairs: int = PAIRS, warmup: int = WARMUP) -> dict[str, Any]:
    """Time ``pairs`` reserve + settle pairs against the database at ``url``."""
    from orca.cost import Budget, CallContext, Charge
    from orca.store.postgres import PostgresStore

    with PostgresStore(url) as store:
        ledger = store.ledger
        ledger.budgets.create(Budget("bench", 10**15))  # block, active
        budgets = ledger.applicable()
        charge = Charge("openai", "m", 100, 50, cost_nano_usd=12_345)
        context = CallContext(run_id="r", node="n", role="worker")
        pair, reserve, settle = [], [], []
        for i in range(warmup + pairs):
            start = time.perf_counter()
            hold = ledger.reserve(budgets, {"usd": 50_000}, context)
            held = time.perf_counter()
            ledger.settle(hold, charge, context)
            done = time.perf_counter()
            if i >= warmup:
                pair.append((done - start) * 1000)
                reserve.append((held - start) * 1000)
                settle.append((done - held) * 1000)
        status = ledger.budgets.status("bench")
        assert status.spent == 12_345 * (warmup + pairs)
        assert status.reserved == 0
    return {
        ID: round(statistics.median(pair), 3),
        "p95": round(_pct(pair, 0.95), 3),
        "reserve_ms": round(statistics.median(reserve), 3),
        "settle_ms": round(statistics.median(settle), 3),
        "pairs": pairs,
        "limit": LIMIT,
        "met": statistics.median(pair) <= LIMIT,
        "commits_per_pair": 2,  # each waits for its WAL flush
    }


def commit_floor(url: str, commits: int = 500) -> float:
    """Median ms of the cheapest durable commit (one one-row INSERT) on this server: what
    each of the pair's two commits costs at least, whatever the ledger does."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE floor (x INTEGER)")
        times = []
        for _ in range(commits):
            start = time.perf_counter()
            with conn.transaction():
                conn.execute("INSERT INTO floor VALUES (1)")
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def run(pairs: int = PAIRS) -> dict[str, Any]:
    """Start a durable private cluster, measure, stop it."""
    import psycopg

    from _pg import cluster

    with cluster() as running:  # no FAST settings: real fsync
        url = running.create_database("orca_bench")
        with psycopg.connect(url, autocommit=True) as conn:
            settings = {
                name: str(conn.execute(f"SHOW {name}").fetchone()[0])  # type: ignore[index]
                for name in ("fsync", "synchronous_commit", "full_page_writes", "wal_sync_method")
            }
            version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
        floor_before = commit_floor(running.create_database("orca_floor_1"))
        result = measure(url, pairs)
        floor_after = commit_floor(running.create_database("orca_floor_2"))
    return {
        **result,
        "commit_floor_ms": round((floor_before + floor_after) / 2, 3),
        "postgresql": version,
        "settings": settings,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pairs", type=int, default=PAIRS)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.pairs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
