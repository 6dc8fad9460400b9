"""Send: map-reduce fan-out, what a Send task sees, Sends from Command, empty fan-outs,
errors, interrupts inside Send tasks."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from ._harness import Cases, Library, attempt, cfg, chunks, state

case = Cases("send")


class S(TypedDict, total=False):
    subjects: list[str]
    jokes: Annotated[list[str], operator.add]
    best: str


class One(TypedDict):
    subject: str


def _map_reduce(lg: Library, make: Any = None, **kw: Any) -> Any:
    g = lg.StateGraph(S)
    g.add_node("plan", lambda s: {})
    g.add_node("joke", make or (lambda x: {"jokes": [f"joke about {x['subject']}"]}))
    g.add_node("pick", lambda s: {"best": max(s["jokes"], default="none")})
    g.add_edge(lg.START, "plan")
    g.add_conditional_edges(
        "plan", lambda s: [lg.Send("joke", {"subject": x}) for x in s["subjects"]]
    )
    g.add_edge("joke", "pick")
    return g.compile(**kw)


@case
def map_reduce(lg: Library) -> Any:
    return _map_reduce(lg).invoke({"subjects": ["cats", "dogs", "ants"]})


@case
def map_reduce_updates_stream(lg: Library) -> Any:
    out = chunks(_map_reduce(lg).stream({"subjects": ["b", "a"]}, stream_mode="updates"))
    return sorted(out, key=str)


@case
def send_task_sees_only_payload(lg: Library) -> Any:
    def joke(x: Any) -> S:
        return {"jokes": [",".join(sorted(x))]}

    return _map_reduce(lg, joke).invoke({"subjects": ["a"], "jokes": ["old"]})


@case
def empty_fan_out_runs_nothing(lg: Library) -> Any:
    return _map_reduce(lg).invoke({"subjects": []})


@case
def send_payload_not_a_dict(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("plan", lambda s: {})
    g.add_node("w", lambda n: {"jokes": [str(n * 2)]})
    g.add_edge(lg.START, "plan")
    g.add_conditional_edges("plan", lambda s: [lg.Send("w", n) for n in (1, 2, 3)])
    return g.compile().invoke({"subjects": []})


@case
def send_from_start(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("joke", lambda x: {"jokes": [x["subject"]]})
    g.add_conditional_edges(
        lg.START, lambda s: [lg.Send("joke", {"subject": x}) for x in s["subjects"]]
    )
    return g.compile().invoke({"subjects": ["x", "y"]})


@case
def send_via_command_goto(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node(
        "plan", lambda s: lg.Command(goto=[lg.Send("joke", {"subject": x}) for x in s["subjects"]])
    )
    g.add_node("joke", lambda x: {"jokes": [x["subject"].upper()]})
    g.add_edge(lg.START, "plan")
    return g.compile().invoke({"subjects": ["q", "r"]})


@case
def send_to_unknown_node(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("plan", lambda s: {})
    g.add_edge(lg.START, "plan")
    g.add_conditional_edges("plan", lambda s: [lg.Send("ghost", {})])
    return attempt(g.compile().invoke, {"subjects": []})


@case
def send_to_end(lg: Library) -> Any:
    return attempt(lg.Send, lg.END, {})


@case
def send_repr_fields(lg: Library) -> Any:
    send = lg.Send("node", {"k": 1})
    return [send.node, send.arg, send == lg.Send("node", {"k": 1})]


@case
def sends_over_two_rounds(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("plan", lambda s: {})
    g.add_node("joke", lambda x: {"jokes": [x["subject"]]})
    g.add_node("again", lambda s: {})
    g.add_edge(lg.START, "plan")
    g.add_conditional_edges("plan", lambda s: [lg.Send("joke", {"subject": x}) for x in "ab"])
    g.add_edge("joke", "again")
    g.add_conditional_edges(
        "again",
        lambda s: (
            [lg.Send("joke", {"subject": x}) for x in "cd"] if len(s["jokes"]) < 4 else lg.END
        ),
    )
    return g.compile().invoke({"subjects": []})


@case
def send_task_failure(lg: Library) -> Any:
    def joke(x: One) -> S:
        if x["subject"] == "bad":
            raise ValueError("no joke")
        return {"jokes": [x["subject"]]}

    return attempt(_map_reduce(lg, joke).invoke, {"subjects": ["ok", "bad"]})


@case
def interrupt_inside_send_task(lg: Library) -> Any:
    def joke(x: One) -> S:
        return {"jokes": [f"{x['subject']}:{lg.interrupt(x['subject'])}"]}

    app = _map_reduce(lg, joke, checkpointer=lg.saver())
    first = app.invoke({"subjects": ["a", "b"]}, cfg())
    paused = state(app, cfg())
    ids = {}
    for task in app.get_state(cfg()).tasks:
        for intr in task.interrupts:
            ids[intr.id] = f"ok-{intr.value}"
    return {"first": first, "paused": paused, "final": app.invoke(lg.Command(resume=ids), cfg())}


@case
def send_to_node_with_input_schema(lg: Library) -> Any:
    def joke(x: One) -> S:
        return {"jokes": [f"{type(x).__name__}:{x['subject']}"]}

    g = lg.StateGraph(S)
    g.add_node("plan", lambda s: {})
    g.add_node("joke", joke, input_schema=One)
    g.add_edge(lg.START, "plan")
    g.add_conditional_edges("plan", lambda s: [lg.Send("joke", {"subject": "z"})])
    return g.compile().invoke({"subjects": []})


@case
def send_history_steps(lg: Library) -> Any:
    from ._harness import history

    app = _map_reduce(lg, checkpointer=lg.saver())
    app.invoke({"subjects": ["a", "b"]}, cfg())
    return history(app, cfg())


test_parity = case.test()
