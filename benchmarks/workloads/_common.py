"""Helpers shared by the workload modules."""

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _engines import Engine

MAX_STEPS = 10_000  # Orca max_steps / LangGraph recursion_limit
_threads = itertools.count()


def new_thread_id(tag: str) -> str:
    return f"{tag}-{next(_threads)}"


def check(ok: bool, what: str) -> None:
    """Fail loudly if a run did not do the work it was supposed to do."""
    if not ok:
        raise RuntimeError(f"workload check failed: {what}")


@contextmanager
def checkpointed(engine: Engine, builder: Any, path: Path) -> Iterator[Any]:
    """Compile `builder` with a SQLite checkpointer on `path`; close it on exit."""
    checkpointer = engine.open_checkpointer(path)
    try:
        yield engine.compile(builder, checkpointer)
    finally:
        engine.close_checkpointer(checkpointer)


@contextmanager
def pg_checkpointed(engine: Engine, builder: Any, url: str) -> Iterator[Any]:
    """Compile `builder` with the engine's PostgreSQL checkpointer on the database at
    `url`; close it on exit."""
    checkpointer = engine.open_pg_checkpointer(url)
    try:
        yield engine.compile(builder, checkpointer)
    finally:
        engine.close_pg_checkpointer(checkpointer)
