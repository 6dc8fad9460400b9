"""Threads: get_state, update_state (as_node, reducers, while paused, on an empty
thread), get_state_history, and time travel (replay and fork)."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from ._harness import Cases, Library, attempt, cfg, chunks, history, state

case = Cases("update_state")


class S(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    note: str


def _line(lg: Library, **kw: Any) -> Any:
    g = lg.StateGraph(S)
    for name in ["a", "b", "c"]:
        g.add_node(name, lambda s, name=name: {"log": [name]})
    g.add_edge(lg.START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", "c")
    return g.compile(checkpointer=lg.saver(), **kw)


@case
def get_state_of_unknown_thread(lg: Library) -> Any:
    return state(_line(lg), cfg("nobody"))


@case
def get_state_after_run(lg: Library) -> Any:
    app = _line(lg)
    app.invoke({"log": []}, cfg())
    return state(app, cfg())


@case
def update_state_after_run(lg: Library) -> Any:
    app = _line(lg)
    app.invoke({"log": []}, cfg())
    app.update_state(cfg(), {"note": "edited", "log": ["x"]})
    return state(app, cfg())


@case
def update_state_as_node_sets_next(lg: Library) -> Any:
    app = _line(lg)
    app.invoke({"log": []}, cfg())
    app.update_state(cfg(), {"log": ["as a"]}, as_node="a")
    return {"state": state(app, cfg()), "then": app.invoke(None, cfg())}


@case
def update_state_on_empty_thread(lg: Library) -> Any:
    app = _line(lg)
    app.update_state(cfg(), {"note": "first", "log": ["seed"]})
    return {"state": state(app, cfg()), "history": history(app, cfg())}


@case
def update_state_on_empty_thread_as_start(lg: Library) -> Any:
    app = _line(lg)
    app.update_state(cfg(), {"log": ["seed"]}, as_node=lg.START)
    return {"state": state(app, cfg()), "then": app.invoke(None, cfg())}


@case
def update_state_then_continue(lg: Library) -> Any:
    app = _line(lg, interrupt_before=["b"])
    app.invoke({"log": []}, cfg())
    app.update_state(cfg(), {"note": "approved"})
    return {"state": state(app, cfg()), "final": app.invoke(None, cfg())}


@case
def update_state_while_interrupt_pending(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("ask", lambda s: {"log": [f"{lg.interrupt('ok?')} saw {s.get('note')}"]})
    g.add_edge(lg.START, "ask")
    app = g.compile(checkpointer=lg.saver())
    app.invoke({"log": []}, cfg())
    app.update_state(cfg(), {"note": "edited"})
    mid = state(app, cfg())
    return {"mid": mid, "final": app.invoke(lg.Command(resume="yes"), cfg())}


@case
def update_state_unknown_node(lg: Library) -> Any:
    app = _line(lg)
    app.invoke({"log": []}, cfg())
    return attempt(app.update_state, cfg(), {"note": "x"}, as_node="ghost")


@case
def update_state_unknown_key(lg: Library) -> Any:
    app = _line(lg)
    app.invoke({"log": []}, cfg())
    outcome = attempt(app.update_state, cfg(), {"ghost": 1})
    return {"outcome": "error" in outcome, "values": state(app, cfg())["values"]}


@case
def update_state_returns_config_for_thread(lg: Library) -> Any:
    app = _line(lg)
    app.invoke({"log": []}, cfg())
    out = app.update_state(cfg(), {"note": "n"})
    return sorted(k for k in out["configurable"] if k in ("thread_id", "checkpoint_ns"))


@case
def history_after_update(lg: Library) -> Any:
    app = _line(lg)
    app.invoke({"log": []}, cfg())
    app.update_state(cfg(), {"note": "n"})
    return history(app, cfg())[:2]


@case
def history_limit(lg: Library) -> Any:
    app = _line(lg)
    app.invoke({"log": []}, cfg())
    return [snap.metadata["step"] for snap in app.get_state_history(cfg(), limit=2)]


@case
def replay_from_past_checkpoint(lg: Library) -> Any:
    calls: list[str] = []
    g = lg.StateGraph(S)
    for name in ["a", "b", "c"]:
        g.add_node(name, lambda s, name=name: calls.append(name) or {"log": [name]})
    g.add_edge(lg.START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", "c")
    app = g.compile(checkpointer=lg.saver())
    app.invoke({"log": []}, cfg())
    past = next(s for s in app.get_state_history(cfg()) if s.next == ("b",))
    calls.clear()
    final = app.invoke(None, past.config)
    return {"final": final, "rerun": calls, "history_len": len(history(app, cfg()))}


@case
def fork_with_update_state(lg: Library) -> Any:
    app = _line(lg)
    app.invoke({"log": []}, cfg())
    past = next(s for s in app.get_state_history(cfg()) if s.next == ("b",))
    forked = app.update_state(past.config, {"log": ["forked"]})
    final = app.invoke(None, forked)
    return {"final": final, "state": state(app, cfg())}


@case
def get_state_of_past_checkpoint(lg: Library) -> Any:
    app = _line(lg)
    app.invoke({"log": []}, cfg())
    past = next(s for s in app.get_state_history(cfg()) if s.next == ("c",))
    return state(app, past.config)


@case
def update_state_with_reducer_key_appends(lg: Library) -> Any:
    app = _line(lg)
    app.invoke({"log": []}, cfg())
    app.update_state(cfg(), {"log": ["u1"]})
    app.update_state(cfg(), {"log": ["u2"]})
    return state(app, cfg())["values"]


@case
def update_state_with_overwrite(lg: Library) -> Any:
    app = _line(lg)
    app.invoke({"log": []}, cfg())
    app.update_state(cfg(), {"log": lg.Overwrite(["only"])})
    return state(app, cfg())["values"]


@case
def update_state_as_last_node_then_invoke_none(lg: Library) -> Any:
    app = _line(lg)
    app.invoke({"log": []}, cfg())
    app.update_state(cfg(), {"log": ["late"]}, as_node="c")
    return {"next": state(app, cfg())["next"], "then": chunks(app.stream(None, cfg()))}


@case
def two_threads_are_separate(lg: Library) -> Any:
    app = _line(lg)
    app.invoke({"log": ["one"]}, cfg("1"))
    app.invoke({"log": ["two"]}, cfg("2"))
    return [state(app, cfg("1"))["values"], state(app, cfg("2"))["values"]]


@case
def invoke_without_thread_id(lg: Library) -> Any:
    return attempt(_line(lg).invoke, {"log": []})


@case
def bulk_update_state(lg: Library) -> Any:
    app = _line(lg)
    app.invoke({"log": []}, cfg())
    app.bulk_update_state(
        cfg(), [[lg.StateUpdate({"log": ["x"]}, "a")], [lg.StateUpdate({"note": "y"}, "b")]]
    )
    return state(app, cfg())


test_parity = case.test()
