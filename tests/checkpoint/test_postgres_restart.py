"""A PostgreSQL server that crashes and comes back (``pg_ctl stop -m immediate``, then
start) between supersteps: everything committed before is there, and the next write goes
through on a new connection, without the caller doing anything."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, TypedDict

import psycopg

from _pg import Cluster
from orca import END, START, StateGraph, reducers
from orca.checkpoint import EventRecord, Lease, RunRecord, TaskRecord
from orca.store.postgres import PgCheckpointer

from ._support import make_save


class S(TypedDict, total=False):
    log: Annotated[list[str], reducers.append]
    n: int


def server_start(url: str) -> object:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_postmaster_start_time()").fetchone()
    return row[0] if row else None


def test_a_restart_between_puts_loses_nothing_committed_and_the_next_put_reconnects(
    pg_cluster: Cluster, pg_url: str
) -> None:
    with PgCheckpointer(pg_url) as store:
        record = RunRecord("r1", "t", "g", "running", "2026-01-01T00:00:00+00:00")
        lease = Lease("t", "r1", "h:1:x", 10_000.0)
        assert store.begin_run(record, lease, 1.0) == lease
        for i in range(3):
            task = TaskRecord("r1", f"k{i}", i, "n", "done", "2026-01-01T00:00:01+00:00")
            store.put(
                make_save(
                    "t",
                    f"c{i}",
                    f"c{i - 1}" if i else None,
                    i,
                    {"log": [f"item {j}" for j in range(i + 1)], "n": i},
                    {"log": [f"item {i}"], "n": None} if i else None,
                    tasks=[task],
                )
            )
            store.put_events([EventRecord("custom", "r1", "t", i, i, 1000.0 + i, {"i": i})])

        started = server_start(pg_url)
        pg_cluster.restart("immediate")  # a crash: no shutdown checkpoint, WAL replayed
        assert server_start(pg_url) != started

        head = store.get("t")  # a new connection, without the caller asking for one
        assert head is not None
        assert head.checkpoint_id == "c2"
        assert head.values == {"log": ["item 0", "item 1", "item 2"], "n": 2}
        assert [e["i"] for e in store.read_events("r1")] == [0, 1, 2]
        assert [t.task_id for t in store.run_tasks("r1")] == ["k0", "k1", "k2"]
        assert store.live_lease("t", 2.0) == lease
        # the chain goes on from what this instance wrote before the crash
        values = {"log": [*head.values["log"], "item 3"], "n": 3}
        store.put(make_save("t", "c3", "c2", 3, values, {"log": ["item 3"], "n": None}))
        assert store.renew_lease(Lease("t", "r1", "h:1:x", 20_000.0))

        pg_cluster.restart("immediate")

        async def after_async() -> list[str]:  # the async face reconnects too
            await store.aput(make_save("t", "c4", "c3", 4, {"log": ["reset"], "n": 4}))
            return [h.checkpoint_id for h in await store.ahistory("t")]

        assert asyncio.run(after_async()) == ["c4", "c3", "c2", "c1", "c0"]
    with PgCheckpointer(pg_url) as again:
        got = again.get("t", "c3")
        assert got is not None
        assert got.values["log"] == ["item 0", "item 1", "item 2", "item 3"]


def test_a_graph_whose_server_restarts_mid_run_finishes_with_every_step_stored(
    pg_cluster: Cluster, pg_url: str
) -> None:
    def step(state: S) -> dict[str, Any]:
        n = state.get("n", 0)
        if n == 2:  # between the commit of step 2 and that of step 3
            pg_cluster.restart("immediate")
        return {"log": [f"step {n}"], "n": n + 1}

    g = StateGraph(S, name="restarts")
    g.add_node("step", step)
    g.add_edge(START, "step")
    g.add_conditional_edges("step", lambda s: "step" if s["n"] < 5 else END)
    with PgCheckpointer(pg_url) as store:
        app = g.compile(checkpointer=store)
        out = app.invoke({"n": 0}, thread_id="t")
        assert out == {"log": [f"step {i}" for i in range(5)], "n": 5}
        history = store.history("t")
        assert [h.step for h in history] == [5, 4, 3, 2, 1, 0]
        run_id = history[0].metadata["run_id"]
        run = store.get_run(run_id)
        assert run is not None
        assert run.status == "done"
        types = [e["type"] for e in store.read_events(run_id)]
        assert types[0] == "run.started"
        assert types[-1] == "run.finished"
        assert types.count("task.finished") == 5
