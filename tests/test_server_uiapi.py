"""The endpoints the web UI's pages read, against a real ``orca serve`` on loopback: the
runs list with its filters and cursor, its counters, the event-log search (never showing
a secret), spend over time, a workflow's per-node figures, breakpoints of one run
(``interrupt_before``/``interrupt_after``, also after a restart), and the server's
tokens over HTTP with their scopes. Good and hostile input for each."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import _served
from orca.cost import CallContext, Charge
from orca.store import user_store

FLOW = """
import asyncio
from typing import TypedDict
from orca import END, START, StateGraph


class S(TypedDict, total=False):
    topic: str
    plan: str
    notes: str
    fail: bool
    pause: float


SECRET = "api_key=sk-proj-" + "Zq8" * 12


def echo(text: str, note: str = "") -> str:
    \"\"\"Say the text back.\"\"\"
    return text


tools = [echo]


async def plan(state, ctx):
    await asyncio.sleep(state.get("pause", 0))
    ctx.write(f"planning the {state['topic']} with {SECRET}")
    return {"plan": "plan of " + state["topic"]}


def work(state, ctx):
    if state.get("fail"):
        raise ValueError("work gave up on " + state["topic"])
    return {"notes": "notes on " + state["plan"]}


async def publish(state, ctx):
    said = await ctx.tools.acall("echo", text=state["notes"], note=SECRET)
    return {"notes": said + "!"}


triage = StateGraph(S, name="triage")
triage.add_node("plan", plan)
triage.add_node("work", work)
triage.add_node("publish", publish)
triage.add_edge(START, "plan")
triage.add_edge("plan", "work")
triage.add_edge("work", "publish")
triage.add_edge("publish", END)
"""

ZQ = "Zq8" * 4
T0 = dt.datetime(2026, 5, 13, 9, 0, tzinfo=dt.UTC)


def refused(response: httpx.Response, status: int, code: str, field: str | None = None) -> Any:
    """The envelope of a refused request; with ``field``, it names it and says a fix."""
    body = _served.assert_envelope(response, status, code)
    if field is not None:
        named = body["details"].get("field") == field or field in body["message"]
        assert named, body
        assert body["details"].get("fix") or body["details"].get("problems"), body
    return body


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    project = tmp_path_factory.mktemp("uiapi")
    _served.init_project(project, FLOW)
    with _served.served(project, ["triage"], cwd=project) as url:
        yield url, project


@pytest.fixture
def client(served: tuple[str, Path]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served[0], timeout=60) as c:
        yield c


def run(client: httpx.Client, thread: str | None = None, **body: Any) -> dict[str, Any]:
    body = {"workflow": "triage", **body}
    params = {"thread_id": thread} if thread else {}
    found: dict[str, Any] = ok(client.post("/v1/runs/wait", json=body, params=params))
    return found


@pytest.fixture(scope="module")
def runs(served: tuple[str, Path]) -> dict[str, dict[str, Any]]:
    """Runs of ``triage``: two done, one failed, one paused before ``work``."""
    with httpx.Client(base_url=served[0], timeout=60) as c:
        return {
            "heron": run(c, "th-1", input={"topic": "grey heron"}),
            "sparrow": run(c, "th-1", input={"topic": "house sparrow"}),
            "failed": run(c, input={"topic": "broken wing", "fail": True}),
            "paused": run(c, "th-2", input={"topic": "owl"}, interrupt_before=["work"]),
        }


# -- GET /v1/runs ----------------------------------------------------------------------------


def test_runs_are_listed_by_status_workflow_thread_and_time(
    client: httpx.Client, runs: dict[str, dict[str, Any]]
) -> None:
    ids = {k: r["run_id"] for k, r in runs.items()}
    listed = ok(client.get("/v1/runs"))
    assert [r["run_id"] for r in listed][:4] == [
        ids["paused"], ids["failed"], ids["sparrow"], ids["heron"],
    ]  # fmt: skip
    assert set(listed[0]) >= {"run_id", "thread_id", "graph", "status", "cost_nano_usd"}
    both = ok(client.get("/v1/runs", params=[("status", "failed"), ("status", "interrupted")]))
    assert [r["run_id"] for r in both] == [ids["paused"], ids["failed"]]
    on_thread = ok(client.get("/v1/runs", params={"thread_id": "th-1", "status": "done"}))
    assert [r["run_id"] for r in on_thread] == [ids["sparrow"], ids["heron"]]
    assert ok(client.get("/v1/runs", params={"workflow": "nothing"})) == []
    started = runs["sparrow"]["started_at"]
    since = ok(client.get("/v1/runs", params={"since": started, "workflow": "triage"}))
    assert ids["heron"] not in [r["run_id"] for r in since]
    until = ok(client.get("/v1/runs", params={"until": started}))
    assert ids["heron"] in [r["run_id"] for r in until]
    assert ids["sparrow"] not in [r["run_id"] for r in until]
    # no LLM was called: every run cost nothing
    assert ok(client.get("/v1/runs", params={"min_cost_usd": "0.000000001"})) == []
    free = ok(client.get("/v1/runs", params={"max_cost_usd": "0"}))
    assert {r["run_id"] for r in free} >= set(ids.values())


def test_runs_are_found_by_the_text_of_their_event_log(
    client: httpx.Client, runs: dict[str, dict[str, Any]]
) -> None:
    found = ok(client.get("/v1/runs", params={"q": "GREY Heron"}))
    assert [r["run_id"] for r in found] == [runs["heron"]["run_id"]]
    failed = ok(client.get("/v1/runs", params={"q": "gave up on"}))  # the task's error
    assert [r["run_id"] for r in failed] == [runs["failed"]["run_id"]]
    # the secret the node wrote (and the tool's argument) are redacted for the search
    assert ok(client.get("/v1/runs", params={"q": ZQ})) == []


def test_a_cursor_pages_newest_first_without_gaps(
    client: httpx.Client, runs: dict[str, dict[str, Any]]
) -> None:
    every = [r["run_id"] for r in ok(client.get("/v1/runs", params={"limit": 1000}))]
    paged: list[str] = []
    params: dict[str, Any] = {"limit": 2}
    while page := ok(client.get("/v1/runs", params=params)):
        paged += [r["run_id"] for r in page]
        params["before"] = page[-1]["run_id"]
    assert paged == every


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"since": "yesterday-ish"}, 422, "since"),
        ({"until": "2026-13-45"}, 422, "until"),
        ({"min_cost_usd": "-1"}, 422, "min_cost_usd"),
        ({"max_cost_usd": "1e3"}, 422, "max_cost_usd"),
        ({"max_cost_usd": "NaN"}, 422, "max_cost_usd"),
        ({"min_cost_usd": "0.0000000001"}, 422, "min_cost_usd"),  # finer than a nano-dollar
        ({"min_cost_usd": "99999999999999999999"}, 422, "min_cost_usd"),
        ({"before": "run-that-never-was"}, 422, "before"),
        ({"before": "a\x00b"}, 422, "before"),
        ({"q": "x" * 201}, 422, "q"),
        ({"q": ""}, 422, "q"),
        ({"thread_id": "\n"}, 422, "thread_id"),
    ],
)
def test_bad_run_filters_are_refused_naming_the_field(
    client: httpx.Client, params: dict[str, str], status: int, field: str
) -> None:
    refused(client.get("/v1/runs", params=params), status, "INVALID_REQUEST", field)


def test_the_runs_list_keeps_its_old_answers_to_bad_status_and_limit(
    client: httpx.Client,
) -> None:
    refused(client.get("/v1/runs", params={"status": "sleeping"}), 400, "INVALID_INPUT")
    refused(client.get("/v1/runs", params={"limit": 0}), 400, "INVALID_INPUT")
    refused(client.get("/v1/runs", params={"limit": 1001}), 400, "INVALID_INPUT")
    refused(client.get("/v1/runs", params={"q": "a\x00b"}), 400, "INVALID_INPUT")


# -- GET /v1/runs/stats ----------------------------------------------------------------------


def test_stats_count_runs_by_status_with_money_as_decimal_strings(
    client: httpx.Client, runs: dict[str, dict[str, Any]]
) -> None:
    stats = ok(client.get("/v1/runs/stats"))
    listed = ok(client.get("/v1/runs", params={"limit": 1000}))
    for status in ("queued", "running", "interrupted", "done", "failed", "cancelled"):
        assert stats[status] == sum(r["status"] == status for r in listed), status
    assert stats["total"] == len(listed) >= 4
    assert stats["runs_24h"] == stats["total"]
    assert (stats["cost_usd"], stats["cost_usd_24h"], stats["tokens_24h"]) == ("0.00", "0.00", 0)
    # "stats" is not taken for a run id
    refused(client.get("/v1/runs/stats-not"), 404, "NOT_FOUND")


# -- GET /v1/events/search -------------------------------------------------------------------


def test_the_event_log_is_searched_with_excerpts_and_never_shows_a_secret(
    client: httpx.Client, runs: dict[str, dict[str, Any]]
) -> None:
    heron = runs["heron"]["run_id"]
    found = ok(client.get("/v1/events/search", params={"q": "grey HERON"}))
    assert found
    assert {h["run_id"] for h in found} == {heron}
    custom = next(h for h in found if h["type"] == "custom")
    assert set(custom) == {"run_id", "seq", "type", "ts", "node", "excerpt"}
    assert custom["node"] == "plan"
    assert "grey heron" in custom["excerpt"].lower()
    assert "[REDACTED:" in custom["excerpt"]
    assert ZQ not in custom["excerpt"]
    assert ok(client.get("/v1/events/search", params={"q": ZQ})) == []
    # every event of every run that says "planning": no excerpt holds the secret
    planning = ok(client.get("/v1/events/search", params={"q": "planning", "limit": 1000}))
    assert len(planning) >= 4
    assert all(ZQ not in h["excerpt"] for h in planning)
    # the tool call's arguments were redacted when logged
    tools = ok(client.get("/v1/events/search", params={"q": "echo", "type": "tool.call"}))
    assert tools
    assert all(h["type"] == "tool.call" and ZQ not in h["excerpt"] for h in tools)
    one = ok(client.get("/v1/events/search", params={"q": "planning", "run_id": heron}))
    assert {h["run_id"] for h in one} == {heron}
    assert len(ok(client.get("/v1/events/search", params={"q": "planning", "limit": 1}))) == 1


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": ""}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"q": "x", "type": "tool.called"}, "type"),
        ({"q": "x", "limit": 0}, "limit"),
        ({"q": "x", "limit": 1001}, "limit"),
        ({"q": "x", "run_id": "\x7f"}, "run_id"),
    ],
)
def test_bad_searches_are_refused_naming_the_field(
    client: httpx.Client, params: dict[str, Any], field: str
) -> None:
    refused(client.get("/v1/events/search", params=params), 422, "INVALID_REQUEST", field)


# -- GET /v1/usage/series and /v1/workflows/{name}/stats --------------------------------------


@pytest.fixture(scope="module")
def spent(served: tuple[str, Path], runs: dict[str, dict[str, Any]]) -> str:
    """Three LLM calls of ``triage`` in the usage ledger: two in one hour, one a day on."""
    _, project = served
    when = [T0]
    with user_store(project / "home" / "orca.db", clock=lambda: when[0]) as store:
        for at, model, node, cost in (
            (T0 + dt.timedelta(minutes=5), "gpt-a", "plan", 1_500_000_000),
            (T0 + dt.timedelta(minutes=50), "gpt-b", "plan", 250),
            (T0 + dt.timedelta(days=1, minutes=1), "gpt-a", "publish", 7),
        ):
            when[0] = at
            context = CallContext(
                run_id=runs["heron"]["run_id"], workflow="triage", node=node, role="planner"
            )
            hold = store.ledger.reserve([], {"usd": cost}, context)
            store.ledger.settle(hold, Charge("openai", model, 100, 20, cost_nano_usd=cost), context)
    return "triage"


def test_spend_is_a_series_by_bucket_and_key(client: httpx.Client, spent: str) -> None:
    hourly = ok(client.get("/v1/usage/series", params={"by": "model", "bucket": "hour"}))
    assert (hourly["bucket"], hourly["by"]) == ("hour", "model")
    assert [(p["t"], p["key"], p["cost_usd"], p["calls"]) for p in hourly["points"]] == [
        ("2026-05-13T09:00:00+00:00", "openai/gpt-a", "1.50", 1),
        ("2026-05-13T09:00:00+00:00", "openai/gpt-b", "0.00000025", 1),
        ("2026-05-14T09:00:00+00:00", "openai/gpt-a", "0.000000007", 1),
    ]
    assert hourly["points"][0]["tokens_in"] == 100
    assert hourly["points"][0]["tokens_out"] == 20
    daily = ok(client.get("/v1/usage/series", params={"by": "node"}))
    assert [(p["t"], p["key"], p["cost_nano_usd"]) for p in daily["points"]] == [
        ("2026-05-13T00:00:00+00:00", "plan", 1_500_000_250),
        ("2026-05-14T00:00:00+00:00", "publish", 7),
    ]
    later = ok(client.get("/v1/usage/series", params={"since": "2026-05-14", "by": "workflow"}))
    assert [(p["key"], p["calls"]) for p in later["points"]] == [("triage", 1)]
    assert ok(client.get("/v1/usage/series", params={"until": "2026-05-13"}))["points"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"by": "colour"}, "by"),
        ({"by": "day"}, "by"),  # a bucket, not a key
        ({"bucket": "minute"}, "bucket"),
        ({"since": "soon"}, "since"),
        ({"until": "x" * 65}, "until"),
    ],
)
def test_bad_series_are_refused_naming_the_field(
    client: httpx.Client, params: dict[str, str], field: str
) -> None:
    refused(client.get("/v1/usage/series", params=params), 422, "INVALID_REQUEST", field)


def test_a_workflow_s_nodes_have_their_figures(
    client: httpx.Client, runs: dict[str, dict[str, Any]], spent: str
) -> None:
    found = {n["node"]: n for n in ok(client.get("/v1/workflows/triage/stats"))}
    assert set(found) == {"plan", "work", "publish"}
    plan, work, publish = found["plan"], found["work"], found["publish"]
    assert set(plan) >= {
        "node",
        "runs",
        "calls",
        "errors",
        "p50_ms",
        "p95_ms",
        "cost_usd",
        "tokens",
    }
    assert plan["runs"] >= 4
    assert plan["errors"] == 0
    assert work["errors"] >= 1  # the failed run's
    assert (plan["cost_usd"], plan["tokens"], plan["llm_calls"]) == ("1.50000025", 240, 2)
    assert publish["cost_usd"] == "0.000000007"
    assert 0 <= plan["p50_ms"] <= plan["p95_ms"]
    assert work["cost_usd"] == "0.00"
    future = ok(client.get("/v1/workflows/triage/stats", params={"since": "2999-01-01"}))
    assert future == []
    refused(client.get("/v1/workflows/nothing/stats"), 404, "NOT_FOUND")
    refused(
        client.get("/v1/workflows/triage/stats", params={"since": "then"}),
        422,
        "INVALID_REQUEST",
        "since",
    )


# -- breakpoints -----------------------------------------------------------------------------


def test_a_run_pauses_at_its_own_breakpoints_and_continues_plainly(
    client: httpx.Client, runs: dict[str, dict[str, Any]]
) -> None:
    paused = runs["paused"]
    assert paused["status"] == "interrupted"
    state = ok(client.get("/v1/threads/th-2/state"))
    assert state["next"] == ["work"]
    assert state["values"]["plan"] == "plan of owl"
    assert [i["when"] for i in state["interrupts"]] == ["before"]
    assert paused["interrupts"][0]["node"] == "work"
    done = run(client, "th-2")  # continue: no input, no breakpoints
    assert done["status"] == "done"
    assert done["values"]["notes"] == "notes on plan of owl!"

    after = run(client, "th-3", input={"topic": "kite"}, interrupt_after=["plan"])
    assert after["status"] == "interrupted"
    assert ok(client.get("/v1/threads/th-3/state"))["next"] == ["work"]
    every = run(client, "th-3", interrupt_before="*")  # the next node is a breakpoint too
    assert every["status"] == "interrupted"
    assert ok(client.get("/v1/threads/th-3/state"))["next"] == ["work"]
    assert run(client, "th-3")["status"] == "done"
    # the workflow itself keeps no breakpoint
    assert run(client, input={"topic": "plain"})["status"] == "done"


@pytest.mark.parametrize(
    ("body", "field", "said"),
    [
        ({"interrupt_before": ["wrok"]}, "interrupt_before", "did you mean 'work'"),
        ({"interrupt_after": ["plan", "ghost"]}, "interrupt_after", "'ghost'"),
        ({"interrupt_before": "all"}, "interrupt_before", ""),
        ({"interrupt_before": [""]}, "interrupt_before", ""),
        ({"interrupt_after": ["a\x00"]}, "interrupt_after", ""),
        ({"interrupt_after": ["x"] * 1001}, "interrupt_after", ""),
    ],
)
def test_a_breakpoint_naming_no_node_is_refused(
    client: httpx.Client, body: dict[str, Any], field: str, said: str
) -> None:
    response = client.post("/v1/runs", json={"workflow": "triage", "input": {}, **body})
    envelope = refused(response, 422, "INVALID_REQUEST", field)
    assert said in envelope["message"]


def test_a_queued_run_keeps_its_breakpoints_across_a_restart(tmp_path: Path) -> None:
    _served.init_project(tmp_path, FLOW, "max_running_runs = 1")
    body = {"workflow": "triage", "input": {"topic": "wren"}, "interrupt_before": ["publish"]}
    slow = {"workflow": "triage", "input": {"topic": "slow", "pause": 30}}
    with (
        _served.served(tmp_path, ["triage"], cwd=tmp_path) as url,
        httpx.Client(base_url=url, timeout=60) as c,
    ):
        ok(c.post("/v1/threads/busy/runs", json=slow), 202)
        queued = ok(c.post("/v1/threads/later/runs", json=body), 202)
        assert queued["status"] == "queued"
    # stopped: the queued run stays queued, with its request
    with (
        _served.served(tmp_path, ["triage"], cwd=tmp_path) as url,
        httpx.Client(base_url=url, timeout=60) as c,
    ):
        done = ok(c.get(f"/v1/runs/{queued['run_id']}/wait"))
        assert done["status"] == "interrupted"
        assert ok(c.get("/v1/threads/later/state"))["next"] == ["publish"]


# -- tokens ----------------------------------------------------------------------------------


def test_tokens_are_made_listed_and_revoked_the_secret_shown_once(
    client: httpx.Client, served: tuple[str, Path]
) -> None:
    made = ok(
        client.post("/v1/auth/tokens", json={"name": "ui-bot", "scopes": ["read", "run"]}), 201
    )
    assert made["name"] == "ui-bot"
    assert made["scope"] == "run"
    assert made["token"].startswith("orca_")
    listed = ok(client.get("/v1/auth/tokens"))
    mine = next(t for t in listed if t["name"] == "ui-bot")
    assert "token" not in mine
    assert made["token"] not in str(listed)
    assert mine["scopes"] == ["read", "run"]
    assert mine["last_used_at"] is None
    # the CLI sees the same tokens
    said = subprocess.run(
        [str(Path(sys.executable).parent / "orca"), "-C", str(served[1]), "token",
         "list", "--json"],
        env={**os.environ, "ORCA_HOME": str(served[1] / "home")},
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert json.loads(said.stdout) == listed
    refused(client.post("/v1/auth/tokens", json={"name": "ui-bot"}), 400, "INVALID_INPUT")
    assert client.delete("/v1/auth/tokens/ui-bot").status_code == 204
    assert "ui-bot" not in [t["name"] for t in ok(client.get("/v1/auth/tokens"))]
    revoked = ok(client.get("/v1/auth/tokens", params={"all": "true"}))
    assert any(t["name"] == "ui-bot" and t["revoked_at"] for t in revoked)
    refused(client.delete("/v1/auth/tokens/ui-bot"), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "has space"}, "name"),
        ({"name": "-dash-first"}, "name"),
        ({"name": "x" * 65}, "name"),
        ({"name": "nul\x00"}, "name"),
        ({"name": "ok", "scopes": ["root"]}, "scopes"),
        ({"name": "ok", "scopes": []}, "scopes"),
        ({"name": "ok", "scope": "admin"}, "scope"),
        ({"scopes": ["read"]}, "name"),
    ],
)
def test_bad_tokens_are_refused_naming_the_field(
    client: httpx.Client, body: dict[str, Any], field: str
) -> None:
    refused(client.post("/v1/auth/tokens", json=body), 422, "INVALID_REQUEST", field)


def test_with_auth_on_tokens_need_admin_and_reads_need_read(tmp_path: Path) -> None:
    _served.init_project(tmp_path, FLOW)
    env = {**os.environ, "ORCA_HOME": str(tmp_path / "home")}
    orca_bin = str(Path(sys.executable).parent / "orca")

    def make(name: str, scope: str) -> str:
        said = subprocess.run(
            [orca_bin, "-C", str(tmp_path), "token", "create", name, "--scope", scope, "--json"],
            env=env, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        token: str = json.loads(said.stdout)["token"]
        return token

    admin, reader = make("boss", "admin"), make("viewer", "read")
    with _served.served(tmp_path, ["triage"], cwd=tmp_path) as url:

        def get(path: str, token: str | None, **kw: Any) -> httpx.Response:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            return httpx.get(url + path, headers=headers, timeout=60, **kw)

        for path in (
            "/v1/runs",
            "/v1/runs/stats",
            "/v1/usage/series",
            "/v1/workflows/triage/stats",
        ):
            refused(get(path, None), 401, "UNAUTHENTICATED")
            assert get(path, reader).status_code == 200, path
        refused(get("/v1/events/search", None, params={"q": "x"}), 401, "UNAUTHENTICATED")
        assert get("/v1/events/search", reader, params={"q": "x"}).status_code == 200
        refused(get("/v1/auth/tokens", reader), 403, "FORBIDDEN")
        body = {"name": "sneaky", "scopes": ["admin"]}
        read_headers = {"Authorization": f"Bearer {reader}"}
        refused(
            httpx.post(url + "/v1/auth/tokens", json=body, headers=read_headers), 403, "FORBIDDEN"
        )
        refused(httpx.delete(url + "/v1/auth/tokens/boss", headers=read_headers), 403, "FORBIDDEN")
        boss = {"Authorization": f"Bearer {admin}"}
        names = [t["name"] for t in ok(httpx.get(url + "/v1/auth/tokens", headers=boss))]
        assert names == ["boss", "viewer"]
        made = ok(httpx.post(url + "/v1/auth/tokens", json={"name": "ci", "scopes": ["read"]},
                             headers=boss), 201)  # fmt: skip
        assert get("/v1/runs/stats", made["token"]).status_code == 200  # works at once
        assert httpx.delete(url + "/v1/auth/tokens/ci", headers=boss).status_code == 204
        refused(get("/v1/runs/stats", made["token"]), 401, "UNAUTHENTICATED")  # and stops
