"""Thin adapters that give Orca and LangGraph one calling convention.

The workloads build the same graph through either adapter, so the node logic is
shared code and only the engine calls differ.  The adapters add one Python call
per invoke and nothing inside the supersteps.
"""

import importlib.metadata
import inspect
import operator
import sqlite3
from pathlib import Path
from typing import Any

DURABILITY = "sync"


class LangGraphEngine:
    name = "langgraph"
    label = "LangGraph"

    def __init__(self) -> None:
        from langgraph.checkpoint.sqlite import SqliteSaver
        from langgraph.graph import END, START, StateGraph
        from langgraph.pregel import Pregel
        from langgraph.types import Send

        self.START, self.END, self.Send = START, END, Send
        self.append = operator.add
        self._state_graph = StateGraph
        self._saver = SqliteSaver
        self.version = importlib.metadata.version("langgraph")
        self.has_durability = "durability" in inspect.signature(Pregel.invoke).parameters

    def graph(self, schema: type) -> Any:
        return self._state_graph(schema)

    def compile(self, builder: Any, checkpointer: Any = None) -> Any:
        return builder.compile(checkpointer=checkpointer)

    def open_checkpointer(self, path: Path) -> Any:
        conn = sqlite3.connect(path, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        saver = self._saver(conn)
        saver.setup()  # create the tables now, outside the timed region
        return saver

    def close_checkpointer(self, saver: Any) -> None:
        saver.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        saver.conn.close()

    def open_pg_checkpointer(self, url: str) -> Any:
        """LangGraph's PostgresSaver over one connection, set up as its docs say
        (autocommit, no server-side prepared statements, dict rows)."""
        import psycopg
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row

        conn = psycopg.connect(url, autocommit=True, prepare_threshold=0, row_factory=dict_row)
        saver = PostgresSaver(conn)
        saver.setup()  # create the tables now, outside the timed region
        return saver

    def close_pg_checkpointer(self, saver: Any) -> None:
        saver.conn.close()

    def invoke(
        self, app: Any, inputs: dict[str, Any], *, thread_id: str | None = None, max_steps: int
    ) -> dict[str, Any]:
        config: dict[str, Any] = {"recursion_limit": max_steps}
        kwargs: dict[str, Any] = {}
        if thread_id is not None:
            config["configurable"] = {"thread_id": thread_id}
            if self.has_durability:
                kwargs["durability"] = DURABILITY
        return dict(app.invoke(inputs, config, **kwargs))

    def state_values(self, app: Any, thread_id: str) -> dict[str, Any]:
        return dict(app.get_state({"configurable": {"thread_id": thread_id}}).values)


class OrcaEngine:
    name = "orca"
    label = "Orca"

    def __init__(self) -> None:
        import orca

        self.START, self.END, self.Send = orca.START, orca.END, orca.Send
        self.append = orca.reducers.append
        self._state_graph = orca.StateGraph
        self._checkpointer = orca.SqliteCheckpointer
        self._stores: dict[int, Any] = {}
        self.version = orca.__version__

    def graph(self, schema: type) -> Any:
        return self._state_graph(schema)

    def compile(self, builder: Any, checkpointer: Any = None) -> Any:
        if checkpointer is None:
            return builder.compile()
        return builder.compile(checkpointer=checkpointer)

    def open_checkpointer(self, path: Path) -> Any:
        return self._checkpointer(path)  # WAL and synchronous=FULL are its defaults

    def close_checkpointer(self, checkpointer: Any) -> None:
        checkpointer.close()

    def open_pg_checkpointer(self, url: str) -> Any:
        """The checkpointer of Orca's PostgreSQL store, its tables created now (outside
        the timed region)."""
        from orca.store import open_store

        store = open_store(url)
        checkpointer = store.checkpoints
        checkpointer.history("warm-up")  # creates and migrates the tables
        self._stores[id(checkpointer)] = store
        return checkpointer

    def close_pg_checkpointer(self, checkpointer: Any) -> None:
        self._stores.pop(id(checkpointer)).close()

    def invoke(
        self, app: Any, inputs: dict[str, Any], *, thread_id: str | None = None, max_steps: int
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"max_steps": max_steps}
        if thread_id is not None:
            kwargs["thread_id"] = thread_id
            kwargs["durability"] = DURABILITY
        return dict(app.invoke(inputs, **kwargs))

    def state_values(self, app: Any, thread_id: str) -> dict[str, Any]:
        return dict(app.get_state(thread_id).values)


Engine = LangGraphEngine | OrcaEngine
ENGINES: dict[str, type[Engine]] = {"orca": OrcaEngine, "langgraph": LangGraphEngine}
