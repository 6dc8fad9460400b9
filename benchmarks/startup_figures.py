"""Start-up figures: whole processes, timed from their start to their exit.

cli_startup_ms  `orca --version` as a whole process (interpreter, imports, exit), median
                of 10 runs a repetition
open_store_ms   a fresh Python process that opens a SQLite store on a new file, compiles
                a one-node graph, runs it once on a thread and exits; LangGraph does the
                same with its SqliteSaver in the same repetition, the two taking turns
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

IDS = ("cli_startup_ms", "open_store_ms")
CLI_RUNS = 10  # per repetition
STORE_RUNS = 5  # per engine and repetition
CLI_LIMIT_MS = 300.0
STORE_RATIO_LIMIT = 1.0  # Orca's fresh process no slower than LangGraph's

ORCA_PROGRAM = """
import sys
from typing import TypedDict
from orca import END, START, SqliteCheckpointer, StateGraph

class S(TypedDict):
    n: int

g = StateGraph(S)
g.add_node("inc", lambda s: {"n": s["n"] + 1})
g.add_edge(START, "inc")
g.add_edge("inc", END)
with SqliteCheckpointer(sys.argv[1]) as store:
    assert g.compile(checkpointer=store).invoke({"n": 0}, thread_id="t") == {"n": 1}
"""

LANGGRAPH_PROGRAM = """
import sqlite3, sys
from typing import TypedDict
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph

class S(TypedDict):
    n: int

g = StateGraph(S)
g.add_node("inc", lambda s: {"n": s["n"] + 1})
g.add_edge(START, "inc")
g.add_edge("inc", END)
conn = sqlite3.connect(sys.argv[1], check_same_thread=False)
app = g.compile(checkpointer=SqliteSaver(conn))
assert app.invoke({"n": 0}, {"configurable": {"thread_id": "t"}}) == {"n": 1}
conn.close()
"""


def _orca_script() -> Path:
    return Path(sys.executable).parent / "orca"


def _timed(argv: list[str]) -> float:
    """Milliseconds from starting ``argv`` to its exit (it must succeed)."""
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=dict(os.environ))
    ms = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed: {done.stderr[-500:]}")
    return ms


def cli_startup(reps: int) -> dict[str, Any]:
    script = _orca_script()
    if not script.is_file():
        raise RuntimeError(f"no orca script at {script}: install the package (make bench)")
    _timed([str(script), "--version"])  # warm-up: the OS file cache
    samples = []
    for _ in range(reps):
        runs = [_timed([str(script), "--version"]) for _ in range(CLI_RUNS)]
        samples.append(statistics.median(runs))
    value = statistics.median(samples)
    return {
        "value": value,
        "unit": "ms",
        "min": min(samples),
        "max": max(samples),
        "reps": reps,
        "runs_per_rep": CLI_RUNS,
        "target": f"<= {CLI_LIMIT_MS:g} ms",
        "met": value <= CLI_LIMIT_MS,
    }


def open_store(reps: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        programs = {}
        for name, text in (("orca", ORCA_PROGRAM), ("langgraph", LANGGRAPH_PROGRAM)):
            path = Path(tmp) / f"open_{name}.py"  # not orca.py: it would shadow the package
            path.write_text(text)
            programs[name] = path
        times: dict[str, list[float]] = {"orca": [], "langgraph": []}
        count = 0

        def once(name: str) -> float:
            nonlocal count
            count += 1
            db = Path(tmp) / f"{name}-{count}.db"
            return _timed([sys.executable, str(programs[name]), str(db)])

        once("orca"), once("langgraph")  # warm-up
        for _ in range(reps):
            runs: dict[str, list[float]] = {"orca": [], "langgraph": []}
            for _ in range(STORE_RUNS):  # the two take turns
                for name in runs:
                    runs[name].append(once(name))
            for name, values in runs.items():
                times[name].append(statistics.median(values))
    orca, peer = statistics.median(times["orca"]), statistics.median(times["langgraph"])
    ratio = orca / peer
    return {
        "orca": orca,
        "langgraph": peer,
        "unit": "ms/process",
        "ratio": ratio,
        "orca_min": min(times["orca"]),
        "orca_max": max(times["orca"]),
        "langgraph_min": min(times["langgraph"]),
        "langgraph_max": max(times["langgraph"]),
        "reps": reps,
        "runs_per_rep": STORE_RUNS,
        "target": f"ratio <= {STORE_RATIO_LIMIT:g}",
        "met": ratio <= STORE_RATIO_LIMIT,
    }


FIGURES = (("cli_startup_ms", cli_startup), ("open_store_ms", open_store))


def run(reps: int, wanted: set[str] | None) -> dict[str, dict[str, Any]]:
    """The start-up figures in ``wanted`` (all when None)."""
    from _report import run_figures

    return run_figures(FIGURES, reps, wanted, "startup")


def markdown(results: dict[str, Any]) -> list[str]:
    """The start-up section of RESULTS.md."""
    lines = ["", "## Start-up", ""]
    cli = results.get("cli_startup_ms")
    if cli:
        lines.append(
            f"- `cli_startup_ms`: `orca --version` as a whole process, median of {CLI_RUNS} "
            "runs a repetition, median of repetitions."
        )
        lines.append(
            f"  error: `{cli['error']}`"
            if "error" in cli
            else f"  {cli['value']:.1f} ms (min {cli['min']:.1f}, max {cli['max']:.1f}); "
            f"target {cli['target']}: {'met' if cli['met'] else 'NOT met'}."
        )
    store = results.get("open_store_ms")
    if store:
        lines.append(
            "- `open_store_ms`: a fresh Python process opens a SQLite store on a new file, "
            "compiles a one-node graph, runs it once and exits; LangGraph does the same "
            "with its `SqliteSaver`, the two taking turns."
        )
        lines.append(
            f"  error: `{store['error']}`"
            if "error" in store
            else f"  Orca {store['orca']:.1f} ms, LangGraph {store['langgraph']:.1f} ms per "
            f"process, ratio {store['ratio']:.3f}; target {store['target']}: "
            f"{'met' if store['met'] else 'NOT met'}."
        )
    return lines


if __name__ == "__main__":  # python benchmarks/startup_figures.py: just these figures
    import json

    print(json.dumps(run(int(os.environ.get("REPS", "3")), None), indent=2))
