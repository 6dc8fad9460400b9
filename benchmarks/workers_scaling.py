"""Runs per second that ``orca worker`` processes execute from one PostgreSQL run queue.

workers_scaling   ``RUNS`` runs of a two-node workflow (no LLM call: what is measured is
                  the queue, the checkpoints and the records) queued at once, as ``orca
                  serve --workers external`` queues them, executed by 1, 2 and 4 worker
                  processes (``--concurrency 4`` each), against a private durable cluster
                  (fsync on). The clock runs from the first enqueue to the last item done;
                  the workers are started and idle before it. Efficiency is runs/s with N
                  workers over N times runs/s with one.

Run: ``PYTHONPATH=src python benchmarks/workers_scaling.py [--runs N]``; prints one JSON
object. The cluster is started in a temporary folder (``tests/_pg.py``) and removed
afterwards. Everything (PostgreSQL, the workers, this script) shares the machine's cores,
which bound the scaling: say how many there were.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "src"))

ID = "workers_scaling"
RUNS = 200
FLOW = """\
from typing import TypedDict

from orca import END, START, StateGraph


class S(TypedDict, total=False):
    n: int


def add(s):
    return {"n": s["n"] + 1}


def double(s):
    return {"n": s["n"] * 2}


graph = StateGraph(S, name="tiny")
graph.add_node("add", add)
graph.add_node("double", double)
graph.add_edge(START, "add")
graph.add_edge("add", "double")
graph.add_edge("double", END)
"""


def measure(url: str, workers: int, runs: int) -> float:
    """Runs per second of ``workers`` worker processes over a new database ``url``."""
    from orca.flows import load_workflow
    from orca.server._models import RunBody
    from orca.server._worker import submit
    from orca.store import open_store

    project = Path(tempfile.mkdtemp(prefix="orca-workers-"))
    (project / ".orca").mkdir()
    (project / "flows.py").write_text(FLOW)
    env = {
        **os.environ,
        "ORCA_HOME": str(project / "home"),
        "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    orca = str(Path(sys.executable).parent / "orca")
    store = open_store(url)
    procs = []
    try:
        workflow = load_workflow("flows.py:graph", store.checkpoints, root=project)
        for _ in range(workers):
            procs.append(subprocess.Popen(
                [orca, "-C", str(project), "worker", "--store", url,
                 "--workflow", "flows.py:graph", "--concurrency", "4"],
                env=env, stderr=subprocess.DEVNULL,
            ))  # fmt: skip
        while len(store.queue.workers()) < workers:  # every worker idle, waiting
            time.sleep(0.05)
        started = time.perf_counter()
        for i in range(runs):
            body = RunBody(workflow="tiny", input={"n": i})
            submit(store, run_id=f"run-{i}", thread_id=f"t-{i}", body=body,
                   workflow=workflow, owner="benchmark")  # fmt: skip
        while sum(c.count for c in store.queue.counts() if c.status == "done") < runs:
            time.sleep(0.02)
        return runs / (time.perf_counter() - started)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
        store.close()


def scaling(runs: int = RUNS) -> dict[str, Any]:
    """Runs/s with 1, 2 and 4 workers, each over a new database of one durable cluster."""
    from _pg import cluster

    rates: dict[str, float] = {}
    with cluster() as running:  # durable settings: real fsync
        for workers in (1, 2, 4):
            rates[str(workers)] = round(measure(running.create_database(), workers, runs), 1)
    one = rates["1"]
    return {
        "id": ID,
        "runs": runs,
        "runs_per_s": rates,
        "efficiency": {n: round(r / (int(n) * one), 2) for n, r in rates.items()},
        "cores": os.cpu_count(),
    }


def main() -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=RUNS)
    return scaling(parser.parse_args().runs)


if __name__ == "__main__":
    print(json.dumps(main()))
