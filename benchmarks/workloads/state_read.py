"""state_read_ms: read the latest state of a thread that has 1000 checkpoints.

The thread is workload a with the SQLite checkpointer (durability sync), with every
step also appending its counter to `items`.  A trial is one get_state(...).values.
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
READS = 50


@contextmanager
def prepare(engine: Engine) -> Iterator[Trial]:
    builder = counter_loop(engine, STEPS, log=("items", int))
    with fresh_db(f"read-{engine.name}") as path, checkpointed(engine, builder, path) as app:
        thread_id = new_thread_id("read")
        engine.invoke(app, {"count": 0}, thread_id=thread_id, max_steps=MAX_STEPS)

        def trial() -> dict[str, float]:
            start = time.perf_counter_ns()
            values = engine.state_values(app, thread_id)
            seconds = elapsed(start)
            check(
                values["count"] == STEPS and len(values["items"]) == STEPS,
                f"state_read: count {values['count']}, {len(values['items'])} items",
            )
            return {"state_read_ms": seconds * 1e3}

        yield trial
