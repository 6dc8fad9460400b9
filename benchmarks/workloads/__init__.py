"""The workload registry: what each figure measures, its unit and its target."""

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from _engines import Engine
from _measure import Trial
from workloads import a_loop, b_sqlite_loop, c_fanout, d_messages, floor, pg, state_read


@dataclass(frozen=True)
class Figure:
    id: str
    workload: str
    unit: str
    limit: float
    absolute: bool = False  # True: the target bounds Orca's own value, not the ratio

    @property
    def target(self) -> str:
        return f"Orca < {self.limit:g} {self.unit}" if self.absolute else f"ratio <= {self.limit:g}"

    def met(self, orca: float | None, ratio: float | None) -> bool | None:
        if self.absolute:
            return None if orca is None else orca < self.limit
        return None if ratio is None else ratio <= self.limit


@dataclass(frozen=True)
class Workload:
    key: str
    figures: tuple[Figure, ...]
    prepare: Callable[[Engine], AbstractContextManager[Trial]]
    fixed_reps: int | None = None  # a repetition count that --reps does not change


WORKLOADS = (
    Workload(
        "a",
        (Figure("a", "1-node loop, 1000 supersteps, no checkpointer", "us/superstep", 0.20),),
        a_loop.prepare,
    ),
    Workload(
        "b",
        (Figure("b", "1-node loop, 1000 supersteps, SQLite, sync", "us/superstep", 0.35),),
        b_sqlite_loop.prepare,
    ),
    Workload(
        "c_plain",
        (Figure("c_plain", "fan-out 100 Sends + join, no checkpointer", "ms/run", 0.25),),
        c_fanout.prepare_plain,
    ),
    Workload(
        "c_sqlite",
        (Figure("c_sqlite", "fan-out 100 Sends + join, SQLite, sync", "ms/run", 0.15),),
        c_fanout.prepare_sqlite,
    ),
    Workload(
        "d",
        (
            Figure("d_time", "200 supersteps appending 1 KiB each, SQLite, sync", "ms/run", 0.30),
            Figure("d_size", "database + WAL size after d, closed", "bytes", 0.05),
        ),
        d_messages.prepare,
    ),
    # the same workloads on PostgreSQL (--only pg): Orca's store against PostgresSaver
    Workload(
        "pg_b",
        (Figure("b_pg", "1-node loop, 1000 supersteps, PostgreSQL, sync", "us/superstep", 0.35),),
        pg.prepare_b,
    ),
    Workload(
        "pg_c",
        (Figure("c_pg", "fan-out 100 Sends + join, PostgreSQL, sync", "ms/run", 0.15),),
        pg.prepare_c,
    ),
    Workload(
        "pg_d",
        (
            Figure("d_pg_time", "200 supersteps appending 1 KiB each, PostgreSQL", "ms/run", 0.30),
            Figure("d_pg_size", "tables + indexes + TOAST after d_pg", "bytes", 0.05),
        ),
        pg.prepare_d,
    ),
    Workload(
        "state_read",
        (
            Figure(
                "state_read_ms",
                "get_state().values, thread with 1000 checkpoints",
                "ms",
                2.0,
                absolute=True,
            ),
        ),
        state_read.prepare,
        fixed_reps=state_read.READS,
    ),
)

# The durable-commit floor runs with workload b; Orca's b figure is held against it.
FLOOR = Figure("b_floor_us", "raw sqlite3 INSERT + COMMIT, WAL, synchronous=FULL", "us", 1.5)
floor_trial = floor.prepare
