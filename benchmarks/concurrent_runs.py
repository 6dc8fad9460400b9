"""Throughput of many concurrent runs on one SQLite checkpointer: runs/s.

python benchmarks/concurrent_runs.py                    # 16 runs at a time, ~10 s
python benchmarks/concurrent_runs.py --concurrency 4 --seconds 5

Each run is a 10-superstep loop (durability "sync", synchronous=FULL unless --synchronous)
on a thread of its
own; CONCURRENCY coroutines start run after run on one event loop until the time is up.
Each superstep commits a checkpoint, so this measures how the store's writer thread
serves many runs' commits at once.
"""

import argparse
import asyncio
import itertools
import sys
import time
from pathlib import Path
from typing import Any, TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parent))

import orca
from _dbfiles import fresh_db

STEPS = 10


class LoopState(TypedDict):
    count: int


def build(steps: int) -> Any:
    def inc(state: dict[str, Any]) -> dict[str, Any]:
        return {"count": state["count"] + 1}

    def route(state: dict[str, Any]) -> str:
        return "inc" if state["count"] < steps else orca.END

    builder = orca.StateGraph(LoopState)
    builder.add_node("inc", inc)
    builder.add_edge(orca.START, "inc")
    builder.add_conditional_edges("inc", route)
    return builder


async def measure(
    path: Path, concurrency: int, seconds: float, synchronous: str
) -> tuple[int, float]:
    store = orca.SqliteCheckpointer(path, synchronous=synchronous)  # type: ignore[arg-type]
    try:
        app = build(STEPS).compile(checkpointer=store)
        ids = itertools.count()
        done = 0
        deadline = time.perf_counter() + seconds

        async def runner() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                out = await app.ainvoke({"count": 0}, thread_id=f"t{next(ids)}", durability="sync")
                if out["count"] != STEPS:
                    raise SystemExit(f"a run ended with count {out['count']} != {STEPS}")
                done += 1

        start = time.perf_counter()
        await asyncio.gather(*(runner() for _ in range(concurrency)))
        return done, time.perf_counter() - start
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--synchronous", default="FULL", help="the store's synchronous PRAGMA (default FULL)"
    )
    args = parser.parse_args()
    if args.concurrency < 1 or args.seconds <= 0:
        parser.error("--concurrency must be at least 1 and --seconds above 0")
    with fresh_db("concurrent") as path:
        runs, took = asyncio.run(measure(path, args.concurrency, args.seconds, args.synchronous))
    print(
        f"{runs} runs of {STEPS} supersteps, {args.concurrency} at a time, "
        f"synchronous={args.synchronous}, in {took:.1f} s: "
        f"{runs / took:.1f} runs/s ({runs * STEPS / took:.0f} supersteps/s)"
    )


if __name__ == "__main__":
    main()
