"""The stream modes beyond values and updates: tasks, checkpoints, debug, custom."""

from __future__ import annotations

import operator
import types
from typing import Annotated, Any, TypedDict

from tests.compat._both import langgraph_names, masked, orca_names


class State(TypedDict):
    x: int
    log: Annotated[list[str], operator.add]


def _graph(lg: types.SimpleNamespace, *, checkpointer: bool = True) -> Any:
    def ask(state: State) -> dict[str, Any]:
        return {"log": [str(lg.interrupt("why?"))]}

    g = lg.StateGraph(State)
    g.add_node("a", lambda s: {"x": s["x"] + 1, "log": ["a"]})
    g.add_node("ask", ask)
    g.add_edge(lg.START, "a")
    g.add_edge("a", "ask")
    return g.compile(checkpointer=lg.InMemorySaver() if checkpointer else None)


def _run(lg: types.SimpleNamespace, mode: Any, thread: str = "t") -> list[Any]:
    app = _graph(lg)
    config = {"configurable": {"thread_id": thread}}
    return list(app.stream({"x": 0, "log": []}, config, stream_mode=mode))


def test_tasks_mode_shows_each_task_start_and_result() -> None:
    theirs = masked(_run(langgraph_names(), "tasks"))
    ours = masked(_run(orca_names(), "tasks"))
    assert ours == theirs


def test_checkpoints_mode_shows_each_saved_checkpoint() -> None:
    theirs = masked(_run(langgraph_names(), "checkpoints"))
    ours = masked(_run(orca_names(), "checkpoints"))
    # LangGraph also saves the input before applying it (step -1): Orca has no such one,
    # so its first checkpoint has no parent
    assert theirs[0]["metadata"]["step"] == -1
    assert ours[0]["parent_config"] is None
    assert ours[1:] == theirs[2:]
    assert {**ours[0], "parent_config": "*"} == {**theirs[1], "parent_config": "*"}


def test_debug_mode_wraps_tasks_and_checkpoints() -> None:
    theirs = masked(_run(langgraph_names(), "debug"))
    ours = masked(_run(orca_names(), "debug"))
    assert theirs[0]["payload"]["metadata"]["step"] == -1  # as in checkpoints mode
    ours[0]["payload"]["parent_config"] = theirs[1]["payload"]["parent_config"] = "*"
    assert ours == theirs[1:]


def test_several_modes_at_once_come_as_pairs_in_langgraphs_order() -> None:
    modes = ["updates", "tasks", "values"]
    theirs = masked(_run(langgraph_names(), modes))
    ours = masked(_run(orca_names(), modes))
    assert ours == theirs


def test_a_failed_task_shows_its_error_in_tasks_mode() -> None:
    def program(lg: types.SimpleNamespace) -> list[Any]:
        def boom(state: State) -> dict[str, Any]:
            raise ZeroDivisionError("no")

        g = lg.StateGraph(State)
        g.add_node("boom", boom)
        g.add_edge(lg.START, "boom")
        chunks = []
        try:
            for chunk in g.compile().stream({"x": 0, "log": []}, stream_mode="tasks"):
                chunks.append(chunk)
        except ZeroDivisionError:
            chunks.append("raised")
        return [repr(c["error"]) if "error" in c else c for c in masked(chunks[:-1])] + [chunks[-1]]

    assert program(orca_names()) == program(langgraph_names())


def test_history_names_each_steps_tasks_by_their_ids_and_keeps_answered_interrupts() -> None:
    def program(lg: types.SimpleNamespace) -> Any:
        app = _graph(lg)
        config = {"configurable": {"thread_id": "h"}}
        started = [
            c for c in app.stream({"x": 0, "log": []}, config, stream_mode="tasks") if "input" in c
        ]
        started += [
            c
            for c in app.stream(lg.Command(resume="ok"), config, stream_mode="tasks")
            if "input" in c
        ]
        history = [s for s in app.get_state_history(config) if s.metadata["step"] >= 0]
        ids = {c["name"]: c["id"] for c in started}
        shown = [
            [(t.name, t.id == ids[t.name], [i.value for i in t.interrupts]) for t in s.tasks]
            for s in history
        ]
        return shown, [s.next for s in history]

    assert program(orca_names()) == program(langgraph_names())
