"""The benchmark graphs, built through an engine adapter so both engines run the same nodes."""

from collections.abc import Callable
from typing import Annotated, Any, TypedDict

from _engines import Engine

State = dict[str, Any]


def counter_loop(
    engine: Engine, steps: int, log: tuple[str, Callable[[int], Any]] | None = None
) -> Any:
    """START -> inc, then inc routes back to itself until count == steps, then END.

    Each inc is one superstep.  With log=(key, make), every step also appends
    make(count) to the append channel `key`.
    """
    fields: dict[str, Any] = {"count": int}
    if log is None:

        def inc(state: State) -> State:
            return {"count": state["count"] + 1}

    else:
        key, make = log
        fields[key] = Annotated[list[Any], engine.append]

        def inc(state: State) -> State:
            count = state["count"]
            return {"count": count + 1, key: [make(count)]}

    end = engine.END

    def route(state: State) -> str:
        return "inc" if state["count"] < steps else end

    builder = engine.graph(TypedDict("LoopState", fields))
    builder.add_node("inc", inc)
    builder.add_edge(engine.START, "inc")
    builder.add_conditional_edges("inc", route)
    return builder


def fan_out(engine: Engine, width: int) -> Any:
    """fan sends `width` workers; each appends its index to `items`; join counts them."""
    append, send = engine.append, engine.Send

    class FanState(TypedDict):
        items: Annotated[list[int], append]
        total: int

    def fan(state: State) -> State:
        return {}

    def spread(state: State) -> list[Any]:
        return [send("worker", {"i": i}) for i in range(width)]

    def worker(arg: State) -> State:
        return {"items": [arg["i"]]}

    def join(state: State) -> State:
        return {"total": len(state["items"])}

    builder = engine.graph(FanState)
    builder.add_node("fan", fan)
    builder.add_node("worker", worker)
    builder.add_node("join", join)
    builder.add_edge(engine.START, "fan")
    builder.add_conditional_edges("fan", spread)
    builder.add_edge("worker", "join")
    builder.add_edge("join", engine.END)
    return builder
