"""b: the loop of a with the SQLite checkpointer, durability "sync".  µs per superstep.

Each trial uses a fresh database file and a new thread id.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from _dbfiles import fresh_db
from _engines import Engine
from _measure import Trial, elapsed
from workloads._common import MAX_STEPS, check, checkpointed, new_thread_id
from workloads.graphs import counter_loop

STEPS = 1000


@contextmanager
def prepare(engine: Engine) -> Iterator[Trial]:
    builder = counter_loop(engine, STEPS)

    def trial() -> dict[str, float]:
        with fresh_db(f"b-{engine.name}") as path, checkpointed(engine, builder, path) as app:
            thread_id = new_thread_id("b")
            start = time.perf_counter_ns()
            out = engine.invoke(app, {"count": 0}, thread_id=thread_id, max_steps=MAX_STEPS)
            seconds = elapsed(start)
        check(out["count"] == STEPS, f"b: count {out['count']} != {STEPS}")
        return {"b": seconds / STEPS * 1e6}

    yield trial
