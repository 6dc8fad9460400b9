"""Features beyond the core loop: the functional API, node caching, runtime context,
managed values, config access in nodes, batch, get_graph, MemorySaver's alias."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from langchain_core.runnables import RunnableConfig

from ._harness import Cases, Library, attempt, cfg, chunks, run_async

case = Cases("features")


class S(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    n: int


# ---------------------------------------------------------------- functional API


@case
def entrypoint_with_tasks(lg: Library) -> Any:
    @lg.task
    def double(x: int) -> int:
        return x * 2

    @lg.entrypoint(checkpointer=lg.saver())
    def flow(numbers: list[int]) -> list[int]:
        futures = [double(n) for n in numbers]
        return [f.result() for f in futures]

    return flow.invoke([1, 2, 3], cfg())


@case
def entrypoint_interrupt_and_resume(lg: Library) -> Any:
    calls: list[str] = []

    @lg.task
    def draft(topic: str) -> str:
        calls.append("draft")
        return f"essay on {topic}"

    @lg.entrypoint(checkpointer=lg.saver())
    def flow(topic: str) -> dict[str, Any]:
        essay = draft(topic).result()
        verdict = lg.interrupt({"essay": essay})
        return {"essay": essay, "verdict": verdict}

    first = flow.invoke("cats", cfg())
    final = flow.invoke(lg.Command(resume="approved"), cfg())
    return {"first": first, "final": final, "draft_calls": len(calls)}


@case
def entrypoint_stream_updates(lg: Library) -> Any:
    @lg.task
    def inc(x: int) -> int:
        return x + 1

    @lg.entrypoint()
    def flow(x: int) -> int:
        return inc(inc(x).result()).result()

    return chunks(flow.stream(1, stream_mode="updates"))


@case
def entrypoint_previous_value(lg: Library) -> Any:
    @lg.entrypoint(checkpointer=lg.saver())
    def counter(x: int, *, previous: Any = None) -> int:
        return (previous or 0) + x

    return [counter.invoke(1, cfg()), counter.invoke(5, cfg())]


@case
def entrypoint_final_splits_return_and_save(lg: Library) -> Any:
    @lg.entrypoint(checkpointer=lg.saver())
    def flow(x: int, *, previous: Any = None) -> Any:
        return lg.entrypoint.final(value=x * 10, save=(previous or 0) + x)

    return [flow.invoke(1, cfg()), flow.invoke(2, cfg()), flow.get_state(cfg()).values]


@case
def task_retry_policy(lg: Library) -> Any:
    calls: list[int] = []

    @lg.task(retry_policy=lg.RetryPolicy(initial_interval=0.0, jitter=False))
    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("c")
        return "ok"

    @lg.entrypoint()
    def flow(_: Any) -> str:
        return flaky().result()

    return {"out": flow.invoke("go"), "calls": len(calls)}


# ---------------------------------------------------------------- caching


@case
def cache_policy_skips_second_call(lg: Library) -> Any:
    calls: list[int] = []

    def slow(s: S) -> S:
        calls.append(1)
        return {"n": s["n"] * 2}

    g = lg.StateGraph(S)
    g.add_node("slow", slow, cache_policy=lg.CachePolicy())
    g.add_edge(lg.START, "slow")
    app = g.compile(cache=lg.InMemoryCache())
    out = [app.invoke({"n": 3}), app.invoke({"n": 3}), app.invoke({"n": 4})]
    return {"out": out, "calls": len(calls)}


@case
def cache_hit_in_updates_stream(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("slow", lambda s: {"n": s["n"] + 1}, cache_policy=lg.CachePolicy())
    g.add_edge(lg.START, "slow")
    app = g.compile(cache=lg.InMemoryCache())
    app.invoke({"n": 1})
    return chunks(app.stream({"n": 1}, stream_mode="updates"))


@case
def cache_policy_custom_key(lg: Library) -> Any:
    calls: list[int] = []

    def node(s: S) -> S:
        calls.append(1)
        return {"log": [f"n={s['n']}"]}

    g = lg.StateGraph(S)
    g.add_node("node", node, cache_policy=lg.CachePolicy(key_func=lambda s: "same"))
    g.add_edge(lg.START, "node")
    app = g.compile(cache=lg.InMemoryCache())
    out = [app.invoke({"n": 1}), app.invoke({"n": 2})]
    return {"out": out, "calls": len(calls)}


# ---------------------------------------------------------------- runtime context


@dataclass
class Ctx:
    user: str
    limit: int = 3


@case
def context_schema_reaches_nodes(lg: Library) -> Any:
    def node(s: S, runtime: Any) -> S:
        return {"log": [f"{runtime.context.user}:{runtime.context.limit}"]}

    node.__annotations__["runtime"] = lg.Runtime[Ctx]
    g = lg.StateGraph(S, context_schema=Ctx)
    g.add_node("node", node)
    g.add_edge(lg.START, "node")
    return g.compile().invoke({"log": []}, context=Ctx(user="ada"))


@case
def get_runtime_inside_node(lg: Library) -> Any:
    def node(s: S) -> S:
        return {"log": [lg.get_runtime(Ctx).context.user]}

    g = lg.StateGraph(S, context_schema=Ctx)
    g.add_node("node", node)
    g.add_edge(lg.START, "node")
    return g.compile().invoke({"log": []}, context=Ctx(user="grace"))


@case
def config_argument_in_node(lg: Library) -> Any:
    def node(s: S, config: RunnableConfig) -> S:
        return {"log": [str(config["configurable"].get("user_id"))]}

    g = lg.StateGraph(S)
    g.add_node("node", node)
    g.add_edge(lg.START, "node")
    return g.compile().invoke({"log": []}, {"configurable": {"user_id": "u7"}})


@case
def get_config_inside_node(lg: Library) -> Any:
    def node(s: S) -> S:
        conf = lg.get_config()
        return {
            "log": [
                str(conf["configurable"].get("thread_id")),
                str(conf["metadata"].get("langgraph_node")),
            ]
        }

    g = lg.StateGraph(S)
    g.add_node("node", node)
    g.add_edge(lg.START, "node")
    return g.compile(checkpointer=lg.saver()).invoke({"log": []}, cfg("th"))


# ---------------------------------------------------------------- managed values


class Steps(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    remaining: Any
    last: Any


def _managed(lg: Library) -> Any:
    class M(TypedDict, total=False):
        log: Annotated[list[str], operator.add]
        remaining: lg.RemainingSteps  # type: ignore[name-defined]
        last: lg.IsLastStep  # type: ignore[name-defined]

    M.__annotations__["remaining"] = lg.RemainingSteps
    M.__annotations__["last"] = lg.IsLastStep
    return M


@case
def remaining_steps_counts_down(lg: Library) -> Any:
    g = lg.StateGraph(_managed(lg))
    g.add_node("loop", lambda s: {"log": [str(s["remaining"])]})
    g.add_edge(lg.START, "loop")
    g.add_conditional_edges("loop", lambda s: "loop" if s["remaining"] > 2 else lg.END)
    return g.compile().invoke({"log": []}, {"recursion_limit": 6})


@case
def is_last_step_flag(lg: Library) -> Any:
    g = lg.StateGraph(_managed(lg))
    g.add_node("loop", lambda s: {"log": [str(s["last"])]})
    g.add_edge(lg.START, "loop")
    g.add_conditional_edges("loop", lambda s: lg.END if s["last"] else "loop")
    return g.compile().invoke({"log": []}, {"recursion_limit": 4})


@case
def managed_values_not_in_output(lg: Library) -> Any:
    g = lg.StateGraph(_managed(lg))
    g.add_node("n", lambda s: {"log": ["n"]})
    g.add_edge(lg.START, "n")
    return sorted(g.compile().invoke({"log": []}))


# ---------------------------------------------------------------- batch, graph, misc


def _inc(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("inc", lambda s: {"n": s["n"] + 1})
    g.add_edge(lg.START, "inc")
    return g.compile()


@case
def batch_in_order(lg: Library) -> Any:
    return _inc(lg).batch([{"n": 1}, {"n": 10}, {"n": 100}])


@case
def abatch_in_order(lg: Library) -> Any:
    return run_async(_inc(lg).abatch([{"n": 5}, {"n": 6}]))


@case
def batch_return_exceptions(lg: Library) -> Any:
    return _inc(lg).batch([{"n": 1}, {}], return_exceptions=True)


def _drawn(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("a", lambda s: {})
    g.add_node("b", lambda s: {})
    g.add_node("c", lambda s: {})
    g.add_edge(lg.START, "a")
    g.add_conditional_edges("a", lambda s: "b", {"b": "b", "c": "c"})
    g.add_edge("b", lg.END)
    g.add_edge("c", lg.END)
    return g.compile()


@case
def get_graph_nodes_and_edges(lg: Library) -> Any:
    graph = _drawn(lg).get_graph()
    edges = sorted([e.source, e.target, bool(e.conditional)] for e in graph.edges)
    return {"nodes": sorted(graph.nodes), "edges": edges}


@case
def get_graph_mermaid_mentions_every_node(lg: Library) -> Any:
    text = _drawn(lg).get_graph().draw_mermaid()
    return [text.startswith(("---", "graph", "flowchart")), all(n in text for n in "abc")]


@case
def get_graph_to_json_shape(lg: Library) -> Any:
    data = _drawn(lg).get_graph().to_json()
    return {"keys": sorted(data), "nodes": sorted(n["id"] for n in data["nodes"])}


@case
def memory_saver_alias(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("inc", lambda s: {"n": s.get("n", 0) + 1})
    g.add_edge(lg.START, "inc")
    app = g.compile(checkpointer=lg.MemorySaver())
    app.invoke({"n": 1}, cfg())
    return app.invoke({"n": 5}, cfg())


@case
def compiled_graph_given_name(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("a", lambda s: {})
    g.add_edge(lg.START, "a")
    return g.compile(name="mine").name


@case
def async_node_in_sync_invoke(lg: Library) -> Any:
    async def node(s: S) -> S:
        return {"log": ["async"]}

    g = lg.StateGraph(S)
    g.add_node("node", node)
    g.add_edge(lg.START, "node")
    return attempt(g.compile().invoke, {"log": []})


@case
def async_nodes_with_ainvoke(lg: Library) -> Any:
    async def a(s: S) -> S:
        return {"log": ["a"]}

    g = lg.StateGraph(S)
    g.add_node("a", a)
    g.add_node("b", lambda s: {"log": ["b"]})
    g.add_edge(lg.START, "a")
    g.add_edge("a", "b")
    return run_async(g.compile().ainvoke({"log": []}))


@case
def set_entry_and_finish_point(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_node("b", lambda s: {"log": ["b"]})
    g.set_entry_point("a")
    g.add_edge("a", "b")
    g.set_finish_point("b")
    return g.compile().invoke({"log": []})


@case
def add_sequence(lg: Library) -> Any:
    def first(s: S) -> S:
        return {"log": ["first"]}

    def second(s: S) -> S:
        return {"log": ["second"]}

    g = lg.StateGraph(S)
    g.add_sequence([first, second])
    g.add_edge(lg.START, "first")
    return g.compile().invoke({"log": []})


@case
def node_named_from_function(lg: Library) -> Any:
    def shout(s: S) -> S:
        return {"log": ["shout"]}

    g = lg.StateGraph(S)
    g.add_node(shout)
    g.add_edge(lg.START, "shout")
    return chunks(g.compile().stream({"log": []}, stream_mode="updates"))


test_parity = case.test()
