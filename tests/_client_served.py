"""The workflows the client's tests serve (a counter, a review that asks a question, a
slow loop), on a real ``orca serve`` from ``_served``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _served import init_project, served

FLOW = """
import asyncio
from typing import Annotated, TypedDict
from orca import END, START, StateGraph, reducers


class S(TypedDict, total=False):
    n: int
    log: Annotated[list[str], reducers.append]
    verdict: str


async def step(state, ctx):
    return {"n": state.get("n", 0) + 1, "log": [f"step {state.get('n', 0)}"]}


def more(state):
    return "step" if state["n"] < 3 else END


counter = StateGraph(S, name="counter")
counter.add_node("step", step)
counter.add_edge(START, "step")
counter.add_conditional_edges("step", more)


def ask(state, ctx):
    return {"verdict": ctx.interrupt({"question": "ship it?"})}


review = StateGraph(S, name="review")
review.add_node("ask", ask)
review.add_edge(START, "ask")
review.add_edge("ask", END)


class Slow(TypedDict, total=False):
    n: int


async def slow_step(state, ctx):
    await asyncio.sleep(0.3)
    return {"n": state.get("n", 0) + 1}


def explode(state, ctx):
    raise KeyError("missing")


boom = StateGraph(S, name="boom")
boom.add_node("explode", explode)
boom.add_edge(START, "explode")
boom.add_edge("explode", END)


slow = StateGraph(Slow, name="slow")
slow.add_node("s", slow_step)
slow.add_edge(START, "s")
slow.add_conditional_edges("s", lambda s: "s" if s["n"] < 4 else END)
"""

WORKFLOWS = ["boom", "counter", "review", "slow"]


def orca_env(project: Path, **extra: str) -> dict[str, str]:
    """The environment of an ``orca`` process for ``project``: its own ORCA_HOME, and no
    ORCA_SERVER or ORCA_TOKEN unless given (the tests say where they talk to)."""
    env = {**os.environ, "ORCA_HOME": str(project / "home"), **extra}
    for name in ("ORCA_SERVER", "ORCA_TOKEN"):
        if name not in extra:
            env.pop(name, None)
    return env


def make_project(project: Path) -> Path:
    init_project(project, FLOW)
    return project


@contextmanager
def serving(project: Path) -> Iterator[str]:
    """``orca serve`` of ``project``'s three workflows; its URL while it runs."""
    with served(project, WORKFLOWS) as url:
        yield url
