"""Budgets in real runs on the in-process llama.cpp engine with the tiny model: every call
is reserved, recorded and settled in the ledger with no code in the node; a block budget
stops the run (or pauses it until raised); warn budgets report; status before and after."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

pytest.importorskip("llama_cpp")

from orca import END, START, Command, StateGraph, reducers
from orca.cost import Budget, Price, PriceBook
from orca.errors import BudgetExceeded
from orca.llm import ModelSpec, Profile
from orca.llm.tiny import ensure_tiny_model
from orca.store import user_store
from orca.store.sqlite import SqliteLedger

# $1 per 1M input tokens, $1000 per 1M output tokens: one output token is 1e6 nano-USD
PRICE = Price("llamacpp", "tiny.gguf", Decimal(1), Decimal(1000))
TOKENS = 8


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory) -> Profile:
    path = ensure_tiny_model(seed=0, path=tmp_path_factory.mktemp("m") / "tiny.gguf")
    spec = ModelSpec("llamacpp", str(path), {"n_ctx": 1024, "temperature": 0.8})
    return Profile("tiny", planner=spec, worker=spec)


@pytest.fixture
def ledger(tmp_path: Path) -> SqliteLedger:
    return user_store(tmp_path / "orca.db").ledger


class State(TypedDict, total=False):
    rounds: int
    answers: Annotated[list[str], reducers.append]


def looping(calls: int) -> Any:
    """One node that calls the worker ``calls`` times, one after another."""

    async def chat(state: State, ctx: Any) -> dict[str, Any]:
        out = []
        for i in range(calls):
            answer = await ctx.worker.acomplete(f"Round {i}", max_tokens=TOKENS)
            out.append(answer.text)
        return {"answers": out}

    g = StateGraph(State, name="chatty")
    g.add_node("chat", chat)
    g.add_edge(START, "chat")
    g.add_edge("chat", END)
    return g


def rows_of(ledger: SqliteLedger) -> sqlite3.Connection:
    """A connection of the test's own to the ledger's file, to read its rows."""
    conn = sqlite3.connect(ledger._db.path)  # type: ignore[attr-defined]
    READERS.append(conn)
    return conn


READERS: list[sqlite3.Connection] = []


@pytest.fixture(autouse=True)
def _close_readers() -> Any:
    yield
    while READERS:
        READERS.pop().close()


def run_options(profile: Profile, ledger: SqliteLedger, **more: Any) -> dict[str, Any]:
    return {"profile": profile, "prices": PriceBook([PRICE]), "ledger": ledger, **more}


def periods(ledger: SqliteLedger) -> list[tuple[int, int, int]]:
    return rows_of(ledger).execute("SELECT amount, spent, reserved FROM budget_periods").fetchall()


def charged(ledger: SqliteLedger) -> int:
    return int(
        rows_of(ledger).execute("SELECT COALESCE(SUM(amount), 0) FROM usage_charges").fetchone()[0]
    )


def test_every_call_is_one_usage_row_matching_its_usage_event(
    profile: Profile, ledger: SqliteLedger, tmp_path: Path
) -> None:
    events = list(looping(3).compile().stream({}, mode="events", **run_options(profile, ledger)))
    usage = [e for e in events if e.type == "usage"]
    rows = (
        rows_of(ledger)
        .execute(
            "SELECT run_id, thread_id, workflow, node, role, provider, model, output_tokens, "
            "cost_nano_usd FROM usage ORDER BY created_at"
        )
        .fetchall()
    )
    assert len(usage) == len(rows) == 3
    run_id = events[0].run_id
    for event, row in zip(usage, rows, strict=True):
        assert row[:7] == (run_id, "ephemeral", "chatty", "chat", "worker", "llamacpp", "tiny.gguf")
        assert row[7] == event.output_tokens
        assert row[8] == event.cost_nano_usd > 0
    with user_store(tmp_path / "orca.db") as store:
        by_node = store.usage.report("node")
    assert [(r.key, r.calls, r.cost_nano_usd) for r in by_node] == [
        ("chat", 3, sum(e.cost_nano_usd for e in usage))
    ]


def test_a_block_budget_stops_the_run_and_is_never_overspent(
    profile: Profile, ledger: SqliteLedger
) -> None:
    # affords about two answers of TOKENS tokens, not ten
    ledger.budgets.create(Budget("tight", 2 * TOKENS * 1_000_000 + 500_000))
    with pytest.raises(BudgetExceeded) as info:
        looping(10).compile().invoke({}, **run_options(profile, ledger))
    error = info.value
    assert error.budget == "tight"
    assert error.spent + error.reserved + error.asked > error.limit
    [(limit, spent, reserved)] = periods(ledger)
    assert 0 < spent <= limit
    assert reserved == 0
    assert spent == charged(ledger)
    calls = rows_of(ledger).execute("SELECT COUNT(*) FROM usage").fetchone()[0]
    assert 1 <= calls < 10


def test_without_max_tokens_a_block_budget_caps_the_answer(
    profile: Profile, ledger: SqliteLedger
) -> None:
    ledger.budgets.create(Budget("roomy", 10**12))

    async def chat(state: State, ctx: Any) -> dict[str, Any]:
        answer = await ctx.worker.acomplete("Go on")  # no max_tokens
        return {"answers": [answer.text]}

    g = StateGraph(State)
    g.add_node("chat", chat)
    g.add_edge(START, "chat")
    g.add_edge("chat", END)
    g.compile().invoke({}, **run_options(profile, ledger, max_tokens=5))
    [(output,)] = rows_of(ledger).execute("SELECT output_tokens FROM usage").fetchall()
    assert output == 5  # the tiny model never stops by itself: the cap was sent


def test_pause_policy_interrupts_until_the_budget_is_raised(
    profile: Profile, ledger: SqliteLedger, tmp_path: Path
) -> None:
    from orca.store import SqliteCheckpointer

    ledger.budgets.create(Budget("tight", 2 * TOKENS * 1_000_000 + 500_000))
    app = looping(4).compile(checkpointer=SqliteCheckpointer(tmp_path / "cp.db"))
    options = run_options(profile, ledger, on_budget_exceeded="pause", thread_id="t")
    paused = app.invoke({}, **options)
    [interrupt] = paused["__interrupt__"]
    assert interrupt.value["reason"] == "budget_exceeded"
    assert interrupt.value["budget"] == "tight"
    [(limit, spent, reserved)] = periods(ledger)
    assert spent <= limit
    assert reserved == 0

    ledger.budgets.raise_("tight", by=10 * TOKENS * 1_000_000)
    done = app.invoke(Command(resume="raised"), **options)
    assert "__interrupt__" not in done
    assert len(done["answers"]) == 4
    [(limit, spent, reserved)] = periods(ledger)
    assert spent <= limit
    assert spent == charged(ledger)


def test_warn_budget_reports_thresholds_once_and_never_blocks(
    profile: Profile, ledger: SqliteLedger
) -> None:
    ledger.budgets.create(
        Budget("soft", 2 * TOKENS * 1_000_000, enforcement="warn", thresholds=(50, 100))
    )
    events = list(looping(4).compile().stream({}, mode="events", **run_options(profile, ledger)))
    warnings = [e for e in events if e.type == "budget.warning"]
    assert [w.threshold_pct for w in warnings] == [50, 100]
    assert all(w.budget == "soft" and w.unit == "usd" for w in warnings)
    assert warnings[-1].spent >= warnings[-1].limit
    [(limit, spent, _)] = periods(ledger)
    assert spent > limit  # a warn budget only reports


def test_budget_status_is_reported_before_and_after_the_run(
    profile: Profile, ledger: SqliteLedger
) -> None:
    ledger.budgets.create(Budget("main", 10**12))
    events = list(looping(2).compile().stream({}, mode="events", **run_options(profile, ledger)))
    status = [e for e in events if e.type == "budget.status"]
    assert [s.when for s in status] == ["before", "after"]
    before, after = (s.budgets[0] for s in status)
    assert before["name"] == after["name"] == "main"
    cost = sum(e.cost_nano_usd for e in events if e.type == "usage")
    assert after["spent"] - before["spent"] == cost > 0
    assert after["reserved"] == 0
    assert events[-1].type == "run.finished"


def test_a_workflow_budget_applies_to_runs_of_that_graph_only(
    profile: Profile, ledger: SqliteLedger
) -> None:
    ledger.budgets.create(Budget("for-chatty", 10**12, scope="workflow", scope_ref="chatty"))
    ledger.budgets.create(Budget("for-other", 10**12, scope="workflow", scope_ref="other"))
    looping(1).compile().invoke({}, **run_options(profile, ledger))
    spent = dict(
        rows_of(ledger)
        .execute(
            "SELECT b.name, p.spent FROM budgets b LEFT JOIN budget_periods p ON p.budget_id = b.id"
        )
        .fetchall()
    )
    assert spent["for-chatty"] > 0
    assert spent["for-other"] is None


def test_no_ledger_records_nothing(profile: Profile, tmp_path: Path) -> None:
    looping(1).compile().invoke({}, profile=profile, prices=PriceBook([PRICE]), ledger=False)
    assert not (Path(tmp_path) / "orca.db").exists()


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("budget", 3),
        ("session", ""),
        ("ledger", 1.5),
        ("on_budget_exceeded", "explode"),
        ("max_tokens", 0),
    ],
)
def test_bad_budget_options_are_refused_before_the_run(
    profile: Profile, option: str, value: Any
) -> None:
    from orca.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match=option):
        looping(1).compile().invoke({}, profile=profile, **{option: value})


def test_an_unknown_budget_name_fails_with_the_closest(
    profile: Profile, ledger: SqliteLedger
) -> None:
    from orca.errors import UnknownBudgetError

    ledger.budgets.create(Budget("monthly", 10**12))
    with pytest.raises(UnknownBudgetError, match="monthly"):
        looping(1).compile().invoke({}, **run_options(profile, ledger, budget="montly"))


CRASHING_RUN = """
import os, sys
from decimal import Decimal
from typing import Any, TypedDict
from orca import END, START, StateGraph
from orca.cost import Budget, Price, PriceBook
from orca.llm import ModelSpec, Profile
from orca.store import user_store
from orca.store.sqlite import SqliteLedger

db, model = sys.argv[1], sys.argv[2]


def die(*args: Any, **kwargs: Any) -> None:  # killed after the answer was recorded
    print("answered", flush=True)
    os._exit(9)


SqliteLedger.settle = die  # type: ignore[method-assign]


class State(TypedDict, total=False):
    text: str


async def ask(state: State, ctx: Any) -> dict[str, Any]:
    return {"text": (await ctx.worker.acomplete("Hello", max_tokens=6)).text}


g = StateGraph(State)
g.add_node("ask", ask)
g.add_edge(START, "ask")
g.add_edge("ask", END)
spec = ModelSpec("llamacpp", model, {"n_ctx": 1024})
ledger = user_store(db).ledger
ledger.budgets.create(Budget("tight", 10**9))
price = Price("llamacpp", os.path.basename(model), Decimal(1), Decimal(1000))
g.compile().invoke({}, profile=Profile("p", spec, spec), prices=PriceBook([price]), ledger=ledger)
"""


def test_a_run_killed_after_the_answer_is_settled_from_the_recorded_usage(
    profile: Profile, tmp_path: Path
) -> None:
    import datetime as dt
    import subprocess
    import sys

    script = tmp_path / "crash.py"
    script.write_text(CRASHING_RUN)
    db = tmp_path / "orca.db"
    done = subprocess.run(
        [sys.executable, str(script), str(db), profile.worker.model],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 9, done.stderr[-2000:]
    assert "answered" in done.stdout

    later = user_store(db, clock=lambda: dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).ledger
    [(state, recorded)] = rows_of(later).execute("SELECT state, recorded FROM holds").fetchall()
    assert state == "recorded"
    assert '"output_tokens": 6' in recorded
    assert rows_of(later).execute("SELECT COUNT(*) FROM usage").fetchone()[0] == 0
    swept = later.sweep()
    assert len(swept.settled) == 1
    [(output, cost)] = (
        rows_of(later).execute("SELECT output_tokens, cost_nano_usd FROM usage").fetchall()
    )
    assert output == 6
    assert (
        cost
        == 6 * 1_000_000
        + rows_of(later).execute("SELECT input_tokens FROM usage").fetchone()[0] * 1_000
    )
    [(limit, spent, reserved)] = periods(later)
    assert (spent, reserved) == (cost, 0)
    assert spent <= limit
    assert later.sweep().settled == []  # charged once
