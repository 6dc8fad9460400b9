"""Run a looping graph on one thread of a shared SQLite file (several processes at once).

Used by ``tests/test_durability.py``. Usage::

    python loop_graph.py DB THREAD STEPS

Each superstep appends one item to an append channel; the final state is printed as JSON.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, TypedDict

from orca import END, START, SqliteCheckpointer, StateGraph, reducers


class State(TypedDict):
    items: Annotated[list[str], reducers.append]
    i: int


def main() -> None:
    db, thread, steps = sys.argv[1], sys.argv[2], int(sys.argv[3])

    def tick(state: dict[str, Any]) -> dict[str, Any]:
        return {"items": [f"{thread}-{state['i']}"], "i": state["i"] + 1}

    g = StateGraph(State)
    g.add_node("tick", tick)
    g.add_edge(START, "tick")
    g.add_conditional_edges("tick", lambda s: "tick" if s["i"] < steps else END)
    store = SqliteCheckpointer(db)
    out = g.compile(checkpointer=store).invoke({"i": 0}, thread_id=thread, max_steps=steps + 1)
    store.close()
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
