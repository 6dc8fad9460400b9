"""d: 200 supersteps, each appending a 1 KiB message; SQLite checkpointer, durability sync.

Figures: d_time (ms per run) and d_size (bytes of database + WAL once closed).
The messages are distinct pseudo-random text, so neither side gains from
deduplication or from compressing repeated content.
"""

import random
import string
import time
from collections.abc import Iterator
from contextlib import contextmanager

from _dbfiles import fresh_db, size_on_disk
from _engines import Engine
from _measure import Trial, elapsed
from workloads._common import MAX_STEPS, check, checkpointed, new_thread_id
from workloads.graphs import counter_loop

STEPS = 200
MESSAGE_BYTES = 1024
_rng = random.Random(20240601)
_ALPHABET = string.ascii_letters + string.digits + " "
MESSAGES = ["".join(_rng.choices(_ALPHABET, k=MESSAGE_BYTES)) for _ in range(STEPS)]


@contextmanager
def prepare(engine: Engine) -> Iterator[Trial]:
    builder = counter_loop(engine, STEPS, log=("messages", MESSAGES.__getitem__))

    def trial() -> dict[str, float]:
        with fresh_db(f"d-{engine.name}") as path:
            with checkpointed(engine, builder, path) as app:
                thread_id = new_thread_id("d")
                start = time.perf_counter_ns()
                out = engine.invoke(app, {"count": 0}, thread_id=thread_id, max_steps=MAX_STEPS)
                seconds = elapsed(start)
            size = size_on_disk(path)
        check(out["messages"] == MESSAGES, f"d: {len(out['messages'])} messages != {STEPS}")
        return {"d_time": seconds * 1e3, "d_size": float(size)}

    yield trial
