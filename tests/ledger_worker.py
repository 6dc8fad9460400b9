"""A process that uses the budget ledger, for ``tests/test_ledger_processes.py``.

python ledger_worker.py stress DB BUDGET COST TRIES
    print "ready", wait for a line on stdin (so that every worker starts together),
    then TRIES times reserve COST and settle it, counting refusals; print a JSON line
    {"ok": successes, "refused": refusals}.
python ledger_worker.py die-held DB BUDGET ASK
    reserve ASK, print "reserved HOLD_ID", then wait on stdin to be killed.
python ledger_worker.py die-recorded DB BUDGET ASK COST RUN_ID
    reserve ASK, record a charge of COST (the provider answered), print
    "recorded HOLD_ID", then die at once (os._exit(9)) before settling.
"""

from __future__ import annotations

import json
import os
import sys

from orca.cost import CallContext, Charge
from orca.errors import BudgetExceeded
from orca.store import user_store


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    mode, db, name = argv[0], argv[1], argv[2]
    ledger = user_store(db).ledger
    budget = ledger.budgets.get(name)
    if mode == "stress":
        cost, tries = int(argv[3]), int(argv[4])
        say("ready")
        sys.stdin.readline()
        ok = refused = 0
        for i in range(tries):
            try:
                hold = ledger.reserve([budget], {"usd": cost}, CallContext(task_id=str(i)))
            except BudgetExceeded:
                refused += 1
                continue
            ledger.settle(hold, Charge("openai", "gpt-test", 1, 1, cost_nano_usd=cost))
            ok += 1
        say(json.dumps({"ok": ok, "refused": refused}))
        return 0
    if mode == "die-held":
        hold = ledger.reserve([budget], {"usd": int(argv[3])})
        say(f"reserved {hold.id}")
        sys.stdin.readline()  # the parent kills us here
        return 3
    if mode == "die-recorded":
        ask, cost, run_id = int(argv[3]), int(argv[4]), argv[5]
        hold = ledger.reserve([budget], {"usd": ask}, CallContext(run_id=run_id, node="call"))
        ledger.record(hold, Charge("openai", "gpt-test", 120, 80, cost_nano_usd=cost))
        say(f"recorded {hold.id}")
        os._exit(9)
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
