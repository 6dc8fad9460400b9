"""interrupt() and resume, static breakpoints (interrupt_before/after), what a paused
thread shows, and a step that pauses part-way."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from ._harness import (
    Cases,
    Library,
    attempt,
    by_step,
    cfg,
    chunks,
    history,
    interrupt_ids,
    run_async,
    state,
)

case = Cases("interrupts")


class S(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    answer: str


def _ask(lg: Library, calls: list[str] | None = None, prompt: Any = "name?") -> Any:
    def ask(s: S) -> S:
        if calls is not None:
            calls.append("ask")
        value = lg.interrupt(prompt)
        return {"answer": value, "log": ["asked"]}

    g = lg.StateGraph(S)
    g.add_node("before", lambda s: {"log": ["before"]})
    g.add_node("ask", ask)
    g.add_node("after", lambda s: {"log": [f"after:{s['answer']}"]})
    g.add_edge(lg.START, "before")
    g.add_edge("before", "ask")
    g.add_edge("ask", "after")
    return g.compile(checkpointer=lg.saver())


@case
def interrupt_result_of_invoke(lg: Library) -> Any:
    return _ask(lg).invoke({"log": []}, cfg())


@case
def resume_gives_value_to_interrupt(lg: Library) -> Any:
    app = _ask(lg)
    app.invoke({"log": []}, cfg())
    return app.invoke(lg.Command(resume="Ada"), cfg())


@case
def node_reruns_from_its_start_on_resume(lg: Library) -> Any:
    calls: list[str] = []
    app = _ask(lg, calls)
    app.invoke({"log": []}, cfg())
    app.invoke(lg.Command(resume="Ada"), cfg())
    return calls


@case
def state_while_paused(lg: Library) -> Any:
    app = _ask(lg, prompt={"q": "name?", "choices": [1, 2]})
    app.invoke({"log": []}, cfg())
    return state(app, cfg())


@case
def history_after_resume(lg: Library) -> Any:
    app = _ask(lg)
    app.invoke({"log": []}, cfg())
    app.invoke(lg.Command(resume="Ada"), cfg())
    return history(app, cfg())


@case
def updates_stream_shows_interrupt(lg: Library) -> Any:
    return chunks(_ask(lg).stream({"log": []}, cfg(), stream_mode="updates"))


@case
def values_stream_on_resume(lg: Library) -> Any:
    app = _ask(lg)
    app.invoke({"log": []}, cfg())
    return chunks(app.stream(lg.Command(resume="Bo"), cfg(), stream_mode="values"))


@case
def two_interrupts_in_one_node(lg: Library) -> Any:
    def two(s: S) -> S:
        first = lg.interrupt("first?")
        second = lg.interrupt("second?")
        return {"answer": f"{first}+{second}"}

    g = lg.StateGraph(S)
    g.add_node("two", two)
    g.add_edge(lg.START, "two")
    app = g.compile(checkpointer=lg.saver())
    out = [app.invoke({"log": []}, cfg())]
    out.append(app.invoke(lg.Command(resume="A"), cfg()))
    out.append(app.invoke(lg.Command(resume="B"), cfg()))
    return out


def _two_askers(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("p", lambda s: {"log": [f"p:{lg.interrupt('p?')}"]})
    g.add_node("q", lambda s: {"log": [f"q:{lg.interrupt('q?')}"]})
    g.add_edge(lg.START, "p")
    g.add_edge(lg.START, "q")
    return g.compile(checkpointer=lg.saver())


@case
def parallel_interrupts_pending(lg: Library) -> Any:
    app = _two_askers(lg)
    first = app.invoke({"log": []}, cfg())
    return {"result": first, "state": state(app, cfg())}


@case
def parallel_interrupts_resumed_by_id(lg: Library) -> Any:
    app = _two_askers(lg)
    app.invoke({"log": []}, cfg())
    resume = {iid: f"for {value}" for iid, value in interrupt_ids(app, cfg())}
    return app.invoke(lg.Command(resume=resume), cfg())


@case
def plain_resume_with_several_pending(lg: Library) -> Any:
    app = _two_askers(lg)
    app.invoke({"log": []}, cfg())
    return attempt(app.invoke, lg.Command(resume="same"), cfg())


@case
def sibling_write_kept_when_step_pauses(lg: Library) -> Any:
    """a finishes while b pauses in the same step: what the paused thread shows."""
    g = lg.StateGraph(S)
    g.add_node("a", lambda s: {"log": ["a done"]})
    g.add_node("b", lambda s: {"log": [f"b:{lg.interrupt('b?')}"]})
    g.add_edge(lg.START, "a")
    g.add_edge(lg.START, "b")
    app = g.compile(checkpointer=lg.saver())
    paused = app.invoke({"log": []}, cfg())
    return {"paused": paused, "state": state(app, cfg())}


@case
def sibling_not_rerun_on_resume(lg: Library) -> Any:
    calls: list[str] = []

    def a(s: S) -> S:
        calls.append("a")
        return {"log": ["a"]}

    g = lg.StateGraph(S)
    g.add_node("a", a)
    g.add_node("b", lambda s: {"log": [f"b:{lg.interrupt('b?')}"]})
    g.add_edge(lg.START, "a")
    g.add_edge(lg.START, "b")
    app = g.compile(checkpointer=lg.saver())
    app.invoke({"log": []}, cfg())
    final = app.invoke(lg.Command(resume="x"), cfg())
    return {"final": final, "a_calls": len(calls)}


@case
def paused_step_updates_stream(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("a", lambda s: {"log": ["a done"]})
    g.add_node("b", lambda s: {"log": [f"b:{lg.interrupt('b?')}"]})
    g.add_edge(lg.START, "a")
    g.add_edge(lg.START, "b")
    app = g.compile(checkpointer=lg.saver())
    return by_step(app.stream({"log": []}, cfg(), stream_mode=["updates", "values"]))


@case
def interrupt_without_checkpointer(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("ask", lambda s: {"answer": lg.interrupt("x")})
    g.add_edge(lg.START, "ask")
    return attempt(g.compile().invoke, {"log": []})


@case
def resume_and_update_together(lg: Library) -> Any:
    app = _ask(lg)
    app.invoke({"log": []}, cfg())
    return app.invoke(lg.Command(resume="R", update={"log": ["edited"]}), cfg())


@case
def resume_with_falsy_value(lg: Library) -> Any:
    app = _ask(lg)
    app.invoke({"log": []}, cfg())
    return app.invoke(lg.Command(resume=0), cfg())


@case
def resume_when_nothing_pending(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("n", lambda s: {"log": ["n"]})
    g.add_edge(lg.START, "n")
    app = g.compile(checkpointer=lg.saver())
    app.invoke({"log": []}, cfg())
    return attempt(app.invoke, lg.Command(resume="late"), cfg())


@case
def interrupt_in_a_loop(lg: Library) -> Any:
    def ask(s: S) -> S:
        return {"log": [str(lg.interrupt(f"round {len(s['log'])}"))]}

    g = lg.StateGraph(S)
    g.add_node("ask", ask)
    g.add_edge(lg.START, "ask")
    g.add_conditional_edges("ask", lambda s: "ask" if len(s["log"]) < 3 else lg.END)
    app = g.compile(checkpointer=lg.saver())
    out = [app.invoke({"log": []}, cfg())]
    for word in ["x", "y", "z"]:
        out.append(app.invoke(lg.Command(resume=word), cfg()))
    return out


def _line(lg: Library, **compile_kw: Any) -> Any:
    g = lg.StateGraph(S)
    for name in ["a", "b", "c"]:
        g.add_node(name, lambda s, name=name: {"log": [name]})
    g.add_edge(lg.START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", "c")
    return g.compile(checkpointer=lg.saver(), **compile_kw)


@case
def interrupt_before_node(lg: Library) -> Any:
    app = _line(lg, interrupt_before=["b"])
    first = app.invoke({"log": []}, cfg())
    return {"first": first, "state": state(app, cfg()), "then": app.invoke(None, cfg())}


@case
def interrupt_after_node(lg: Library) -> Any:
    app = _line(lg, interrupt_after=["a"])
    first = app.invoke({"log": []}, cfg())
    return {"first": first, "state": state(app, cfg()), "then": app.invoke(None, cfg())}


@case
def interrupt_before_every_node(lg: Library) -> Any:
    app = _line(lg, interrupt_before="*")
    out = [app.invoke({"log": []}, cfg())]
    for _ in range(3):
        out.append(app.invoke(None, cfg()))
    return out


@case
def values_stream_when_continuing_after_breakpoint(lg: Library) -> Any:
    app = _line(lg, interrupt_before=["b"])
    first = chunks(app.stream({"log": []}, cfg(), stream_mode="values"))
    return {"first": first, "then": chunks(app.stream(None, cfg(), stream_mode="values"))}


@case
def breakpoint_given_at_invoke(lg: Library) -> Any:
    app = _line(lg)
    first = app.invoke({"log": []}, cfg(), interrupt_after=["b"])
    return {"first": first, "next": state(app, cfg())["next"]}


@case
def new_input_while_paused_starts_over(lg: Library) -> Any:
    app = _ask(lg)
    app.invoke({"log": []}, cfg())
    return {"again": app.invoke({"log": ["new"]}, cfg()), "state": state(app, cfg())}


@case
def interrupt_value_in_updates_of_resume_stream(lg: Library) -> Any:
    app = _ask(lg)
    app.invoke({"log": []}, cfg())
    return chunks(app.stream(lg.Command(resume="Z"), cfg(), stream_mode="updates"))


@case
def async_interrupt_and_resume(lg: Library) -> Any:
    async def ask(s: S) -> S:
        return {"answer": lg.interrupt("async?"), "log": ["asked"]}

    g = lg.StateGraph(S)
    g.add_node("ask", ask)
    g.add_edge(lg.START, "ask")
    app = g.compile(checkpointer=lg.saver())

    async def go() -> Any:
        first = await app.ainvoke({"log": []}, cfg())
        then = [c async for c in app.astream(lg.Command(resume="yes"), cfg())]
        return {"first": first, "then": then}

    return run_async(go())


test_parity = case.test()
