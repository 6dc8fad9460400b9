"""A process that claims from the run queue, for ``tests/store/test_run_queue.py``.

python queue_claimer.py URL WORKER_ID LIMITS_JSON HOLD_S [LEASE_S]
    open the store at URL, print "ready", wait for a line on stdin (so that every
    claimer starts together), then claim under LIMITS_JSON ({"queues": {...},
    "workflows": {...}, "tenants": {...}}) with leases of LEASE_S seconds (default 60),
    hold each item HOLD_S seconds and complete it, until no item is queued or running.
    HOLD_S ``stale``: an item claimed for the first time is held past its lease, put
    back by ``reclaim()``, and then completed (which the queue must refuse); an item
    claimed again is completed at once. After each claim it reads the running counts
    the store holds (a committed state) and notes the largest per limited key.
    Prints one JSON line: {"claimed": [run ids], "completed": [run ids whose complete
    was accepted], "peak": {"scope:key": n}}.
"""

from __future__ import annotations

import json
import sys
import time

from orca.store import open_store
from orca.store._queue import Limits


def main(argv: list[str]) -> int:
    url, worker_id, limits_json, hold = argv[0], argv[1], argv[2], argv[3]
    lease_s = float(argv[4]) if len(argv) > 4 else 60.0
    limits = Limits(**json.loads(limits_json))
    store = open_store(url)
    queue = store.queue
    print("ready", flush=True)
    sys.stdin.readline()
    claimed: list[str] = []
    completed: list[str] = []
    peak: dict[str, int] = {}
    while True:
        item = queue.claim(worker_id, lease_s, limits)
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
        if hold == "stale" and item.attempts == 1:
            time.sleep(2 * lease_s)
            queue.reclaim()
        elif hold != "stale":
            time.sleep(float(hold))
        if queue.complete(worker_id, item):
            completed.append(item.run_id)
    store.close()
    print(json.dumps({"claimed": claimed, "completed": completed, "peak": peak}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
