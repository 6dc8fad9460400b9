"""Defects a review of the pay-once / never-overspend work found, each fixed and kept
fixed: parallel first calls of a run with its own limits, a stream read past its run's
end, a swept hold re-taken beside a warn budget over its limit, a dollar amount too
large for the ledger, and a declared dataclass with a field the constructor does not
take."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any, TypedDict

import pytest

from _echo import Echo
from orca import END, START, Send, StateGraph
from orca.cost import Budget, Charge, Price, PriceBook, to_nano
from orca.errors import InvalidInputError
from orca.store import user_store

PRICES = PriceBook([Price("acme", "echo", Decimal(1), Decimal(1))])


class S(TypedDict, total=False):
    x: str
    n: int


def test_parallel_first_calls_of_a_run_with_a_cost_limit_share_its_budget(
    tmp_path: Path,
) -> None:
    async def ask(arg: Any, ctx: Any) -> None:
        await ctx.worker.acomplete(f"hello {arg}")

    g = StateGraph(S)
    g.add_node("ask", ask)
    g.add_conditional_edges(START, lambda s: [Send("ask", i) for i in range(6)])
    g.add_edge("ask", END)
    for attempt in range(5):  # the race was lost 3 times in 5 before the fix
        g.compile().invoke(
            {},
            models={"worker": Echo("echo", provider="acme")},
            prices=PRICES,
            ledger=tmp_path / f"orca{attempt}.db",
            cost_limit="1",
        )


def test_a_stream_read_past_its_run_gives_its_hold_back(tmp_path: Path) -> None:
    kept: list[Any] = []

    async def ask(state: S, ctx: Any) -> dict[str, Any]:
        stream = ctx.worker.astream("hello there friend").__aiter__()
        first = await stream.__anext__()
        kept.append(stream)  # abandoned mid-stream, closed after the run
        return {"x": first.text}

    g = StateGraph(S)
    g.add_node("a", ask)
    g.add_edge(START, "a")
    g.add_edge("a", END)
    db = tmp_path / "orca.db"

    async def main() -> None:
        await g.compile().ainvoke(
            {},
            models={"worker": Echo("echo", provider="acme")},
            prices=PRICES,
            ledger=db,
            cost_limit="1",
        )
        await kept[0].aclose()  # settles after the ledger closed: no crash

    asyncio.run(main())
    with user_store(db) as store:
        assert store.ledger._db.read("SELECT state FROM holds") == [("released",)]  # type: ignore[attr-defined]
        assert store.ledger._db.read("SELECT reserved FROM budget_periods") == [(0,)]  # type: ignore[attr-defined]


def test_a_swept_hold_is_taken_back_beside_a_warn_budget_over_its_limit(tmp_path: Path) -> None:
    with user_store(tmp_path / "u.db") as store:
        ledger = store.ledger
        ledger.budgets.create(Budget("blk", 1_000_000, "usd"), activate=True)
        ledger.budgets.create(
            Budget("w", 10, "tokens", enforcement="warn", scope="run", scope_ref="r1")
        )
        budgets = ledger.applicable(run="r1")
        first = ledger.reserve(budgets, {"usd": 100, "tokens": 0})
        ledger.settle(first, Charge("p", "m", input_tokens=50, cost_nano_usd=100, priced=True))
        hold = ledger.reserve(budgets, {"usd": 100, "tokens": 5})
        past = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat()
        ledger._db.conn.execute("UPDATE holds SET expires_at = ? WHERE id = ?", (past, hold.id))  # type: ignore[attr-defined]
        assert ledger.sweep().expired == [hold.id]
        assert ledger.renew([hold]) == [hold.id]  # the block budget has room: taken back


@pytest.mark.parametrize("amount", ["1e999999", "1e400000000", "9223372037"])
def test_a_dollar_amount_too_large_for_the_ledger_is_a_clear_error(amount: str) -> None:
    from orca.llm._meter import meter_for_run

    with pytest.raises(ValueError, match="too large"):
        to_nano(amount)
    with pytest.raises(InvalidInputError, match="cost_limit"):
        meter_for_run(cost_limit=amount)


@dataclasses.dataclass
class Point:
    a: int
    b: int = dataclasses.field(init=False, default=0)


def test_a_declared_dataclass_with_an_init_false_field_round_trips() -> None:
    from orca import _serde

    _serde.declare(Point)
    point = Point(1)
    point.b = 5
    again = _serde.loads(_serde.dumps(point))
    assert (type(again), again.a, again.b) == (Point, 1, 5)
