"""A real ``orca serve`` process on loopback for tests, and what they read from it: SSE
bodies and error envelopes."""

from __future__ import annotations

import json
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

ENVELOPE = {"code", "message", "engine", "retriable", "retry_after_ms", "policy_label", "details"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def orca(project: Path, *args: str, **kwargs: Any) -> subprocess.Popen[bytes]:
    """``orca -C project ARGS`` as a process, with the project's own ORCA_HOME."""
    env = {**os.environ, "ORCA_HOME": str(project / "home"), **kwargs.pop("env", {})}
    command = [str(Path(sys.executable).parent / "orca"), "-C", str(project), *args]
    return subprocess.Popen(command, env=env, **kwargs)


def init_project(project: Path, flows: str, server_config: str = "") -> None:
    """An Orca project with ``flows.py`` and ``[server]`` settings."""
    (project / "flows.py").write_text(flows)
    assert orca(project, "init").wait(timeout=60) == 0
    if server_config:
        with (project / ".orca" / "orca.toml").open("a") as f:
            f.write(f"\n[server]\n{server_config}\n")


def start(
    project: Path,
    workflows: list[str],
    port: int | None = None,
    *,
    args: tuple[str, ...] = (),
    **popen: Any,
) -> tuple[Any, str]:
    """Start ``orca serve [ARGS]`` for ``flows.py``'s ``workflows`` (a name; or a source
    given whole, ``PATH.py[:graph]``); returns the process and its URL once it is ready."""
    port = port or free_port()
    proc = orca(
        project,
        "serve",
        *args,
        "--port",
        str(port),
        *[
            f"--workflow={w if w.endswith('.py') or ':' in w else f'flows.py:{w}'}"
            for w in workflows
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **popen,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read().decode() if proc.stderr else "exited")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise AssertionError("the server did not become ready")


@contextmanager
def served(project: Path, workflows: list[str], **popen: Any) -> Iterator[str]:
    """A server for the test's duration, stopped (SIGTERM) after; its stderr must hold no
    traceback."""
    proc, url = start(project, workflows, **popen)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    said = proc.stderr.read().decode() if proc.stderr else ""
    assert "Traceback" not in said, said


def sse(text: str) -> list[dict[str, Any]]:
    """The events of an SSE body: ``id``, ``event`` and parsed ``data``."""
    out = []
    for block in text.strip().split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            if line.startswith(":"):
                continue
            key, _, value = line.partition(": ")
            fields[key] = value
        if "data" in fields:
            fields["data"] = json.loads(fields["data"])
            out.append(fields)
    return out


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == ENVELOPE
    assert body["code"] == code
    assert body["message"]
    return body
