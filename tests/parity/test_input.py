"""Input and schemas: TypedDict flavours, dataclasses, pydantic, unknown keys in input and
node output, input/output schemas and private per-node input schemas."""

from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Any

import typing_extensions
from pydantic import BaseModel

from ._harness import Cases, Library, attempt, cfg, chunks

case = Cases("input")


class TE(typing_extensions.TypedDict):
    x: int
    y: typing_extensions.NotRequired[str]


class TT(typing.TypedDict):
    x: int


class Partial(typing.TypedDict, total=False):
    x: int
    y: str


def _inc(lg: Library, schema: Any) -> Any:
    g = lg.StateGraph(schema)
    g.add_node("inc", lambda s: {"x": s["x"] + 1})
    g.add_edge(lg.START, "inc")
    g.add_edge("inc", lg.END)
    return g.compile()


@case
def typing_extensions_typeddict(lg: Library) -> Any:
    return _inc(lg, TE).invoke({"x": 1})


@case
def typing_extensions_not_required_key(lg: Library) -> Any:
    g = lg.StateGraph(TE)
    g.add_node("n", lambda s: {"y": s.get("y", "unset")})
    g.add_edge(lg.START, "n")
    return g.compile().invoke({"x": 1})


@case
def typing_typeddict(lg: Library) -> Any:
    return _inc(lg, TT).invoke({"x": 41})


@case
def unknown_input_key_dropped(lg: Library) -> Any:
    return attempt(_inc(lg, TT).invoke, {"x": 1, "nope": 2})


@case
def unknown_output_key_of_node(lg: Library) -> Any:
    g = lg.StateGraph(TT)
    g.add_node("n", lambda s: {"x": 2, "extra": 3})
    g.add_edge(lg.START, "n")
    return attempt(g.compile().invoke, {"x": 1})


@case
def node_returning_string_fails(lg: Library) -> Any:
    g = lg.StateGraph(TT)
    g.add_node("n", lambda s: "done")
    g.add_edge(lg.START, "n")
    return attempt(g.compile().invoke, {"x": 1})


@case
def node_returning_list_fails(lg: Library) -> Any:
    g = lg.StateGraph(TT)
    g.add_node("n", lambda s: [("x", 1)])
    g.add_edge(lg.START, "n")
    return attempt(g.compile().invoke, {"x": 1})


@case
def input_none_on_fresh_thread(lg: Library) -> Any:
    g = lg.StateGraph(TT)
    g.add_node("inc", lambda s: {"x": s["x"] + 1})
    g.add_edge(lg.START, "inc")
    compiled = g.compile(checkpointer=lg.saver())
    return attempt(compiled.invoke, None, cfg())


@case
def input_none_without_checkpointer(lg: Library) -> Any:
    return attempt(_inc(lg, TT).invoke, None)


@case
def empty_input_dict(lg: Library) -> Any:
    g = lg.StateGraph(Partial)
    g.add_node("n", lambda s: {"y": f"keys={sorted(s)}"})
    g.add_edge(lg.START, "n")
    return attempt(g.compile().invoke, {})


@case
def input_not_a_dict(lg: Library) -> Any:
    return attempt(_inc(lg, TT).invoke, [1, 2])


@case
def missing_required_key_read_fails(lg: Library) -> Any:
    return attempt(_inc(lg, TT).invoke, {})


@dataclass
class DC:
    x: int
    y: str = "d"


@case
def dataclass_schema(lg: Library) -> Any:
    g = lg.StateGraph(DC)
    g.add_node("n", lambda s: {"x": s.x * 2, "y": s.y + "!"})
    g.add_edge(lg.START, "n")
    return g.compile().invoke({"x": 4})


class PM(BaseModel):
    x: int
    y: str = "p"


@case
def pydantic_schema(lg: Library) -> Any:
    g = lg.StateGraph(PM)
    g.add_node("n", lambda s: {"x": s.x + 1, "y": type(s).__name__})
    g.add_edge(lg.START, "n")
    return g.compile().invoke({"x": 1})


@case
def pydantic_coerces_input(lg: Library) -> Any:
    g = lg.StateGraph(PM)
    g.add_node("n", lambda s: {"y": f"{type(s.x).__name__}:{s.x}"})
    g.add_edge(lg.START, "n")
    return g.compile().invoke({"x": "7"})


@case
def pydantic_rejects_bad_input(lg: Library) -> Any:
    g = lg.StateGraph(PM)
    g.add_node("n", lambda s: {"y": "ran"})
    g.add_edge(lg.START, "n")
    return attempt(g.compile().invoke, {"x": "not a number"})


@case
def pydantic_model_instance_as_input(lg: Library) -> Any:
    g = lg.StateGraph(PM)
    g.add_node("n", lambda s: {"x": s.x + 10})
    g.add_edge(lg.START, "n")
    return g.compile().invoke(PM(x=1, y="given"))


class In(typing.TypedDict):
    question: str


class Out(typing.TypedDict):
    answer: str


class Overall(In, Out):
    scratch: str


@case
def input_and_output_schemas(lg: Library) -> Any:
    g = lg.StateGraph(Overall, input_schema=In, output_schema=Out)
    g.add_node("think", lambda s: {"scratch": s["question"] + "?"})
    g.add_node("say", lambda s: {"answer": s["scratch"].upper()})
    g.add_edge(lg.START, "think")
    g.add_edge("think", "say")
    return g.compile().invoke({"question": "why"})


@case
def output_schema_filters_stream_values(lg: Library) -> Any:
    g = lg.StateGraph(Overall, input_schema=In, output_schema=Out)
    g.add_node("think", lambda s: {"scratch": s["question"] + "?"})
    g.add_node("say", lambda s: {"answer": s["scratch"].upper()})
    g.add_edge(lg.START, "think")
    g.add_edge("think", "say")
    return chunks(g.compile().stream({"question": "why"}, stream_mode="values"))


@case
def input_schema_drops_other_keys(lg: Library) -> Any:
    g = lg.StateGraph(Overall, input_schema=In, output_schema=Out)
    g.add_node("say", lambda s: {"answer": s.get("scratch", "no scratch")})
    g.add_edge(lg.START, "say")
    return g.compile().invoke({"question": "q", "scratch": "smuggled"})


class Private(typing.TypedDict):
    secret: str


def _write_private(state: Overall) -> Private:
    return {"secret": state["question"][::-1]}


def _read_private(state: Private) -> Out:
    return {"answer": "secret was " + state["secret"]}


@case
def private_state_between_nodes(lg: Library) -> Any:
    g = lg.StateGraph(Overall)
    g.add_node("w", _write_private)
    g.add_node("r", _read_private)
    g.add_edge(lg.START, "w")
    g.add_edge("w", "r")
    return g.compile().invoke({"question": "abc"})


@case
def node_input_schema_argument(lg: Library) -> Any:
    g = lg.StateGraph(Overall)
    g.add_node("w", lambda s: {"secret": "s3"})
    g.add_node("r", lambda s: {"answer": ",".join(sorted(s))}, input_schema=Private)
    g.add_edge(lg.START, "w")
    g.add_edge("w", "r")
    return g.compile().invoke({"question": "abc"})


@case
def schema_with_optional_key(lg: Library) -> Any:
    class S(typing.TypedDict):
        x: int | None

    g = lg.StateGraph(S)
    g.add_node("n", lambda s: {"x": None})
    g.add_edge(lg.START, "n")
    return g.compile().invoke({"x": 3})


test_parity = case.test()
