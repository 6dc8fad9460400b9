"""Write order within a superstep: LangGraph applies a step's writes sorted by task path
(pull tasks by node name, then Send tasks in the order they were sent)."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from ._harness import Cases, Library, by_step, cfg, chunks, history, run_async

case = Cases("order")


class Log(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    text: Annotated[str, operator.add]
    n: int


def _writer(name: str) -> Any:
    return lambda s: {"log": [name]}


def _fan(lg: Library, names: list[str], *, join: bool = False) -> Any:
    g = lg.StateGraph(Log)
    for name in names:
        g.add_node(name, _writer(name))
        g.add_edge(lg.START, name)
        if join:
            g.add_edge(name, "join")
    if join:
        g.add_node("join", lambda s: {"log": ["join"]})
    return g.compile()


@case
def parallel_writes_sorted_by_node_name(lg: Library) -> Any:
    """Nodes added b, c, a all write in step 1: the list reads a, b, c."""
    return _fan(lg, ["b", "c", "a"]).invoke({"log": []})


@case
def string_join_sorted_by_node_name(lg: Library) -> Any:
    g = lg.StateGraph(Log)
    for name in ["zeta", "alpha", "mid"]:
        g.add_node(name, lambda s, name=name: {"text": name[0]})
        g.add_edge(lg.START, name)
    return g.compile().invoke({"text": ">"})


@case
def uppercase_names_sort_first(lg: Library) -> Any:
    return _fan(lg, ["b", "B", "a", "A"]).invoke({"log": []})


@case
def numbered_names_sort_as_strings(lg: Library) -> Any:
    return _fan(lg, ["n2", "n10", "n1"]).invoke({"log": []})


@case
def sends_keep_their_order(lg: Library) -> Any:
    g = lg.StateGraph(Log)
    g.add_node("fan", lambda s: {})
    g.add_node("w", lambda x: {"log": [x]})
    g.add_edge(lg.START, "fan")
    g.add_conditional_edges("fan", lambda s: [lg.Send("w", v) for v in ["3", "1", "2"]])
    return g.compile().invoke({"log": []})


@case
def pull_tasks_before_send_tasks(lg: Library) -> Any:
    """A step holding node "z" (an edge) and Sends to "a": z's write comes first."""
    g = lg.StateGraph(Log)
    g.add_node("fan", lambda s: {})
    g.add_node("a", lambda x: {"log": [f"a{x}"]})
    g.add_node("z", lambda s: {"log": ["z"]})
    g.add_edge(lg.START, "fan")
    g.add_edge("fan", "z")
    g.add_conditional_edges("fan", lambda s: [lg.Send("a", 1), lg.Send("a", 2)])
    return g.compile().invoke({"log": []})


@case
def sends_to_two_nodes_interleaved(lg: Library) -> Any:
    g = lg.StateGraph(Log)
    g.add_node("fan", lambda s: {})
    g.add_node("x", lambda v: {"log": [f"x{v}"]})
    g.add_node("y", lambda v: {"log": [f"y{v}"]})
    g.add_edge(lg.START, "fan")
    g.add_conditional_edges("fan", lambda s: [lg.Send("y", 1), lg.Send("x", 2), lg.Send("y", 3)])
    return g.compile().invoke({"log": []})


@case
def conditional_list_in_reverse_order(lg: Library) -> Any:
    g = lg.StateGraph(Log)
    g.add_node("route", lambda s: {})
    for name in ["a", "b", "c"]:
        g.add_node(name, _writer(name))
    g.add_edge(lg.START, "route")
    g.add_conditional_edges("route", lambda s: ["c", "b", "a"])
    return g.compile().invoke({"log": []})


@case
def uneven_branches_run_join_twice(lg: Library) -> Any:
    """a -> a2 -> join and b -> join: join runs in step 2 (from b) and step 3 (from a2)."""
    g = lg.StateGraph(Log)
    for name in ["a", "a2", "b", "join"]:
        g.add_node(name, _writer(name))
    g.add_edge(lg.START, "a")
    g.add_edge(lg.START, "b")
    g.add_edge("a", "a2")
    g.add_edge("a2", "join")
    g.add_edge("b", "join")
    return g.compile().invoke({"log": []})


@case
def waiting_edge_runs_join_once(lg: Library) -> Any:
    g = lg.StateGraph(Log)
    for name in ["a", "a2", "b", "join"]:
        g.add_node(name, _writer(name))
    g.add_edge(lg.START, "a")
    g.add_edge(lg.START, "b")
    g.add_edge("a", "a2")
    g.add_edge(["a2", "b"], "join")
    return g.compile().invoke({"log": []})


@case
def two_edges_into_one_node_run_it_once(lg: Library) -> Any:
    return _fan(lg, ["a", "b"], join=True).invoke({"log": []})


@case
def parallel_steps_stream_by_step(lg: Library) -> Any:
    app = _fan(lg, ["b", "a"], join=True)
    return by_step(app.stream({"log": []}, stream_mode=["updates", "values"]))


@case
def deferred_node_waits_for_all_branches(lg: Library) -> Any:
    g = lg.StateGraph(Log)
    for name in ["a", "a2", "b"]:
        g.add_node(name, _writer(name))
    g.add_node("join", _writer("join"), defer=True)
    g.add_edge(lg.START, "a")
    g.add_edge(lg.START, "b")
    g.add_edge("a", "a2")
    g.add_edge("a2", "join")
    g.add_edge("b", "join")
    return g.compile().invoke({"log": []})


@case
def loop_visits_in_order(lg: Library) -> Any:
    g = lg.StateGraph(Log)
    g.add_node("inc", lambda s: {"n": s["n"] + 1, "log": [f"inc{s['n']}"]})
    g.add_edge(lg.START, "inc")
    g.add_conditional_edges("inc", lambda s: "inc" if s["n"] < 4 else lg.END)
    return chunks(g.compile().stream({"n": 0, "log": []}, stream_mode="updates"))


@case
def nodes_see_state_at_step_start(lg: Library) -> Any:
    """Parallel nodes read the state as of the step's start, not their siblings' writes."""
    g = lg.StateGraph(Log)
    g.add_node("a", lambda s: {"log": [f"a saw {len(s['log'])}"]})
    g.add_node("b", lambda s: {"log": [f"b saw {len(s['log'])}"]})
    g.add_edge(lg.START, "a")
    g.add_edge(lg.START, "b")
    return g.compile().invoke({"log": ["x"]})


@case
def send_and_edge_to_same_node(lg: Library) -> Any:
    """An edge and a Send both target "w" in one step: it runs twice (pull, then push)."""
    g = lg.StateGraph(Log)
    g.add_node("fan", lambda s: {})
    g.add_node("w", lambda x: {"log": [f"w:{x if isinstance(x, str) else 'state'}"]})
    g.add_edge(lg.START, "fan")
    g.add_edge("fan", "w")
    g.add_conditional_edges("fan", lambda s: [lg.Send("w", "sent")])
    return g.compile().invoke({"log": []})


@case
def command_gotos_after_pull_tasks(lg: Library) -> Any:
    g = lg.StateGraph(Log)
    g.add_node("first", lambda s: lg.Command(goto=[lg.Send("w", "s1"), "b"]))
    g.add_node("w", lambda x: {"log": [x]})
    g.add_node("b", _writer("b"))
    g.add_node("a", _writer("a"))
    g.add_edge(lg.START, "first")
    g.add_edge("first", "a")
    return g.compile().invoke({"log": []})


@case
def history_of_parallel_run(lg: Library) -> Any:
    g = lg.StateGraph(Log)
    for name in ["a", "b", "join"]:
        g.add_node(name, _writer(name))
    g.add_edge(lg.START, "a")
    g.add_edge(lg.START, "b")
    g.add_edge("a", "join")
    g.add_edge("b", "join")
    compiled = g.compile(checkpointer=lg.saver())
    compiled.invoke({"log": []}, cfg())
    return history(compiled, cfg())


@case
def parallel_messages_sorted_by_node_name(lg: Library) -> Any:
    from langchain_core.messages import AIMessage, HumanMessage

    g = lg.StateGraph(lg.MessagesState)
    for name in ["tool_b", "tool_a"]:
        g.add_node(name, lambda s, name=name: {"messages": [AIMessage(name, id=name)]})
        g.add_edge(lg.START, name)
    return g.compile().invoke({"messages": [HumanMessage("go", id="h")]})


@case
def async_parallel_writes_sorted(lg: Library) -> Any:
    import asyncio

    def make(name: str, delay: int) -> Any:
        async def node(s: Log) -> Log:
            for _ in range(delay):
                await asyncio.sleep(0)
            return {"log": [name]}

        return node

    g = lg.StateGraph(Log)
    for name, delay in [("a", 5), ("b", 0), ("c", 2)]:
        g.add_node(name, make(name, delay))
        g.add_edge(lg.START, name)
    return run_async(g.compile().ainvoke({"log": []}))


test_parity = case.test()
