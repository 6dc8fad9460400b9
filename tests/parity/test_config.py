"""The config dict and checkpointers: thread_id, checkpoint_id, recursion_limit,
configurable values, with_config, and SqliteSaver files (a LangGraph program's saver
mapped to Orca's store)."""

from __future__ import annotations

import operator
import tempfile
from pathlib import Path
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig

from ._harness import Cases, Library, attempt, cfg, chunks, history, state

case = Cases("config")


class S(TypedDict, total=False):
    log: Annotated[list[str], operator.add]


def _graph(lg: Library) -> Any:
    g = lg.StateGraph(S)
    for name in ["a", "b"]:
        g.add_node(name, lambda s, name=name: {"log": [name]})
    g.add_edge(lg.START, "a")
    g.add_edge("a", "b")
    return g


def _sqlite(lg: Library, fn: Any) -> Any:
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "threads.db")
        with lg.SqliteSaver.from_conn_string(path) as saver:
            return fn(_graph(lg).compile(checkpointer=saver), path)


@case
def sqlite_saver_run_and_state(lg: Library) -> Any:
    def go(app: Any, path: str) -> Any:
        out = app.invoke({"log": []}, cfg())
        return {"out": out, "state": state(app, cfg())}

    return _sqlite(lg, go)


@case
def sqlite_saver_history(lg: Library) -> Any:
    def go(app: Any, path: str) -> Any:
        app.invoke({"log": []}, cfg())
        return history(app, cfg())

    return _sqlite(lg, go)


@case
def sqlite_saver_thread_survives_reopening(lg: Library) -> Any:
    def go(app: Any, path: str) -> Any:
        app.invoke({"log": ["first"]}, cfg())
        with lg.SqliteSaver.from_conn_string(path) as again:
            reopened = _graph(lg).compile(checkpointer=again)
            return reopened.invoke({"log": ["second"]}, cfg())

    return _sqlite(lg, go)


@case
def sqlite_saver_interrupt_and_resume(lg: Library) -> Any:
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "threads.db")
        g = lg.StateGraph(S)
        g.add_node("ask", lambda s: {"log": [str(lg.interrupt("ok?"))]})
        g.add_edge(lg.START, "ask")
        with lg.SqliteSaver.from_conn_string(path) as saver:
            app = g.compile(checkpointer=saver)
            first = app.invoke({"log": []}, cfg())
            return {"first": first, "then": app.invoke(lg.Command(resume="yes"), cfg())}


@case
def checkpoint_id_reads_a_past_state(lg: Library) -> Any:
    app = _graph(lg).compile(checkpointer=lg.saver())
    app.invoke({"log": []}, cfg())
    past = next(s for s in app.get_state_history(cfg()) if s.next == ("b",))
    checkpoint_id = past.config["configurable"]["checkpoint_id"]
    config = {"configurable": {"thread_id": "t", "checkpoint_id": checkpoint_id}}
    return state(app, config)


@case
def recursion_limit_in_stream_config(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("spin", lambda s: {"log": ["s"]})
    g.add_edge(lg.START, "spin")
    g.add_edge("spin", "spin")
    return chunks(g.compile().stream({"log": []}, {"recursion_limit": 3}, stream_mode="updates"))


@case
def configurable_values_reach_nodes(lg: Library) -> Any:
    def node(s: S, config: RunnableConfig) -> S:
        return {
            "log": [
                f"{config['configurable'].get('model')}:{config['configurable'].get('thread_id')}"
            ]
        }

    g = lg.StateGraph(S)
    g.add_node("node", node)
    g.add_edge(lg.START, "node")
    app = g.compile(checkpointer=lg.saver())
    return app.invoke({"log": []}, {"configurable": {"thread_id": "x", "model": "small"}})


@case
def with_config_binds_defaults(lg: Library) -> Any:
    def node(s: S, config: RunnableConfig) -> S:
        return {"log": [str(config["configurable"].get("model"))]}

    g = lg.StateGraph(S)
    g.add_node("node", node)
    g.add_edge(lg.START, "node")
    bound = g.compile().with_config({"configurable": {"model": "bound"}})
    return bound.invoke({"log": []})


@case
def bad_recursion_limit(lg: Library) -> Any:
    return attempt(_graph(lg).compile().invoke, {"log": []}, {"recursion_limit": 0})


@case
def thread_id_as_int(lg: Library) -> Any:
    app = _graph(lg).compile(checkpointer=lg.saver())
    app.invoke({"log": []}, {"configurable": {"thread_id": 7}})
    return state(app, {"configurable": {"thread_id": 7}})["values"]


test_parity = case.test()
