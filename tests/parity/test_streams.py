"""Stream modes: values, updates, custom, lists of modes, tasks, checkpoints, debug,
messages, and what streams show when a run continues or a step changes nothing."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage

from ._harness import Cases, Library, cfg, chunks, norm, run_async

case = Cases("streams")


class S(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    n: int


def _line(lg: Library, **kw: Any) -> Any:
    g = lg.StateGraph(S)
    g.add_node("a", lambda s: {"log": ["a"], "n": s.get("n", 0) + 1})
    g.add_node("b", lambda s: {"log": ["b"]})
    g.add_edge(lg.START, "a")
    g.add_edge("a", "b")
    return g.compile(**kw)


@case
def values_mode(lg: Library) -> Any:
    return chunks(_line(lg).stream({"log": []}, stream_mode="values"))


@case
def updates_mode(lg: Library) -> Any:
    return chunks(_line(lg).stream({"log": []}, stream_mode="updates"))


@case
def default_mode_is_updates(lg: Library) -> Any:
    return chunks(_line(lg).stream({"log": []}))


@case
def list_of_modes_gives_pairs(lg: Library) -> Any:
    return chunks(_line(lg).stream({"log": []}, stream_mode=["updates", "values"]))


@case
def custom_mode_with_get_stream_writer(lg: Library) -> Any:
    def talk(s: S) -> S:
        writer = lg.get_stream_writer()
        writer({"progress": 1})
        writer("plain text")
        return {"log": ["talk"]}

    g = lg.StateGraph(S)
    g.add_node("talk", talk)
    g.add_edge(lg.START, "talk")
    return chunks(g.compile().stream({"log": []}, stream_mode="custom"))


@case
def custom_mode_with_writer_argument(lg: Library) -> Any:
    def talk(s: S, writer: lg.StreamWriter) -> S:  # type: ignore[name-defined]
        writer({"step": "one"})
        return {"log": ["talk"]}

    talk.__annotations__["writer"] = lg.StreamWriter
    g = lg.StateGraph(S)
    g.add_node("talk", talk)
    g.add_edge(lg.START, "talk")
    return chunks(g.compile().stream({"log": []}, stream_mode="custom"))


@case
def custom_and_updates_together(lg: Library) -> Any:
    def talk(s: S) -> S:
        lg.get_stream_writer()("hello")
        return {"log": ["talk"]}

    g = lg.StateGraph(S)
    g.add_node("talk", talk)
    g.add_edge(lg.START, "talk")
    return chunks(g.compile().stream({"log": []}, stream_mode=["custom", "updates"]))


@case
def custom_from_send_tasks(lg: Library) -> Any:
    def work(x: int) -> S:
        lg.get_stream_writer()(f"item {x}")
        return {"log": [str(x)]}

    g = lg.StateGraph(S)
    g.add_node("fan", lambda s: {})
    g.add_node("work", work)
    g.add_edge(lg.START, "fan")
    g.add_conditional_edges("fan", lambda s: [lg.Send("work", i) for i in range(3)])
    return sorted(chunks(g.compile().stream({"log": []}, stream_mode="custom")))


@case
def updates_of_node_returning_none(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("quiet", lambda s: None)
    g.add_node("b", lambda s: {"log": ["b"]})
    g.add_edge(lg.START, "quiet")
    g.add_edge("quiet", "b")
    return chunks(g.compile().stream({"log": []}, stream_mode="updates"))


@case
def values_after_step_that_changed_nothing(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("quiet", lambda s: None)
    g.add_node("b", lambda s: {"log": ["b"]})
    g.add_edge(lg.START, "quiet")
    g.add_edge("quiet", "b")
    return chunks(g.compile().stream({"log": []}, stream_mode="values"))


@case
def values_on_invoke_none_continuation(lg: Library) -> Any:
    app = _line(lg, checkpointer=lg.saver(), interrupt_after=["a"])
    list(app.stream({"log": []}, cfg()))
    return chunks(app.stream(None, cfg(), stream_mode="values"))


@case
def values_on_time_travel(lg: Library) -> Any:
    app = _line(lg, checkpointer=lg.saver())
    app.invoke({"log": []}, cfg())
    past = next(s for s in app.get_state_history(cfg()) if s.next == ("b",))
    return chunks(app.stream(None, past.config, stream_mode="values"))


@case
def updates_on_time_travel(lg: Library) -> Any:
    app = _line(lg, checkpointer=lg.saver())
    app.invoke({"log": []}, cfg())
    past = next(s for s in app.get_state_history(cfg()) if s.next == ("b",))
    return chunks(app.stream(None, past.config, stream_mode="updates"))


@case
def astream_matches_stream(lg: Library) -> Any:
    async def go() -> list[Any]:
        return [norm(c) async for c in _line(lg).astream({"log": []}, stream_mode="values")]

    return run_async(go())


@case
def ainvoke_result(lg: Library) -> Any:
    return run_async(_line(lg).ainvoke({"log": [], "n": 5}))


@case
def stream_ends_with_error(lg: Library) -> Any:
    def bad(s: S) -> S:
        raise ZeroDivisionError("x")

    g = lg.StateGraph(S)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_node("bad", bad)
    g.add_edge(lg.START, "a")
    g.add_edge("a", "bad")
    return chunks(g.compile().stream({"log": []}, stream_mode="updates"))


def _task_event(chunk: Any) -> Any:
    """A tasks-mode event without its task id and triggers (LangGraph's internal channel
    names)."""
    return {k: v for k, v in chunk.items() if k not in ("id", "triggers")}


@case
def tasks_mode(lg: Library) -> Any:
    return [_task_event(c) for c in chunks(_line(lg).stream({"log": []}, stream_mode="tasks"))]


def _checkpoint_event(chunk: Any) -> Any:
    keep = {"values", "next", "metadata"}
    out = {k: v for k, v in chunk.items() if k in keep}
    meta = out.get("metadata") or {}
    out["metadata"] = {k: meta.get(k) for k in ("source", "step")}
    out["tasks"] = [{"name": t.get("name")} for t in chunk.get("tasks", [])]
    return out


@case
def checkpoints_mode(lg: Library) -> Any:
    app = _line(lg, checkpointer=lg.saver())
    return [
        _checkpoint_event(c)
        for c in chunks(app.stream({"log": []}, cfg(), stream_mode="checkpoints"))
    ]


@case
def debug_mode_event_types(lg: Library) -> Any:
    app = _line(lg, checkpointer=lg.saver())
    return [
        [c.get("type"), c.get("step")]
        for c in chunks(app.stream({"log": []}, cfg(), stream_mode="debug"))
    ]


def _chat(text: str) -> Any:
    return GenericFakeChatModel(messages=iter([AIMessage(content=text, id="m1")]))


class Msgs(TypedDict, total=False):
    answer: str


@case
def messages_mode_streams_llm_chunks(lg: Library) -> Any:
    model = _chat("hello big world")

    def call(s: Msgs) -> Msgs:
        return {"answer": model.invoke([HumanMessage("hi")]).content}

    g = lg.StateGraph(Msgs)
    g.add_node("call", call)
    g.add_edge(lg.START, "call")
    out = []
    for chunk, meta in g.compile().stream({"answer": ""}, stream_mode="messages"):
        out.append([chunk.content, meta.get("langgraph_node"), meta.get("langgraph_step")])
    return out


@case
def messages_mode_text_joined(lg: Library) -> Any:
    model = _chat("one two three")

    def call(s: Msgs) -> Msgs:
        return {"answer": model.invoke([HumanMessage("hi")]).content}

    g = lg.StateGraph(Msgs)
    g.add_node("call", call)
    g.add_edge(lg.START, "call")
    parts = [c.content for c, _ in g.compile().stream({"answer": ""}, stream_mode="messages")]
    return "".join(parts)


@case
def stream_mode_string_versus_list_of_one(lg: Library) -> Any:
    return chunks(_line(lg).stream({"log": []}, stream_mode=["values"]))


@case
def invoke_with_stream_mode_updates(lg: Library) -> Any:
    return norm(_line(lg).invoke({"log": []}, stream_mode="updates"))


test_parity = case.test()
