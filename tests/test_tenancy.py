"""Tenants on a real ``orca serve``: tenant A's callers can neither read, list, stream,
cancel, resume, change nor infer the existence of tenant B's resources (the same 404 as
for an id that never existed, never a 403); ids a client chooses (threads, tasks,
sessions, budgets, flows, tokens) are each tenant's own; roles hold within a tenant; the
registry is the installation's; a disabled tenant is refused at once."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from _served import ENVELOPE, init_project, orca, served, sse
from orca.llm.tiny import ensure_tiny_model

FLOW = """
import asyncio
from typing import TypedDict
from orca import END, START, StateGraph


class S(TypedDict, total=False):
    n: int
    note: str
    verdict: str


def step(state):
    return {"n": state.get("n", 0) + 1}


counter = StateGraph(S, name="counter")
counter.add_node("step", step)
counter.add_edge(START, "step")
counter.add_edge("step", END)


def ask(state, ctx):
    return {"verdict": ctx.interrupt({"question": "ship it?"})}


review = StateGraph(S, name="review")
review.add_node("ask", ask)
review.add_edge(START, "ask")
review.add_edge("ask", END)


async def nap(state):
    await asyncio.sleep(30)
    return {"n": 1}


slow = StateGraph(S, name="slow")
slow.add_node("nap", nap)
slow.add_edge(START, "nap")
slow.add_edge("nap", END)
"""

SAVED_FLOW = {
    "format": "orca.flow/v1",
    "name": "globex-flow",
    "state": [{"key": "n", "type": "integer"}],
    "nodes": [{"id": "only", "kind": "python", "ref": "flows:step"}],
    "edges": [{"from": "__start__", "to": "only"}, {"from": "only", "to": "__end__"}],
}


def _cli(project: Path, *args: str) -> str:
    proc = orca(project, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, said = proc.communicate(timeout=120)
    assert proc.returncode == 0, said.decode()
    return out.decode()


def _token(project: Path, name: str, scope: str, tenant: str) -> str:
    made = json.loads(_cli(project, "token", "create", name, "--scope", scope,
                           "--tenant", tenant, "--json"))  # fmt: skip
    assert made["tenant"] == tenant
    return str(made["token"])


class Caller:
    """One token's view of the server."""

    def __init__(self, url: str, token: str) -> None:
        self.client = httpx.Client(
            base_url=url, timeout=60, headers={"Authorization": f"Bearer {token}"}
        )

    def __call__(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return self.client.request(method, path, **kw)

    def ok(self, method: str, path: str, **kw: Any) -> Any:
        answer = self(method, path, **kw)
        assert answer.status_code < 300, answer.text
        return answer.json() if answer.content else None


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A server with tenants acme and globex (and the default one), each with tokens,
    and globex's resources made through its own token."""
    project = tmp_path_factory.mktemp("tenancy")
    model = ensure_tiny_model()
    init_project(project, FLOW, "max_running_tasks = 2\nmax_queued_tasks = 8")
    with (project / ".orca" / "orca.toml").open("a") as f:
        f.write(f'\n[server.models.tiny]\nprovider = "llamacpp"\nmodel = "{model}"\n')
        f.write('n_ctx = 2048\n\n[flows]\npython_modules = ["flows"]\n')
    for tenant in ("acme", "globex"):
        _cli(project, "tenant", "create", tenant)
    tokens = {
        "root": _token(project, "root", "admin", "default"),
        "acme": _token(project, "boss", "admin", "acme"),
        "acme-operator": _token(project, "op", "run", "acme"),
        "acme-viewer": _token(project, "viewer", "read", "acme"),
        "globex": _token(project, "boss", "admin", "globex"),  # the same name: fine
    }
    with served(project, ["counter", "review", "slow"], cwd=project) as url:
        callers = {name: Caller(url, token) for name, token in tokens.items()}
        b = callers["globex"]
        made: dict[str, Any] = {"url": url, "project": project, "callers": callers}
        noted = {"workflow": "counter", "input": {"note": "globex-secret-note"}}
        done = b.ok("POST", "/v1/runs/wait", params={"thread_id": "t-same"}, json=noted)
        paused = b.ok("POST", "/v1/runs/wait", params={"thread_id": "t-paused"},
                      json={"workflow": "review", "input": {}})  # fmt: skip
        assert paused["status"] == "interrupted"
        running = b.ok("POST", "/v1/threads/t-running/runs", json={"workflow": "slow", "input": {}})
        for budget in ("globex-budget", "shared-budget"):
            b.ok("POST", "/v1/budgets", json={"name": budget, "amount": "5",
                                              "enforcement": "warn"})  # fmt: skip
        b.ok("POST", "/v1/flows", json={"flow": SAVED_FLOW, "version": "1.0.0"})
        b.ok("PUT", "/v1/prices/openai/gpt-globex",
             json={"input": "1", "output": "2"})  # fmt: skip
        b.ok("POST", "/v1/artifacts", json={"kind": "plan", "content": "globex plan"})
        for task, session in (("task-1", "sess-1"), ("globex-task", "globex-sess")):
            b.ok("POST", "/v1/tasks", json={"task_id": task, "session_id": session,
                                            "model_ref": "tiny", "prompt": "hi",
                                            "max_tokens": 4})  # fmt: skip
        made.update(
            done=done["run_id"], paused=paused["run_id"], running=running["run_id"],
            artifacts=[a["artifact_id"] for a in b.ok("GET", "/v1/artifacts")],
        )  # fmt: skip
        yield made
        for caller in callers.values():
            caller.client.close()


def _missing(answer: httpx.Response, never: httpx.Response, secret: str, other: str) -> None:
    """``answer`` (for B's resource ``secret``) is the same 404 as ``never`` (for a
    never-existing ``other``): nothing tells them apart."""
    assert answer.status_code == 404, answer.text
    assert never.status_code == 404, never.text
    body, none = answer.json(), never.json()
    assert set(body) == ENVELOPE
    assert body["code"] == none["code"]
    said, unsaid = body["message"].replace(secret, "ID"), none["message"].replace(other, "ID")
    # a "did you mean" names the caller's own things, closest to the name asked for
    assert said.partition(" (did you mean")[0] == unsaid.partition(" (did you mean")[0]
    assert "globex" not in said
    assert "globex" not in json.dumps(body["details"])


RUN_PATHS = [
    ("GET", "/v1/runs/{}"),
    ("GET", "/v1/runs/{}/wait"),
    ("GET", "/v1/runs/{}/stream"),
    ("GET", "/v1/runs/{}/events"),
    ("GET", "/v1/runs/{}/inspect"),
    ("GET", "/v1/runs/{}/timeline"),
    ("GET", "/v1/runs/{}/trace"),
    ("POST", "/v1/runs/{}/cancel"),
    ("POST", "/v1/runs/{}/replay"),
    ("POST", "/v1/runs/{}/reprice"),
]


@pytest.mark.parametrize(("method", "path"), RUN_PATHS)
@pytest.mark.parametrize("which", ["done", "paused", "running"])
def test_another_tenants_run_is_not_there(
    world: dict[str, Any], method: str, path: str, which: str
) -> None:
    a = world["callers"]["acme"]
    secret, other = world[which], "run-" + uuid.uuid4().hex
    body = {"provider": "openai", "model": "gpt-4o"} if path.endswith("reprice") else None
    answer = a(method, path.format(secret), json=body)
    never = a(method, path.format(other), json=body)
    _missing(answer, never, secret, other)


THREAD_PATHS = [
    ("GET", "/v1/threads/{}/state", None),
    ("GET", "/v1/threads/{}/history", None),
    ("POST", "/v1/threads/{}/state", {"values": {"n": 99}}),
    ("POST", "/v1/threads/{}/fork", {"checkpoint_id": "x", "workflow": "review"}),
    ("DELETE", "/v1/threads/{}", None),
]


@pytest.mark.parametrize(("method", "path", "body"), THREAD_PATHS)
def test_another_tenants_thread_is_not_there(
    world: dict[str, Any], method: str, path: str, body: Any
) -> None:
    a, b = world["callers"]["acme"], world["callers"]["globex"]
    secret, other = "t-paused", "t-" + uuid.uuid4().hex[:12]
    answer = a(method, path.format(secret), params={"workflow": "review"}, json=body)
    never = a(method, path.format(other), params={"workflow": "review"}, json=body)
    assert answer.status_code == never.status_code, (answer.text, never.text)
    assert answer.json()["code"] == never.json()["code"]
    # B's thread is as it was: still paused at its question
    state = b.ok("GET", "/v1/threads/t-paused/state", params={"workflow": "review"})
    assert state["next"] == ["ask"]
    assert state["interrupts"]


def test_resuming_another_tenants_interrupt_touches_nothing_of_it(world: dict[str, Any]) -> None:
    a, b = world["callers"]["acme"], world["callers"]["globex"]
    answer = a("POST", "/v1/runs/wait", params={"thread_id": "t-paused"},
               json={"workflow": "review", "resume": "yes"})  # fmt: skip
    # on A's side there is no such thread, so nothing is waiting for an answer
    assert answer.status_code >= 400 or answer.json()["values"].get("verdict") is None
    assert b.ok("GET", f"/v1/runs/{world['paused']}")["status"] == "interrupted"
    state = b.ok("GET", "/v1/threads/t-paused/state", params={"workflow": "review"})
    assert "verdict" not in state["values"]


def test_lists_and_searches_show_only_the_callers_tenant(world: dict[str, Any]) -> None:
    a, b = world["callers"]["acme"], world["callers"]["globex"]
    mine = a.ok("POST", "/v1/runs/wait", params={"thread_id": "t-acme"},
                json={"workflow": "counter", "input": {}})  # fmt: skip
    runs_a = {r["run_id"] for r in a.ok("GET", "/v1/runs")}
    runs_b = {r["run_id"] for r in b.ok("GET", "/v1/runs")}
    assert mine["run_id"] in runs_a
    assert not runs_a & runs_b
    assert {world["done"], world["paused"], world["running"]} <= runs_b
    assert "t-paused" not in a.ok("GET", "/v1/threads")
    assert "t-paused" in b.ok("GET", "/v1/threads")
    assert a.ok("GET", "/v1/events/search", params={"q": "globex-secret-note"}) == []
    assert b.ok("GET", "/v1/events/search", params={"q": "globex-secret-note"})
    stats_a = a.ok("GET", "/v1/runs/stats")
    assert stats_a["total"] == len(runs_a)
    assert "globex-budget" not in [x["name"] for x in a.ok("GET", "/v1/budgets")]
    assert {x["name"] for x in b.ok("GET", "/v1/budgets")} == {"globex-budget", "shared-budget"}
    assert a.ok("GET", "/v1/flows") == []
    assert [f["name"] for f in b.ok("GET", "/v1/flows")] == ["globex-flow"]
    assert all("globex" not in p["model"] for p in a.ok("GET", "/v1/prices"))
    assert any("globex" in p["model"] for p in b.ok("GET", "/v1/prices"))
    assert a.ok("GET", "/v1/artifacts") == []
    assert [t["task_id"] for t in a.ok("GET", "/v1/tasks")] == []
    assert {t["name"] for t in a.ok("GET", "/v1/auth/tokens")} == {"boss", "op", "viewer"}
    assert {t["tenant"] for t in b.ok("GET", "/v1/auth/tokens")} == {"globex"}


def test_ids_a_client_chooses_are_each_tenants_own(world: dict[str, Any]) -> None:
    a, b = world["callers"]["acme"], world["callers"]["globex"]
    mine = a.ok("POST", "/v1/runs/wait", params={"thread_id": "t-same"},
                json={"workflow": "counter", "input": {"n": 40}})  # fmt: skip
    assert mine["values"]["n"] == 41  # A's own thread t-same, not B's
    assert b.ok("GET", "/v1/threads/t-same/state")["values"]["n"] == 1
    assert a("POST", "/v1/budgets", json={"name": "shared-budget", "amount": "1",
                                          "enforcement": "warn"}).status_code == 201  # fmt: skip
    limits = [c.ok("GET", "/v1/budgets/shared-budget")["limit"] for c in (a, b)]
    assert limits == [1_000_000_000, 5_000_000_000]
    mine = {"task_id": "task-1", "session_id": "sess-1", "model_ref": "tiny", "prompt": "yo",
            "max_tokens": 4}  # fmt: skip
    accepted = a("POST", "/v1/tasks", json=mine)
    assert accepted.status_code == 202, accepted.text  # not a 409: B's task-1 is not A's
    assert a.ok("GET", "/v1/tasks/task-1")["task_id"] == "task-1"


def test_another_tenants_named_things_are_not_there(world: dict[str, Any]) -> None:
    a = world["callers"]["acme-viewer"]
    admin = world["callers"]["acme"]
    pairs = [
        (admin, "GET", "/v1/budgets/{}", "globex-budget"),
        (admin, "GET", "/v1/budgets/{}/status", "globex-budget"),
        (admin, "POST", "/v1/budgets/{}/raise", "globex-budget"),
        (admin, "DELETE", "/v1/budgets/{}", "globex-budget"),
        (a, "GET", "/v1/flows/{}/versions", "globex-flow"),
        (a, "GET", "/v1/flows/{}/versions/1.0.0", "globex-flow"),
        (a, "GET", "/v1/workflows/{}", "globex-flow@1.0.0"),
        (a, "GET", "/v1/tasks/{}", "globex-task"),
        (a, "GET", "/v1/tasks/{}/stream", "globex-task"),
        (admin, "POST", "/v1/tasks/{}/cancel", "globex-task"),
        (a, "GET", "/v1/sessions/{}", "globex-sess"),
        (admin, "DELETE", "/v1/sessions/{}", "globex-sess"),
        (admin, "DELETE", "/v1/auth/tokens/{}", "globex-only"),
    ]
    for caller, method, path, secret in pairs:
        other = "zz" + uuid.uuid4().hex[:10]
        body = {"by": "9"} if path.endswith("raise") else None
        _missing(caller(method, path.format(secret), json=body),
                 caller(method, path.format(other), json=body), secret, other)  # fmt: skip
    for artifact in world["artifacts"]:
        other = "sha256:" + "0" * 64
        _missing(a("GET", f"/v1/artifacts/{artifact}"), a("GET", f"/v1/artifacts/{other}"),
                 artifact, other)  # fmt: skip
    run = a("POST", "/v1/runs/wait", json={"workflow": "globex-flow@1.0.0", "input": {}})
    assert run.status_code in (403, 404)  # a viewer; and the flow is not A's either way


def test_streams_follow_only_the_callers_runs(world: dict[str, Any]) -> None:
    a = world["callers"]["acme"]
    done = a.ok("POST", "/v1/runs/wait", json={"workflow": "counter", "input": {}})
    events = sse(a("GET", f"/v1/runs/{done['run_id']}/stream").text)
    assert events
    assert all(e["data"].get("run_id") in (None, done["run_id"]) for e in events)
    assert a("GET", f"/v1/runs/{world['running']}/stream").status_code == 404


def test_roles_hold_within_a_tenant(world: dict[str, Any]) -> None:
    viewer, operator = world["callers"]["acme-viewer"], world["callers"]["acme-operator"]
    assert viewer("GET", "/v1/runs").status_code == 200
    run = {"workflow": "counter", "input": {}}
    assert viewer("POST", "/v1/runs/wait", json=run).status_code == 403
    assert operator("POST", "/v1/runs/wait", json=run).status_code == 200
    denied = operator("POST", "/v1/budgets", json={"name": "x", "amount": "1"})
    assert denied.status_code == 403
    assert operator("GET", "/v1/auth/tokens").status_code == 403


def test_the_registry_and_metrics_are_the_installations(world: dict[str, Any]) -> None:
    root, a = world["callers"]["root"], world["callers"]["acme"]
    assert a("GET", "/v1/admin/tenants").status_code == 403
    assert a("POST", "/v1/admin/tenants", json={"name": "evil"}).status_code == 403
    assert a("GET", "/metrics").status_code == 403
    assert root("GET", "/metrics").status_code == 200
    names = [t["name"] for t in root.ok("GET", "/v1/admin/tenants")]
    assert names == ["default", "acme", "globex"]
    assert root("POST", "/v1/admin/tenants", json={"name": "Bad Name"}).status_code in (400, 422)
    # the default tenant's admin sees its own data, not the tenants'
    assert world["done"] not in {r["run_id"] for r in root.ok("GET", "/v1/runs")}
    assert root("GET", f"/v1/runs/{world['done']}").status_code == 404
    me = a.ok("GET", "/v1/auth/whoami")
    assert (me["tenant"], me["role"]) == ("acme", "admin")


def test_a_disabled_tenant_is_refused_at_once_and_served_again(world: dict[str, Any]) -> None:
    root, b = world["callers"]["root"], world["callers"]["globex"]
    assert root.ok("PATCH", "/v1/admin/tenants/globex", json={"disabled": True})["disabled_at"]
    assert b("GET", "/v1/runs").status_code == 401
    assert root.ok("PATCH", "/v1/admin/tenants/globex", json={"disabled": False})
    assert b("GET", f"/v1/runs/{world['done']}").status_code == 200
    assert root("PATCH", "/v1/admin/tenants/nobody", json={"disabled": True}).status_code == 404
