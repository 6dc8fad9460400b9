"""A multi-step graph that can SIGKILL its own process at a chosen point.

Used by ``tests/test_durability_kill.py``. Usage::

    python kill_graph.py DB EFFECTS THREAD [DURABILITY]

The graph runs ``first -> second -> (p1, p2, p3 in parallel) -> join -> two Sends to
item -> last`` on a ``SqliteCheckpointer`` at DB, or a ``PgCheckpointer`` when DB is a
``postgresql://`` URL. Every node appends the line
``"<node> <step>"`` to the EFFECTS file (flushed and fsync'd) as its side effect. The
program starts the thread from its input when the thread has no checkpoint yet, and
resumes it with ``invoke(None, ...)`` otherwise; when the run completes it prints the
final state as one JSON line.

``ORCA_KILL`` chooses where the process kills itself with SIGKILL:

- ``before_effect:<node>``: inside the node, before its side effect;
- ``after_effect:<node>``: inside the node, after its side effect, before it returns;
- ``before_commit:<step>``: when the checkpoint of that step is handed to the store;
- ``during_commit:<step>``: after that checkpoint's INSERTs ran, before its COMMIT (on
  PostgreSQL, which writes a superstep as one statement in autocommit, the statement
  runs inside a transaction instead, which the dead connection's server rolls back);
- ``after_commit:<step>``: right after that checkpoint was committed.
"""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import sys
from typing import Annotated, Any, TypedDict

from orca import END, START, RunContext, Send, SqliteCheckpointer, StateGraph, reducers
from orca.checkpoint import Checkpointer, CheckpointSave
from orca.store.postgres import PgCheckpointer, _text

INPUT = {"seed_value": 3}


class State(TypedDict):
    seed_value: int
    log: Annotated[list[str], reducers.append]
    total: Annotated[int, reducers.sum]


def _kill_spec() -> tuple[str, str]:
    where, _, arg = os.environ.get("ORCA_KILL", "").partition(":")
    return where, arg


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def record(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())


def make_node(name: str, effects: str, weight: int) -> Any:
    where, arg = _kill_spec()

    def node(state: Any, ctx: RunContext) -> dict[str, Any]:
        if where == "before_effect" and arg == name:
            die()
        record(effects, f"{name} {ctx.step}")
        if where == "after_effect" and arg == name:
            die()
        amount = state if isinstance(state, int) else weight
        return {"log": [f"{name}@{ctx.step}"], "total": amount}

    return node


def fan_out(state: dict[str, Any]) -> list[Send]:
    return [Send("item", state["seed_value"] * k) for k in (1, 2)]


def build(effects: str) -> StateGraph:
    g = StateGraph(State, name="kill_graph")
    for name, weight in (("first", 1), ("second", 2), ("p1", 10), ("p2", 20), ("p3", 30)):
        g.add_node(name, make_node(name, effects, weight))
    g.add_node("join", make_node("join", effects, 100))
    g.add_node("item", make_node("item", effects, 0))
    g.add_node("last", make_node("last", effects, 1000))
    g.add_edge(START, "first")
    g.add_edge("first", "second")
    for p in ("p1", "p2", "p3"):
        g.add_edge("second", p)
        g.add_edge(p, "join")
    g.add_conditional_edges("join", fan_out)
    g.add_edge("item", "last")
    g.add_edge("last", END)
    return g


class KillingCheckpointer(SqliteCheckpointer):
    """A SqliteCheckpointer that kills the process around the commit of one step."""

    def __init__(self, path: str, where: str, step: int) -> None:
        super().__init__(path)
        self.where = where
        self.step = step
        self.armed = False
        # the trace callback sees each statement as SQLite starts it: COMMIT has not
        # taken effect yet when it fires
        self._conn.set_trace_callback(self._trace)

    def _trace(self, statement: str) -> None:
        if self.armed and statement.strip().upper().startswith("COMMIT"):
            die()

    def put(self, save: CheckpointSave) -> None:
        mine = save.step == self.step
        if mine and self.where == "before_commit":
            die()
        if mine and self.where == "during_commit":
            # armed until the COMMIT that makes this step durable: its own, or, when the
            # writer thread groups it with other calls (async durability), the group's,
            # which comes after this put has returned
            self.armed = True
        super().put(save)
        if mine and self.where == "after_commit":
            die()


class KillingPgCheckpointer(PgCheckpointer):
    """A PgCheckpointer that kills the process around the commit of one step."""

    def __init__(self, url: str, where: str, step: int) -> None:
        super().__init__(url)
        self.where = where
        self.step = step
        self.armed = False

    def _save(self, sql: bytes, args: list[Any]) -> None:
        if not self.armed:
            super()._save(sql, args)
            return
        # the step's own statement, in a transaction: every row of the step is written,
        # its COMMIT has not been sent
        with self.db.transaction() as conn:
            _text.cursor(conn).execute(sql, args)
            die()

    def put(self, save: CheckpointSave) -> None:
        mine = save.step == self.step
        if mine and self.where == "before_commit":
            die()
        self.armed = mine and self.where == "during_commit"
        super().put(save)
        if mine and self.where == "after_commit":
            die()


def main() -> None:
    db, effects, thread = sys.argv[1:4]
    durability = sys.argv[4] if len(sys.argv) > 4 else "sync"
    where, arg = _kill_spec()
    on_pg = db.startswith("postgresql://")
    store: Checkpointer
    if where in ("before_commit", "during_commit", "after_commit"):
        killing = KillingPgCheckpointer if on_pg else KillingCheckpointer
        store = killing(db, where, int(arg))
    else:
        store = PgCheckpointer(db) if on_pg else SqliteCheckpointer(db)
    app = build(effects).compile(checkpointer=store)
    if store.get(thread) is None:
        out = app.invoke(INPUT, thread_id=thread, durability=durability)
    else:
        out = app.invoke(None, thread_id=thread, durability=durability)
    store.close()
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    # a run that hangs shows where, on stderr, before the test's timeout kills it
    faulthandler.dump_traceback_later(40, exit=False)
    main()
