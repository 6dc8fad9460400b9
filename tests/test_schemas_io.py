"""Input, output and node input schemas (private state), as in LangGraph: each graph
runs on LangGraph too and the results are compared."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END as LG_END
from langgraph.graph import START as LG_START
from langgraph.graph import StateGraph as LGStateGraph
from pydantic import BaseModel

from orca import END, START, MemoryCheckpointer, StateGraph
from orca.errors import InvalidInputError


class In(TypedDict):
    question: str


class Out(TypedDict):
    answer: str


class Overall(TypedDict):
    question: str
    answer: str
    notes: str


class Private(TypedDict):
    secret: str


def think(state: In) -> dict[str, Any]:
    return {"secret": f"think({state['question']})", "notes": sorted(state)[0]}


def answer(state: Private) -> dict[str, Any]:
    return {"answer": f"from {state['secret']} seeing {sorted(state)}"}


def build(lib: str) -> Any:
    graph, start, end, store = (
        (LGStateGraph, LG_START, LG_END, InMemorySaver())
        if lib == "langgraph"
        else (StateGraph, START, END, MemoryCheckpointer())
    )
    g = graph(Overall, input_schema=In, output_schema=Out)
    g.add_node("think", think)
    g.add_node("answer", answer)
    g.add_edge(start, "think")
    g.add_edge("think", "answer")
    g.add_edge("answer", end)
    return g.compile(checkpointer=store)


def test_input_output_and_private_schemas_as_in_langgraph() -> None:
    lg, orca = build("langgraph"), build("orca")
    expected = lg.invoke({"question": "q"}, {"configurable": {"thread_id": "t"}})
    got = orca.invoke({"question": "q"}, thread_id="t")
    assert got == expected == {"answer": "from think(q) seeing ['secret']"}
    # the state keeps every channel, the private one too
    lg_state = lg.get_state({"configurable": {"thread_id": "t"}}).values
    assert orca.get_state("t").values == lg_state
    assert lg_state == {
        "question": "q",
        "answer": "from think(q) seeing ['secret']",
        "notes": "question",
        "secret": "think(q)",
    }


def test_an_input_key_outside_the_input_schema_is_refused_naming_it() -> None:
    # LangGraph drops it silently; Orca says so (orca.compat.langgraph drops it)
    with pytest.raises(InvalidInputError, match="'notes' is not in the graph's input schema"):
        build("orca").invoke({"question": "q", "notes": "mine"}, thread_id="t")


def test_a_node_input_schema_given_explicitly_or_as_a_dataclass() -> None:
    @dataclass
    class Seen:
        question: str

    class Scored(BaseModel):
        question: str
        score: int = 0

    seen: list[Any] = []

    def look(state: Any) -> dict[str, Any]:
        seen.append(state)
        return {"score": 3}

    g = StateGraph(Overall)
    g.add_node("look", look, input_schema=Seen)
    g.add_node("rate", lambda s: seen.append(s) or {"answer": str(s.score)}, input_schema=Scored)
    g.add_edge(START, "look")
    g.add_edge("look", "rate")
    out = g.compile().invoke({"question": "q", "notes": "n"})
    assert seen == [Seen(question="q"), Scored(question="q", score=3)]
    assert out == {"question": "q", "notes": "n", "score": 3, "answer": "3"}
