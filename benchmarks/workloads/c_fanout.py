"""c: fan -> 100 x Send("worker") -> join, plain and with the SQLite checkpointer.  ms per run.

A trial averages several runs; with the checkpointer every trial has a fresh database
file and every run a new thread id.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from _dbfiles import fresh_db
from _engines import Engine
from _measure import Trial, elapsed
from workloads._common import MAX_STEPS, check, checkpointed, new_thread_id
from workloads.graphs import fan_out

WIDTH = 100
RUNS_PLAIN = 10
RUNS_SQLITE = 3


def run_once(engine: Engine, app: Any, thread_id: str | None) -> float:
    start = time.perf_counter_ns()
    out = engine.invoke(app, {"items": [], "total": 0}, thread_id=thread_id, max_steps=MAX_STEPS)
    seconds = elapsed(start)
    items = out["items"]
    check(
        out["total"] == WIDTH and sorted(items) == list(range(WIDTH)),
        f"c: total {out['total']}, {len(items)} items, expected {WIDTH}",
    )
    return seconds


@contextmanager
def prepare_plain(engine: Engine) -> Iterator[Trial]:
    app = engine.compile(fan_out(engine, WIDTH))

    def trial() -> dict[str, float]:
        seconds = sum(run_once(engine, app, None) for _ in range(RUNS_PLAIN))
        return {"c_plain": seconds / RUNS_PLAIN * 1e3}

    yield trial


@contextmanager
def prepare_sqlite(engine: Engine) -> Iterator[Trial]:
    builder = fan_out(engine, WIDTH)

    def trial() -> dict[str, float]:
        with fresh_db(f"c-{engine.name}") as path, checkpointed(engine, builder, path) as app:
            seconds = sum(run_once(engine, app, new_thread_id("c")) for _ in range(RUNS_SQLITE))
        return {"c_sqlite": seconds / RUNS_SQLITE * 1e3}

    yield trial
