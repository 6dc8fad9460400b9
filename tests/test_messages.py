"""``add_messages`` and ``MessagesState``: merged by id as LangGraph merges them, with
ids derived from the run instead of drawn at random, restored from checkpoints."""

from __future__ import annotations

import importlib
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from orca import END, START, SqliteCheckpointer, StateGraph
from orca.graph import MessagesState, add_messages
from orca.graph.messages import REMOVE_ALL_MESSAGES, RemoveMessage

lc = importlib.import_module("langchain_core.messages")
lg_message = importlib.import_module("langgraph.graph.message")

ROOT = Path(__file__).resolve().parent.parent


def _shape(messages: list[Any]) -> list[tuple[str, Any, str | None]]:
    """What two engines must agree on: type, content, and the ids that were given."""
    return [(m.type, m.content, m.id if not _derived(m.id) else None) for m in messages]


def _derived(mid: str) -> bool:
    return len(mid) == 36 and mid.count("-") == 4


CASES: list[tuple[str, Any, Any]] = [
    ("strings, tuples and dicts", [], ["hi", ("ai", "yo"), {"role": "user", "content": "x"}]),
    ("one message, not a list", "a", "b"),
    ("a given id is kept", [], [{"role": "assistant", "content": "y", "id": "z"}]),
    ("same id replaces", [lc.HumanMessage("a", id="1")], [lc.HumanMessage("a2", id="1")]),
    (
        "remove then re-add keeps the place",
        [lc.HumanMessage("a", id="1"), lc.HumanMessage("b", id="2")],
        [lc.RemoveMessage(id="1"), lc.HumanMessage("a2", id="1")],
    ),
    ("replace then remove", [lc.HumanMessage("a", id="1")], [("user", "q"), lc.RemoveMessage("1")]),
    (
        "remove all keeps what follows",
        [lc.HumanMessage("a", id="1")],
        [lc.HumanMessage("b", id="2"), lc.RemoveMessage(REMOVE_ALL_MESSAGES), ("ai", "c")],
    ),
    (
        "tool calls and roles",
        [],
        [
            {"role": "system", "content": "s"},
            {"role": "ai", "content": "", "tool_calls": [{"name": "f", "args": {}, "id": "c1"}]},
            {"role": "tool", "content": "r", "tool_call_id": "c1"},
        ],
    ),
    ("a chunk becomes a message", [], [lc.AIMessageChunk("part", id="k")]),
]


@pytest.mark.parametrize(("old", "new"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_add_messages_merges_as_langgraph_does(old: Any, new: Any) -> None:
    ours = add_messages(old, new)
    theirs = lg_message.add_messages(old, new)
    assert _shape(ours) == _shape(theirs)
    assert [type(m) for m in ours] == [type(m) for m in theirs]


def test_removing_an_unknown_id_fails_on_both_engines() -> None:
    with pytest.raises(ValueError, match="'nope'"):
        lg_message.add_messages([], [lc.RemoveMessage(id="nope")])
    with pytest.raises(ValueError, match="RemoveMessage\\('nope'\\) names no message"):
        add_messages([], [RemoveMessage("nope")])


def test_what_follows_a_clear_all_merges_as_any_write() -> None:
    # LangGraph 1.2 keeps both messages of a reused id, and the RemoveMessage itself,
    # when they follow a clear-all; Orca merges them as it merges any write
    new = [
        RemoveMessage(REMOVE_ALL_MESSAGES),
        lc.HumanMessage("a", id="1"),
        lc.HumanMessage("a2", id="1"),
        lc.HumanMessage("b", id="2"),
        lc.RemoveMessage(id="2"),
    ]
    assert _shape(add_messages([lc.HumanMessage("old", id="0")], new)) == [("human", "a2", "1")]
    assert len(lg_message.add_messages([], [lc.RemoveMessage(REMOVE_ALL_MESSAGES), *new[1:]])) == 4


def test_orca_remove_message_works_like_langchains() -> None:
    old = [lc.HumanMessage("a", id="1"), lc.HumanMessage("b", id="2")]
    assert _shape(add_messages(old, [RemoveMessage("2")])) == [("human", "a", "1")]
    assert add_messages(old, [RemoveMessage(REMOVE_ALL_MESSAGES)]) == []


def test_ids_are_derived_not_random_and_never_collide() -> None:
    first = add_messages([], ["same", "same"])
    again = add_messages([], ["same", "same"])
    assert [m.id for m in first] == [m.id for m in again]
    assert len({m.id for m in first}) == 2
    # a new message that looks like an old one still appends
    grown = add_messages(first, ["same"])
    assert len(grown) == 3
    assert len({m.id for m in grown}) == 3


def test_the_node_s_own_message_object_is_not_changed() -> None:
    mine = lc.AIMessage("hi")
    merged = add_messages([], [mine])
    assert mine.id is None
    assert merged[0].id is not None


def test_bad_messages_get_clear_errors() -> None:
    with pytest.raises(TypeError, match="cannot read a int as a message"):
        add_messages([], [42])
    with pytest.raises(ValueError, match="None as the new messages"):
        add_messages([], None)
    with pytest.raises(ValueError, match=r"'html'\) is not a known format"):
        add_messages(format="html")
    with pytest.raises(ValueError, match=r"'html'\) is not a known format"):
        add_messages([], ["x"], format="html")


def test_format_langchain_openai_normalises_contents_as_langgraph_does() -> None:
    new = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "see"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"},
                },
            ],
        }
    ]
    ours = add_messages(format="langchain-openai")([], new)
    theirs = lg_message.add_messages(format="langchain-openai")([], new)
    assert [(m.type, m.content) for m in ours] == [(m.type, m.content) for m in theirs]
    assert ours[0].content[1]["type"] == "image_url"


class Chat(MessagesState):
    turns: int


def _chat_graph(checkpointer: Any = None) -> Any:
    def bot(state: Chat) -> dict[str, Any]:
        said = len(state["messages"])
        return {
            "messages": [
                lc.AIMessage(
                    f"saw {said}", tool_calls=[{"name": "f", "args": {"x": 1}, "id": "c1"}]
                ),
                lc.ToolMessage("r", tool_call_id="c1"),
            ],
            "turns": said,
        }

    def prune(state: Chat) -> dict[str, Any]:
        return {"messages": [lc.RemoveMessage(id=state["messages"][0].id)]}

    g = StateGraph(Chat)
    g.add_node("bot", bot)
    g.add_node("prune", prune)
    g.add_edge(START, "bot")
    g.add_edge("bot", "prune")
    g.add_edge("prune", END)
    return g.compile(checkpointer=checkpointer)


def test_messages_state_runs_the_graph_langgraph_runs() -> None:
    from langgraph.graph import END as LG_END
    from langgraph.graph import START as LG_START
    from langgraph.graph import MessagesState as LGMessagesState
    from langgraph.graph import StateGraph as LGStateGraph

    class LGChat(LGMessagesState):
        turns: int

    ours = _chat_graph().invoke({"messages": [("user", "hi"), lc.HumanMessage("more", id="h2")]})
    g = LGStateGraph(LGChat)
    # the same nodes, on LangGraph
    for name, node in _chat_graph().spec.nodes.items():
        fn = node.callee.fn
        g.add_node(name, lambda s, fn=fn: fn(s))  # LangGraph reads a node's annotation
    g.add_edge(LG_START, "bot")
    g.add_edge("bot", "prune")
    g.add_edge("prune", LG_END)
    theirs = g.compile().invoke({"messages": [("user", "hi"), lc.HumanMessage("more", id="h2")]})
    assert _shape(ours["messages"]) == _shape(theirs["messages"])
    assert ours["turns"] == theirs["turns"] == 2


def test_langchain_messages_survive_a_sqlite_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    out = _chat_graph(SqliteCheckpointer(path)).invoke({"messages": ["hi"]}, thread_id="t")
    # a second graph over the same file reads what the first wrote
    restored = _chat_graph(SqliteCheckpointer(path)).get_state("t").values
    assert restored["messages"] == out["messages"]
    assert [type(m).__name__ for m in restored["messages"]] == ["AIMessage", "ToolMessage"]
    assert restored["messages"][0].tool_calls[0]["args"] == {"x": 1}


def test_a_fresh_process_restores_langchain_messages(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    _chat_graph(SqliteCheckpointer(path)).invoke({"messages": ["hi"]}, thread_id="t")
    # only Orca is imported: the checkpoint names the classes, serde imports them
    code = textwrap.dedent(
        f"""
        from orca import SqliteCheckpointer
        cp = SqliteCheckpointer({str(path)!r}).get("t", None)
        print([type(m).__name__ for m in cp.values["messages"]])
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT / "src")},
    )
    assert out.stdout.strip() == "['AIMessage', 'ToolMessage']"


def test_a_finished_task_s_removal_is_kept_while_a_sibling_fails(tmp_path: Path) -> None:
    class State(TypedDict):
        messages: Annotated[list[Any], add_messages]

    runs = {"drop": 0, "flaky": 0}

    def drop(state: State) -> dict[str, Any]:
        runs["drop"] += 1
        return {"messages": [RemoveMessage(state["messages"][0].id)]}

    def flaky(state: State) -> dict[str, Any]:
        runs["flaky"] += 1
        if runs["flaky"] == 1:
            raise RuntimeError("down")
        return {"messages": [{"role": "assistant", "content": "ok"}]}

    g = StateGraph(State)
    g.add_node("drop", drop)
    g.add_node("flaky", flaky)
    g.add_edge(START, "drop")
    g.add_edge(START, "flaky")
    path = tmp_path / "t.db"
    first = [{"role": "user", "content": "a", "id": "a"}, {"role": "user", "content": "b"}]
    with pytest.raises(Exception, match="down"):
        g.compile(checkpointer=SqliteCheckpointer(path)).invoke({"messages": first}, thread_id="t")
    # the removal "drop" wrote waits in the store, and comes back as a RemoveMessage
    out = g.compile(checkpointer=SqliteCheckpointer(path)).invoke(None, thread_id="t")
    assert [m.content for m in out["messages"]] == ["b", "ok"]
    assert runs == {"drop": 1, "flaky": 2}


def test_without_langchain_messages_are_dicts() -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["langchain_core"] = None  # as if it were not installed
        from orca.graph.messages import add_messages, RemoveMessage
        m = add_messages([], ["hi", ("assistant", "yo"), {"role": "tool", "content": "r", "x": 1}])
        print([(d["role"], d["content"], len(d["id"])) for d in m], m[2]["x"])
        print([d["content"] for d in add_messages(m, [RemoveMessage(m[0]["id"])])])
        print(add_messages(m, [{"role": "user", "content": "new", "id": m[1]["id"]}])[1]["content"])
        for bad in ([("wizard", "x")], [3]):
            try:
                add_messages([], bad)
            except (TypeError, ValueError) as exc:
                print(type(exc).__name__, str(exc)[:40].strip())
        try:
            add_messages(format="langchain-openai")([], ["x"])
        except RuntimeError as exc:
            print(str(exc)[:60])
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT / "src")},
    )
    assert out.stdout.splitlines() == [
        "[('user', 'hi', 36), ('assistant', 'yo', 36), ('tool', 'r', 36)] 1",
        "['yo', 'r']",
        "new",
        "ValueError unknown message role 'wizard'. Fix: use",
        "TypeError add_messages cannot read a int as a mess",
        "add_messages(format='langchain-openai') needs langchain_core",
    ]
