"""A call that was paid for is never paid for again: a task run again (after an
interrupt, a budget pause, a crash, its own failure, inside a subgraph) is answered from
the calls it completed, on the real in-process llama.cpp engine with the tiny model and
a real SQLite checkpointer and ledger. A retry by the node's RetryPolicy calls again
unless it says ``reuse_calls=True``; a changed request is a new call."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

pytest.importorskip("llama_cpp")

from orca import END, START, Command, RetryPolicy, StateGraph, reducers
from orca.cost import Budget, Price, PriceBook
from orca.errors import BudgetExceeded
from orca.llm import ModelSpec, Profile
from orca.llm.tiny import ensure_tiny_model
from orca.store import SqliteCheckpointer, user_store
from orca.store.sqlite import SqliteLedger
from orca.tools import Tools, tool

PRICE = Price("llamacpp", "tiny.gguf", Decimal(1), Decimal(1000))
TOKENS = 6


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(ensure_tiny_model(seed=0, path=tmp_path_factory.mktemp("m") / "tiny.gguf"))


@pytest.fixture(scope="module")
def profile(model_path: str) -> Profile:
    spec = ModelSpec("llamacpp", model_path, {"n_ctx": 1024, "temperature": 0.8})
    return Profile("tiny", planner=spec, worker=spec)


@pytest.fixture
def ledger(tmp_path: Path) -> Any:
    store = user_store(tmp_path / "orca.db")
    yield store.ledger
    store.close()


@pytest.fixture
def checkpointer(tmp_path: Path) -> Any:
    store = SqliteCheckpointer(tmp_path / "cp.db")
    yield store
    store.close()


def usage_rows(ledger: SqliteLedger) -> int:
    conn = sqlite3.connect(ledger._db.path)  # type: ignore[attr-defined]
    try:
        return int(conn.execute("SELECT COUNT(*) FROM usage").fetchone()[0])
    finally:
        conn.close()


def options(profile: Profile, ledger: SqliteLedger, **more: Any) -> dict[str, Any]:
    return {"profile": profile, "prices": PriceBook([PRICE]), "ledger": ledger, **more}


def llm_events(events: list[Any]) -> list[Any]:
    return [e for e in events if e.type == "llm.response"]


class State(TypedDict, total=False):
    draft: str
    verdict: str
    answers: Annotated[list[str], reducers.append]


def one_node(node: Any, name: str = "n", retry: RetryPolicy | None = None) -> StateGraph:
    """START -> ``node`` -> END."""
    g = StateGraph(State)
    g.add_node(name, node, retry=retry)
    g.add_edge(START, name)
    g.add_edge(name, END)
    return g


def reviewer() -> StateGraph:
    """Calls the model, then asks a human; resumed, it runs again from the start."""

    async def review(state: State, ctx: Any) -> dict[str, Any]:
        draft = await ctx.worker.acomplete("Review this draft.", max_tokens=TOKENS)
        verdict = ctx.interrupt({"draft": draft.text})
        return {"draft": draft.text, "verdict": verdict}

    return one_node(review, "review")


def test_a_call_before_an_interrupt_is_paid_once(
    profile: Profile, ledger: SqliteLedger, checkpointer: SqliteCheckpointer
) -> None:
    app = reviewer().compile(checkpointer=checkpointer)
    opts = options(profile, ledger, thread_id="t")
    first = list(app.stream({}, mode="events", **opts))
    [paid] = llm_events(first)
    assert paid.cached is False
    assert paid.cost_nano_usd > 0
    assert usage_rows(ledger) == 1

    second = list(app.stream(Command(resume="ok"), mode="events", **opts))
    [answered] = llm_events(second)
    assert answered.cached is True
    assert answered.cost_nano_usd == 0
    assert answered.text == paid.text
    assert answered.request == paid.request
    assert answered.usage == paid.usage
    assert [e for e in second if e.type == "usage"] == []  # nothing new was paid
    assert usage_rows(ledger) == 1
    final = app.get_state("t").values
    assert (final["draft"], final["verdict"]) == (paid.text, "ok")
    finished = [e for e in second if e.type == "run.finished"][-1]
    assert finished.llm_calls == 0
    assert finished.cost_nano_usd == 0


def test_the_response_a_node_gets_again_is_the_one_it_got_first(
    profile: Profile, ledger: SqliteLedger, checkpointer: SqliteCheckpointer
) -> None:
    seen: list[Any] = []

    async def node(state: State, ctx: Any) -> dict[str, Any]:
        seen.append(await ctx.worker.acomplete("Say something.", max_tokens=TOKENS))
        ctx.interrupt("go on?")
        return {}

    app = one_node(node).compile(checkpointer=checkpointer)
    opts = options(profile, ledger, thread_id="t")
    app.invoke({}, **opts)
    app.invoke(Command(resume=True), **opts)
    first, again = seen
    assert again.cached
    assert not first.cached
    for field in ("text", "usage", "stop_reason", "tool_calls", "cost_nano_usd", "priced"):
        assert getattr(again, field) == getattr(first, field), field


def test_a_budget_pause_does_not_pay_again_for_the_calls_before_it(
    profile: Profile, ledger: SqliteLedger, checkpointer: SqliteCheckpointer
) -> None:
    async def chat(state: State, ctx: Any) -> dict[str, Any]:
        out = []
        for i in range(4):
            out.append((await ctx.worker.acomplete(f"Round {i}", max_tokens=TOKENS)).text)
        return {"answers": out}

    app = one_node(chat, "chat").compile(checkpointer=checkpointer)
    # two calls fit (each reserves its prompt bound, a few hundred tokens at $1 per 1M,
    # and 6 output tokens at $1000 per 1M), not three
    ledger.budgets.create(Budget("tight", 2 * TOKENS * 1_000_000 + 1_000_000))
    opts = options(profile, ledger, thread_id="t", on_budget_exceeded="pause")
    paused = app.invoke({}, **opts)
    assert paused["__interrupt__"][0].value["reason"] == "budget_exceeded"
    paid_first = usage_rows(ledger)
    assert paid_first == 2

    ledger.budgets.raise_("tight", by=10 * TOKENS * 1_000_000)
    events = list(app.stream(Command(resume="raised"), mode="events", **opts))
    calls = llm_events(events)
    assert [e.cached for e in calls] == [True, True, False, False]
    assert usage_rows(ledger) == 4  # the two before the pause were not paid again
    assert len(app.get_state("t").values["answers"]) == 4


def test_a_failed_node_run_again_is_answered_and_a_retry_calls_again(
    profile: Profile, ledger: SqliteLedger, checkpointer: SqliteCheckpointer, tmp_path: Path
) -> None:
    flag = tmp_path / "fixed"

    async def flaky(state: State, ctx: Any) -> dict[str, Any]:
        answer = await ctx.worker.acomplete("Answer.", max_tokens=TOKENS)
        if not flag.exists():
            raise ValueError("a bug after the call")
        return {"draft": answer.text}

    def graph(policy: RetryPolicy | None) -> Any:
        return one_node(flaky, retry=policy).compile(checkpointer=checkpointer)

    # the node's own retries call again: the answer may be why it failed
    quick = RetryPolicy(max_attempts=2, initial_interval=0, jitter=False, retry_on=Exception)
    opts = options(profile, ledger, thread_id="retry")
    with pytest.raises(Exception, match="a bug after the call"):
        graph(quick).invoke({}, **opts)
    assert usage_rows(ledger) == 2

    # ... unless the policy says the answers stay good
    reuse = RetryPolicy(
        max_attempts=2, initial_interval=0, jitter=False, reuse_calls=True, retry_on=Exception
    )
    with pytest.raises(Exception, match="a bug after the call"):
        graph(reuse).invoke({}, **options(profile, ledger, thread_id="reuse"))
    assert usage_rows(ledger) == 3

    # the bug fixed, the failed runs invoked again: the first forgot its answers, the
    # second kept them
    flag.touch()
    events = list(graph(None).stream(None, mode="events", **opts))
    assert [e.cached for e in llm_events(events)] == [False]
    assert usage_rows(ledger) == 4
    events = list(
        graph(None).stream(None, mode="events", **options(profile, ledger, thread_id="reuse"))
    )
    assert [e.cached for e in llm_events(events)] == [True]
    assert usage_rows(ledger) == 4


def test_a_node_failing_on_a_refused_call_keeps_the_calls_it_paid_for(
    profile: Profile, ledger: SqliteLedger, checkpointer: SqliteCheckpointer
) -> None:
    async def chat(state: State, ctx: Any) -> dict[str, Any]:
        out = []
        for i in range(3):
            out.append((await ctx.worker.acomplete(f"Round {i}", max_tokens=TOKENS)).text)
        return {"answers": out}

    app = one_node(chat, "chat").compile(checkpointer=checkpointer)
    ledger.budgets.create(Budget("tight", 2 * TOKENS * 1_000_000 + 1_000_000))
    opts = options(profile, ledger, thread_id="t")
    with pytest.raises(BudgetExceeded):
        app.invoke({}, **opts)
    assert usage_rows(ledger) == 2
    ledger.budgets.raise_("tight", by=10 * TOKENS * 1_000_000)
    events = list(app.stream(None, mode="events", **opts))
    assert [e.cached for e in llm_events(events)] == [True, True, False]
    assert usage_rows(ledger) == 3


def test_a_changed_request_is_a_new_call(
    profile: Profile, ledger: SqliteLedger, checkpointer: SqliteCheckpointer
) -> None:
    async def node(state: State, ctx: Any) -> dict[str, Any]:
        prompt = state.get("draft") or "First."
        await ctx.worker.acomplete(prompt, max_tokens=TOKENS)
        ctx.interrupt("again?")
        return {}

    app = one_node(node).compile(checkpointer=checkpointer)
    opts = options(profile, ledger, thread_id="t")
    app.invoke({}, **opts)
    # an edit makes a new checkpoint, whose step is a new task: it asks again
    app.update_state("t", {"draft": "Second."})
    events = list(app.stream(None, mode="events", **opts))
    assert [e.cached for e in llm_events(events)] == [False]
    assert usage_rows(ledger) == 2


def test_the_n_th_call_with_a_digest_is_matched_to_the_n_th_record(
    profile: Profile, ledger: SqliteLedger, checkpointer: SqliteCheckpointer
) -> None:
    async def node(state: State, ctx: Any) -> dict[str, Any]:
        a = await ctx.worker.acomplete("Same.", max_tokens=TOKENS, seed=7)
        b = await ctx.worker.acomplete("Same.", max_tokens=TOKENS, seed=7)
        got = ctx.interrupt("more?")
        if got == "more":
            await ctx.worker.acomplete("Same.", max_tokens=TOKENS, seed=7)
        return {"answers": [a.text, b.text]}

    app = one_node(node).compile(checkpointer=checkpointer)
    opts = options(profile, ledger, thread_id="t")
    app.invoke({}, **opts)
    assert usage_rows(ledger) == 2
    events = list(app.stream(Command(resume="more"), mode="events", **opts))
    assert [e.cached for e in llm_events(events)] == [True, True, False]
    assert usage_rows(ledger) == 3


class Sub(TypedDict, total=False):
    draft: str
    verdict: str


def test_an_interrupt_inside_a_subgraph_does_not_pay_for_its_finished_nodes(
    profile: Profile, ledger: SqliteLedger, checkpointer: SqliteCheckpointer
) -> None:
    async def write(state: Sub, ctx: Any) -> dict[str, Any]:
        return {"draft": (await ctx.worker.acomplete("Write.", max_tokens=TOKENS)).text}

    def approve(state: Sub, ctx: Any) -> dict[str, Any]:
        return {"verdict": ctx.interrupt({"draft": state["draft"]})}

    sub = StateGraph(Sub)
    sub.add_node("write", write)
    sub.add_node("approve", approve)
    sub.add_edge(START, "write")
    sub.add_edge("write", "approve")
    sub.add_edge("approve", END)
    parent = StateGraph(State)
    parent.add_node("team", sub.compile())
    parent.add_edge(START, "team")
    parent.add_edge("team", END)
    app = parent.compile(checkpointer=checkpointer)
    opts = options(profile, ledger, thread_id="t")
    app.invoke({}, **opts)
    assert usage_rows(ledger) == 1
    events = list(app.stream(Command(resume="yes"), mode="events", **opts))
    # the subgraph resumes where it paused: its finished node does not even run again
    assert llm_events(events) == []
    assert usage_rows(ledger) == 1
    assert app.get_state("t").values["verdict"] == "yes"


def test_a_completed_tool_call_is_not_run_again(
    profile: Profile, ledger: SqliteLedger, checkpointer: SqliteCheckpointer, tmp_path: Path
) -> None:
    sent = tmp_path / "sent.txt"

    @tool
    def send_mail(to: str) -> str:
        """Send a mail (appends a line: a side effect)."""
        with sent.open("a") as f:
            f.write(f"{to}\n")
        return f"sent to {to}"

    async def node(state: State, ctx: Any) -> dict[str, Any]:
        result = await ctx.tools.acall("send_mail", to="ann@example.com")
        ctx.interrupt("sent; continue?")
        return {"draft": result}

    app = one_node(node).compile(checkpointer=checkpointer)
    opts = options(profile, ledger, thread_id="t", tools=Tools([send_mail], workspace=tmp_path))
    app.invoke({}, **opts)
    events = list(app.stream(Command(resume=True), mode="events", **opts))
    [call] = [e for e in events if e.type == "tool.call"]
    assert call.cached is True
    assert call.status == "ok"
    assert sent.read_text() == "ann@example.com\n"  # sent once
    assert app.get_state("t").values["draft"] == ("sent to ann@example.com")


def test_without_a_checkpointer_nothing_is_kept(profile: Profile, ledger: SqliteLedger) -> None:
    app = reviewer().compile()
    out = app.invoke({}, **options(profile, ledger))
    assert "__interrupt__" in out
    assert usage_rows(ledger) == 1


def test_records_go_with_their_thread_and_their_pruned_checkpoints(
    profile: Profile, ledger: SqliteLedger, checkpointer: SqliteCheckpointer
) -> None:
    app = reviewer().compile(checkpointer=checkpointer)
    app.invoke({}, **options(profile, ledger, thread_id="t"))
    conn = sqlite3.connect(checkpointer.path)
    try:
        assert conn.execute("SELECT COUNT(*) FROM call_records").fetchone()[0] == 1
        checkpointer.delete_thread("t")
        assert conn.execute("SELECT COUNT(*) FROM call_records").fetchone()[0] == 0
    finally:
        conn.close()


KILLED_RUN = """
import os, sys, time
from decimal import Decimal
from typing import TypedDict
from orca import END, START, StateGraph
from orca.cost import Price, PriceBook
from orca.llm import ModelSpec, Profile
from orca.store import SqliteCheckpointer, user_store

model, db, cp, marker = sys.argv[1:5]


class State(TypedDict, total=False):
    text: str


async def ask(state, ctx):
    answer = await ctx.worker.acomplete("Hello", max_tokens=6)
    with open(marker, "a") as f:
        f.write(answer.text + "\\n")
    if len(open(marker).read().splitlines()) == 1:
        time.sleep(600)  # killed here: answered and paid, no checkpoint yet
    return {"text": answer.text}


g = StateGraph(State)
g.add_node("ask", ask)
g.add_edge(START, "ask")
g.add_edge("ask", END)
spec = ModelSpec("llamacpp", model, {"n_ctx": 1024})
price = Price("llamacpp", os.path.basename(model), Decimal(1), Decimal(1000))
store = user_store(db)
app = g.compile(checkpointer=SqliteCheckpointer(cp))
out = app.invoke(
    None if len(sys.argv) > 5 else {"text": ""},
    thread_id="t",
    profile=Profile("p", spec, spec),
    prices=PriceBook([price]),
    ledger=store.ledger,
)
print("done", out["text"])
"""


def test_a_run_killed_between_the_answer_and_the_checkpoint_does_not_pay_again(
    model_path: str, tmp_path: Path
) -> None:
    script = tmp_path / "killed.py"
    script.write_text(KILLED_RUN)
    db, cp, marker = tmp_path / "orca.db", tmp_path / "cp.db", tmp_path / "answers.txt"
    argv = [sys.executable, str(script), model_path, str(db), str(cp), str(marker)]
    env = {**os.environ, "ORCA_HOME": str(tmp_path / "home")}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert marker.exists(), proc.stderr.read().decode()[-2000:] if proc.stderr else ""
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    with user_store(db) as store:
        assert usage_rows(store.ledger) == 1

    # a new process takes the thread over (the dead run's lease is its own host's and
    # lapsed with it) and continues from the last checkpoint
    done = subprocess.run([*argv, "resume"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    first, again = marker.read_text().splitlines()
    assert again == first
    assert done.stdout.split("done ", 1)[1].strip() == first.strip()
    with user_store(db) as store:
        assert usage_rows(store.ledger) == 1  # paid once


class Team(TypedDict, total=False):
    answers: Annotated[list[str], reducers.append]


def test_a_sibling_s_failure_does_not_make_a_finished_task_pay_again(
    profile: Profile, ledger: SqliteLedger, checkpointer: SqliteCheckpointer, tmp_path: Path
) -> None:
    fixed = tmp_path / "fixed"

    async def steady(state: Team, ctx: Any) -> dict[str, Any]:
        return {"answers": [(await ctx.worker.acomplete("Steady.", max_tokens=TOKENS)).text]}

    async def buggy(state: Team, ctx: Any) -> dict[str, Any]:
        text = (await ctx.worker.acomplete("Buggy.", max_tokens=TOKENS)).text
        if not fixed.exists():
            raise ValueError("a bug after the call")
        return {"answers": [text]}

    g = StateGraph(Team)
    g.add_node("steady", steady)
    g.add_node("buggy", buggy)
    g.add_edge(START, "steady")
    g.add_edge(START, "buggy")
    g.add_edge("steady", END)
    g.add_edge("buggy", END)
    app = g.compile(checkpointer=checkpointer)
    opts = options(profile, ledger, thread_id="t")
    with pytest.raises(Exception, match="a bug after the call"):
        app.invoke({}, **opts)
    assert usage_rows(ledger) == 2

    fixed.touch()
    events = list(app.stream(None, mode="events", **opts))
    # the finished sibling is not run again; the failed node asks again (its own error)
    assert [(e.node, e.cached) for e in llm_events(events)] == [("buggy", False)]
    assert usage_rows(ledger) == 3
    assert len(app.get_state("t").values["answers"]) == 2


def test_a_sync_node_s_calls_are_answered_too(
    profile: Profile, ledger: SqliteLedger, checkpointer: SqliteCheckpointer
) -> None:
    def node(state: State, ctx: Any) -> dict[str, Any]:  # a sync node: calls on its thread
        first = ctx.worker.complete("One.", max_tokens=TOKENS)
        second = ctx.worker.complete("Two.", max_tokens=TOKENS)
        ctx.interrupt("ok?")
        return {"answers": [first.text, second.text]}

    app = one_node(node).compile(checkpointer=checkpointer)
    opts = options(profile, ledger, thread_id="t")
    app.invoke({}, **opts)
    events = list(app.stream(Command(resume=True), mode="events", **opts))
    assert [e.cached for e in llm_events(events)] == [True, True]
    assert usage_rows(ledger) == 2
