"""A process that takes a thread's lease, for ``test_run_records_sqlite.py`` and
``test_run_records_postgres.py`` (DB is a SQLite file or a ``postgresql://`` URL).

python lease_worker.py race DB THREAD RUN_ID
    open the store, print "ready", wait for a line on stdin (so that every worker starts
    together), try to begin the run, print a JSON line {"won": bool, "holder": run id},
    then wait for stdin to close (the process stays alive, so its lease stays live).
python lease_worker.py hold DB THREAD RUN_ID
    begin the run with a lease that lasts an hour, print "held", then wait to be killed.
"""

from __future__ import annotations

import json
import sys
import time

from orca.checkpoint import Checkpointer, Lease, RunRecord, lease_owner
from orca.store import SqliteCheckpointer
from orca.store.postgres import PgCheckpointer


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    mode, path, thread, run_id = argv
    store: Checkpointer = (
        PgCheckpointer(path) if path.startswith("postgresql://") else SqliteCheckpointer(path)
    )
    record = RunRecord(run_id, thread, "g", "running", "2026-01-01T00:00:00+00:00")
    lease = Lease(thread, run_id, lease_owner(), time.time() + 3600)
    if mode == "race":
        say("ready")
        sys.stdin.readline()
        held = store.begin_run(record, lease, time.time())
        say(json.dumps({"won": held == lease, "holder": held.run_id}))
        sys.stdin.read()
        return 0
    held = store.begin_run(record, lease, time.time())
    say("held" if held == lease else f"busy {held.run_id}")
    time.sleep(3600)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
