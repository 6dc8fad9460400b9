"""LangGraph's checkpointer classes keep threads in Orca's stores."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any, TypedDict

import pytest

import orca.errors
from orca.compat.langgraph.checkpoint.memory import InMemorySaver, MemorySaver
from orca.compat.langgraph.checkpoint.sqlite import SqliteSaver
from orca.compat.langgraph.graph import START, StateGraph
from orca.compat.langgraph.types import Command, interrupt


class State(TypedDict):
    draft: str
    verdict: str


def _review(state: State) -> dict[str, Any]:
    return {"verdict": str(interrupt({"draft": state["draft"]}))}


def _app(checkpointer: Any) -> Any:
    g = StateGraph(State)
    g.add_node("review", _review)
    g.add_edge(START, "review")
    return g.compile(checkpointer=checkpointer)


def _pause_and_resume(checkpointer: Any, thread: str = "t1") -> dict[str, Any]:
    app = _app(checkpointer)
    config = {"configurable": {"thread_id": thread}}
    paused = app.invoke({"draft": "hello"}, config)
    assert paused["__interrupt__"][0].value == {"draft": "hello"}
    result: dict[str, Any] = app.invoke(Command(resume="ship it"), config)
    return result


def test_memory_savers_pause_and_resume() -> None:
    assert MemorySaver is InMemorySaver
    assert _pause_and_resume(InMemorySaver()) == {"draft": "hello", "verdict": "ship it"}


def test_sqlite_saver_from_conn_string_keeps_threads_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints.db"
    with SqliteSaver.from_conn_string(str(path)) as saver:
        saver.setup()
        assert _pause_and_resume(saver)["verdict"] == "ship it"
    with SqliteSaver.from_conn_string(str(path)) as again:  # another process would see it
        state = _app(again).get_state({"configurable": {"thread_id": "t1"}})
    assert state.values == {"draft": "hello", "verdict": "ship it"}
    assert state.next == ()


def test_sqlite_saver_in_memory_and_over_a_connection(tmp_path: Path) -> None:
    with SqliteSaver.from_conn_string(":memory:") as saver:
        scratch = Path(saver.path).parent
        assert _pause_and_resume(saver)["verdict"] == "ship it"
    assert not scratch.exists()  # the temporary file went with the saver
    conn = sqlite3.connect(tmp_path / "mine.db", check_same_thread=False)
    saver = SqliteSaver(conn)
    try:
        assert saver.path == str(tmp_path / "mine.db")
        assert _pause_and_resume(saver)["verdict"] == "ship it"
    finally:
        saver.close()
        conn.close()


def test_savers_refuse_what_orca_does_not_take() -> None:
    with pytest.raises(orca.errors.InvalidInputError, match="serde"):
        InMemorySaver(serde=object())
    with (
        pytest.raises(orca.errors.InvalidInputError, match="file path"),
        SqliteSaver.from_conn_string(""),
    ):
        pass
    with pytest.raises(orca.errors.InvalidInputError, match="sqlite3"):
        SqliteSaver(object())


def test_postgres_saver_from_conn_string(pg_url: str) -> None:
    from orca.compat.langgraph.checkpoint.postgres import PostgresSaver

    with PostgresSaver.from_conn_string(pg_url) as saver:
        saver.setup()
        assert _pause_and_resume(saver, "pg")["verdict"] == "ship it"
        history = list(_app(saver).get_state_history({"configurable": {"thread_id": "pg"}}))
    assert [s.metadata["step"] for s in history if s.metadata] == [1, 0]


def test_async_calls_on_a_sqlite_saver(tmp_path: Path) -> None:
    async def go() -> Any:
        with SqliteSaver.from_conn_string(str(tmp_path / "a.db")) as saver:
            app = _app(saver)
            config = {"configurable": {"thread_id": "a"}}
            await app.ainvoke({"draft": "x"}, config)
            chunks = [c async for c in app.astream(Command(resume="ok"), config)]
            state = await app.aget_state(config)
            return chunks, state.values

    chunks, values = asyncio.run(go())
    assert chunks == [{"review": {"verdict": "ok"}}]
    assert values == {"draft": "x", "verdict": "ok"}


def test_async_sqlite_saver_as_langgraphs_async_programs_open_it(tmp_path: Path) -> None:
    from orca.compat.langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    async def go() -> Any:
        async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "aio.db")) as saver:
            await saver.setup()
            app = _app(saver)
            config = {"configurable": {"thread_id": "aio"}}
            await app.ainvoke({"draft": "x"}, config)
            return await app.ainvoke(Command(resume="fine"), config)

    assert asyncio.run(go()) == {"draft": "x", "verdict": "fine"}


def test_async_postgres_saver(pg_url: str) -> None:
    from orca.compat.langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    async def go() -> Any:
        async with AsyncPostgresSaver.from_conn_string(pg_url) as saver:
            await saver.setup()
            app = _app(saver)
            config = {"configurable": {"thread_id": "apg"}}
            await app.ainvoke({"draft": "y"}, config)
            return await app.ainvoke(Command(resume="good"), config)

    assert asyncio.run(go()) == {"draft": "y", "verdict": "good"}
