"""``cost_limit`` and ``token_limit``: block budgets of one run, made under its own id on
its first call, refusing what the run cannot afford; bad limits are refused by name."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any, TypedDict

import pytest

from _echo import Echo
from orca import START, StateGraph
from orca.cost import Price, PriceBook
from orca.errors import BudgetExceeded, InvalidInputError
from orca.store import user_store


class State(TypedDict, total=False):
    answers: list[str]


def asking(times: int) -> Any:
    async def ask(state: State, ctx: Any) -> State:
        out = []
        for _ in range(times):
            out.append((await ctx.worker.acomplete("hi", max_tokens=3)).text)
        return {"answers": out}

    g = StateGraph(State, name="asker")
    g.add_node("ask", ask)
    g.add_edge(START, "ask")
    return g.compile()


def options(tmp_path: Path, **more: Any) -> dict[str, Any]:
    price = Price("acme", "echo", Decimal("1000"), Decimal("1000"))  # $ per 1M tokens
    return {
        "models": {"worker": Echo("echo", provider="acme")},
        "prices": PriceBook([price]),
        "ledger": tmp_path / "orca.db",
        **more,
    }


def test_a_token_limit_is_a_block_budget_of_that_run(tmp_path: Path) -> None:
    app = asking(1)
    events = list(app.stream({}, mode="events", **options(tmp_path, token_limit=500)))
    run_id = events[0].run_id
    with user_store(tmp_path / "orca.db") as store:
        budget = store.ledger.budgets.get(f"{run_id}-tokens")
        assert (budget.scope, budget.scope_ref, budget.enforcement) == ("run", run_id, "block")
        assert budget.amount == 500
    # 10 tokens a call, each reserving its bound (the body's bytes, a few hundred, + 3):
    # the limit refuses a call long before the thirtieth
    with pytest.raises(BudgetExceeded, match="-tokens"):
        asking(30).invoke({}, thread_id="t2", **options(tmp_path, token_limit=500))


def test_a_cost_limit_refuses_what_the_run_cannot_afford(tmp_path: Path) -> None:
    # a call costs 10 tokens x $0.001 = $0.01; its reservation asks a little more
    assert asking(1).invoke({}, **options(tmp_path, cost_limit="1"))["answers"] == ["abc"]
    # (a run without a checkpointer derives its id from its thread: another thread,
    # another run id, another budget)
    with pytest.raises(BudgetExceeded, match="-cost"):
        asking(50).invoke({}, thread_id="t2", **options(tmp_path, cost_limit=Decimal("0.05")))


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("cost_limit", 0.5, "never a float"),
        ("cost_limit", True, "never a float"),
        ("cost_limit", "lots", "cost_limit is 'lots'"),
        ("cost_limit", 0, "above zero"),
        ("cost_limit", "-1", "above zero"),
        ("token_limit", 0, "token_limit is 0"),
        ("token_limit", 1.5, "token_limit is 1.5"),
        ("token_limit", True, "token_limit is True"),
    ],
)
def test_bad_limits_are_refused_by_name(tmp_path: Path, name: str, value: Any, says: str) -> None:
    with pytest.raises(InvalidInputError, match=says):
        asking(1).invoke({}, **options(tmp_path, **{name: value}))


def test_a_deadline_passing_during_a_commit_fails_the_run_with_its_timeout(
    tmp_path: Path,
) -> None:
    """The deadline's cancellation reaches the run while it waits for a slow commit: the
    commit itself is not cancelled with it, so the run's shutdown (which waits for it
    again) ends as a timeout, recorded failed, never as a cancelled run."""
    import asyncio
    import time

    from orca.errors import RunTimeoutError
    from orca.store import SqliteCheckpointer

    class SlowDisk(SqliteCheckpointer):
        def put(self, save: Any) -> None:
            time.sleep(0.2)
            super().put(save)

    class S(TypedDict, total=False):
        n: int

    g = StateGraph(S)
    g.add_node("a", lambda s: {"n": 1})
    g.add_edge(START, "a")
    with SlowDisk(tmp_path / "cp.db") as store:
        app = g.compile(checkpointer=store)
        with pytest.raises(RunTimeoutError):  # async: its commits go through the store's worker
            asyncio.run(app.ainvoke({"n": 0}, thread_id="t", deadline=0.05, durability="sync"))
        [record] = store.list_runs(thread_id="t")
        assert record.status == "failed"
        assert "RunTimeoutError" in (record.error or "")
