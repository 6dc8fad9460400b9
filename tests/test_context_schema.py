"""A run's ``context=``: read-only data for its nodes, shaped by the graph's
``context_schema`` as in LangGraph (compared on LangGraph's own runtime), never kept."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

import pytest
from langgraph.graph import START as LG_START
from langgraph.graph import StateGraph as LGStateGraph
from langgraph.runtime import Runtime
from pydantic import BaseModel

from orca import START, MemoryCheckpointer, RunContext, StateGraph
from orca.errors import GraphError, InvalidInputError


@dataclass
class Who:
    user: str
    lang: str = "en"


class WhoDict(TypedDict):
    user: str


class WhoModel(BaseModel):
    user: str
    quota: int = 3


class State(TypedDict):
    out: str


def orca_app(schema: type, store: Any = None) -> Any:
    def greet(state: State, ctx: RunContext) -> dict[str, Any]:
        c = ctx.context
        user = c["user"] if isinstance(c, dict) else c.user
        return {"out": f"{type(c).__name__}:{user}"}

    g = StateGraph(State, context_schema=schema)
    g.add_node("greet", greet)
    g.add_edge(START, "greet")
    return g.compile(checkpointer=store)


def langgraph_app(schema: type) -> Any:
    def greet(state: State, runtime: Runtime[Any]) -> dict[str, Any]:
        c = runtime.context
        user = c["user"] if isinstance(c, dict) else c.user
        return {"out": f"{type(c).__name__}:{user}"}

    g = LGStateGraph(State, context_schema=schema)
    g.add_node("greet", greet)
    g.add_edge(LG_START, "greet")
    return g.compile()


@pytest.mark.parametrize(
    ("schema", "given"),
    [
        (Who, {"user": "ada"}),
        (Who, Who(user="ada")),
        (WhoDict, {"user": "ada"}),
        (WhoModel, {"user": "ada"}),
        (WhoModel, WhoModel(user="ada")),
    ],
    ids=["dataclass-dict", "dataclass", "typeddict", "pydantic-dict", "pydantic"],
)
def test_the_context_reaches_the_nodes_as_its_schema_as_in_langgraph(
    schema: type, given: Any
) -> None:
    expected = langgraph_app(schema).invoke({}, context=given)
    assert orca_app(schema).invoke({}, context=given) == expected
    assert expected["out"] in ("Who:ada", "dict:ada", "WhoModel:ada")


def test_a_context_that_does_not_fit_names_the_field() -> None:
    with pytest.raises(InvalidInputError, match="context does not fit Who: user: Field required"):
        orca_app(Who).invoke({}, context={"lang": "fr"})
    with pytest.raises(InvalidInputError, match="quota"):
        orca_app(WhoModel).invoke({}, context={"user": "x", "quota": "many"})
    with pytest.raises(InvalidInputError, match="context does not fit WhoDict: it lacks 'user'"):
        orca_app(WhoDict).invoke({}, context={"name": "x"})
    with pytest.raises(GraphError, match="context_schema is a str"):
        StateGraph(State, context_schema="Who")  # type: ignore[arg-type]


def test_no_context_reads_as_none_and_a_subgraph_sees_its_parents() -> None:
    seen: list[Any] = []

    def look(state: State, ctx: RunContext) -> None:
        seen.append(ctx.context)

    sub = StateGraph(State, context_schema=Who)
    sub.add_node("look", look)
    sub.add_edge(START, "look")
    parent = StateGraph(State, context_schema=Who)
    parent.add_node("look", look)
    parent.add_node("sub", sub.compile())
    parent.add_edge(START, "look")
    parent.add_edge("look", "sub")
    parent.compile().invoke({"out": ""})
    parent.compile().invoke({"out": ""}, context={"user": "ada"})
    assert seen == [None, None, Who("ada"), Who("ada")]


def test_the_context_is_never_kept_in_a_checkpoint() -> None:
    store = MemoryCheckpointer()
    g = StateGraph(State, context_schema=Who)
    g.add_node("greet", lambda s, ctx: {"out": f"hello in {ctx.context.lang}"})
    g.add_edge(START, "greet")
    app = g.compile(checkpointer=store)
    app.invoke({}, thread_id="t", context=Who(user="secret-user", lang="fr"))
    assert app.get_state("t").values == {"out": "hello in fr"}
    kept = [store.get("t", info.checkpoint_id) for info in store.history("t")]
    assert len(kept) == 2
    assert "secret-user" not in repr(kept)
