"""Replay (``orca.replay.replay``): a logged run's graph code runs again from a copy of its
start checkpoint, every LLM and tool call answered from the run's ``llm.response`` and
``tool.call`` events; then the events and each checkpoint's state are compared with the
recorded ones. Also the fields a replay needs in ``run.started`` and ``run.finished``.

Every run here is logged in a real SQLite file. The models are test ``ProviderModel``s that
answer with ``random.random()`` and count their calls, so that an answer the replay did not
take from the log would show (and the counts prove the model was never called again)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import itertools
import json
import random
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from orca import (
    END,
    START,
    Command,
    RetryPolicy,
    Send,
    SqliteCheckpointer,
    StateGraph,
    reducers,
)
from orca.cost import Price, PriceBook
from orca.errors import (
    CheckpointNotFoundError,
    InvalidInputError,
    InvalidUpdateError,
    LLMError,
    NodeError,
    StepLimitError,
    ToolError,
)
from orca.llm import ChatRequest, Delta, Message, ProviderModel, Usage
from orca.replay import Divergence, ReplayReport, replay
from orca.tools import AgentState, agent_node, create_agent

# -- models and tools ---------------------------------------------------------------------------


class RandomModel(ProviderModel):
    """Answers every prompt with a fresh random number, in two pieces; counts its calls."""

    def __init__(self, name: str = "rand", *, provider: str = "llamacpp") -> None:
        super().__init__(name, provider=provider)
        self.calls = 0

    async def _stream(self, request: ChatRequest, state: Any) -> Any:
        self.calls += 1
        text = f"{request.messages[-1].text} -> {random.random()}"
        for piece in (text[:2], text[2:]):
            state.text.append(piece)
            yield Delta(text=piece)
        state.stop_reason = "stop"
        state.usage = Usage(7, 3)


class SlowFirstModel(RandomModel):
    """Prompts containing "slow" finish after those asked later (concurrent calls end in
    another order than they were made)."""

    async def _stream(self, request: ChatRequest, state: Any) -> Any:
        if "slow" in request.messages[-1].text:
            for _ in range(20):
                await asyncio.sleep(0)
        async for delta in super()._stream(request, state):
            yield delta


class FailsFirstModel(RandomModel):
    """Its first call fails (an error the provider would raise), later calls answer."""

    async def _stream(self, request: ChatRequest, state: Any) -> Any:
        if self.calls == 0:
            self.calls += 1
            raise LLMError("the context is too long", provider=self.provider, model=self.model)
        async for delta in super()._stream(request, state):
            yield delta

    def _map_errors(self, exc: Exception) -> Any:
        return None


class ToolCallingModel(ProviderModel):
    """An agent's model: asks for the scripted tool calls in its first turn (all at once),
    then answers with a random number once it has read the tools' results."""

    def __init__(self, calls: list[tuple[str, dict[str, Any] | None]]) -> None:
        super().__init__("scripted", provider="llamacpp")
        self.script = calls
        self.calls = 0

    async def _stream(self, request: ChatRequest, state: Any) -> Any:
        self.calls += 1
        if request.messages[-1].role != "tool":
            for i, (name, arguments) in enumerate(self.script):
                part = state.tool_call(i)
                part.id = f"call_{i}"
                part.name = name
                if arguments is not None:
                    part.arguments.append(json.dumps(arguments))
            state.stop_reason = "tool_calls"
            state.usage = Usage(11, 5)
            return
        results = [m.text for m in request.messages if m.role == "tool"]
        text = f"read {len(results)} results, {random.random()}"
        state.text.append(text)
        yield Delta(text=text)
        state.stop_reason = "stop"
        state.usage = Usage(13, 2)


class Counter:
    """Counts the calls of the tools it makes."""

    def __init__(self) -> None:
        self.calls = 0

    def dice(self) -> Callable[..., float]:
        def dice(sides: int) -> float:
            """Roll a die with this many sides."""
            self.calls += 1
            return random.random() * sides

        return dice

    def coin(self) -> Callable[..., float]:
        def coin() -> float:
            """Flip a coin: a number in [0, 1)."""
            self.calls += 1
            return random.random()

        return coin


class State(TypedDict, total=False):
    q: str
    a: str
    b: str
    label: str
    roll: float
    parts: Annotated[list[str], reducers.append]
    n: Annotated[int, reducers.sum]
    value: Any


# -- helpers ------------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteCheckpointer]:
    s = SqliteCheckpointer(tmp_path / "runs.db")
    yield s
    s.close()


def last_run(app: Any, thread: str) -> str:
    return str(app.get_history(thread)[0].metadata["run_id"])


def runs_in_order(app: Any, thread: str) -> list[str]:
    """The thread's run ids, oldest first."""
    ids = [info.metadata["run_id"] for info in reversed(app.get_history(thread))]
    return list(dict.fromkeys(ids))


def started(store: SqliteCheckpointer, run_id: str) -> dict[str, Any]:
    return store.read_events(run_id, types=["run.started"])[0]


def finished(store: SqliteCheckpointer, run_id: str) -> dict[str, Any]:
    return store.read_events(run_id, types=["run.finished"])[0]


def line(
    name: str,
    steps: list[tuple[str, Callable[..., Any]]],
    *,
    retry: dict[str, RetryPolicy] | None = None,
) -> StateGraph:
    """START -> steps[0] -> steps[1] -> ... -> END."""
    g = StateGraph(State, name=name)
    for node, fn in steps:
        g.add_node(node, fn, retry=(retry or {}).get(node))
    g.add_edge(START, steps[0][0])
    for (a, _), (b, _) in itertools.pairwise(steps):
        g.add_edge(a, b)
    g.add_edge(steps[-1][0], END)
    return g


# -- 1. a fan-out with random answers replays from the log ----------------------------------------


def fan_out(suffix: str = "") -> StateGraph:
    async def work(arg: dict[str, int], ctx: Any) -> dict[str, Any]:
        answer = await ctx.worker.acomplete(f"question {arg['i']}")
        rolled = await ctx.tools.acall("dice", sides=arg["i"] + 6)
        return {"parts": [f"{answer.text} | {rolled}{suffix}"]}

    g = StateGraph(State, name="fan")
    g.add_node("work", work)
    g.add_conditional_edges(START, lambda s: [Send("work", {"i": i}) for i in range(3)])
    g.add_edge("work", END)
    return g


@pytest.fixture
def fanned(store: SqliteCheckpointer) -> tuple[str, RandomModel, Counter, dict[str, Any]]:
    model, counter = RandomModel(), Counter()
    app = fan_out().compile(checkpointer=store)
    out = app.invoke(
        {"q": "t"},
        thread_id="fan",
        models={"worker": model},
        tools=[counter.dice()],
        ledger=False,
    )
    return last_run(app, "fan"), model, counter, out


def test_a_fan_out_with_random_answers_replays_identical_without_calling_again(
    store: SqliteCheckpointer, fanned: tuple[str, RandomModel, Counter, dict[str, Any]]
) -> None:
    run_id, model, counter, out = fanned
    assert (model.calls, counter.calls) == (3, 3)
    assert len(set(out["parts"])) == 3  # three different random answers
    logged = store.read_events(run_id)
    history = [i.checkpoint_id for i in store.history("fan")]

    report = replay(fan_out().compile(), run_id, store=store, tools=[Counter().dice()])

    assert isinstance(report, ReplayReport)
    assert report.identical is True
    assert report.divergence is None
    assert (report.run_id, report.steps, report.llm_calls, report.tool_calls) == (run_id, 1, 3, 3)
    assert (model.calls, counter.calls) == (3, 3)  # answered from the log, not called again
    # the store is only read
    assert store.read_events(run_id) == logged
    assert [i.checkpoint_id for i in store.history("fan")] == history
    # and a second replay finds the same
    assert replay(fan_out().compile(), run_id, store=store).identical is True


def test_a_replay_feeds_the_nodes_the_recorded_random_answers(
    store: SqliteCheckpointer, fanned: tuple[str, RandomModel, Counter, dict[str, Any]]
) -> None:
    run_id, model, counter, out = fanned
    report = replay(fan_out("!").compile(), run_id, store=store, tools=[counter.dice()])
    d = report.divergence
    assert d is not None
    assert report.identical is False
    assert (d.step, d.node, d.field) == (1, "work", "state.parts")
    assert d.recorded == out["parts"]
    # the replay's state is the recorded one, each write changed only by the new suffix:
    # the random answers and rolls came from the log
    assert d.now == [p + "!" for p in out["parts"]]
    assert (model.calls, counter.calls) == (3, 3)


def test_the_replay_uses_the_graphs_own_checkpointer_when_no_store_is_given(
    store: SqliteCheckpointer, fanned: tuple[str, RandomModel, Counter, dict[str, Any]]
) -> None:
    run_id = fanned[0]
    report = replay(fan_out().compile(checkpointer=store), run_id)
    assert report.identical is True
    assert report.llm_calls == 3


# -- 2. a changed node --------------------------------------------------------------------------


def chain(label: Callable[[str], str] = lambda a: f"label of {a}") -> StateGraph:
    async def ask(state: State, ctx: Any) -> dict[str, Any]:
        return {"a": (await ctx.worker.acomplete(state["q"])).text}

    def name_it(state: State) -> dict[str, Any]:
        return {"label": label(state["a"])}

    return line("chain", [("ask", ask), ("name_it", name_it)])


def test_a_changed_node_output_diverges_at_its_step_node_and_key(
    store: SqliteCheckpointer,
) -> None:
    app = chain().compile(checkpointer=store)
    out = app.invoke({"q": "hi"}, thread_id="c", models={"worker": RandomModel()}, ledger=False)
    run_id = last_run(app, "c")
    assert replay(chain().compile(), run_id, store=store).identical is True

    report = replay(chain(lambda a: f"LABEL OF {a}").compile(), run_id, store=store)

    assert report.identical is False
    assert report.divergence == Divergence(
        2, "name_it", "state.label", out["label"], f"LABEL OF {out['a']}"
    )
    assert str(report.divergence) == (
        f"step 2, node name_it: state.label was {out['label']!r}, now 'LABEL OF {out['a']}'"
    )
    as_dict = report.to_dict()
    assert as_dict["identical"] is False
    assert as_dict["divergence"] == {
        "step": 2,
        "node": "name_it",
        "field": "state.label",
        "recorded": out["label"],
        "now": f"LABEL OF {out['a']}",
    }
    json.dumps(as_dict)  # plain JSON


def test_a_node_routing_elsewhere_diverges(store: SqliteCheckpointer) -> None:
    def build(target: str) -> StateGraph:
        g = StateGraph(State, name="route")
        g.add_node("pick", lambda s: {"n": 1})
        g.add_node("left", lambda s: {"label": "left"})
        g.add_node("right", lambda s: {"label": "right"})
        g.add_edge(START, "pick")
        g.add_conditional_edges("pick", lambda s: target)
        g.add_edge("left", END)
        g.add_edge("right", END)
        return g

    app = build("left").compile(checkpointer=store)
    app.invoke({}, thread_id="r")
    run_id = last_run(app, "r")
    assert replay(build("left").compile(), run_id, store=store).identical is True
    d = replay(build("right").compile(), run_id, store=store).divergence
    assert d is not None
    assert (d.step, d.node, d.field) == (1, "pick", "task.finished.goto")
    assert (d.recorded, d.now) == ([{"node": "left"}], [{"node": "right"}])


# -- 3. a changed prompt ------------------------------------------------------------------------


def prompted(system: str, user: str) -> StateGraph:
    def first(state: State) -> dict[str, Any]:
        return {"b": "ready"}

    async def ask(state: State, ctx: Any) -> dict[str, Any]:
        messages = [Message.system(system), Message.user(user + state["q"])]
        return {"a": (await ctx.worker.acomplete(messages)).text}

    return line("prompted", [("first", first), ("ask", ask)])


@pytest.fixture
def prompted_run(store: SqliteCheckpointer) -> str:
    app = prompted("be brief", "say ").compile(checkpointer=store)
    app.invoke({"q": "hi"}, thread_id="p", models={"worker": RandomModel()}, ledger=False)
    run_id = last_run(app, "p")
    assert replay(prompted("be brief", "say ").compile(), run_id, store=store).identical
    return run_id


def test_a_changed_system_prompt_diverges_on_the_request_digest(
    store: SqliteCheckpointer, prompted_run: str
) -> None:
    recorded = store.read_events(prompted_run, types=["llm.response"])[0]
    report = replay(prompted("be long", "say ").compile(), prompted_run, store=store)
    d = report.divergence
    assert d is not None
    assert (d.step, d.node, d.field) == (2, "ask", "llm.response.request")
    assert d.recorded == recorded["request"]
    assert isinstance(d.now, str)
    assert d.now != d.recorded


def test_a_changed_last_message_diverges_on_the_prompt_it_shows(
    store: SqliteCheckpointer, prompted_run: str
) -> None:
    # the last message is in both the digest and the prompt preview; the preview (an
    # earlier field of llm.response) is what the divergence shows
    d = replay(prompted("be brief", "tell ").compile(), prompted_run, store=store).divergence
    assert d is not None
    assert (d.step, d.node, d.field) == (2, "ask", "llm.response.prompt")
    assert (d.recorded, d.now) == ("say hi", "tell hi")


def test_asking_another_model_role_diverges(store: SqliteCheckpointer) -> None:
    def build(role: str) -> StateGraph:
        async def ask(state: State, ctx: Any) -> dict[str, Any]:
            return {"a": (await ctx.llm(role).acomplete("hi")).text}

        return line("roles", [("ask", ask)])

    model = RandomModel()
    app = build("worker").compile(checkpointer=store)
    app.invoke({}, thread_id="r", models={"worker": model, "planner": model}, ledger=False)
    run_id = last_run(app, "r")
    assert replay(build("worker").compile(), run_id, store=store).identical is True
    report = replay(build("planner").compile(), run_id, store=store)
    assert report.identical is False
    assert report.divergence is not None
    assert report.divergence.node == "ask"
    assert report.divergence.step == 1


# -- 4. more or fewer calls than recorded --------------------------------------------------------


def calls_llm(times_in_second: int) -> StateGraph:
    async def first(state: State, ctx: Any) -> dict[str, Any]:
        return {"a": (await ctx.worker.acomplete("first")).text}

    async def second(state: State, ctx: Any) -> dict[str, Any]:
        texts = [(await ctx.worker.acomplete(f"second {i}")).text for i in range(times_in_second)]
        return {"b": " / ".join(texts)}

    return line("calls", [("first", first), ("second", second)])


@pytest.fixture
def two_calls_run(store: SqliteCheckpointer) -> tuple[str, RandomModel]:
    model = RandomModel()
    app = calls_llm(2).compile(checkpointer=store)
    app.invoke({}, thread_id="k", models={"worker": model}, ledger=False)
    return last_run(app, "k"), model


def test_one_more_llm_call_than_recorded_is_reported_not_raised(
    store: SqliteCheckpointer, two_calls_run: tuple[str, RandomModel]
) -> None:
    run_id, model = two_calls_run
    report = replay(calls_llm(3).compile(), run_id, store=store)  # raises nothing
    assert report.identical is False
    d = report.divergence
    assert d is not None
    assert (d.step, d.node) == (2, "second")
    assert model.calls == 3  # the third call reached no model either


def test_one_llm_call_fewer_than_recorded_diverges(
    store: SqliteCheckpointer, two_calls_run: tuple[str, RandomModel]
) -> None:
    run_id, _ = two_calls_run
    d = replay(calls_llm(1).compile(), run_id, store=store).divergence
    assert d is not None
    assert (d.step, d.node, d.field) == (2, "second", "event")


# -- 5. tools ------------------------------------------------------------------------------------


def rolls(sides: int, tool: str = "dice") -> StateGraph:
    async def roll(state: State, ctx: Any) -> dict[str, Any]:
        return {"roll": await ctx.tools.acall(tool, sides=sides)}

    return line("rolls", [("roll", roll)])


def test_a_changed_tool_argument_diverges_on_tool_call_arguments(
    store: SqliteCheckpointer,
) -> None:
    counter = Counter()
    app = rolls(6).compile(checkpointer=store)
    app.invoke({}, thread_id="d", tools=[counter.dice()])
    run_id = last_run(app, "d")
    assert replay(rolls(6).compile(), run_id, store=store, tools=[counter.dice()]).identical
    report = replay(rolls(20).compile(), run_id, store=store, tools=[counter.dice()])
    d = report.divergence
    assert d is not None
    assert (d.step, d.node, d.field) == (1, "roll", "tool.call.arguments")
    assert (d.recorded, d.now) == ({"sides": 6}, {"sides": 20})
    assert counter.calls == 1


def test_calling_another_tool_diverges_naming_it(store: SqliteCheckpointer) -> None:
    counter = Counter()

    def sided_coin(sides: int) -> float:
        """Flip a coin."""
        return 0.5

    tools = [counter.dice(), sided_coin]
    app = rolls(6).compile(checkpointer=store)
    app.invoke({}, thread_id="d", tools=tools)
    run_id = last_run(app, "d")
    d = replay(rolls(6, "sided_coin").compile(), run_id, store=store, tools=tools).divergence
    assert d is not None
    assert (d.step, d.node) == (1, "roll")
    assert "list.remove" not in str(d)
    assert "sided_coin" in str(d)


def test_tool_errors_are_replayed_as_recorded(store: SqliteCheckpointer) -> None:
    def flaky(n: int) -> int:
        """Fails with a random message."""
        raise RuntimeError(f"flaky {random.random()}")

    async def use(state: State, ctx: Any) -> dict[str, Any]:
        try:
            await ctx.tools.acall("flaky", n=1)
        except ToolError as exc:
            return {"label": str(exc)}
        return {"label": "no error"}

    def build() -> StateGraph:
        return line("errs", [("use", use)])

    app = build().compile(checkpointer=store)
    out = app.invoke({}, thread_id="e", tools=[flaky])
    assert "flaky 0." in out["label"]
    run_id = last_run(app, "e")
    report = replay(build().compile(), run_id, store=store, tools=[flaky])
    assert report.identical is True
    assert report.tool_calls == 1


def test_a_tool_returning_a_datetime_replays_identical(store: SqliteCheckpointer) -> None:
    def today() -> dt.datetime:
        """The day."""
        return dt.datetime(2024, 5, 17, random.randrange(24), tzinfo=dt.UTC)

    async def use(state: State, ctx: Any) -> dict[str, Any]:
        when = await ctx.tools.acall("today")
        return {"n": when.hour}

    def build() -> StateGraph:
        return line("dates", [("use", use)])

    app = build().compile(checkpointer=store)
    app.invoke({}, thread_id="d", tools=[today])
    report = replay(build().compile(), last_run(app, "d"), store=store, tools=[today])
    assert report.divergence is None


@dataclasses.dataclass
class Point:
    x: float
    y: float


def test_a_tool_returning_a_dataclass_replays_identical(store: SqliteCheckpointer) -> None:
    def where() -> Point:
        """Where we are."""
        return Point(random.random(), 1.0)

    async def use(state: State, ctx: Any) -> dict[str, Any]:
        return {"roll": (await ctx.tools.acall("where")).x}

    def build() -> StateGraph:
        return line("points", [("use", use)])

    app = build().compile(checkpointer=store)
    app.invoke({}, thread_id="d", tools=[where])
    report = replay(build().compile(), last_run(app, "d"), store=store, tools=[where])
    assert report.divergence is None


# -- several kinds of call in one run ----------------------------------------------------------


def mixed(system: str = "be brief") -> StateGraph:
    async def plan(state: State, ctx: Any) -> dict[str, Any]:
        pieces = []
        async for delta in ctx.planner.astream([Message.system(system), Message.user("plan")]):
            pieces.append(delta.text)
        # two concurrent calls and two concurrent tool calls: the slow ones finish last
        slow, fast = await asyncio.gather(
            ctx.llm("critic").acomplete("slow critic"), ctx.llm("critic").acomplete("fast")
        )
        r1, r2 = await asyncio.gather(
            ctx.tools.acall("dice", sides=6), ctx.tools.acall("dice", sides=8)
        )
        ctx.write({"plan": "".join(pieces)})
        return {"a": "".join(pieces), "b": f"{slow.text} {fast.text} {r1} {r2}"}

    def act(state: State, ctx: Any) -> dict[str, Any]:  # a sync node
        answer = ctx.worker.complete("act on " + state["a"])
        rolled = ctx.tools.call("dice", sides=4)
        return {"label": f"{answer.text} {rolled}"}

    return line("mixed", [("plan", plan), ("act", act)])


def test_streams_roles_concurrent_calls_and_sync_nodes_replay_identical(
    store: SqliteCheckpointer,
) -> None:
    planner, worker, critic, counter = RandomModel(), RandomModel(), SlowFirstModel(), Counter()
    app = mixed().compile(checkpointer=store)
    app.invoke(
        {},
        thread_id="m",
        models={"planner": planner, "worker": worker, "critic": critic},
        tools=[counter.dice()],
        ledger=False,
    )
    run_id = last_run(app, "m")
    prompts = [e["prompt"] for e in store.read_events(run_id, types=["llm.response"])]
    assert prompts[1:3] == ["fast", "slow critic"]  # they finished out of call order
    calls = (planner.calls, worker.calls, critic.calls, counter.calls)
    assert calls == (1, 1, 2, 3)

    report = replay(mixed().compile(), run_id, store=store, tools=[counter.dice()])

    assert report.identical is True, report.divergence
    assert (report.steps, report.llm_calls, report.tool_calls) == (2, 4, 3)
    assert (planner.calls, worker.calls, critic.calls, counter.calls) == calls
    d = replay(mixed("be long").compile(), run_id, store=store).divergence
    assert d is not None
    assert (d.step, d.node, d.field) == (1, "plan", "llm.response.request")


def test_a_stream_read_only_in_part_replays_identical(store: SqliteCheckpointer) -> None:
    async def first_piece(state: State, ctx: Any) -> dict[str, Any]:
        async for delta in ctx.worker.astream("long answer"):
            return {"a": delta.text}
        return {"a": ""}

    def build() -> StateGraph:
        return line("cut", [("first_piece", first_piece)])

    app = build().compile(checkpointer=store)
    app.invoke({}, thread_id="s", models={"worker": RandomModel()}, ledger=False)
    assert replay(build().compile(), last_run(app, "s"), store=store).identical is True


# -- 6. interrupts and resumes ------------------------------------------------------------------


def reviewed(use: Callable[[Any, str], str] = lambda ok, draft: f"{ok}: {draft}") -> StateGraph:
    async def draft(state: State, ctx: Any) -> dict[str, Any]:
        text = (await ctx.worker.acomplete("draft " + state["q"])).text
        ok = ctx.interrupt({"draft": text})
        return {"a": use(ok, text)}

    def publish(state: State) -> dict[str, Any]:
        return {"label": state["a"].upper()}

    return line("reviewed", [("draft", draft), ("publish", publish)])


@pytest.fixture
def interrupted(store: SqliteCheckpointer) -> tuple[list[str], dict[str, Any], RandomModel]:
    model = RandomModel()
    app = reviewed().compile(checkpointer=store)
    paused = app.invoke({"q": "x"}, thread_id="i", models={"worker": model}, ledger=False)
    assert paused["__interrupt__"]
    done = app.invoke(Command(resume="yes"), thread_id="i", models={"worker": model}, ledger=False)
    ids = runs_in_order(app, "i")
    assert len(ids) == 2
    return ids, done, model


def test_an_interrupted_run_and_its_resume_both_replay_identical(
    store: SqliteCheckpointer, interrupted: tuple[list[str], dict[str, Any], RandomModel]
) -> None:
    (first, second), done, model = interrupted
    # the resumed node ran again from its start, its call answered from its record
    assert model.calls == 1
    assert done["a"].startswith("yes: draft x -> ")
    assert done["label"] == done["a"].upper()
    start = store.history("i")[-1].checkpoint_id  # the input checkpoint, where it paused
    event = started(store, second)
    assert (event["resumed"], event["input"], event["pending"]) == (True, "yes", 1)
    assert (event["checkpoint_id"], event["head"]) == (start, None)
    assert finished(store, first)["status"] == "interrupted"

    a, b = (replay(reviewed().compile(), r, store=store) for r in (first, second))

    assert a.identical is True, a.divergence
    assert b.identical is True, b.divergence
    assert (a.llm_calls, b.llm_calls, b.steps) == (1, 1, 2)
    assert model.calls == 1


def test_a_change_in_what_a_node_does_with_the_resume_value_diverges(
    store: SqliteCheckpointer, interrupted: tuple[list[str], dict[str, Any], RandomModel]
) -> None:
    (first, second), done, _ = interrupted
    changed = reviewed(lambda ok, draft: f"{ok!r} said to {draft}").compile()
    # the first run paused before the change could matter
    assert replay(changed, first, store=store).identical is True
    d = replay(changed, second, store=store).divergence
    assert d is not None
    draft = done["a"].removeprefix("yes: ")
    assert (d.step, d.node, d.field) == (1, "draft", "state.a")
    assert (d.recorded, d.now) == (done["a"], f"'yes' said to {draft}")


def test_a_change_in_what_an_interrupt_shows_diverges(
    store: SqliteCheckpointer, interrupted: tuple[list[str], dict[str, Any], RandomModel]
) -> None:
    (first, _), _, _ = interrupted

    async def draft(state: State, ctx: Any) -> dict[str, Any]:
        text = (await ctx.worker.acomplete("draft " + state["q"])).text
        return {"a": ctx.interrupt({"text": text})}

    g = line("reviewed", [("draft", draft), ("publish", lambda s: {})])
    d = replay(g.compile(), first, store=store).divergence
    assert d is not None
    assert (d.step, d.field) == (1, "interrupt.interrupts")
    assert [(i["node"], i["value"]) for i in d.now] == [
        ("draft", {"text": d.recorded[0]["value"]["draft"]})
    ]


def test_a_resume_at_a_later_step_replays_identical(store: SqliteCheckpointer) -> None:
    def build() -> StateGraph:
        async def draft(state: State, ctx: Any) -> dict[str, Any]:
            return {"a": (await ctx.worker.acomplete("draft")).text}

        def review(state: State, ctx: Any) -> dict[str, Any]:
            return {"label": f"{ctx.interrupt('ok?')}: {state['a']}"}

        return line("later", [("draft", draft), ("review", review)])

    model = RandomModel()
    app = build().compile(checkpointer=store)
    app.invoke({}, thread_id="l", models={"worker": model}, ledger=False)
    app.invoke(Command(resume="yes"), thread_id="l", models={"worker": model}, ledger=False)
    second = runs_in_order(app, "l")[1]
    assert replay(build().compile(), second, store=store).identical is True


def test_a_resume_after_a_failure_reuses_pending_writes_and_replays_identical(
    store: SqliteCheckpointer,
) -> None:
    failing = {"on": True}

    def build() -> StateGraph:
        async def work(i: int, ctx: Any) -> dict[str, Any]:
            text = (await ctx.worker.acomplete(f"part {i}")).text
            if i == 1 and failing["on"]:
                raise ValueError("not this time")
            return {"parts": [text]}

        g = StateGraph(State, name="pending")
        g.add_node("work", work)
        g.add_conditional_edges(START, lambda s: [Send("work", i) for i in range(3)])
        g.add_edge("work", END)
        return g

    model = RandomModel()
    app = build().compile(checkpointer=store)
    with pytest.raises(NodeError, match="not this time"):
        app.invoke({}, thread_id="f", models={"worker": model}, ledger=False)
    failing["on"] = False
    app.invoke(None, thread_id="f", models={"worker": model}, ledger=False)
    first, second = runs_in_order(app, "f")
    assert started(store, second)["pending"] == 2  # the two tasks that had finished
    assert started(store, second)["input"] is None
    assert model.calls == 4

    resumed = replay(build().compile(), second, store=store)
    assert resumed.identical is True, resumed.divergence
    assert resumed.llm_calls == 1  # only the failed task ran again
    failing["on"] = True
    failed = replay(build().compile(), first, store=store)
    assert failed.identical is True, failed.divergence
    assert model.calls == 4


# -- 7. forks ------------------------------------------------------------------------------------


@pytest.fixture
def forked(store: SqliteCheckpointer) -> tuple[str, str, str]:
    """A chain run, then a run forked from its checkpoint after ``ask``: (fork run id, the
    checkpoint it forked, the head it forked from)."""
    model = RandomModel()
    app = chain().compile(checkpointer=store)
    app.invoke({"q": "hi"}, thread_id="f", models={"worker": model}, ledger=False)
    head = app.get_history("f")[0].checkpoint_id
    old = next(i.checkpoint_id for i in app.get_history("f") if i.step == 1)
    app.invoke(None, thread_id="f", checkpoint_id=old, models={"worker": model}, ledger=False)
    return last_run(app, "f"), old, head


def test_a_forked_run_logs_where_it_started_and_the_head_it_left(
    store: SqliteCheckpointer, forked: tuple[str, str, str]
) -> None:
    run_id, old, head = forked
    event = started(store, run_id)
    assert (event["checkpoint_id"], event["head"], event["resumed"]) == (old, head, True)
    assert event["input"] is None


def test_a_forked_run_replays_identical(
    store: SqliteCheckpointer, forked: tuple[str, str, str]
) -> None:
    report = replay(chain().compile(), forked[0], store=store)
    assert report.identical is True


# -- 8. failures --------------------------------------------------------------------------------


def fails_when(condition: Callable[[str], bool]) -> StateGraph:
    async def ask(state: State, ctx: Any) -> dict[str, Any]:
        return {"a": (await ctx.worker.acomplete("first")).text}

    async def check(state: State, ctx: Any) -> dict[str, Any]:
        text = (await ctx.worker.acomplete("check " + state["a"])).text
        if condition(text):
            raise ValueError(f"rejected {text}")
        return {"b": text}

    return line("checked", [("ask", ask), ("check", check)])


def test_a_failed_run_replays_identical_and_a_new_failure_diverges(
    store: SqliteCheckpointer,
) -> None:
    app = fails_when(lambda t: True).compile(checkpointer=store)
    with pytest.raises(NodeError, match="rejected"):
        app.invoke({}, thread_id="x", models={"worker": RandomModel()}, ledger=False)
    failed = last_run(app, "x")
    end = finished(store, failed)
    assert end["status"] == "failed"
    assert end["error"].startswith("NodeError: node 'check' failed after 1 attempt: ValueError: ")
    text = store.read_events(failed, types=["llm.response"])[1]["text"]
    assert f"rejected {text}" in end["error"]

    same = replay(fails_when(lambda t: True).compile(), failed, store=store)
    assert same.identical is True, same.divergence

    fixed = replay(fails_when(lambda t: False).compile(), failed, store=store).divergence
    assert fixed is not None
    assert (fixed.step, fixed.node, fixed.field) == (2, "check", "event")
    assert fixed.recorded["type"] == "task.failed"
    assert fixed.now["type"] == "task.finished"

    good = fails_when(lambda t: False).compile(checkpointer=store)
    good.invoke({}, thread_id="ok", models={"worker": RandomModel()}, ledger=False)
    fine = last_run(good, "ok")
    broken = replay(fails_when(lambda t: True).compile(), fine, store=store).divergence
    assert broken is not None
    assert (broken.step, broken.node, broken.field) == (2, "check", "event")
    assert broken.recorded["type"] == "task.finished"
    assert broken.now["type"] == "task.failed"
    assert broken.now["error"].startswith("rejected ")


def test_a_run_stopped_by_its_step_limit_replays_identical(store: SqliteCheckpointer) -> None:
    def build() -> StateGraph:
        g = StateGraph(State, name="loop")
        g.add_node("inc", lambda s: {"n": 1})
        g.add_edge(START, "inc")
        g.add_conditional_edges("inc", lambda s: "inc" if s["n"] < 10 else END)
        return g

    app = build().compile(checkpointer=store)
    with pytest.raises(StepLimitError, match="max_steps=3"):
        app.invoke({"n": 0}, thread_id="loop", max_steps=3)
    assert replay(build().compile(), last_run(app, "loop"), store=store).identical is True


# -- 9. retries ---------------------------------------------------------------------------------


def retried(fail_until: int, attempts: int = 3) -> StateGraph:
    async def ask(state: State, ctx: Any) -> dict[str, Any]:
        text = (await ctx.worker.acomplete("same question")).text
        if ctx.attempt < fail_until:
            raise ValueError(f"attempt {ctx.attempt} got {text}")
        return {"a": text, "n": ctx.attempt}

    policy = RetryPolicy(
        max_attempts=attempts, initial_interval=0.0, jitter=False, retry_on=Exception
    )
    return line("retried", [("ask", ask)], retry={"ask": policy})


def test_retries_with_an_llm_call_on_each_attempt_replay_identical(
    store: SqliteCheckpointer,
) -> None:
    model = RandomModel()
    app = retried(3).compile(checkpointer=store)
    out = app.invoke({}, thread_id="r", models={"worker": model}, ledger=False)
    run_id = last_run(app, "r")
    answers = [e["text"] for e in store.read_events(run_id, types=["llm.response"])]
    retries = store.read_events(run_id, types=["task.retry"])
    assert len(set(answers)) == 3
    assert [r["attempt"] for r in retries] == [1, 2]
    assert out["a"] == answers[2]
    assert finished(store, run_id)["llm_calls"] == 3

    report = replay(retried(3).compile(), run_id, store=store)
    assert report.identical is True, report.divergence
    assert report.llm_calls == 3
    assert model.calls == 3

    # the same answers, in the same order: the second attempt succeeding shows it
    d = replay(retried(2).compile(), run_id, store=store).divergence
    assert d is not None
    assert (d.step, d.node, d.field) == (1, "ask", "event")
    assert d.recorded == {"type": "task.retry", "node": "ask", "error": retries[1]["error"]}
    assert d.now == {"type": "task.finished", "node": "ask"}


def test_retries_exhausted_replay_identical(store: SqliteCheckpointer) -> None:
    app = retried(9, attempts=2).compile(checkpointer=store)
    with pytest.raises(NodeError, match="attempt 2 got"):
        app.invoke({}, thread_id="r", models={"worker": RandomModel()}, ledger=False)
    run_id = last_run(app, "r")
    assert store.read_events(run_id, types=["task.failed"])[0]["attempts"] == 2
    report = replay(retried(9, attempts=2).compile(), run_id, store=store)
    assert report.identical is True, report.divergence
    assert report.llm_calls == 2
    d = replay(retried(9, attempts=3).compile(), run_id, store=store).divergence
    assert d is not None
    assert d.node == "ask"


def llm_fails_once(kind: str) -> StateGraph:
    async def fallback(state: State, ctx: Any) -> dict[str, Any]:
        try:
            return {"a": (await ctx.worker.acomplete("long question")).text}
        except LLMError:
            return {"a": "short: " + (await ctx.worker.acomplete("short question")).text}

    async def retry(state: State, ctx: Any) -> dict[str, Any]:
        try:
            return {"a": (await ctx.worker.acomplete("question")).text}
        except LLMError as exc:
            raise ValueError("try again") from exc

    policy = RetryPolicy(max_attempts=2, initial_interval=0.0, jitter=False, retry_on=Exception)
    node = fallback if kind == "fallback" else retry
    return line(f"fails-{kind}", [("ask", node)], retry={"ask": policy})


@pytest.mark.parametrize("kind", ["fallback", "retry"])
def test_a_failed_llm_call_the_node_handled_replays_identical(
    store: SqliteCheckpointer, kind: str
) -> None:
    app = llm_fails_once(kind).compile(checkpointer=store)
    app.invoke({}, thread_id="x", models={"worker": FailsFirstModel()}, ledger=False)
    report = replay(llm_fails_once(kind).compile(), last_run(app, "x"), store=store)
    assert report.identical is True, report.divergence


# -- 10. agents -----------------------------------------------------------------------------------


def agent_graph(system: str = "use the tools") -> StateGraph:
    graph = StateGraph(AgentState, name="helper")
    graph.add_node("helper", agent_node(system=system, max_iterations=3))
    graph.add_edge(START, "helper")
    graph.add_edge("helper", END)
    return graph


def test_an_agent_calling_two_tools_in_one_turn_replays_identical(
    store: SqliteCheckpointer,
) -> None:
    counter = Counter()
    model = ToolCallingModel([("coin", None), ("coin", None)])
    app = agent_graph().compile(checkpointer=store)
    out = app.invoke(
        {"task": "flip twice"},
        thread_id="a",
        models={"worker": model},
        tools=[counter.coin()],
        ledger=False,
    )
    assert (out["stopped"], out["iterations"], model.calls, counter.calls) == ("answered", 2, 2, 2)
    run_id = last_run(app, "a")
    flips = [e["value"] for e in store.read_events(run_id, types=["tool.call"])]
    assert len(set(flips)) == 2
    asked = store.read_events(run_id, types=["llm.response"])[0]["tool_calls"]
    assert [c["name"] for c in asked] == ["coin", "coin"]

    report = replay(agent_graph().compile(), run_id, store=store, tools=[counter.coin()])

    assert report.identical is True, report.divergence
    assert (report.llm_calls, report.tool_calls) == (2, 2)
    assert (model.calls, counter.calls) == (2, 2)
    # the tools' schemas are part of what the model was asked
    d = replay(agent_graph().compile(), run_id, store=store).divergence
    assert d is not None
    assert (d.step, d.node, d.field) == (1, "helper", "llm.response.request")
    # and so is the system prompt
    d = replay(agent_graph("be quick").compile(), run_id, store=store, tools=[counter.coin()])
    assert d.divergence is not None
    assert d.divergence.field == "llm.response.request"


def test_an_agent_calling_tools_with_arguments_replays_identical(
    store: SqliteCheckpointer,
) -> None:
    counter = Counter()
    model = ToolCallingModel([("dice", {"sides": 6}), ("dice", {"sides": 20})])
    app = create_agent(checkpointer=store, name="roller")
    app.invoke(
        {"task": "roll two dice"},
        thread_id="a",
        models={"worker": model},
        tools=[counter.dice()],
        ledger=False,
    )
    run_id = last_run(app, "a")
    report = replay(create_agent(name="roller"), run_id, store=store, tools=[counter.dice()])
    assert report.divergence is None
    assert (model.calls, counter.calls) == (2, 2)


def test_an_agent_asking_for_a_tool_with_bad_json_replays_identical(
    store: SqliteCheckpointer,
) -> None:
    class BadJson(ToolCallingModel):
        async def _stream(self, request: ChatRequest, state: Any) -> Any:
            if request.messages[-1].role != "tool":
                self.calls += 1
                part = state.tool_call(0)
                part.id, part.name = "call_0", "dice"
                part.arguments.append('{"sides": ')
                state.stop_reason = "tool_calls"
                state.usage = Usage(3, 3)
                return
            async for delta in super()._stream(request, state):
                yield delta

    counter = Counter()
    app = create_agent(checkpointer=store, name="bad")
    out = app.invoke(
        {"task": "roll"},
        thread_id="b",
        models={"worker": BadJson([])},
        tools=[counter.dice()],
        ledger=False,
    )
    assert (out["tool_errors"], counter.calls) == (1, 0)
    run_id = last_run(app, "b")
    report = replay(create_agent(name="bad"), run_id, store=store, tools=[counter.dice()])
    assert report.identical is True, report.divergence


# -- 11. bad input ------------------------------------------------------------------------------


def test_an_unknown_run_id_names_the_fix(store: SqliteCheckpointer) -> None:
    app = chain().compile(checkpointer=store)
    with pytest.raises(InvalidInputError, match="no run 'run-nosuch' is logged") as info:
        replay(app, "run-nosuch", store=store)
    assert "Fix: use an id from orca runs list" in str(info.value)


def test_a_graph_with_another_name_is_refused(
    store: SqliteCheckpointer, fanned: tuple[str, RandomModel, Counter, dict[str, Any]]
) -> None:
    with pytest.raises(InvalidInputError, match="ran graph 'fan', not 'chain'") as info:
        replay(chain().compile(), fanned[0], store=store)
    assert "Fix: replay it with the graph it ran" in str(info.value)


def test_without_a_store_there_is_nothing_to_read(
    fanned: tuple[str, RandomModel, Counter, dict[str, Any]],
) -> None:
    with pytest.raises(InvalidInputError, match="pass store="):
        replay(fan_out().compile(), fanned[0])


def test_a_run_logged_with_log_events_false_cannot_be_replayed(
    store: SqliteCheckpointer,
) -> None:
    app = chain().compile(checkpointer=store)
    app.invoke(
        {"q": "x"}, thread_id="q", models={"worker": RandomModel()}, ledger=False, log_events=False
    )
    run_id = last_run(app, "q")
    assert store.read_events(run_id) == []
    with pytest.raises(InvalidInputError, match="log_events=False"):
        replay(chain().compile(), run_id, store=store)


def test_a_run_whose_start_checkpoint_was_pruned_cannot_be_replayed(
    store: SqliteCheckpointer, interrupted: tuple[list[str], dict[str, Any], RandomModel]
) -> None:
    (_, second), _, _ = interrupted
    start = started(store, second)["checkpoint_id"]
    assert store.prune("i", 1) > 0
    assert start not in [i.checkpoint_id for i in store.history("i")]
    assert store.read_events(second)  # pruning keeps the events
    with pytest.raises(CheckpointNotFoundError):
        replay(reviewed().compile(), second, store=store)


# -- 12. what run.started and run.finished log ----------------------------------------------------


def test_run_started_logs_the_input_seed_and_start(store: SqliteCheckpointer) -> None:
    def pick(state: State, ctx: Any) -> dict[str, Any]:
        return {"roll": ctx.random.random()}

    def build() -> StateGraph:
        return line("seeded", [("pick", pick)])

    app = build().compile(checkpointer=store)
    app.invoke({"q": "in", "n": 2}, thread_id="s", seed=7)
    run_id = last_run(app, "s")
    event = started(store, run_id)
    assert (event["step"], event["graph"], event["resumed"]) == (0, "seeded", False)
    assert (event["input"], event["seed"], event["pending"]) == ({"q": "in", "n": 2}, 7, 0)
    assert (event["checkpoint_id"], event["head"]) == (None, None)
    # the seed is what the replay runs with: ctx.random draws the same numbers
    assert replay(build().compile(), run_id, store=store).identical is True
    app.invoke({"q": "in", "n": 2}, thread_id="s2", seed=8)
    other = last_run(app, "s2")
    assert other != run_id
    assert replay(build().compile(), other, store=store).identical is True


def test_run_started_is_at_the_step_of_the_checkpoint_it_starts_from(
    store: SqliteCheckpointer, forked: tuple[str, str, str]
) -> None:
    run_id, old, _ = forked
    assert started(store, run_id)["step"] == 1  # the fork starts from step 1's checkpoint
    assert old.startswith("00000001-")


def test_run_finished_logs_calls_tokens_cost_and_no_error(store: SqliteCheckpointer) -> None:
    price = Price("test", "rand", input=Decimal("1000"), output=Decimal("2000"))
    model = RandomModel(provider="test")
    app = fan_out().compile(checkpointer=store)
    app.invoke(
        {},
        thread_id="p",
        models={"worker": model},
        tools=[Counter().dice()],
        prices=PriceBook([price]),
        ledger=False,
    )
    run_id = last_run(app, "p")
    end = finished(store, run_id)
    per_call = 7 * 1000 * 1000 + 3 * 2000 * 1000  # nano-USD: 7 in, 3 out at $1000/$2000 per 1M
    assert (end["status"], end["steps"], end["error"]) == ("done", 1, None)
    assert (end["llm_calls"], end["input_tokens"], end["output_tokens"]) == (3, 21, 9)
    assert end["cost_nano_usd"] == 3 * per_call
    assert end["checkpoint_id"] == app.get_history("p")[0].checkpoint_id
    # the replay prices nothing the same way (it has no user prices): costs are not compared
    report = replay(fan_out().compile(), run_id, store=store)
    assert report.identical is True, report.divergence


def test_an_interrupted_run_logs_its_calls_too(
    store: SqliteCheckpointer, interrupted: tuple[list[str], dict[str, Any], RandomModel]
) -> None:
    (first, second), _, _ = interrupted
    a, b = finished(store, first), finished(store, second)
    assert (a["status"], a["llm_calls"], a["input_tokens"], a["output_tokens"]) == (
        "interrupted",
        1,
        7,
        3,
    )
    # the resume paid for nothing: its one call was answered from the first run's record
    assert (b["status"], b["steps"], b["llm_calls"], b["error"]) == ("done", 2, 0, None)


# -- 7. a command as the input --------------------------------------------------------------------


def test_a_run_given_a_command_replays_its_update_and_goto(store: SqliteCheckpointer) -> None:
    def build(mark: str = "") -> StateGraph:
        async def draft(state: State, ctx: Any) -> dict[str, Any]:
            return {"a": (await ctx.worker.acomplete(state["q"])).text}

        def label(state: State) -> dict[str, Any]:
            return {"label": f"{mark}{state['q']}:{state.get('a')}", "n": 1}

        return line("commanded", [("draft", draft), ("label", label)])

    model = RandomModel()
    app = build().compile(checkpointer=store)
    app.invoke({"q": "first"}, thread_id="c", models={"worker": model}, ledger=False)
    done = app.invoke(
        Command(goto="label", update={"q": "second", "n": 5}),
        thread_id="c",
        models={"worker": model},
        ledger=False,
    )
    assert done["label"].startswith("second:")
    assert done["n"] == 7  # 1, then the update's 5 through the reducer, then 1
    second = runs_in_order(app, "c")[1]
    assert started(store, second)["command"] == {
        "update": {"q": "second", "n": 5},
        "pairs": False,
        "goto": ["label"],
    }
    report = replay(build().compile(), second, store=store)
    assert report.identical is True, report.divergence
    assert report.steps == 1
    changed = replay(build("!").compile(), second, store=store).divergence
    assert changed is not None
    assert changed.field.endswith("label")


def test_a_resume_with_an_update_replays_identical(store: SqliteCheckpointer) -> None:
    def review(state: State, ctx: Any) -> dict[str, Any]:
        return {"label": f"{ctx.interrupt('ok?')} {state.get('q')}"}

    app = line("edited", [("review", review)]).compile(checkpointer=store)
    app.invoke({"q": "old"}, thread_id="e", ledger=False)
    done = app.invoke(Command(resume="yes", update={"q": "new"}), thread_id="e", ledger=False)
    assert done["label"] == "yes new"
    second = runs_in_order(app, "e")[1]
    report = replay(line("edited", [("review", review)]).compile(), second, store=store)
    assert report.identical is True, report.divergence


def test_a_command_that_sends_or_only_updates_replays_identical(
    store: SqliteCheckpointer,
) -> None:
    def build() -> StateGraph:
        g = StateGraph(State, name="sent")
        g.add_node("one", lambda s: {"parts": [s.get("q", "-")]})
        g.add_edge(START, "one")
        g.add_edge("one", END)
        return g

    app = build().compile(checkpointer=store)
    app.invoke({"q": "a"}, thread_id="s", ledger=False)
    sent = app.invoke(Command(goto=[Send("one", {"q": "b"}), Send("one", {"q": "c"})]),
                      thread_id="s", ledger=False)  # fmt: skip
    assert sent["parts"] == ["a", "b", "c"]
    app.invoke(Command(update={"q": "d"}), thread_id="s", ledger=False)  # nothing runs
    assert app.get_state("s").values["q"] == "d"
    for run_id in runs_in_order(app, "s")[1:]:
        report = replay(build().compile(), run_id, store=store)
        assert report.identical is True, (run_id, report.divergence)


@pytest.mark.parametrize("as_pairs", [False, True], ids=["dict", "pairs"])
def test_a_commands_credentials_are_masked_in_the_log_and_replayed_whole(
    store: SqliteCheckpointer, as_pairs: bool
) -> None:
    class Secret(TypedDict, total=False):
        password: str
        dsn: str
        label: str

    def build() -> StateGraph:
        g = StateGraph(Secret, name="secret")
        g.add_node("use", lambda s: {"label": f"{s.get('password')}@{s.get('dsn')}"})
        g.add_edge(START, "use")
        g.add_edge("use", END)
        return g

    app = build().compile(checkpointer=store)
    app.invoke({"label": "-"}, thread_id="p", ledger=False)
    secrets = {"password": "hunter2", "dsn": "postgresql://u:s3cret@db/x"}
    update: Any = list(secrets.items()) if as_pairs else secrets
    done = app.invoke(Command(update=update, goto="use"), thread_id="p", ledger=False)
    assert done["label"] == "hunter2@postgresql://u:s3cret@db/x"
    second = runs_in_order(app, "p")[1]
    logged = json.dumps(started(store, second)["command"])
    assert "hunter2" not in logged
    assert "s3cret" not in logged
    report = replay(build().compile(), second, store=store)
    assert report.identical is True, report.divergence  # replayed with the values kept


def test_an_update_of_lists_fails_alike_when_replayed(store: SqliteCheckpointer) -> None:
    app = line("lists", [("a", lambda s: {"label": "a"})]).compile(checkpointer=store)
    app.invoke({}, thread_id="l", ledger=False)
    with pytest.raises(InvalidUpdateError, match="pairs"):
        app.invoke(Command(update=[["q", "x"]], goto="a"), thread_id="l", ledger=False)
    second = runs_in_order(app, "l")[-1]
    report = replay(line("lists", [("a", lambda s: {"label": "a"})]).compile(), second, store=store)
    assert report.identical is True, report.divergence
