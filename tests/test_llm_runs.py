"""LLM calls from nodes, on the real in-process llama.cpp engine with the tiny model:
tokens stream as events tagged with their task, model and role; every call is priced and
reported; unpriced models warn once per run."""

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

pytest.importorskip("llama_cpp")

from orca import END, START, Send, StateGraph, reducers
from orca.cost import Price, PriceBook
from orca.errors import ConfigError, UnknownProfileError
from orca.llm import ModelSpec, Profile, Profiles
from orca.llm.providers.llamacpp import LlamaCppModel
from orca.llm.tiny import ensure_tiny_model
from orca.store import user_store


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(ensure_tiny_model(seed=0, path=tmp_path_factory.mktemp("m") / "tiny.gguf"))


@pytest.fixture(autouse=True)
def orca_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("ORCA_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def profile(path: str) -> Profile:
    spec = ModelSpec("llamacpp", path, {"n_ctx": 1024, "temperature": 0.8})
    return Profile("tiny", planner=spec, worker=spec)


class State(TypedDict, total=False):
    topic: str
    plan: str
    parts: Annotated[list[str], reducers.append]


def team() -> Any:
    async def plan(state: State, ctx: Any) -> dict[str, Any]:
        answer = await ctx.planner.acomplete(f"Plan: {state['topic']}", max_tokens=8, seed=1)
        return {"plan": answer.text}

    def fan_out(state: State) -> list[Send]:
        return [Send("work", {"topic": f"part {i}"}) for i in range(2)]

    def work(arg: dict[str, str], ctx: Any) -> dict[str, Any]:  # a sync node
        answer = ctx.worker.complete(arg["topic"], max_tokens=6, seed=2)
        return {"parts": [answer.text]}

    g = StateGraph(State)
    g.add_node("plan", plan)
    g.add_node("work", work)
    g.add_edge(START, "plan")
    g.add_conditional_edges("plan", fan_out)
    g.add_edge("work", END)
    return g.compile()


def test_tokens_stream_as_events_tagged_with_task_model_and_role(model_path: str) -> None:
    events = list(team().stream({"topic": "cats"}, mode="events", profile=profile(model_path)))
    tokens = [e for e in events if e.type == "token"]
    finished = {e.task_id: e.node for e in events if e.type == "task.finished"}
    assert {e.node for e in tokens} == {"plan", "work"}
    assert {e.role for e in tokens if e.node == "plan"} == {"planner"}
    assert {e.role for e in tokens if e.node == "work"} == {"worker"}
    assert {e.model for e in tokens} == {"tiny.gguf"}
    for e in tokens:
        assert finished[e.task_id] == e.node
    plan_text = "".join(e.text for e in tokens if e.node == "plan")
    final = [e for e in events if e.type == "values"][-1].values
    assert plan_text == final["plan"]


def test_every_call_ends_with_one_usage_event(model_path: str) -> None:
    events = list(team().stream({"topic": "cats"}, mode="events", profile=profile(model_path)))
    usage = [e for e in events if e.type == "usage"]
    assert sorted(e.node for e in usage) == ["plan", "work", "work"]
    for e in usage:
        assert e.provider == "llamacpp"
        assert e.input_tokens > 0
        assert e.output_tokens > 0
        assert e.estimated is True  # llama.cpp's stream carries no usage: Orca counted
        assert e.priced is True
        assert e.cost_nano_usd == 0  # local models cost nothing


def test_a_user_price_makes_money_move_exactly(model_path: str) -> None:
    price = Price("llamacpp", "tiny.gguf", input=Decimal("1.50"), output=Decimal("6"))
    events = list(
        team().stream(
            {"topic": "cats"},
            mode="events",
            profile=profile(model_path),
            prices=PriceBook([price]),
        )
    )
    for e in (e for e in events if e.type == "usage"):
        assert e.cost_nano_usd == e.input_tokens * 1500 + e.output_tokens * 6000
        assert e.cost_nano_usd > 0


def test_an_unpriced_model_warns_once_per_run(model_path: str) -> None:
    custom = LlamaCppModel(model_path, provider="my-box", params={"n_ctx": 1024})
    events = list(
        team().stream({"topic": "x"}, mode="events", models={"planner": custom, "worker": custom})
    )
    warnings = [e for e in events if e.type == "warning"]
    assert [w.code for w in warnings] == ["unpriced_model"]
    assert "my-box/tiny.gguf" in warnings[0].message
    usage = [e for e in events if e.type == "usage"]
    assert len(usage) == 3
    assert all(e.priced is False and e.cost_nano_usd == 0 for e in usage)


def test_the_same_seed_gives_the_same_tokens(model_path: str) -> None:
    def texts() -> list[str]:
        events = team().stream({"topic": "dogs"}, mode="tokens", profile=profile(model_path))
        return [f"{e.node}:{e.text}" for e in events]

    first = texts()
    assert first
    assert sorted(first) == sorted(texts())  # the two workers interleave by timing


def test_a_lone_sync_node_calls_the_model_inline(model_path: str) -> None:
    def ask(state: State, ctx: Any) -> dict[str, Any]:
        return {"plan": ctx.worker.complete("hi", max_tokens=4, seed=3).text}

    g = StateGraph(State)
    g.add_node("ask", ask)
    g.add_edge(START, "ask")
    g.add_edge("ask", END)
    out = g.compile().invoke({}, profile=profile(model_path))
    assert out["plan"].strip()


def test_a_subgraphs_calls_are_reported_for_the_parents_task(model_path: str) -> None:
    async def inner_node(state: State, ctx: Any) -> dict[str, Any]:
        return {"plan": (await ctx.worker.acomplete("x", max_tokens=3, seed=4)).text}

    inner = StateGraph(State)
    inner.add_node("inner", inner_node)
    inner.add_edge(START, "inner")
    inner.add_edge("inner", END)
    outer = StateGraph(State)
    outer.add_node("sub", inner.compile())
    outer.add_edge(START, "sub")
    outer.add_edge("sub", END)
    events = list(outer.compile().stream({}, mode="events", profile=profile(model_path)))
    usage = [e for e in events if e.type == "usage"]
    assert [e.node for e in usage] == ["sub"]
    assert {e.node for e in events if e.type == "token"} == {"sub"}


def test_profiles_by_name_and_the_active_profile(model_path: str) -> None:
    with user_store() as store:
        Profiles(store.profiles).create(profile(model_path))

    def ask(state: State, ctx: Any) -> dict[str, Any]:
        return {"plan": ctx.planner.complete("hi", max_tokens=3, seed=5).text}

    g = StateGraph(State)
    g.add_node("ask", ask)
    g.add_edge(START, "ask")
    g.add_edge("ask", END)
    app = g.compile()
    by_name = app.invoke({}, profile="tiny")["plan"]
    by_default = app.invoke({})["plan"]  # the active profile
    assert by_name == by_default
    with pytest.raises(UnknownProfileError, match="did you mean 'tiny'"):
        app.invoke({}, profile="tinny")


def test_asking_for_a_model_the_run_lacks_names_the_closest(model_path: str) -> None:
    def ask(state: State, ctx: Any) -> dict[str, Any]:
        ctx.llm("wroker")
        return {}

    g = StateGraph(State)
    g.add_node("ask", ask)
    g.add_edge(START, "ask")
    g.add_edge("ask", END)
    with pytest.raises(ConfigError, match="did you mean 'worker'"):
        g.compile().invoke({}, profile=profile(model_path))


@pytest.mark.parametrize(
    ("option", "value"),
    [("profile", 42), ("models", ["planner"]), ("prices", {"gpt-4o": 1})],
)
def test_bad_llm_run_options_are_rejected(option: str, value: Any) -> None:
    g = StateGraph(State)
    g.add_node("n", lambda s: {})
    g.add_edge(START, "n")
    g.add_edge("n", END)
    with pytest.raises(ValueError, match=option):
        g.compile().invoke({}, **{option: value})
