"""The run views' figures (what the web UI's runs page asks of a project's store).

A project of N runs (default 100,000; 12 logged events and 3 tasks each, three workflows,
mostly done) is written through the store's own API, then each read is timed (median of
5, after a warm-up): a page of runs by each filter and by cursor, a text search of the
event log (a common word, an absent one, one beyond ASCII), the counters, an event search
and a workflow's per-node figures. Standalone (not part of ``run.py``)::

    PYTHONPATH=src python benchmarks/runviews_figures.py [--runs 100000] [--db PATH]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
BIRDS = ("herons", "owls", "kites", "wrens")
TENTH = 10**8  # nano-USD: $0.10


def build(path: Path, runs: int) -> None:
    """``runs`` runs as the engine records them, written without a sync each."""
    from orca.checkpoint import EventRecord, Lease, RunRecord, TaskRecord
    from orca.store import SqliteCheckpointer

    rnd = random.Random(1)
    with SqliteCheckpointer(path, synchronous="OFF") as cp:
        for i in range(runs):
            started = (T0 + dt.timedelta(seconds=30 * i)).isoformat()
            graph = rnd.choice(("triage", "research", "demo"))
            record = RunRecord(
                f"run-{i:07d}", f"t-{i % max(1, runs // 3)}", graph, "running", started
            )
            cp.begin_run(record, Lease(record.thread_id, record.run_id, "bench:1:x", 0.0), 1e12)
            cp.put_events(
                [
                    EventRecord(
                        "custom", record.run_id, record.thread_id, s, s, 1000.0 + 30 * i + s,
                        {"node": "plan", "data": f"step {s}: {rnd.choice(BIRDS)} " + "x" * 150},
                    )
                    for s in range(12)
                ]
            )  # fmt: skip
            tasks = [
                TaskRecord(record.run_id, f"k{s}", s, ("plan", "work", "publish")[s], "done",
                           started, None, rnd.random() * 100)
                for s in range(3)
            ]  # fmt: skip
            status = rnd.choice(["done"] * 8 + ["failed", "interrupted"])
            cp.end_run(
                RunRecord(record.run_id, record.thread_id, graph, status, started,  # type: ignore[arg-type]
                          cost_nano_usd=rnd.randrange(10**9), input_tokens=100, output_tokens=50),
                tasks,
            )  # fmt: skip


def timed(fn: Callable[[], Any], reps: int = 5) -> tuple[float, int]:
    fn()  # warm-up
    ms = []
    for _ in range(reps):
        start = time.perf_counter()
        found = fn()
        ms.append((time.perf_counter() - start) * 1000)
    return statistics.median(ms), len(found) if isinstance(found, list) else 1


def figures(path: Path) -> list[tuple[str, float, int]]:
    from orca.store import RunFilter, SqliteRunViews

    with SqliteRunViews(path) as v:
        last = v.find_runs(RunFilter(limit=500))[-1].run_id
        day = dt.datetime(2026, 1, 10, tzinfo=dt.UTC)
        runs, f = v.find_runs, RunFilter
        cases: list[tuple[str, Callable[[], Any]]] = [
            ("runs: first page", lambda: runs(f())),
            ("runs: status=failed", lambda: runs(f(statuses=("failed",)))),
            ("runs: two statuses", lambda: runs(f(statuses=("failed", "interrupted")))),
            ("runs: workflow", lambda: runs(f(graph="triage"))),
            ("runs: cost", lambda: runs(f(min_cost_nano_usd=TENTH, max_cost_nano_usd=TENTH * 2))),
            ("runs: a day", lambda: runs(f(since=day, until=day + dt.timedelta(days=1)))),
            ("runs: page after 500 (cursor)", lambda: runs(f(before=last))),
            ("runs: q common word", lambda: runs(f(text="HERONS"))),
            ("runs: q absent", lambda: runs(f(text="pelican"))),
            ("runs: q absent, non-ASCII", lambda: runs(f(text="pélican"))),
            ("stats", lambda: v.stats(dt.datetime(2026, 3, 1, tzinfo=dt.UTC))),
            ("events search: common", lambda: v.search_events("herons")),
            ("events search: absent", lambda: v.search_events("pelican")),
            ("workflow node figures", lambda: v.node_times("triage")),
        ]  # fmt: skip
        return [(name, *timed(fn)) for name, fn in cases]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--db", type=Path, default=None, help="reuse (or build) this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "project.db"
        if not path.exists():
            started = time.perf_counter()
            build(path, args.runs)
            print(f"built {args.runs:,} runs in {time.perf_counter() - started:.0f} s")
        size = path.stat().st_size / 2**20
        print(f"\n{path.name}: {size:,.0f} MiB\n\n| read | median ms | rows |\n|---|---|---|")
        for name, ms, rows in figures(path):
            print(f"| {name} | {ms:.2f} | {rows} |")


if __name__ == "__main__":
    main()
