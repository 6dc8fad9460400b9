"""A process that claims from the run queue, for ``tests/store/test_run_queue.py``.

python queue_claimer.py URL WORKER_ID LIMITS_JSON HOLD_S
    open the store at URL, print "ready", wait for a line on stdin (so that every
    claimer starts together), then claim under LIMITS_JSON ({"queues": {...},
    "workflows": {...}, "tenants": {...}}), hold each item HOLD_S seconds and complete
    it, until no item is queued or running. After each claim it reads the running
    counts the store holds (a committed state) and notes the largest per limited key.
    Prints one JSON line: {"claimed": [run ids], "peak": {"scope:key": n}}.
"""

from __future__ import annotations

import json
import sys
import time

from orca.store import open_store
from orca.store._queue import Limits


def main(argv: list[str]) -> int:
    url, worker_id, limits_json, hold_s = argv[0], argv[1], argv[2], float(argv[3])
    limits = Limits(**json.loads(limits_json))
    store = open_store(url)
    queue = store.queue
    print("ready", flush=True)
    sys.stdin.readline()
    claimed: list[str] = []
    peak: dict[str, int] = {}
    while True:
        item = queue.claim(worker_id, 60.0, limits)
        if item is None:
            counts = queue.counts()
            if not any(c.status in ("queued", "running") for c in counts):
                break
            time.sleep(0.005)
            continue
        claimed.append(item.run_id)
        running: dict[str, int] = {}
        for c in queue.counts():
            if c.status == "running":
                for key in (f"queue:{c.queue}", f"workflow:{c.workflow}", f"tenant:{c.tenant}"):
                    running[key] = running.get(key, 0) + c.count
        for key, n in running.items():
            peak[key] = max(peak.get(key, 0), n)
        time.sleep(hold_s)
        assert queue.complete(worker_id, item)
    store.close()
    print(json.dumps({"claimed": claimed, "peak": peak}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
