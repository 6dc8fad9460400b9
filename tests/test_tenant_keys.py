"""Each tenant's stored provider key is the one its runs and LLM tasks call with, on a
real ``orca serve`` and a real OpenAI-wire server on loopback: never another tenant's,
never the server's environment (which holds none here)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from _served import init_project, orca, served, sse

sys.path.insert(0, str(Path(__file__).parent / "llm"))
from wire import WireServer

FLOW = """
from typing import TypedDict
from orca import END, START, StateGraph


class S(TypedDict, total=False):
    word: str
    said: str


async def ask(state, ctx):
    answer = await ctx.planner.acomplete(f"say {state['word']}", max_tokens=4)
    return {"said": answer.text}


graph = StateGraph(S, name="asker")
graph.add_node("ask", ask)
graph.add_edge(START, "ask")
graph.add_edge("ask", END)
"""

KEYS = {"acme": "sk-acme-4f1c9e0d7b2a", "globex": "sk-globex-88d1e2f3a4b5"}


@pytest.fixture
def wire() -> Iterator[WireServer]:
    server = WireServer()
    yield server
    server.close()


def test_each_tenant_calls_with_its_own_stored_key(
    tmp_path: Path, wire: WireServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # the server's environment: none
    monkeypatch.delenv("ORCA_SECRET_KEY", raising=False)  # the master key file, made anew
    project = tmp_path / "project"
    project.mkdir()
    init_project(project, FLOW)
    env: dict[str, str] = {}

    def cli(*args: str) -> str:
        proc = orca(project, *args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, said = proc.communicate(timeout=60)
        assert proc.returncode == 0, said.decode()
        return out.decode()

    tokens = {}
    base = f"base_url={wire.url}/v1"
    for tenant in KEYS:
        cli("tenant", "create", tenant)
        model = "openai:gpt-sim"
        cli("--tenant", tenant, "profile", "create", "sim", "--planner", model,
            "--worker", model, "--planner-param", base, "--worker-param", base)  # fmt: skip
        made = cli("token", "create", "boss", "--tenant", tenant, "--scope", "admin", "--json")
        tokens[tenant] = json.loads(made)["token"]
    with served(project, ["graph"], env=env) as url:
        callers = {
            t: httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {k}"})
            for t, k in tokens.items()
        }
        try:
            for tenant, key in KEYS.items():
                stored = callers[tenant].put("/v1/secrets/OPENAI_API_KEY", json={"value": key})
                assert stored.status_code == 200, stored.text
                assert key not in stored.text
            for tenant in KEYS:
                run = callers[tenant].post(
                    "/v1/runs/wait", json={"workflow": "asker", "input": {"word": tenant}}
                )
                assert run.status_code == 200, run.text
                assert run.json()["status"] == "done", run.text
                task = callers[tenant].post("/v1/tasks", json={
                    "task_id": f"t-{tenant}", "model_ref": "planner",
                    "prompt": f"task {tenant}", "max_tokens": 4})  # fmt: skip
                assert task.status_code == 202, task.text
                events = sse(callers[tenant].get(f"/v1/tasks/t-{tenant}/stream").text)
                assert events[-1]["event"] == "end", events
        finally:
            for client in callers.values():
                client.close()
    sent: dict[str, set[str]] = {}
    for request in wire.requests:
        body: Any = request.body
        prompt = json.dumps(body.get("messages", []) if isinstance(body, dict) else body)
        who = next(t for t in KEYS if t in prompt)
        sent.setdefault(who, set()).add(request.headers["authorization"])
    assert sent == {t: {f"Bearer {k}"} for t, k in KEYS.items()}
    assert len(wire.requests) == 4  # a run and a task of each tenant
