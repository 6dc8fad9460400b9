"""A real ``orca serve`` on loopback for the client's tests: a project made with
``orca init``, a flows file, a free port, ready when ``/readyz`` says so."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

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


slow = StateGraph(Slow, name="slow")
slow.add_node("s", slow_step)
slow.add_edge(START, "s")
slow.add_conditional_edges("s", lambda s: "s" if s["n"] < 4 else END)
"""

WORKFLOWS = ("counter", "review", "slow")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def orca_env(project: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "ORCA_HOME": str(project / "home"), **extra}
    for name in ("ORCA_SERVER", "ORCA_TOKEN"):  # the tests say where they talk to
        if name not in extra:
            env.pop(name, None)
    return env


def orca(project: Path, *args: str, **kwargs: Any) -> subprocess.Popen[bytes]:
    command = [str(Path(sys.executable).parent / "orca"), "-C", str(project), *args]
    env = kwargs.pop("env", None) or orca_env(project)
    return subprocess.Popen(command, env=env, **kwargs)


def make_project(project: Path) -> Path:
    (project / "flows.py").write_text(FLOW)
    assert orca(project, "init").wait(timeout=60) == 0
    return project


@contextmanager
def serving(project: Path) -> Iterator[str]:
    """``orca serve`` of ``project``'s three workflows; its URL while it runs."""
    port = free_port()
    workflows = [f"--workflow=flows.py:{name}" for name in WORKFLOWS]
    proc = orca(
        project,
        "serve",
        "--port",
        str(port),
        *workflows,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(proc.stderr.read().decode() if proc.stderr else "exited")
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            raise AssertionError("the server did not become ready")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        said = proc.stderr.read().decode() if proc.stderr else ""
        assert "Traceback" not in said, said
