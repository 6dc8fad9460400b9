"""A graph of one paid LLM call (the tiny model on llama.cpp, under a block budget) that
can SIGKILL its own process where the call's answer is recorded.

Used by ``tests/test_pay_once_kill.py``. Usage::

    python paid_call.py MODEL LEDGER CHECKPOINTS [CALLER]

LEDGER and CHECKPOINTS are ``postgresql://`` URLs (one URL twice: one database, which
the ledger and the checkpointer open with a pool each, as a worker and its run's meter
do; two URLs: two databases) or SQLite files (the user database and the project's). The
node ``ask`` calls the model once and returns its text and whether it was answered from
the task's call record (``cached``). The program starts thread ``t`` from its input when
it has no checkpoint and resumes it otherwise; it prints the final state as one JSON line.

CALLER ``langchain`` makes the node ask a LangChain chat model under ``metered(ctx)``
instead (a scripted one at the edge, priced as ``scripted``/``m``, that appends a line to
the file ``ORCA_CALLS`` each time it is really called); ``ctx.llm`` is the default.

``ORCA_KILL`` chooses where the process kills itself with SIGKILL:

- ``after_hold_record``: right after the answer's usage is committed on its hold: with the
  call's record (``put_paid_call``, where one database keeps both), or alone (the
  ledger's ``record``: where they live apart, the call's record is not written yet);
- ``before_paid_commit``: one database: the statement that records the answer on the
  hold and keeps the call's record ran inside a transaction; its COMMIT was not sent.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, TypedDict

from orca import END, START, StateGraph
from orca.checkpoint import CallRecord, Checkpointer
from orca.cost import Charge, Hold, Price, PriceBook
from orca.llm import ModelSpec, Profile
from orca.store import SqliteCheckpointer, user_store
from orca.store._clock import utc_now
from orca.store.postgres import PgCheckpointer, PostgresStore, _text
from orca.store.postgres._ledger import PgLedger
from orca.store.sqlite import SqliteLedger

KILL = os.environ.get("ORCA_KILL", "")


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class State(TypedDict, total=False):
    text: str
    cached: bool


async def ask(state: State, ctx: Any) -> State:
    answer = await ctx.worker.acomplete("Hello", max_tokens=6)
    return {"text": answer.text, "cached": answer.cached}


def ask_langchain(state: State, ctx: Any) -> State:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration, ChatResult

    from orca.compat.langchain import metered

    class Scripted(BaseChatModel):
        max_tokens: int = 6

        @property
        def _llm_type(self) -> str:
            return "scripted"

        @property
        def _identifying_params(self) -> dict[str, Any]:
            return {"model": "m", "max_tokens": self.max_tokens}

        def _generate(self, messages: Any, *args: Any, **kwargs: Any) -> ChatResult:
            with open(os.environ["ORCA_CALLS"], "a") as calls:
                calls.write("called\n")
            usage = {"input_tokens": 5, "output_tokens": 6, "total_tokens": 11}
            message = AIMessage("hello there", usage_metadata=usage)  # type: ignore[arg-type]
            return ChatResult(generations=[ChatGeneration(message=message)])

    with metered(ctx):
        answer = Scripted().invoke("Hello")
    usage = answer.usage_metadata or {}
    return {"text": str(answer.content), "cached": usage.get("total_cost") == 0}


class KillingPgLedger(PgLedger):
    def record(self, hold: Hold, charge: Charge) -> None:
        super().record(hold, charge)
        if KILL == "after_hold_record":
            die()


class KillingSqliteLedger(SqliteLedger):
    def record(self, hold: Hold, charge: Charge) -> None:
        super().record(hold, charge)
        if KILL == "after_hold_record":
            die()


class KillingPgCheckpointer(PgCheckpointer):
    def put_paid_call(self, record: CallRecord, paid: Any) -> bool:
        kept = super().put_paid_call(record, paid)
        if kept and KILL == "after_hold_record":
            die()
        return kept

    def _put_paid(self, sql: bytes, args: list[Any]) -> bool:
        if KILL != "before_paid_commit":
            return super()._put_paid(sql, args)
        # the paid call's one statement, in a transaction: the hold's answer and the
        # call's record are written, the COMMIT is not sent
        with self.db.transaction() as conn:
            _text.cursor(conn).execute(sql, args)
            die()
        raise AssertionError("unreachable")


def main() -> None:
    model, ledger_at, checkpoints_at = sys.argv[1:4]
    caller = sys.argv[4] if len(sys.argv) > 4 else "ctx.llm"
    closing: list[Any] = []
    ledger: Any
    checkpointer: Checkpointer
    if ledger_at.startswith("postgresql://"):
        user = PostgresStore(ledger_at)
        user.open_user()
        ledger = KillingPgLedger(user.db, clock=utc_now)
        checkpointer = KillingPgCheckpointer(checkpoints_at)
    else:
        user = user_store(ledger_at)
        ledger = KillingSqliteLedger(user._user)  # type: ignore[attr-defined]
        checkpointer = SqliteCheckpointer(checkpoints_at)
    closing += [checkpointer, user]
    g = StateGraph(State)
    g.add_node("ask", ask_langchain if caller == "langchain" else ask)
    g.add_edge(START, "ask")
    g.add_edge("ask", END)
    app = g.compile(checkpointer=checkpointer)
    spec = ModelSpec("llamacpp", model, {"n_ctx": 512})
    price = Price("llamacpp", Path(model).name, Decimal(1), Decimal(1000))
    scripted = Price("scripted", "m", Decimal(1), Decimal(1000))
    start = None if checkpointer.get("t") is not None else {"text": ""}
    out = app.invoke(
        start,
        thread_id="t",
        profile=Profile("p", spec, spec),
        prices=PriceBook([price, scripted]),
        ledger=ledger,
    )
    for each in closing:
        each.close()
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
