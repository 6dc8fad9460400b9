"""a: a one-node loop of 1000 supersteps, no checkpointer.  Metric: µs per superstep."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from _engines import Engine
from _measure import Trial, elapsed
from workloads._common import MAX_STEPS, check
from workloads.graphs import counter_loop

STEPS = 1000


@contextmanager
def prepare(engine: Engine) -> Iterator[Trial]:
    app = engine.compile(counter_loop(engine, STEPS))

    def trial() -> dict[str, float]:
        start = time.perf_counter_ns()
        out = engine.invoke(app, {"count": 0}, max_steps=MAX_STEPS)
        seconds = elapsed(start)
        check(out["count"] == STEPS, f"a: count {out['count']} != {STEPS}")
        return {"a": seconds / STEPS * 1e6}

    yield trial
