"""The event log's figure.

event_log_overhead_pct  workload b (workload a's 1-node loop of 1000 supersteps with the
                        SQLite checkpointer, durability "sync") with the event log on over
                        the same with it off: extra time per superstep, in percent of the
                        time without it
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Any

from _dbfiles import fresh_db
from _engines import OrcaEngine
from workloads._common import MAX_STEPS
from workloads.graphs import counter_loop

IDS = ("event_log_overhead_pct",)
STEPS = 1000
LIMIT_PCT = 10.0
MIN_REPS = 9  # a few percent between two fsync-bound runs: more turns than usual


def event_log_overhead(reps: int) -> dict[str, Any]:
    """Median per-superstep time of workload b with and without the event log; the two
    take turns within every repetition."""
    import orca

    engine = OrcaEngine()
    builder = counter_loop(engine, STEPS)
    times: dict[bool, list[float]] = {True: [], False: []}
    logged_events = 0
    reps = max(reps, MIN_REPS)
    for rep in range(reps + 1):  # the first is a warm-up
        for logged in (True, False) if rep % 2 else (False, True):
            with fresh_db(f"eventlog-{logged}") as path:
                store = orca.SqliteCheckpointer(path)
                app = builder.compile(checkpointer=store)
                start = time.perf_counter()
                out = app.invoke(
                    {"count": 0}, thread_id="t", max_steps=MAX_STEPS, log_events=logged
                )
                seconds = time.perf_counter() - start
                if logged:
                    run_id = app.get_history("t")[0].metadata["run_id"]
                    logged_events = len(store.read_events(run_id))
                store.close()
            assert out["count"] == STEPS
            if rep:
                times[logged].append(seconds / STEPS * 1e6)
    with_log, without = statistics.median(times[True]), statistics.median(times[False])
    pct = (with_log - without) / without * 100
    return {
        "value": pct,
        "unit": "%",
        "with_log_us_per_superstep": with_log,
        "without_log_us_per_superstep": without,
        "events_per_run": logged_events,
        "reps": reps,
        "target": f"<= {LIMIT_PCT:g} %",
        "met": pct <= LIMIT_PCT,
    }


def run(reps: int, wanted: set[str] | None) -> dict[str, dict[str, Any]]:
    """The event-log figure if wanted (all when None)."""
    from _report import run_figures

    return run_figures((("event_log_overhead_pct", event_log_overhead),), reps, wanted, "eventlog")


def markdown(results: dict[str, Any]) -> list[str]:
    entry = results.get("event_log_overhead_pct")
    if not entry:
        return []
    lines = [
        "",
        "## Event log",
        "",
        "- `event_log_overhead_pct`: workload b (workload a's 1-node loop of 1000 "
        "supersteps with the SQLite checkpointer, durability sync) with the event log on, "
        "over the same run with it off (`log_events=False`); the two take turns, medians.",
    ]
    if "error" in entry:
        return [*lines, f"  error: `{entry['error']}`"]
    lines.append(
        f"  {entry['value']:.2f}% ({entry['with_log_us_per_superstep']:.1f} vs "
        f"{entry['without_log_us_per_superstep']:.1f} µs per superstep, "
        f"{entry['events_per_run']} events logged per run); target {entry['target']}: "
        f"{'met' if entry['met'] else 'NOT met'}."
    )
    return lines


if __name__ == "__main__":  # python benchmarks/eventlog_figures.py
    for key, value in run(int(os.environ.get("REPS", "5")), None).items():
        print(key, value)
