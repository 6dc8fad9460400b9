"""Run one graph and dump everything it stored and emitted, for byte-for-byte comparison.

Used by ``tests/test_determinism.py``. Usage::

    python determinism_graph.py DB OUTDIR SEED

The graph has parallel nodes (sync and async), ``Send`` fan-out, an append channel, a
merge channel, a set value, ``ctx.random`` draws, a retried node and a node that fails
once (so the thread holds pending writes and is resumed), and a loop that appends to
the append channel step after step. Sleeps whose lengths depend on
``PYTHONHASHSEED`` shuffle the order in which parallel tasks finish. The program writes:

- ``OUTDIR/store.jsonl``: every row of ``checkpoints`` (without ``created_at``),
  ``checkpoint_blobs`` and ``checkpoint_writes``, read from the SQLite file directly;
- ``OUTDIR/events.jsonl``: every event of both runs as ``event.to_json(timing=False)``;
- ``OUTDIR/state.json``: the final state.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import sqlite3
import sys
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

from orca import RetryPolicy, RunContext, Send, SqliteCheckpointer, StateGraph, reducers
from orca.errors import NodeError

THREAD = "determinism"
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
FIXED_NOW = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
_failed_once: set[str] = set()


class State(TypedDict):
    topic: str
    items: list[str]
    tags: set[str]
    picks: Annotated[list[float], reducers.append]
    results: Annotated[list[dict[str, Any]], reducers.append]
    scores: Annotated[dict[str, int], reducers.merge]
    total: Annotated[int, reducers.sum]
    summary: str
    rounds: int


def jiggle(name: str) -> float:
    """A delay that differs between processes with different PYTHONHASHSEED values."""
    return (hash(name) % 7) * 0.002


def plan(state: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    items = ctx.random.sample(WORDS, 4)
    return {"items": items, "tags": set(items), "picks": [ctx.random.random()]}


def fan_out(state: dict[str, Any]) -> list[Send]:
    return [Send("work", {"item": item, "index": i}) for i, item in enumerate(state["items"])]


def left(state: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    time.sleep(jiggle("left"))
    return {"scores": {"left": ctx.random.randint(0, 1000)}, "total": 1}


async def right(state: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    await asyncio.sleep(jiggle("right"))
    return {"scores": {"right": ctx.random.randint(0, 1000)}, "total": 2}


def work(arg: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    time.sleep(jiggle(arg["item"]))
    if arg["index"] == 2 and arg["item"] not in _failed_once:
        _failed_once.add(arg["item"])
        raise RuntimeError(f"transient failure on {arg['item']}")
    draw = ctx.random.random()
    return {
        "results": [{"item": arg["item"], "draw": draw, "at": ctx.now().isoformat()}],
        "picks": [draw],
        "total": len(arg["item"]),
    }


def reduce(state: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    if ctx.attempt == 1:
        raise RuntimeError("first attempt always fails")
    ordered = sorted(r["item"] for r in state["results"])
    return {"summary": f"{state['topic']}: {', '.join(ordered)}", "picks": [ctx.random.random()]}


def refine(state: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
    return {"rounds": state.get("rounds", 0) + 1, "picks": [ctx.random.random()]}


def again(state: dict[str, Any]) -> str:
    return "refine" if state["rounds"] < 8 else "__end__"


def build(db: str) -> Any:
    g = StateGraph(State, name="determinism")
    g.add_node("plan", plan)
    g.add_node("left", left)
    g.add_node("right", right)
    g.add_node("work", work)
    g.add_node(
        "reduce",
        reduce,
        retry=RetryPolicy(max_attempts=2, initial_interval=0.001, retry_on=Exception),
    )
    g.add_edge("__start__", "plan")
    g.add_edge("plan", "left")
    g.add_edge("plan", "right")
    g.add_conditional_edges("plan", fan_out)
    g.add_edge("left", "reduce")
    g.add_edge("right", "reduce")
    g.add_edge("work", "reduce")
    g.add_node("refine", refine)
    g.add_edge("reduce", "refine")
    g.add_conditional_edges("refine", again)
    return g.compile(checkpointer=SqliteCheckpointer(db))


def dump_store(db: str, out: Path) -> None:
    def enc(value: Any) -> Any:
        return base64.b64encode(value).decode() if isinstance(value, bytes) else value

    queries = {
        "checkpoints": "SELECT thread_id, checkpoint_id, seq, parent_id, step, body "
        "FROM checkpoints ORDER BY thread_id, seq",
        "checkpoint_blobs": "SELECT thread_id, channel, base, pos, data "
        "FROM checkpoint_blobs ORDER BY thread_id, channel, base, pos",
        "checkpoint_writes": "SELECT thread_id, checkpoint_id, task_id, idx, kind, data "
        "FROM checkpoint_writes ORDER BY thread_id, checkpoint_id, idx",
    }
    conn = sqlite3.connect(db)
    try:
        with out.open("w", encoding="utf-8") as f:
            for table, sql in queries.items():
                for row in conn.execute(sql):
                    f.write(json.dumps([table, *map(enc, row)]) + "\n")
    finally:
        conn.close()


def main() -> None:
    db, outdir, seed = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    outdir.mkdir(parents=True, exist_ok=True)
    app = build(db)
    options = {
        "thread_id": THREAD,
        "seed": seed,
        "durability": "sync",
        "clock": lambda: FIXED_NOW,
    }
    with (outdir / "events.jsonl").open("wb") as events:
        try:
            for event in app.stream({"topic": "words"}, mode="events", **options):
                events.write(event.to_json(timing=False) + b"\n")
        except NodeError:
            events.write(b"-- resume --\n")
        for event in app.stream(None, mode="events", **options):
            events.write(event.to_json(timing=False) + b"\n")
    state = app.get_state(THREAD).values
    app.checkpointer.close()
    state["tags"] = sorted(state["tags"])
    (outdir / "state.json").write_text(json.dumps(state, sort_keys=True), encoding="utf-8")
    dump_store(db, outdir / "store.jsonl")


if __name__ == "__main__":
    main()
