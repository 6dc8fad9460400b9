"""Reducer channels: their initial (neutral) values, how input and parallel writes go
through them, Overwrite, and add_messages."""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, HumanMessage, RemoveMessage
from pydantic import BaseModel

from ._harness import Cases, Library, cfg, chunks

case = Cases("reducers")


def _merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    return {**old, **new}


class Many(TypedDict, total=False):
    items: Annotated[list[int], operator.add]
    total: Annotated[int, operator.add]
    text: Annotated[str, operator.add]
    seen: Annotated[dict[str, Any], _merge]
    tags: Annotated[set[str], operator.or_]
    plain: str


def _one(lg: Library, schema: Any, node: Any) -> Any:
    g = lg.StateGraph(schema)
    g.add_node("n", node)
    g.add_edge(lg.START, "n")
    return g.compile()


@case
def list_reducer_reads_empty_on_first_step(lg: Library) -> Any:
    return _one(lg, Many, lambda s: {"items": [*s["items"], 1], "plain": "x"}).invoke(
        {"plain": "p"}
    )


@case
def int_reducer_reads_zero(lg: Library) -> Any:
    return _one(lg, Many, lambda s: {"plain": f"total={s['total']}"}).invoke({"plain": "p"})


@case
def str_reducer_reads_empty_string(lg: Library) -> Any:
    return _one(lg, Many, lambda s: {"plain": f"text={s['text']!r}"}).invoke({"plain": "p"})


@case
def dict_reducer_reads_empty_dict(lg: Library) -> Any:
    return _one(lg, Many, lambda s: {"plain": f"seen={s['seen']}"}).invoke({"plain": "p"})


@case
def set_reducer_reads_empty_set(lg: Library) -> Any:
    return _one(lg, Many, lambda s: {"plain": f"tags={len(s['tags'])}"}).invoke({"plain": "p"})


@case
def plain_key_unwritten_is_absent(lg: Library) -> Any:
    return _one(lg, Many, lambda s: {"items": [int("plain" in s)]}).invoke({"total": 1})


@case
def input_goes_through_reducer(lg: Library) -> Any:
    return _one(lg, Many, lambda s: {"items": [9]}).invoke({"items": [1, 2], "total": 5})


@case
def second_invoke_appends_on_thread(lg: Library) -> Any:
    g = lg.StateGraph(Many)
    g.add_node("n", lambda s: {"items": [len(s["items"])]})
    g.add_edge(lg.START, "n")
    app = g.compile(checkpointer=lg.saver())
    app.invoke({"items": [100]}, cfg())
    return app.invoke({"items": [200]}, cfg())


@case
def plain_key_overwritten_across_invokes(lg: Library) -> Any:
    g = lg.StateGraph(Many)
    g.add_node("n", lambda s: {"plain": s["plain"] + "!"})
    g.add_edge(lg.START, "n")
    app = g.compile(checkpointer=lg.saver())
    app.invoke({"plain": "a"}, cfg())
    return app.invoke({"plain": "b"}, cfg())


@case
def parallel_writes_to_plain_key_fail(lg: Library) -> Any:
    g = lg.StateGraph(Many)
    g.add_node("a", lambda s: {"plain": "a"})
    g.add_node("b", lambda s: {"plain": "b"})
    g.add_edge(lg.START, "a")
    g.add_edge(lg.START, "b")
    try:
        g.compile().invoke({"plain": ""})
    except lg.InvalidUpdateError as exc:
        return {"error": lg.error_name(exc)}
    return "no error"


@case
def parallel_writes_to_reducer_key_combine(lg: Library) -> Any:
    g = lg.StateGraph(Many)
    g.add_node("a", lambda s: {"total": 2, "seen": {"a": 1}})
    g.add_node("b", lambda s: {"total": 3, "seen": {"b": 2}})
    g.add_edge(lg.START, "a")
    g.add_edge(lg.START, "b")
    return g.compile().invoke({"total": 1})


@case
def node_returning_none_writes_nothing(lg: Library) -> Any:
    return _one(lg, Many, lambda s: None).invoke({"items": [1]})


@case
def node_returning_empty_dict_writes_nothing(lg: Library) -> Any:
    return chunks(_one(lg, Many, lambda s: {}).stream({"items": [1]}, stream_mode="values"))


class Keep:
    def __call__(self, old: int, new: int) -> int:
        return max(old, new)


class Top(TypedDict):
    top: Annotated[int, Keep()]


@case
def callable_object_reducer(lg: Library) -> Any:
    g = lg.StateGraph(Top)
    for i, name in enumerate(["a", "b", "c"]):
        g.add_node(name, lambda s, i=i: {"top": [5, 9, 2][i]})
        g.add_edge(lg.START, name)
    return g.compile().invoke({"top": 3})


@case
def overwrite_bypasses_reducer(lg: Library) -> Any:
    g = lg.StateGraph(Many)
    g.add_node("a", lambda s: {"items": [1]})
    g.add_node("b", lambda s: {"items": lg.Overwrite([7])})
    g.add_edge(lg.START, "a")
    g.add_edge("a", "b")
    return g.compile().invoke({"items": [0]})


@case
def overwrite_in_input(lg: Library) -> Any:
    g = lg.StateGraph(Many)
    g.add_node("a", lambda s: {"items": [len(s["items"])]})
    g.add_edge(lg.START, "a")
    app = g.compile(checkpointer=lg.saver())
    app.invoke({"items": [1, 2, 3]}, cfg())
    return app.invoke({"items": lg.Overwrite([])}, cfg())


class PState(BaseModel):
    items: Annotated[list[int], operator.add] = []
    name: str = "anon"


@case
def pydantic_state_with_reducer(lg: Library) -> Any:
    g = lg.StateGraph(PState)
    g.add_node("a", lambda s: {"items": [len(s.items)], "name": s.name.upper()})
    g.add_edge(lg.START, "a")
    return g.compile().invoke({"items": [5]})


@dataclass
class DState:
    items: Annotated[list[int], operator.add] = field(default_factory=list)
    label: str = "none"


@case
def dataclass_state_defaults(lg: Library) -> Any:
    g = lg.StateGraph(DState)
    g.add_node("a", lambda s: {"items": [1], "label": f"{s.label}:{len(s.items)}"})
    g.add_edge(lg.START, "a")
    return g.compile().invoke({"items": [0]})


# ---------------------------------------------------------------- add_messages


@case
def add_messages_appends(lg: Library) -> Any:
    left = [HumanMessage("hi", id="1")]
    return lg.add_messages(left, [AIMessage("hello", id="2")])


@case
def add_messages_updates_by_id(lg: Library) -> Any:
    left = [HumanMessage("hi", id="1"), AIMessage("draft", id="2")]
    return lg.add_messages(left, [AIMessage("final", id="2")])


@case
def add_messages_removes(lg: Library) -> Any:
    left = [HumanMessage("hi", id="1"), AIMessage("x", id="2"), AIMessage("y", id="3")]
    return lg.add_messages(left, [RemoveMessage(id="2")])


@case
def add_messages_remove_all(lg: Library) -> Any:
    left = [HumanMessage("hi", id="1"), AIMessage("x", id="2")]
    return lg.add_messages(left, [RemoveMessage(id=lg.REMOVE_ALL_MESSAGES), AIMessage("n", id="9")])


@case
def add_messages_coerces_tuples_and_dicts(lg: Library) -> Any:
    out = lg.add_messages([], [("user", "a"), {"role": "assistant", "content": "b"}, "c"])
    return [(m.type, m.content, bool(m.id)) for m in out]


@case
def add_messages_remove_unknown_id_fails(lg: Library) -> Any:
    try:
        lg.add_messages([HumanMessage("hi", id="1")], [RemoveMessage(id="nope")])
    except ValueError as exc:
        return {"error": lg.error_name(exc)}
    return "no error"


@case
def messages_state_graph(lg: Library) -> Any:
    g = lg.StateGraph(lg.MessagesState)
    g.add_node(
        "bot", lambda s: {"messages": [AIMessage(f"echo {s['messages'][-1].content}", id="b1")]}
    )
    g.add_edge(lg.START, "bot")
    return g.compile().invoke({"messages": [HumanMessage("ping", id="h1")]})


@case
def messages_state_reads_empty(lg: Library) -> Any:
    class S(lg.MessagesState):  # type: ignore[name-defined,misc]
        note: str

    g = lg.StateGraph(S)
    g.add_node("bot", lambda s: {"note": f"{len(s['messages'])} messages"})
    g.add_edge(lg.START, "bot")
    return g.compile().invoke({"note": ""})


@case
def messages_state_keeps_thread_and_updates_by_id(lg: Library) -> Any:
    g = lg.StateGraph(lg.MessagesState)
    g.add_node("bot", lambda s: {"messages": [AIMessage(f"n={len(s['messages'])}", id="bot")]})
    g.add_edge(lg.START, "bot")
    app = g.compile(checkpointer=lg.saver())
    app.invoke({"messages": [HumanMessage("one", id="h1")]}, cfg())
    return app.invoke({"messages": [HumanMessage("two", id="h2")]}, cfg())


test_parity = case.test()
