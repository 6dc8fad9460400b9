"""The budget ledger on PostgreSQL: ``pg_reserve_settle_ms``.

pg_reserve_settle_ms   one ``reserve`` + ``settle`` pair against a block budget on a
                       private PostgreSQL cluster with its durable settings (fsync on,
                       full_page_writes on, synchronous_commit on: each of the two
                       commits waits for its WAL flush), median ms per pair over
                       ``PAIRS`` pairs after a warm-up, from one client over loopback TCP.

Run: ``PYTHONPATH=src python benchmarks/pg_ledger.py [--pairs N]``; prints one JSON
object (``pg_reserve_settle_ms``, ``p95``, the parts, and ``commit_floor_ms``: a bare
one-row durable commit timed after every pair, what the disk makes each of the pair's
two commits cost at least at that moment). The cluster is started in a temporary folder
(``tests/_pg.py``) and removed afterwards.
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


def measure(url: str, floor_url: str, pairs: int = PAIRS, warmup: int = WARMUP) -> dict[str, Any]:
    """Time ``pairs`` reserve + settle pairs against the database at ``url``; after each,
    time the cheapest durable commit there is (a one-row INSERT, in the database at
    ``floor_url``), so that both see the disk as it is at that moment."""
    import psycopg

    from orca.cost import Budget, CallContext, Charge
    from orca.store.postgres import PostgresStore

    with PostgresStore(url) as store, psycopg.connect(floor_url, autocommit=True) as bare:
        bare.execute("CREATE TABLE floor (x INTEGER)")
        ledger = store.ledger
        ledger.budgets.create(Budget("bench", 10**15))  # block, active
        budgets = ledger.applicable()
        charge = Charge("openai", "m", 100, 50, cost_nano_usd=12_345)
        context = CallContext(run_id="r", node="n", role="worker")
        pair, reserve, settle, floor = [], [], [], []
        for i in range(warmup + pairs):
            start = time.perf_counter()
            hold = ledger.reserve(budgets, {"usd": 50_000}, context)
            held = time.perf_counter()
            ledger.settle(hold, charge, context)
            done = time.perf_counter()
            with bare.transaction():
                bare.execute("INSERT INTO floor VALUES (1)")
            bared = time.perf_counter()
            if i >= warmup:
                pair.append((done - start) * 1000)
                reserve.append((held - start) * 1000)
                settle.append((done - held) * 1000)
                floor.append((bared - done) * 1000)
        status = ledger.budgets.status("bench")
        assert status.spent == 12_345 * (warmup + pairs)
        assert status.reserved == 0
    return {
        ID: round(statistics.median(pair), 3),
        "p95": round(_pct(pair, 0.95), 3),
        "reserve_ms": round(statistics.median(reserve), 3),
        "settle_ms": round(statistics.median(settle), 3),
        # the disk's part: each of the pair's two commits waits for a WAL flush, and
        # this commit, which does nothing else, shows what one costs right now
        "commit_floor_ms": round(statistics.median(floor), 3),
        "pairs": pairs,
        "limit": LIMIT,
        "met": statistics.median(pair) <= LIMIT,
        "commits_per_pair": 2,
    }


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
        result = measure(url, running.create_database("orca_floor"), pairs)
    return {**result, "postgresql": version, "settings": settings}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pairs", type=int, default=PAIRS)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.pairs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
