"""RetryPolicy: its defaults, which exceptions the default retry_on retries, custom
retry_on, attempts, and several policies on one node. Intervals are 0 (no sleeping)."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from ._harness import Cases, Library, attempt

case = Cases("retry")


class S(TypedDict, total=False):
    log: Annotated[list[str], operator.add]


def _fails(lg: Library, errors: list[BaseException], policy: Any) -> Any:
    """A node that raises each of ``errors`` in turn, then succeeds: the outcome and how
    many times the node ran."""
    calls: list[int] = []

    def node(s: S) -> S:
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return {"log": ["done"]}

    g = lg.StateGraph(S)
    g.add_node("n", node, retry_policy=policy)
    g.add_edge(lg.START, "n")
    return {"outcome": attempt(g.compile().invoke, {"log": []}), "calls": len(calls)}


def _policy(lg: Library, **kw: Any) -> Any:
    return lg.RetryPolicy(initial_interval=0.0, jitter=False, **kw)


@case
def policy_defaults(lg: Library) -> Any:
    p = lg.RetryPolicy()
    fields = ["initial_interval", "backoff_factor", "max_interval", "max_attempts", "jitter"]
    return {f: getattr(p, f) for f in fields}


@case
def retries_then_succeeds(lg: Library) -> Any:
    return _fails(lg, [Exception("1"), Exception("2")], _policy(lg))


@case
def gives_up_after_max_attempts(lg: Library) -> Any:
    return _fails(lg, [Exception(str(i)) for i in range(5)], _policy(lg, max_attempts=3))


@case
def max_attempts_one_means_no_retry(lg: Library) -> Any:
    return _fails(lg, [Exception("1")], _policy(lg, max_attempts=1))


@case
def default_retry_on_skips_value_error(lg: Library) -> Any:
    return _fails(lg, [ValueError("v")], _policy(lg))


@case
def default_retry_on_skips_type_and_key_errors(lg: Library) -> Any:
    return [
        _fails(lg, [TypeError("t")], _policy(lg)),
        _fails(lg, [KeyError("k")], _policy(lg)),
        _fails(lg, [ZeroDivisionError("z")], _policy(lg)),
    ]


@case
def default_retry_on_skips_runtime_and_os_errors(lg: Library) -> Any:
    return [
        _fails(lg, [RuntimeError("r")], _policy(lg)),
        _fails(lg, [FileNotFoundError("f")], _policy(lg)),
    ]


@case
def default_retry_on_retries_connection_error(lg: Library) -> Any:
    return _fails(lg, [ConnectionError("c"), TimeoutError("t")], _policy(lg))


@case
def default_retry_on_retries_plain_exception_subclass(lg: Library) -> Any:
    class Flaky(Exception):
        pass

    return _fails(lg, [Flaky(), Flaky()], _policy(lg))


@case
def retry_on_exception_class(lg: Library) -> Any:
    return [
        _fails(lg, [ValueError("v")], _policy(lg, retry_on=ValueError)),
        _fails(lg, [KeyError("k")], _policy(lg, retry_on=ValueError)),
    ]


@case
def retry_on_tuple_of_classes(lg: Library) -> Any:
    return _fails(
        lg, [ValueError("v"), KeyError("k")], _policy(lg, retry_on=(ValueError, KeyError))
    )


@case
def retry_on_callable(lg: Library) -> Any:
    def only_transient(exc: Exception) -> bool:
        return "transient" in str(exc)

    return [
        _fails(lg, [ValueError("transient")], _policy(lg, retry_on=only_transient)),
        _fails(lg, [ValueError("fatal")], _policy(lg, retry_on=only_transient)),
    ]


@case
def list_of_policies_first_match_wins(lg: Library) -> Any:
    policies = [_policy(lg, retry_on=KeyError, max_attempts=2), _policy(lg, max_attempts=4)]
    return [
        _fails(lg, [KeyError("a"), KeyError("b"), KeyError("c")], policies),
        _fails(lg, [Exception("a"), Exception("b"), Exception("c")], policies),
    ]


@case
def graph_error_not_retried(lg: Library) -> Any:
    """An interrupt is not an error: retry does not run the node again for it."""
    calls: list[int] = []

    def ask(s: S) -> S:
        calls.append(1)
        return {"log": [str(lg.interrupt("x"))]}

    g = lg.StateGraph(S)
    g.add_node("ask", ask, retry_policy=_policy(lg))
    g.add_edge(lg.START, "ask")
    app = g.compile(checkpointer=lg.saver())
    out = app.invoke({"log": []}, {"configurable": {"thread_id": "t"}})
    return {"out": out, "calls": len(calls)}


@case
def retry_on_subgraph_node(lg: Library) -> Any:
    calls: list[int] = []

    def flaky(s: S) -> S:
        calls.append(1)
        if len(calls) < 2:
            raise ConnectionError("c")
        return {"log": ["sub ok"]}

    sub = lg.StateGraph(S)
    sub.add_node("flaky", flaky)
    sub.add_edge(lg.START, "flaky")
    g = lg.StateGraph(S)
    g.add_node("sub", sub.compile(), retry_policy=_policy(lg))
    g.add_edge(lg.START, "sub")
    return {"out": attempt(g.compile().invoke, {"log": []}), "calls": len(calls)}


@case
def retry_keeps_sibling_result(lg: Library) -> Any:
    calls: list[str] = []

    def flaky(s: S) -> S:
        calls.append("flaky")
        if calls.count("flaky") < 3:
            raise ConnectionError("c")
        return {"log": ["flaky"]}

    g = lg.StateGraph(S)
    g.add_node("flaky", flaky, retry_policy=_policy(lg, max_attempts=5))
    g.add_node("steady", lambda s: calls.append("steady") or {"log": ["steady"]})
    g.add_edge(lg.START, "flaky")
    g.add_edge(lg.START, "steady")
    out = g.compile().invoke({"log": []})
    return {"out": out, "calls": sorted(calls)}


test_parity = case.test()
