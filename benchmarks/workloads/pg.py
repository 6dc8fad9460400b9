"""b_pg, c_pg, d_pg: workloads b, c and d with a PostgreSQL checkpointer (Orca's store
against LangGraph's PostgresSaver), durability "sync", on one private cluster with
PostgreSQL's durable defaults. Every trial has a fresh database.

b_pg: µs per superstep of the 1-node loop; c_pg: ms per fan-out run (100 Sends + join);
d_pg_time: ms per 200-superstep run appending 1 KiB each; d_pg_size: bytes of the
database's tables, indexes and TOAST after d.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from _engines import Engine
from _measure import Trial, elapsed
from _pgdb import fresh_pg, size_of
from workloads import b_sqlite_loop, c_fanout, d_messages
from workloads._common import MAX_STEPS, check, new_thread_id, pg_checkpointed
from workloads.graphs import counter_loop, fan_out

B_STEPS = b_sqlite_loop.STEPS


@contextmanager
def prepare_b(engine: Engine) -> Iterator[Trial]:
    builder = counter_loop(engine, B_STEPS)

    def trial() -> dict[str, float]:
        with fresh_pg(f"b_{engine.name}") as url, pg_checkpointed(engine, builder, url) as app:
            start = time.perf_counter_ns()
            out = engine.invoke(
                app, {"count": 0}, thread_id=new_thread_id("b"), max_steps=MAX_STEPS
            )
            seconds = elapsed(start)
        check(out["count"] == B_STEPS, f"b_pg: count {out['count']} != {B_STEPS}")
        return {"b_pg": seconds / B_STEPS * 1e6}

    yield trial


@contextmanager
def prepare_c(engine: Engine) -> Iterator[Trial]:
    builder = fan_out(engine, c_fanout.WIDTH)

    def trial() -> dict[str, float]:
        with fresh_pg(f"c_{engine.name}") as url, pg_checkpointed(engine, builder, url) as app:
            runs = c_fanout.RUNS_SQLITE
            seconds = sum(c_fanout.run_once(engine, app, new_thread_id("c")) for _ in range(runs))
        return {"c_pg": seconds / runs * 1e3}

    yield trial


@contextmanager
def prepare_d(engine: Engine) -> Iterator[Trial]:
    steps = d_messages.STEPS
    builder = counter_loop(engine, steps, log=("messages", d_messages.MESSAGES.__getitem__))

    def trial() -> dict[str, float]:
        with fresh_pg(f"d_{engine.name}") as url:
            with pg_checkpointed(engine, builder, url) as app:
                start = time.perf_counter_ns()
                out = engine.invoke(
                    app, {"count": 0}, thread_id=new_thread_id("d"), max_steps=MAX_STEPS
                )
                seconds = elapsed(start)
            size = size_of(url)
        check(out["messages"] == d_messages.MESSAGES, f"d_pg: {len(out['messages'])} messages")
        return {"d_pg_time": seconds * 1e3, "d_pg_size": float(size)}

    yield trial
