"""LangChain pieces inside a LangGraph program: chat models see the node's config,
runnables are nodes, and the prebuilt ToolNode / tools_condition run a ReAct loop."""

from __future__ import annotations

import importlib
import types
from typing import Annotated, Any, TypedDict

import pytest
from tests.compat._both import langgraph_names, orca_names

messages = importlib.import_module("langchain_core.messages")
fake = importlib.import_module("langchain_core.language_models.fake_chat_models")
callbacks = importlib.import_module("langchain_core.callbacks")
runnables = importlib.import_module("langchain_core.runnables")
tools = importlib.import_module("langchain_core.tools")
add_messages = importlib.import_module("langgraph.graph.message").add_messages


class Chat(TypedDict):
    messages: Annotated[list[Any], add_messages]


@tools.tool
def multiply(a: int, b: int) -> int:
    """Multiply a and b."""
    return a * b


@tools.tool
def explode(reason: str) -> str:
    """Always fails."""
    raise RuntimeError(reason)


def _call(name: str, args: dict[str, Any], call_id: str) -> dict[str, Any]:
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


def _agent(lg: types.SimpleNamespace, answers: list[Any], **tool_options: Any) -> Any:
    model = fake.FakeMessagesListChatModel(responses=answers)

    def agent(state: Chat) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    g = lg.StateGraph(Chat)
    g.add_node("agent", agent)
    g.add_node(lg.prebuilt.ToolNode([multiply, explode], **tool_options))
    g.add_edge(lg.START, "agent")
    g.add_conditional_edges("agent", lg.prebuilt.tools_condition)
    g.add_edge("tools", "agent")
    return g.compile(checkpointer=lg.InMemorySaver())


def _transcript(result: dict[str, Any]) -> list[tuple[str, Any, Any, Any]]:
    return [
        (
            type(m).__name__,
            m.content,
            getattr(m, "tool_call_id", None),
            getattr(m, "status", None),
        )
        for m in result["messages"]
    ]


def test_a_react_agent_runs_its_tools_and_answers() -> None:
    def program(lg: types.SimpleNamespace) -> Any:
        answers = [
            messages.AIMessage(
                "",
                id="ai1",
                tool_calls=[
                    _call("multiply", {"a": 6, "b": 7}, "c1"),
                    _call("multiply", {"a": 2, "b": 3}, "c2"),
                ],
            ),
            messages.AIMessage("42 and 6", id="ai2"),
        ]
        app = _agent(lg, answers)
        config = {"configurable": {"thread_id": "react"}}
        result = app.invoke({"messages": [messages.HumanMessage("go", id="h1")]}, config)
        steps = [list(c) for c in app.stream(None, config)]  # finished: nothing runs
        return _transcript(result), steps

    assert program(orca_names()) == program(langgraph_names())


def test_tool_errors_are_answered_or_raised_as_langgraph_does() -> None:
    def program(lg: types.SimpleNamespace, **options: Any) -> Any:
        answers = [
            messages.AIMessage(
                "",
                id="ai1",
                tool_calls=[
                    _call("multiply", {"a": "six"}, "bad-args"),
                    _call("nosuch", {}, "unknown"),
                    *([_call("explode", {"reason": "boom"}, "raises")] if options else []),
                ],
            ),
            messages.AIMessage("sorry", id="ai2"),
        ]
        app = _agent(lg, answers, **options)
        config = {"configurable": {"thread_id": "errors"}}
        try:
            result = app.invoke({"messages": [messages.HumanMessage("go", id="h1")]}, config)
        except Exception as exc:
            return type(exc).__name__
        return _transcript(result)

    assert program(orca_names()) == program(langgraph_names())
    assert program(orca_names(), handle_tool_errors=True) == program(
        langgraph_names(), handle_tool_errors=True
    )
    assert program(orca_names(), handle_tool_errors=False) == program(
        langgraph_names(), handle_tool_errors=False
    )


class _Seen(callbacks.BaseCallbackHandler):  # type: ignore[misc]
    def __init__(self) -> None:
        self.nodes: list[Any] = []

    def on_chat_model_start(self, serialized: Any, msgs: Any, **kwargs: Any) -> None:
        metadata = kwargs.get("metadata") or {}
        self.nodes.append((metadata.get("langgraph_node"), metadata.get("thread_id")))


def test_a_chat_model_in_a_node_sees_the_callers_callbacks_and_the_nodes_metadata() -> None:
    def program(lg: types.SimpleNamespace) -> Any:
        model = fake.FakeMessagesListChatModel(responses=[messages.AIMessage("hi", id="a")])

        def agent(state: Chat) -> dict[str, Any]:
            return {"messages": [model.invoke(state["messages"])]}

        g = lg.StateGraph(Chat)
        g.add_node("agent", agent)
        g.add_edge(lg.START, "agent")
        seen = _Seen()
        config = {"configurable": {"thread_id": "cb"}, "callbacks": [seen]}
        g.compile(checkpointer=lg.InMemorySaver()).invoke(
            {"messages": [messages.HumanMessage("x", id="h")]}, config
        )
        return seen.nodes

    assert program(orca_names()) == program(langgraph_names()) == [("agent", "cb")]


def test_a_langchain_runnable_is_a_node() -> None:
    def program(lg: types.SimpleNamespace) -> Any:
        shout = runnables.RunnableLambda(
            lambda s: {"messages": [messages.AIMessage(s["messages"][-1].content.upper())]}
        )
        g = lg.StateGraph(Chat)
        g.add_node("shout", shout)
        g.add_edge(lg.START, "shout")
        out = g.compile().invoke({"messages": [messages.HumanMessage("hey", id="h")]})
        return [m.content for m in out["messages"]]

    assert program(orca_names()) == program(langgraph_names()) == ["hey", "HEY"]


def _messages_program(lg: types.SimpleNamespace, mode: Any, *, run_async: bool) -> Any:
    import asyncio

    streaming = fake.GenericFakeChatModel(
        messages=iter([messages.AIMessage("hello big world", id="m1")])
    )
    plain = fake.FakeMessagesListChatModel(responses=[messages.AIMessage("plain", id="m2")])

    async def async_agent(state: Chat) -> dict[str, Any]:
        return {"messages": [await streaming.ainvoke(state["messages"])]}

    def agent(state: Chat) -> dict[str, Any]:  # LangGraph runs async nodes only async
        return {"messages": [streaming.invoke(state["messages"])]}

    def other(state: Chat) -> dict[str, Any]:
        answer = plain.invoke(state["messages"])
        return {"messages": [answer, messages.AIMessage("written", id="m3")]}

    g = lg.StateGraph(Chat)
    g.add_node("agent", async_agent if run_async else agent)
    g.add_node("other", other)
    g.add_edge(lg.START, "agent")
    g.add_edge("agent", "other")
    app = g.compile()
    given = {"messages": [messages.HumanMessage("hi", id="h")]}
    if run_async:

        async def collect() -> list[Any]:
            return [c async for c in app.astream(given, stream_mode=mode)]

        chunks = asyncio.run(collect())
    else:
        chunks = list(app.stream(given, stream_mode=mode))
    return [_shown(c) for c in chunks]


def _shown(chunk: Any) -> Any:
    if isinstance(chunk, tuple) and len(chunk) == 2 and isinstance(chunk[0], str):
        return (chunk[0], _shown(chunk[1]))
    if isinstance(chunk, tuple):  # (message, metadata)
        message, metadata = chunk
        hidden = {"checkpoint_ns", "langgraph_checkpoint_ns"}
        return (
            type(message).__name__,
            message.content,
            message.id,
            {k: v for k, v in metadata.items() if k not in hidden},
        )
    return {k: [m.content for m in v["messages"]] if v else v for k, v in chunk.items()}


@pytest.mark.parametrize("run_async", [False, True])
def test_messages_mode_streams_model_tokens_and_returned_messages(run_async: bool) -> None:
    theirs = _messages_program(langgraph_names(), "messages", run_async=run_async)
    ours = _messages_program(orca_names(), "messages", run_async=run_async)
    assert ours == theirs
    assert [c[1] for c in ours] == ["hello", " ", "big", " ", "world", "plain", "written"]


def test_messages_come_before_their_steps_updates() -> None:
    theirs = _messages_program(langgraph_names(), ["messages", "updates"], run_async=False)
    ours = _messages_program(orca_names(), ["messages", "updates"], run_async=False)
    assert ours == theirs


def test_a_node_resumed_after_interrupt_calls_its_model_again_only_on_langgraph() -> None:
    # a human-in-the-loop node asks its model, then waits for approval; resumed, the
    # node runs again from its start: LangGraph calls (and pays) again, Orca answers
    # the call from the task's records (a difference on purpose: docs/langgraph.md)
    def program(lg: types.SimpleNamespace) -> tuple[Any, int]:
        asked: list[str] = []

        class Counted(fake.FakeListChatModel):  # type: ignore[misc,name-defined]
            def _call(self, messages: Any, *args: Any, **kwargs: Any) -> str:
                asked.append(messages[-1].content)
                return str(super()._call(messages, *args, **kwargs))

        model = Counted(responses=["draft one", "draft two"])

        def write(state: Chat) -> dict[str, Any]:
            draft = model.invoke(state["messages"])
            verdict = lg.interrupt({"draft": draft.content})
            return {"messages": [draft, messages.HumanMessage(verdict)]}

        g = lg.StateGraph(Chat)
        g.add_node("write", write)
        g.add_edge(lg.START, "write")
        app = g.compile(checkpointer=lg.InMemorySaver())
        config = {"configurable": {"thread_id": "t"}}
        paused = app.invoke({"messages": [messages.HumanMessage("write")]}, config)
        assert paused["__interrupt__"][0].value == {"draft": "draft one"}
        done = app.invoke(lg.Command(resume="approved"), config)
        return [m.content for m in done["messages"]], len(asked)

    theirs, their_calls = program(langgraph_names())
    ours, our_calls = program(orca_names())
    assert their_calls == 2
    assert theirs == ["write", "draft two", "approved"]  # their resumed node got a new draft
    assert our_calls == 1
    assert ours == ["write", "draft one", "approved"]  # ours: the draft that was approved
