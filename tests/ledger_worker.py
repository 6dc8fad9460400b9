"""A process that uses the budget ledger, for ``tests/test_ledger_processes.py``.

DB is the user database's file (SQLite) or a ``postgresql://`` URL (PostgreSQL).

python ledger_worker.py stress DB BUDGET COST TRIES
    print "ready", wait for a line on stdin (so that every worker starts together),
    then TRIES times reserve COST and settle it, counting refusals; print a JSON line
    {"ok": successes, "refused": refusals}.
python ledger_worker.py die-held DB BUDGET ASK
    reserve ASK, print "reserved HOLD_ID", then wait on stdin to be killed.
python ledger_worker.py die-recorded DB BUDGET ASK COST RUN_ID
    reserve ASK, record a charge of COST (the provider answered), print
    "recorded HOLD_ID", then die at once (os._exit(9)) before settling.
python ledger_worker.py late-settle DB BUDGET ASK TTL
    reserve ASK with holds living TTL seconds and never renew it (a holder that was
    away), print "reserved HOLD_ID", wait for a line on stdin, then settle ASK and print
    a JSON line {"overdrafts": [amounts], "over_bound": bool}.
python ledger_worker.py run DB BUDGET PROVIDER URL TTL FORMAT
    run a one-node workflow whose node makes one call ("hi", max_tokens=50) through
    the meter to PROVIDER (openai or anthropic) served at URL, charged to BUDGET, holds
    living TTL seconds unless renewed; FORMAT is "text" or "schema" (a 5 KB JSON Schema
    as response_format). Print a JSON line: {"ok": true} or the BudgetExceeded.
python ledger_worker.py sweeper DB BUDGET ASK
    print "ready", then until a line arrives on stdin: sweep, try to reserve ASK and
    settle it; print a JSON line {"took": successes, "expired": [hold ids swept]}.
python ledger_worker.py settle-race DB BUDGET HOLD_ID COST
    print "ready", wait for a line on stdin (so that every worker settles together),
    then settle the hold HOLD_ID with a charge of COST, as a retry that lost the first
    answer would; print a JSON line {"usage_id": ..., "repeated": bool}.
"""

from __future__ import annotations

import json
import os
import select
import sys
import time
from decimal import Decimal
from typing import Any

from _stores import opened
from orca.cost import CallContext, Charge, Hold
from orca.errors import BudgetExceeded


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    mode, db, name = argv[0], argv[1], argv[2]
    ledger = opened(db).ledger
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
    if mode == "late-settle":
        ask, ttl = int(argv[3]), float(argv[4])
        away = opened(db, hold_ttl_s=ttl).ledger
        hold = away.reserve([budget], {"usd": ask})
        say(f"reserved {hold.id}")
        sys.stdin.readline()
        settled = away.settle(hold, Charge("openai", "gpt-test", 1, 1, cost_nano_usd=ask))
        overdrafts = [o.amount for o in settled.overdrafts]
        say(json.dumps({"overdrafts": overdrafts, "over_bound": settled.over_bound}))
        return 0
    if mode == "run":
        return run(db, name, *argv[3:])
    if mode == "settle-race":
        hold_id, cost = argv[3], int(argv[4])
        say("ready")
        sys.stdin.readline()
        settled = ledger.settle(
            Hold(hold_id), Charge("openai", "gpt-test", 1, 1, cost_nano_usd=cost)
        )
        say(json.dumps({"usage_id": settled.usage_id, "repeated": settled.repeated}))
        return 0
    if mode == "sweeper":
        ask = int(argv[3])
        say("ready")
        took, expired = 0, []
        while not select.select([sys.stdin], [], [], 0.05)[0]:
            expired += ledger.sweep().expired
            try:
                hold = ledger.reserve([budget], {"usd": ask})
            except BudgetExceeded:
                continue
            ledger.settle(hold, Charge("openai", "gpt-test", 1, 1, cost_nano_usd=ask))
            took += 1
        say(json.dumps({"took": took, "expired": expired}))
        return 0
    raise SystemExit(f"unknown mode {mode!r}")


SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        f"field_{i}": {"type": "string", "description": f"the {i}th value, in café units"}
        for i in range(60)
    },
    "required": [f"field_{i}" for i in range(60)],
}


def run(db: str, budget: str, provider: str, url: str, ttl: str, fmt: str) -> int:
    from typing import TypedDict

    from orca import END, START, StateGraph
    from orca.cost import Price, PriceBook
    from orca.llm.providers.anthropic import AnthropicModel
    from orca.llm.providers.openai import OpenAIModel

    class State(TypedDict, total=False):
        answer: str

    async def ask(state: State, ctx: Any) -> State:
        format_: Any = SCHEMA if fmt == "schema" else "text"
        answer = await ctx.worker.acomplete("hi", max_tokens=50, response_format=format_)
        return {"answer": answer.text}

    graph = StateGraph(State, name="one-call")
    graph.add_node("ask", ask)
    graph.add_edge(START, "ask")
    graph.add_edge("ask", END)
    model: Any = (
        OpenAIModel("gpt-sim", api_key="sk-test", base_url=f"{url}/v1")
        if provider == "openai"
        else AnthropicModel("claude-sim", api_key="sk-test", base_url=url)
    )
    # $1 per 1M tokens in, $2 out: a token in costs 1,000 nano-USD
    price = Price(provider, model.model, Decimal(1), Decimal(2))
    store = opened(db, hold_ttl_s=float(ttl))
    began = time.monotonic()
    try:
        graph.compile().invoke(
            {},
            models={"worker": model},
            prices=PriceBook([price]),
            ledger=store.ledger,
            budget=budget,
        )
    except BudgetExceeded as exc:
        say(json.dumps({"ok": False, "overdrawn": exc.overdrawn, "message": str(exc)}))
        return 0
    finally:
        store.close()
    say(json.dumps({"ok": True, "seconds": round(time.monotonic() - began, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
