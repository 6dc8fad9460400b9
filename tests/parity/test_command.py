"""Command: goto with update, lists of gotos, END, Command as input, update shapes,
Command alongside static edges."""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

from ._harness import Cases, Library, attempt, cfg, chunks, state

case = Cases("command")


class S(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    flag: str


def _router(lg: Library, command: Any, *, static: bool = False, **kw: Any) -> Any:
    g = lg.StateGraph(S)
    g.add_node("route", lambda s: command(s) if callable(command) else command)
    for name in ["a", "b"]:
        g.add_node(name, lambda s, name=name: {"log": [f"{name}:{s.get('flag', '-')}"]})
    g.add_edge(lg.START, "route")
    if static:
        g.add_edge("route", "a")
    return g.compile(**kw)


@case
def goto_with_update(lg: Library) -> Any:
    return _router(lg, lg.Command(goto="b", update={"flag": "set"})).invoke({"log": []})


@case
def goto_list(lg: Library) -> Any:
    return _router(lg, lg.Command(goto=["b", "a"])).invoke({"log": []})


@case
def goto_end(lg: Library) -> Any:
    return _router(lg, lg.Command(goto=lg.END, update={"flag": "x"})).invoke({"log": []})


@case
def update_only_no_goto(lg: Library) -> Any:
    return _router(lg, lg.Command(update={"log": ["routed"]})).invoke({"log": []})


@case
def command_and_static_edge_both_followed(lg: Library) -> Any:
    return _router(lg, lg.Command(goto="b"), static=True).invoke({"log": []})


@case
def update_as_list_of_pairs(lg: Library) -> Any:
    cmd = lg.Command(update=[("log", ["p1"]), ("log", ["p2"]), ("flag", "f")], goto="a")
    return _router(lg, cmd).invoke({"log": []})


@case
def update_to_reducer_key(lg: Library) -> Any:
    return _router(lg, lg.Command(update={"log": ["u"]}, goto="a")).invoke({"log": ["start"]})


@case
def goto_unknown_node(lg: Library) -> Any:
    return attempt(_router(lg, lg.Command(goto="ghost")).invoke, {"log": []})


@case
def command_updates_stream(lg: Library) -> Any:
    app = _router(lg, lg.Command(goto="a", update={"flag": "s"}))
    return chunks(app.stream({"log": []}, stream_mode="updates"))


@case
def command_chosen_by_state(lg: Library) -> Any:
    def pick(s: S) -> Any:
        return lg.Command(goto="a" if s["flag"] == "left" else "b")

    app = _router(lg, pick)
    return [app.invoke({"log": [], "flag": "left"}), app.invoke({"log": [], "flag": "right"})]


@case
def command_with_destinations_annotation(lg: Library) -> Any:
    def route(s: S) -> Any:
        return lg.Command(goto="b", update={"flag": "ann"})

    route.__annotations__["return"] = lg.Command[Literal["a", "b"]]
    g = lg.StateGraph(S)
    g.add_node("route", route)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_node("b", lambda s: {"log": [f"b:{s['flag']}"]})
    g.add_edge(lg.START, "route")
    return g.compile().invoke({"log": []})


@case
def command_as_input_update(lg: Library) -> Any:
    app = _router(lg, lg.Command(goto="a"), checkpointer=lg.saver())
    app.invoke({"log": []}, cfg())
    return attempt(app.invoke, lg.Command(update={"flag": "via input"}), cfg())


@case
def command_as_input_goto(lg: Library) -> Any:
    app = _router(lg, lg.Command(goto="a"), checkpointer=lg.saver())
    app.invoke({"log": []}, cfg())
    out = attempt(app.invoke, lg.Command(goto="b", update={"flag": "g"}), cfg())
    return {"out": out, "state": state(app, cfg())}


@case
def command_loop_until_done(lg: Library) -> Any:
    def loop(s: S) -> Any:
        if len(s["log"]) >= 3:
            return lg.Command(goto=lg.END)
        return lg.Command(goto="loop", update={"log": [str(len(s["log"]))]})

    g = lg.StateGraph(S)
    g.add_node("loop", loop)
    g.add_edge(lg.START, "loop")
    return g.compile().invoke({"log": []})


@case
def command_fields(lg: Library) -> Any:
    cmd = lg.Command(goto="x", update={"k": 1}, resume="r")
    return [cmd.goto, cmd.update, cmd.resume, cmd.graph, lg.Command.PARENT]


@case
def resume_with_update_sets_state_before_node(lg: Library) -> Any:
    def ask(s: S) -> S:
        answer = lg.interrupt("q")
        return {"log": [f"{answer} with flag {s.get('flag')}"]}

    g = lg.StateGraph(S)
    g.add_node("ask", ask)
    g.add_edge(lg.START, "ask")
    app = g.compile(checkpointer=lg.saver())
    app.invoke({"log": []}, cfg())
    return app.invoke(lg.Command(resume="yes", update={"flag": "edited"}), cfg())


@case
def parallel_commands_goto_same_node(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("x", lambda s: lg.Command(goto="z", update={"log": ["x"]}))
    g.add_node("y", lambda s: lg.Command(goto="z", update={"log": ["y"]}))
    g.add_node("z", lambda s: {"log": ["z"]})
    g.add_edge(lg.START, "x")
    g.add_edge(lg.START, "y")
    return g.compile().invoke({"log": []})


test_parity = case.test()
