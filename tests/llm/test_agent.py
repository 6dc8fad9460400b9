"""The tool-calling agent end to end: recorded OpenAI and Anthropic streams through the
official SDKs over a real loopback server. Parallel tool calls run concurrently, their
results go back in call order, bad arguments go back as tool errors, every turn is
metered (usage events, ledger rows, block budgets), and the loop stops at
``max_iterations``."""

from __future__ import annotations

import asyncio
import json
import threading
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from wire import Reply, WireServer, anthropic_events, openai_events

from orca import END, START, StateGraph, reducers
from orca.cost import Budget, Price, PriceBook
from orca.errors import BudgetExceeded, InvalidInputError
from orca.llm.providers.anthropic import AnthropicModel
from orca.llm.providers.openai import OpenAIModel
from orca.store import user_store
from orca.store.sqlite import SqliteLedger
from orca.tools import agent_node, create_agent, tool

# USD per 1M tokens: gpt-sim costs 1000 nano-USD an input token and 2000 an output token
PRICES = PriceBook(
    [
        Price("openai", "gpt-sim", Decimal(1), Decimal(2)),
        Price("anthropic", "claude-sim", Decimal(3), Decimal(15)),
    ]
)
TASK = "What is the weather in Paris, and the time in UTC?"
ANSWER = "It is sunny in Paris and 12:00 UTC."


# -- tools -------------------------------------------------------------------------------------


@tool
def get_weather(city: str, days: int = 1) -> str:
    """Look up the weather.

    Args:
        city: the city name.
        days: how many days ahead.
    """
    return f"sunny in {city} for {days} day(s)"


@tool
def get_time(tz: str) -> dict[str, str]:
    """The current time in a time zone.

    Args:
        tz: an IANA time zone name.
    """
    return {"tz": tz, "time": "12:00"}


# -- OpenAI streams (as in test_openai_wire.py) ------------------------------------------------


def openai_model(wire: WireServer, name: str = "gpt-sim") -> OpenAIModel:
    return OpenAIModel(name, provider="openai", base_url=f"{wire.url}/v1", api_key="x")


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    """A ``chat.completion.chunk`` with one choice."""
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-sim",
        "choices": [choice],
        **extra,
    }


def usage_chunk(prompt: int, completion: int) -> dict[str, Any]:
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    return {**chunk({}), "choices": [], "usage": usage}


def call_delta(
    index: int, arguments: str, id: str | None = None, name: str | None = None
) -> dict[str, Any]:
    function: dict[str, Any] = {"arguments": arguments}
    head: dict[str, Any] = {"index": index}
    if id is not None:
        head |= {"id": id, "type": "function"}
        function["name"] = name
    return chunk({"tool_calls": [{**head, "function": function}]})


def tool_turn(*calls: tuple[str, str, str], usage: tuple[int, int] = (30, 20)) -> Reply:
    """A turn streaming ``(id, name, arguments)`` tool calls, the arguments in pieces."""
    events = [chunk({"role": "assistant", "content": None})]
    for i, (id, name, arguments) in enumerate(calls):
        events.append(call_delta(i, "", id=id, name=name))
        half = len(arguments) // 2
        events += [call_delta(i, arguments[:half]), call_delta(i, arguments[half:])]
    events += [chunk({}, "tool_calls"), usage_chunk(*usage)]
    return Reply.sse(openai_events(events))


def text_turn(*pieces: str, usage: tuple[int, int] = (60, 9)) -> Reply:
    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": p}) for p in pieces]
    events += [chunk({}, "stop"), usage_chunk(*usage)]
    return Reply.sse(openai_events(events))


PARIS = ("call_a", "get_weather", '{"city": "Paris"}')
UTC = ("call_b", "get_time", '{"tz": "UTC"}')


def options(wire: WireServer, **more: Any) -> dict[str, Any]:
    m = openai_model(wire)
    return {
        "models": {"worker": m, "planner": m},
        "tools": [get_weather, get_time],
        "prices": PRICES,
        "ledger": False,
        **more,
    }


def tool_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body["messages"] if m["role"] == "tool"]


# -- the loop over OpenAI ----------------------------------------------------------------------


def test_two_parallel_calls_then_an_answer(wire: WireServer) -> None:
    wire.script(tool_turn(PARIS, UTC), text_turn("It is sunny in Paris", " and 12:00 UTC."))
    out = create_agent(role="worker").invoke({"task": TASK}, **options(wire))
    assert out["answer"] == ANSWER
    assert (out["iterations"], out["tool_errors"], out["stopped"]) == (2, 0, "answered")
    assert [m["role"] for m in out["messages"]] == [
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
    ]

    first, second = wire.bodies
    assert len(wire.requests) == 2
    assert first["messages"] == [{"role": "user", "content": TASK}]
    schemas = {t["function"]["name"]: t["function"] for t in first["tools"]}
    assert schemas.keys() == {"get_weather", "get_time"}
    assert schemas["get_weather"]["parameters"] == dict(get_weather.spec.parameters)
    assert schemas["get_weather"]["parameters"]["required"] == ["city"]
    assert schemas["get_weather"]["description"] == "Look up the weather."
    assert schemas["get_time"]["parameters"] == dict(get_time.spec.parameters)
    assert schemas["get_time"]["parameters"]["properties"]["tz"]["type"] == "string"
    assert all(t["type"] == "function" for t in first["tools"])

    user, assistant, weather, time = second["messages"]
    assert user == {"role": "user", "content": TASK}
    assert assistant["role"] == "assistant"
    assert assistant["content"] is None
    assert [
        (c["id"], c["type"], c["function"]["name"], json.loads(c["function"]["arguments"]))
        for c in assistant["tool_calls"]
    ] == [
        ("call_a", "function", "get_weather", {"city": "Paris"}),
        ("call_b", "function", "get_time", {"tz": "UTC"}),
    ]
    assert weather == {
        "role": "tool",
        "tool_call_id": "call_a",
        "content": "sunny in Paris for 1 day(s)",
    }
    assert time == {
        "role": "tool",
        "tool_call_id": "call_b",
        "content": json.dumps({"tz": "UTC", "time": "12:00"}),
    }
    assert second["tools"] == first["tools"]  # the tools are offered on every turn


def test_tool_results_come_back_in_call_order_even_when_the_first_finishes_last(
    wire: WireServer,
) -> None:
    @tool
    async def slow(x: int) -> str:
        """Slow."""
        await asyncio.sleep(0.2)
        return f"slow {x}"

    @tool
    async def fast(x: int) -> str:
        """Fast."""
        return f"fast {x}"

    wire.script(
        tool_turn(("c1", "slow", '{"x": 1}'), ("c2", "fast", '{"x": 2}')), text_turn("done")
    )
    out = create_agent().invoke({"task": "go"}, **options(wire, tools=[slow, fast]))
    assert out["answer"] == "done"
    results = [(m["tool_call_id"], m["content"]) for m in tool_messages(wire.bodies[1])]
    assert results == [("c1", "slow 1"), ("c2", "fast 2")]


def test_one_turns_calls_run_concurrently_async(wire: WireServer) -> None:
    # each tool waits for the other: run one after another, they would time out
    barrier = asyncio.Barrier(2)

    @tool(timeout=5)
    async def left(x: int) -> str:
        """Left."""
        await barrier.wait()
        return f"left {x}"

    @tool(timeout=5)
    async def right(x: int) -> str:
        """Right."""
        await barrier.wait()
        return f"right {x}"

    wire.script(
        tool_turn(("c1", "left", '{"x": 1}'), ("c2", "right", '{"x": 2}')), text_turn("met")
    )
    out = create_agent().invoke({"task": "go"}, **options(wire, tools=[left, right]))
    assert [m["content"] for m in tool_messages(wire.bodies[1])] == ["left 1", "right 2"]
    assert (out["answer"], out["tool_errors"]) == ("met", 0)


def test_one_turns_sync_tools_run_concurrently_on_threads(wire: WireServer) -> None:
    barrier = threading.Barrier(2, timeout=5)

    @tool
    def left(x: int) -> str:
        """Left."""
        barrier.wait()
        return f"left {x}"

    @tool
    def right(x: int) -> str:
        """Right."""
        barrier.wait()
        return f"right {x}"

    wire.script(
        tool_turn(("c1", "left", '{"x": 1}'), ("c2", "right", '{"x": 2}')), text_turn("met")
    )
    out = create_agent().invoke({"task": "go"}, **options(wire, tools=[left, right]))
    assert [m["content"] for m in tool_messages(wire.bodies[1])] == ["left 1", "right 2"]
    assert out["answer"] == "met"


@pytest.mark.parametrize(
    ("call", "why"),
    [
        (("bad", "get_weather", '{"city": "Par'), "not valid JSON"),
        (("bad", "get_weather", "[1, 2]"), "JSON object"),
        (("bad", "get_weather", '{"city": "Paris", "days": "many"}'), "days"),
        (("bad", "get_weather", '{"days": 2}'), "city"),
        (("bad", "get_wether", '{"city": "Paris"}'), "get_weather"),  # the closest is named
    ],
    ids=["malformed-json", "not-an-object", "wrong-type", "missing-field", "unknown-tool"],
)
def test_invalid_arguments_go_back_to_the_model_as_tool_errors(
    wire: WireServer, call: tuple[str, str, str], why: str
) -> None:
    wire.script(tool_turn(call, UTC), text_turn("sorry"))
    out = create_agent().invoke({"task": TASK}, **options(wire))
    assert (out["answer"], out["stopped"], out["iterations"]) == ("sorry", "answered", 2)
    assert out["tool_errors"] == 1

    bad, good = tool_messages(wire.bodies[1])
    assert bad["tool_call_id"] == "bad"
    assert bad["content"].startswith("error (invalid)")
    assert why in bad["content"]
    assert good["tool_call_id"] == "call_b"  # the valid call of the same turn still ran
    assert json.loads(good["content"]) == {"tz": "UTC", "time": "12:00"}

    state_bad, state_good = (m for m in out["messages"] if m["role"] == "tool")
    assert state_bad["is_error"] is True
    assert state_bad["name"] == call[1]
    assert state_bad["content"] == bad["content"]
    assert state_good["is_error"] is False


@pytest.mark.parametrize("arguments", ['{"city": "Par', "[1, 2]"])
def test_bad_json_error_says_what_is_wrong_once(wire: WireServer, arguments: str) -> None:
    wire.script(tool_turn(("bad", "get_weather", arguments)), text_turn("sorry"))
    create_agent().invoke({"task": TASK}, **options(wire))
    [bad] = tool_messages(wire.bodies[1])
    assert bad["content"].count("not valid JSON") == (arguments != "[1, 2]")


def test_every_invalid_call_counts_across_turns(wire: WireServer) -> None:
    wire.script(
        tool_turn(("b1", "nope", "{}"), ("b2", "get_weather", '{"city": ')),
        tool_turn(("b3", "get_time", "{}")),  # missing tz
        text_turn("gave up"),
    )
    out = create_agent().invoke({"task": TASK}, **options(wire))
    assert (out["tool_errors"], out["iterations"], out["answer"]) == (3, 3, "gave up")
    contents = [m["content"] for m in tool_messages(wire.bodies[2])]
    assert len(contents) == 3
    assert all(c.startswith("error (invalid)") for c in contents)


def test_a_tool_that_raises_is_an_error_result_not_an_invalid_one(wire: WireServer) -> None:
    @tool
    def explode(x: int) -> str:
        """Explode."""
        raise RuntimeError(f"boom {x}")

    wire.script(tool_turn(("c1", "explode", '{"x": 3}')), text_turn("ok"))
    out = create_agent().invoke({"task": "go"}, **options(wire, tools=[explode]))
    [result] = tool_messages(wire.bodies[1])
    assert result["content"] == "error (error): RuntimeError: boom 3"
    assert out["tool_errors"] == 0  # only arguments the model got wrong count
    assert [m["is_error"] for m in out["messages"] if m["role"] == "tool"] == [True]


def test_max_iterations_stops_a_model_that_always_calls_a_tool(wire: WireServer) -> None:
    wire.script(*(tool_turn((f"c{i}", "get_time", '{"tz": "UTC"}')) for i in range(3)))
    out = create_agent(max_iterations=3).invoke({"task": "loop"}, **options(wire))
    assert (out["stopped"], out["iterations"], out["tool_errors"]) == ("max_iterations", 3, 0)
    assert out["answer"] == ""
    assert len(wire.requests) == 3  # no fourth call
    assert [m["role"] for m in out["messages"]] == ["user"] + ["assistant", "tool"] * 3
    assert [m["tool_call_id"] for m in tool_messages(wire.bodies[2])] == ["c0", "c1"]


def test_system_prompt_and_max_tokens_reach_every_turn(wire: WireServer) -> None:
    wire.script(tool_turn(UTC), text_turn("noon"))
    app = create_agent(system="Be brief.", max_tokens=64)
    out = app.invoke({"task": "time?"}, **options(wire))
    assert out["messages"][0] == {"role": "system", "content": "Be brief."}
    for body in wire.bodies:
        assert body["messages"][0] == {"role": "system", "content": "Be brief."}
        assert body["max_completion_tokens"] == 64


def test_tools_filter_offers_only_the_named_tools(wire: WireServer) -> None:
    wire.script(text_turn("hi"))
    create_agent(tools=["get_time"]).invoke({"task": "t"}, **options(wire))
    assert [t["function"]["name"] for t in wire.bodies[0]["tools"]] == ["get_time"]


# -- the loop over Anthropic -------------------------------------------------------------------


def anthropic_model(wire: WireServer) -> AnthropicModel:
    return AnthropicModel("claude-sim", api_key="sk-ant-test", base_url=wire.url)


def message_start(input_tokens: int) -> dict[str, Any]:
    message: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sim",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": 1},
    }
    return {"type": "message_start", "message": message}


def block_delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def text_block(index: int, *pieces: str) -> list[dict[str, Any]]:
    start = {
        "type": "content_block_start",
        "index": index,
        "content_block": {"type": "text", "text": ""},
    }
    return [
        start,
        *(block_delta(index, {"type": "text_delta", "text": p}) for p in pieces),
        {"type": "content_block_stop", "index": index},
    ]


def tool_block(index: int, id: str, name: str, *pieces: str) -> list[dict[str, Any]]:
    block = {"type": "tool_use", "id": id, "name": name, "input": {}}
    return [
        {"type": "content_block_start", "index": index, "content_block": block},
        *(block_delta(index, {"type": "input_json_delta", "partial_json": p}) for p in pieces),
        {"type": "content_block_stop", "index": index},
    ]


def anthropic_turn(blocks: list[dict[str, Any]], stop: str, output: int) -> Reply:
    end = {
        "type": "message_delta",
        "delta": {"stop_reason": stop, "stop_sequence": None},
        "usage": {"output_tokens": output},
    }
    events = [message_start(25), *blocks, end, {"type": "message_stop"}]
    return Reply.sse(anthropic_events(events))


def test_anthropic_two_turns_with_tool_use_and_tool_result_blocks(wire: WireServer) -> None:
    wire.script(
        anthropic_turn(
            [
                *text_block(0, "Let me ", "check."),
                *tool_block(1, "toolu_a", "get_weather", "", '{"city": ', '"Paris"}'),
                *tool_block(2, "toolu_b", "get_time", '{"tz"', ': "UTC"}'),
                *tool_block(3, "toolu_c", "get_weather", '{"city": 5'),  # cut JSON
            ],
            "tool_use",
            40,
        ),
        anthropic_turn(text_block(0, "Sunny ", "at noon."), "end_turn", 6),
    )
    m = anthropic_model(wire)
    events = list(
        create_agent().stream(
            {"task": TASK},
            mode="events",
            models={"worker": m, "planner": m},
            tools=[get_weather, get_time],
            prices=PRICES,
            ledger=False,
        )
    )
    out = [e for e in events if e.type == "values"][-1].values
    assert (out["answer"], out["iterations"], out["stopped"]) == ("Sunny at noon.", 2, "answered")
    assert out["tool_errors"] == 1

    first, second = wire.bodies
    assert [p.path for p in wire.requests] == ["/v1/messages", "/v1/messages"]
    assert {t["name"]: t["input_schema"] for t in first["tools"]} == {
        "get_weather": dict(get_weather.spec.parameters),
        "get_time": dict(get_time.spec.parameters),
    }
    user, assistant, results = second["messages"]
    assert user == {"role": "user", "content": [{"type": "text", "text": TASK}]}
    assert assistant["role"] == "assistant"
    assert assistant["content"][0] == {"type": "text", "text": "Let me check."}
    assert [(b["type"], b["id"], b["name"], b["input"]) for b in assistant["content"][1:]] == [
        ("tool_use", "toolu_a", "get_weather", {"city": "Paris"}),
        ("tool_use", "toolu_b", "get_time", {"tz": "UTC"}),
        ("tool_use", "toolu_c", "get_weather", {}),
    ]
    assert results["role"] == "user"  # tool results are one user turn of tool_result blocks
    weather, time, bad = results["content"]
    assert weather == {
        "type": "tool_result",
        "tool_use_id": "toolu_a",
        "content": "sunny in Paris for 1 day(s)",
    }
    assert time == {
        "type": "tool_result",
        "tool_use_id": "toolu_b",
        "content": json.dumps({"tz": "UTC", "time": "12:00"}),
    }
    assert bad["tool_use_id"] == "toolu_c"
    assert bad["is_error"] is True
    assert bad["content"].startswith("error (invalid)")

    usage = [e for e in events if e.type == "usage"]
    assert [(e.provider, e.model, e.input_tokens, e.output_tokens) for e in usage] == [
        ("anthropic", "claude-sim", 25, 40),
        ("anthropic", "claude-sim", 25, 6),
    ]
    assert [e.cost_nano_usd for e in usage] == [25 * 3000 + 40 * 15000, 25 * 3000 + 6 * 15000]


# -- metering ----------------------------------------------------------------------------------


@pytest.fixture
def ledger(tmp_path: Path) -> SqliteLedger:
    return user_store(tmp_path / "orca.db").ledger


def usage_rows(ledger: SqliteLedger) -> list[tuple[Any, ...]]:
    return ledger._db.conn.execute(  # type: ignore[attr-defined]
        "SELECT role, node, provider, model, input_tokens, output_tokens, cost_nano_usd "
        "FROM usage ORDER BY created_at"
    ).fetchall()


def periods(ledger: SqliteLedger) -> list[tuple[int, int, int]]:
    conn = ledger._db.conn  # type: ignore[attr-defined]
    return conn.execute("SELECT amount, spent, reserved FROM budget_periods").fetchall()


def test_every_turn_is_one_usage_event_and_one_ledger_row(
    wire: WireServer, ledger: SqliteLedger
) -> None:
    wire.script(tool_turn(PARIS, UTC, usage=(30, 20)), text_turn("done", usage=(70, 4)))
    events = list(
        create_agent().stream({"task": TASK}, mode="events", **options(wire, ledger=ledger))
    )
    usage = [e for e in events if e.type == "usage"]
    assert [(e.node, e.role, e.input_tokens, e.output_tokens) for e in usage] == [
        ("agent", "worker", 30, 20),
        ("agent", "worker", 70, 4),
    ]
    # $1 / $2 per 1M tokens: 1000 and 2000 nano-USD a token
    costs = [30 * 1000 + 20 * 2000, 70 * 1000 + 4 * 2000]
    assert [e.cost_nano_usd for e in usage] == costs
    assert all(e.priced for e in usage)
    assert usage_rows(ledger) == [
        ("worker", "agent", "openai", "gpt-sim", 30, 20, costs[0]),
        ("worker", "agent", "openai", "gpt-sim", 70, 4, costs[1]),
    ]
    assert not [e for e in events if e.type == "warning"]


def first_turns_hold_and_cost(wire: WireServer, tmp_path: Path) -> tuple[int, int, int]:
    """A probe run under a roomy block budget: the first turn's reservation and cost, and
    the second turn's reservation (what a block budget asks before each call)."""
    store = user_store(tmp_path / "probe.db")
    probe = store.ledger
    probe.budgets.create(Budget("roomy", 10**12), activate=True)
    wire.script(tool_turn(PARIS, UTC), text_turn("done"))
    create_agent().invoke({"task": TASK}, **options(wire, ledger=probe))
    parts = probe._db.conn.execute("SELECT amount FROM hold_parts ORDER BY rowid")  # type: ignore[attr-defined]
    held = [a for (a,) in parts.fetchall()]
    costs = [r[-1] for r in usage_rows(probe)]
    store.close()
    wire.requests.clear()
    assert len(held) == len(costs) == 2
    return held[0], costs[0], held[1]


def test_a_block_budget_too_small_for_the_second_turn_stops_the_run(
    wire: WireServer, ledger: SqliteLedger, tmp_path: Path
) -> None:
    hold1, cost1, hold2 = first_turns_hold_and_cost(wire, tmp_path)
    amount = cost1 + hold2 - 1  # affords the first turn, and then not the second's ask
    assert hold1 <= amount
    ledger.budgets.create(Budget("b", amount), activate=True)
    wire.script(tool_turn(PARIS, UTC), text_turn("never sent"))
    with pytest.raises(BudgetExceeded) as caught:
        create_agent().invoke({"task": TASK}, **options(wire, ledger=ledger))
    assert caught.value.budget == "b"
    assert caught.value.asked == hold2
    assert len(wire.requests) == 1  # the second turn never reached the provider
    [(limit, spent, reserved)] = periods(ledger)
    assert (limit, spent, reserved) == (amount, cost1, 0)
    assert spent <= limit
    assert [r[-1] for r in usage_rows(ledger)] == [cost1]
    assert wire.bodies[0]["max_completion_tokens"] == 1024  # a block budget caps the answer


def test_pause_policy_interrupts_the_agent_instead(
    wire: WireServer, ledger: SqliteLedger, tmp_path: Path
) -> None:
    from orca import Command
    from orca.checkpoint import MemoryCheckpointer

    _, cost1, hold2 = first_turns_hold_and_cost(wire, tmp_path)
    amount = cost1 + hold2 - 1
    ledger.budgets.create(Budget("b", amount), activate=True)
    wire.script(tool_turn(PARIS, UTC))
    app = create_agent(checkpointer=MemoryCheckpointer())
    run = options(wire, ledger=ledger, on_budget_exceeded="pause", thread_id="t")
    paused = app.invoke({"task": TASK}, **run)
    [interrupt] = paused["__interrupt__"]
    assert interrupt.value["reason"] == "budget_exceeded"
    assert interrupt.value["budget"] == "b"
    assert interrupt.value["asked"] == hold2
    assert len(wire.requests) == 1
    [(limit, spent, reserved)] = periods(ledger)
    assert (spent, reserved) == (cost1, 0)
    assert spent <= limit

    # raised, the node runs again from its start: its first turn is answered from its
    # record (paid once), and only the turn the budget refused is asked
    ledger.budgets.raise_("b", by=10**12)
    wire.script(text_turn("done"))
    done = app.invoke(Command(resume="raised"), **run)
    assert "__interrupt__" not in done
    assert (done["answer"], done["iterations"], done["stopped"]) == ("done", 2, "answered")
    assert len(wire.requests) == 2
    assert len(usage_rows(ledger)) == 2


# -- agent_node inside a larger graph ----------------------------------------------------------


class Pipeline(TypedDict, total=False):
    topic: str
    task: str
    messages: Annotated[list[dict[str, Any]], reducers.append]
    answer: str
    iterations: Annotated[int, reducers.sum]
    tool_errors: Annotated[int, reducers.sum]
    stopped: str
    report: str


def test_agent_node_as_a_planner_node_in_a_larger_graph(tmp_path: Path) -> None:
    planner_wire, worker_wire = WireServer(), WireServer()
    try:
        planner_wire.script(tool_turn(UTC), text_turn("plan at noon"))

        def prepare(state: Pipeline) -> dict[str, Any]:
            return {"task": f"Plan {state['topic']}"}

        def finish(state: Pipeline) -> dict[str, Any]:
            return {"report": f"{state['answer']} ({state['iterations']} turns)"}

        g = StateGraph(Pipeline)
        g.add_node("prepare", prepare)
        g.add_node("agent", agent_node(role="planner", tools=["get_time"]))
        g.add_node("finish", finish)
        g.add_edge(START, "prepare")
        g.add_edge("prepare", "agent")
        g.add_edge("agent", "finish")
        g.add_edge("finish", END)
        events = list(
            g.compile().stream(
                {"topic": "lunch"},
                mode="events",
                models={
                    "planner": openai_model(planner_wire, "gpt-planner"),
                    "worker": openai_model(worker_wire, "gpt-worker"),
                },
                tools=[get_weather, get_time],
                prices=PRICES,
                ledger=False,
            )
        )
        out = [e for e in events if e.type == "values"][-1].values
        assert out["report"] == "plan at noon (2 turns)"
        assert out["stopped"] == "answered"
        assert worker_wire.requests == []
        assert [b["model"] for b in planner_wire.bodies] == ["gpt-planner", "gpt-planner"]
        assert planner_wire.bodies[0]["messages"] == [{"role": "user", "content": "Plan lunch"}]
        assert [t["function"]["name"] for t in planner_wire.bodies[0]["tools"]] == ["get_time"]
        usage = [e for e in events if e.type == "usage"]
        assert [(e.role, e.node, e.model) for e in usage] == [
            ("planner", "agent", "gpt-planner")
        ] * 2
    finally:
        planner_wire.close()
        worker_wire.close()


def test_agent_node_continues_from_existing_messages(wire: WireServer) -> None:
    history = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Time?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "old", "name": "get_time", "arguments": {"tz": "UTC"}}],
        },
        {"role": "tool", "tool_call_id": "old", "name": "get_time", "content": "12:00"},
    ]
    wire.script(text_turn("noon"))
    out = create_agent(system="ignored: one is there").invoke(
        {"messages": history}, **options(wire)
    )
    assert out["answer"] == "noon"
    sent = wire.bodies[0]["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool"]
    assert sent[0]["content"] == "You are terse."
    assert sent[3] == {"role": "tool", "tool_call_id": "old", "content": "12:00"}
    assert out["messages"] == [*history, {"role": "assistant", "content": "noon"}]


# -- events ------------------------------------------------------------------------------------


def test_tool_call_events_for_each_execution(wire: WireServer) -> None:
    wire.script(
        tool_turn(PARIS, UTC),
        tool_turn(("c3", "get_weather", '{"city": 7')),
        text_turn("done"),
    )
    events = list(create_agent().stream({"task": TASK}, mode="events", **options(wire)))
    calls = [e for e in events if e.type == "tool.call"]
    assert {e.node for e in calls} == {"agent"}
    assert sorted((e.tool, e.status) for e in calls[:2]) == [
        ("get_time", "ok"),
        ("get_weather", "ok"),
    ]
    by_tool = {e.tool: e for e in calls[:2]}
    assert by_tool["get_weather"].arguments == {"city": "Paris"}
    assert by_tool["get_weather"].result == "sunny in Paris for 1 day(s)"
    assert by_tool["get_time"].arguments == {"tz": "UTC"}
    assert (calls[2].tool, calls[2].status) == ("get_weather", "invalid")
    assert calls[2].arguments == {"raw": '{"city": 7'}
    assert len(calls) == 3
    finished = {e.task_id for e in events if e.type == "task.finished"}
    assert {e.task_id for e in calls} <= finished


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1, 2.5, "3", None])
def test_max_iterations_must_be_a_positive_int(bad: Any) -> None:
    with pytest.raises(InvalidInputError, match="max_iterations"):
        agent_node(max_iterations=bad)
    with pytest.raises(InvalidInputError, match="max_iterations"):
        create_agent(max_iterations=bad)


def test_max_iterations_refuses_a_bool() -> None:
    with pytest.raises(InvalidInputError, match="max_iterations"):
        agent_node(max_iterations=True)


def test_no_task_and_no_messages_fails_naming_the_task_key(wire: WireServer) -> None:
    with pytest.raises(InvalidInputError, match="'task'"):
        create_agent().invoke({}, **options(wire))
    assert wire.requests == []


def test_a_custom_task_key_is_named(wire: WireServer) -> None:
    class State(TypedDict, total=False):
        question: str
        messages: Annotated[list[dict[str, Any]], reducers.append]
        answer: str
        iterations: Annotated[int, reducers.sum]
        tool_errors: Annotated[int, reducers.sum]
        stopped: str

    g = StateGraph(State)
    g.add_node("agent", agent_node(task_key="question"))
    g.add_edge(START, "agent")
    g.add_edge("agent", END)
    app = g.compile()
    with pytest.raises(InvalidInputError, match="'question'"):
        app.invoke({}, **options(wire))
    wire.script(text_turn("42"))
    assert app.invoke({"question": "why?"}, **options(wire))["answer"] == "42"
    assert wire.bodies[0]["messages"] == [{"role": "user", "content": "why?"}]


def test_a_message_with_an_unknown_role_is_refused(wire: WireServer) -> None:
    with pytest.raises(InvalidInputError, match="role"):
        create_agent().invoke({"messages": [{"role": "robot", "content": "x"}]}, **options(wire))


def test_without_tools_the_model_just_answers(wire: WireServer) -> None:
    wire.script(text_turn("plain"))
    m = openai_model(wire)
    out = create_agent().invoke(
        {"task": "hi"}, models={"worker": m, "planner": m}, prices=PRICES, ledger=False
    )
    assert (out["answer"], out["iterations"], out["stopped"]) == ("plain", 1, "answered")
    [body] = wire.bodies
    assert "tools" not in body
    assert "tool_choice" not in body


def test_an_empty_tool_list_sends_no_tools(wire: WireServer) -> None:
    wire.script(text_turn("plain"))
    out = create_agent().invoke({"task": "hi"}, **options(wire, tools=[]))
    assert out["answer"] == "plain"
    assert "tools" not in wire.bodies[0]


# -- the local engine --------------------------------------------------------------------------


def test_the_tiny_local_model_answers_in_one_turn(tiny_model: Path) -> None:
    pytest.importorskip("llama_cpp")
    from orca.llm.providers.llamacpp import LlamaCppModel

    m = LlamaCppModel(str(tiny_model), params={"n_ctx": 1024})
    out = create_agent(max_tokens=8).invoke(
        {"task": "weather?"},
        models={"worker": m, "planner": m},
        tools=[get_weather],
        ledger=False,
    )
    assert (out["iterations"], out["stopped"], out["tool_errors"]) == (1, "answered", 0)
    assert isinstance(out["answer"], str)
    assert [m["role"] for m in out["messages"]] == ["user", "assistant"]
