"""A process that uses the project repositories, for the races of
``tests/store/test_project_races.py``. Each mode prints "ready", waits for a line on
stdin (so that every worker starts together), then works and prints one JSON line.

python project_worker.py flow STORE WORKER ROUNDS VERSION
    save flow race-R (R in 0..ROUNDS-1) with content of its own (hash sha256:WORKER),
    under VERSION ("-": none, the next patch); print {"race-R": result} where result is
    ["made", version], ["same", version] or ["exists", the saved hash].
python project_worker.py task STORE WORKER ROUNDS
    create task race-R with digest WORKER in session s-R; print {"race-R": made}.
python project_worker.py artifact STORE WORKER ROUNDS
    register content race-R as a plan tagged WORKER; print {"race-R": new}.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from orca.errors import FlowVersionExistsError
from orca.store import open_store
from orca.store._tasks import TaskRecord


def main(argv: list[str]) -> int:
    mode, url, worker, rounds = argv[0], argv[1], argv[2], int(argv[3])
    store = open_store(url)
    results: dict[str, Any] = {}
    try:
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        sys.stdin.readline()
        for r in range(rounds):
            key = f"race-{r}"
            if mode == "flow":
                version = None if argv[4] == "-" else argv[4]
                flow = {"name": key, "by": worker}
                try:
                    info, made = store.flows.put(key, flow, f"sha256:{worker}", version=version)
                    results[key] = ["made" if made else "same", info.version]
                except FlowVersionExistsError as exc:
                    results[key] = ["exists", exc.hash]
            elif mode == "task":
                task = TaskRecord(
                    key, f"s-{r}", "queued", "batch", "m", "e", "m.gguf", {"by": worker},
                    worker, store.tasks.now(),
                )  # fmt: skip
                _, made = store.tasks.create(task, session_ttl_ms=600_000)
                results[key] = made
            elif mode == "artifact":
                _, new = store.artifacts.put(key.encode(), kind="plan", tags=[worker])
                results[key] = new
            else:
                raise SystemExit(f"no mode {mode!r}")
    finally:
        store.close()
    sys.stdout.write(json.dumps(results) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
