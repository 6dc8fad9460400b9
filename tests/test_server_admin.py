"""The admin API of ``orca serve`` as a real process on loopback: budgets, profiles,
prices, usage reports, the tool audit, and a run's record, timeline, events, trace and
replay. Each endpoint is driven with good and bad input (every error in the envelope,
naming the field and the fix), and each noun is checked against its CLI twin: ``orca ...
--json`` run as a subprocess on the same ``ORCA_HOME`` and project gives the same data."""

from __future__ import annotations

import json
import os
import socket
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
import random
from typing import TypedDict
from orca import END, START, StateGraph


class S(TypedDict, total=False):
    n: int
    x: int
    roll: float


def step(state, ctx):
    return {"n": state.get("n", 0) + 1}


counter = StateGraph(S, name="counter")
counter.add_node("step", step)
counter.add_edge(START, "step")
counter.add_conditional_edges("step", lambda s: "step" if s["n"] < 3 else END)


def dice(sides: int, note: str = "") -> float:
    \"\"\"Roll a die with this many sides.\"\"\"
    return random.random() * sides


tools = [dice]


async def roll(state, ctx):
    return {"roll": await ctx.tools.acall("dice", sides=state["x"], note=SECRET)}


SECRET = "api_key=sk-proj-" + "Zq8" * 12


rolls = StateGraph(S, name="rolls")
rolls.add_node("roll", roll)
rolls.add_edge(START, "roll")
rolls.add_edge("roll", END)
"""

ENVELOPE = {"code", "message", "engine", "retriable", "retry_after_ms", "policy_label", "details"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(project: Path) -> dict[str, str]:
    return {**os.environ, "ORCA_HOME": str(project / "home")}


def _orca_bin() -> str:
    return str(Path(sys.executable).parent / "orca")


def cli(project: Path, *args: str) -> Any:
    """``orca -C project ARGS --json`` as a subprocess on the server's ``ORCA_HOME``:
    its JSON (it must succeed)."""
    [found] = clis(project, args)
    return found


def clis(project: Path, *commands: tuple[str, ...], json_flag: bool = True) -> list[Any]:
    """Several ``orca`` commands at once (as ``cli``), their JSON in order."""
    procs = [
        subprocess.Popen(
            [_orca_bin(), "-C", str(project), *args, *(["--json"] if json_flag else [])],
            env=_env(project),
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for args in commands
    ]
    found = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        found.append(json.loads(out))
    return found


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    project = tmp_path_factory.mktemp("admin")
    (project / "flows.py").write_text(FLOW)
    (project / "changed.py").write_text(
        FLOW.replace('state.get("n", 0) + 1', 'state.get("n", 0) + 2')
    )
    subprocess.run(
        [_orca_bin(), "-C", str(project), "init"], env=_env(project), check=True, timeout=60
    )
    with _served.served(project, ["counter", "rolls"], cwd=project) as url:
        yield url, project


@pytest.fixture
def client(served: tuple[str, Path]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served[0], timeout=60) as c:
        yield c


@pytest.fixture
def project(served: tuple[str, Path]) -> Path:
    return served[1]


def refused(response: httpx.Response, status: int, code: str, field: str | None = None) -> Any:
    """The envelope of a refused request; with ``field``, it names that field and a fix."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ENVELOPE
    assert body["code"] == code, body
    if field is not None:
        assert body["details"].get("field") == field or field in body["message"], body
        assert body["details"].get("fix") or body["details"].get("problems"), body
    return body


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


# -- budgets --------------------------------------------------------------------------------------


def test_budgets_are_created_raised_used_and_deleted_as_the_cli_sees_them(
    client: httpx.Client, project: Path
) -> None:
    made = ok(client.post("/v1/budgets", json={"name": "team", "amount": "5.00"}), 201)
    assert (made["name"], made["limit"], made["remaining"]) == (
        "team",
        5_000_000_000,
        5_000_000_000,
    )
    assert made["used_pct"] == "0.00"  # percentages and money: never floats
    assert ok(client.get("/v1/budgets/team")) == cli(project, "budget", "show", "team")
    ok(
        client.post(
            "/v1/budgets",
            json={"name": "monthly", "amount": "20000", "unit": "tokens", "type": "recurring",
                  "period": "monthly", "thresholds": [50], "timezone": "Europe/Paris"},
        ),
        201,
    )  # fmt: skip
    shown = ok(client.get("/v1/budgets/monthly"))
    assert (shown["unit"], shown["thresholds"], shown["timezone"]) == (
        "tokens",
        [50],
        "Europe/Paris",
    )
    ok(client.post("/v1/budgets", json={"name": "one-run", "amount": "1", "run": "run-x"}), 201)
    listed, every = clis(project, ("budget", "list"), ("budget", "list", "--all"))
    assert ok(client.get("/v1/budgets")) == listed
    assert "one-run" not in [b["name"] for b in listed]  # a budget of one run: with all
    assert ok(client.get("/v1/budgets", params={"all": "true"})) == every
    assert "one-run" in [b["name"] for b in every]
    refused(client.get("/v1/budgets", params={"all": "maybe"}), 422, "INVALID_REQUEST", "all")
    ok(client.delete("/v1/budgets/one-run"))

    raised = ok(client.post("/v1/budgets/team/raise", json={"by": "2.50"}))
    assert raised["limit"] == 7_500_000_000
    assert ok(client.post("/v1/budgets/team/raise", json={"to": "$10"}))["limit"] == 10**10
    assert ok(client.get("/v1/budgets/team/status")) == cli(project, "budget", "status", "team")

    assert ok(client.post("/v1/budgets/monthly/use")) == {"active": "monthly"}
    assert cli(project, "budget", "status")["name"] == "monthly"  # the CLI's active one now
    assert ok(client.delete("/v1/budgets/monthly")) == {"deleted": "monthly"}
    refused(client.get("/v1/budgets/monthly"), 404, "NOT_FOUND")
    assert [b["name"] for b in cli(project, "budget", "list")] == ["team"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "b", "amount": "abc"}, "amount"),
        ({"name": "b", "amount": "0"}, "amount"),
        ({"name": "b", "amount": "-3"}, "amount"),
        ({"name": "b", "amount": "2000000000"}, "amount"),
        ({"name": "b", "amount": "1.5", "unit": "tokens"}, "amount"),
        ({"name": "b", "amount": "1", "unit": "euro"}, "unit"),
        ({"name": "b", "amount": "1", "type": "recurring"}, "period"),
        ({"name": "b", "amount": "1", "period": "hourly"}, "period"),
        ({"name": "b", "amount": "1", "timezone": "Mars/Olympus"}, "timezone"),
        ({"name": "b", "amount": "1", "run": "r", "session": "s"}, "run"),
        ({"name": "no spaces", "amount": "1"}, "name"),
        ({"name": "b", "amount": 5}, "amount"),  # money is a decimal string, not a number
        ({"name": "b", "amount": "1", "colour": "red"}, "colour"),
        ({"amount": "1"}, "name"),
    ],
)
def test_a_bad_budget_is_a_422_naming_the_field(
    client: httpx.Client, body: dict[str, Any], field: str
) -> None:
    refused(client.post("/v1/budgets", json=body), 422, "INVALID_REQUEST", field)
    refused(client.get("/v1/budgets/b"), 404, "NOT_FOUND")


def test_raising_a_budget_checks_what_is_asked(client: httpx.Client) -> None:
    ok(client.post("/v1/budgets", json={"name": "small", "amount": "1"}), 201)
    refused(client.post("/v1/budgets/small/raise", json={}), 422, "INVALID_REQUEST", "by")
    both = {"by": "1", "to": "3"}
    refused(client.post("/v1/budgets/small/raise", json=both), 422, "INVALID_REQUEST", "by")
    refused(client.post("/v1/budgets/small/raise", json={"to": "0"}), 422, "INVALID_REQUEST", "to")
    refused(client.post("/v1/budgets/small/raise", json={"by": "x"}), 422, "INVALID_REQUEST", "by")
    gone = client.post("/v1/budgets/nobody/raise", json={"by": "1"})
    assert "nobody" in refused(gone, 404, "NOT_FOUND")["message"]
    refused(client.post("/v1/budgets/nobody/use"), 404, "NOT_FOUND")
    refused(client.delete("/v1/budgets/nobody"), 404, "NOT_FOUND")
    refused(client.get("/v1/budgets/nobody/status"), 404, "NOT_FOUND")
    assert ok(client.get("/v1/budgets/small"))["limit"] == 10**9  # untouched


def test_a_budget_is_not_raised_to_below_what_it_has_spent(
    client: httpx.Client, project: Path
) -> None:
    ok(client.post("/v1/budgets", json={"name": "spent", "amount": "5"}), 201)
    with user_store(project / "home" / "orca.db") as store:
        budget = store.ledger.budgets.get("spent")
        hold = store.ledger.reserve([budget], {"usd": 3 * 10**9})
        store.ledger.settle(hold, Charge("openai", "gpt-test", 10, 5, cost_nano_usd=3 * 10**9))
    low = refused(
        client.post("/v1/budgets/spent/raise", json={"to": "2"}), 422, "INVALID_REQUEST", "to"
    )
    assert "$3.00 spent" in low["message"]
    assert "at least $3.00" in low["details"]["fix"]


# -- profiles -------------------------------------------------------------------------------------


def test_profiles_are_created_updated_used_and_deleted_as_the_cli_sees_them(
    client: httpx.Client, project: Path
) -> None:
    body = {
        "name": "fast",
        "planner": "openai:gpt-4o",
        "worker": "openai:gpt-4o-mini",
        "planner_params": {"temperature": 0.2},
        "description": "quick",
    }
    made = ok(client.post("/v1/profiles", json=body), 201)
    assert made["planner"] == {
        "provider": "openai",
        "model": "gpt-4o",
        "params": {"temperature": 0.2},
    }
    assert ok(client.get("/v1/profiles/fast")) == cli(project, "profile", "show", "fast")
    other = {"name": "local", "planner": "ollama:qwen3", "worker": "ollama:qwen3"}
    ok(client.post("/v1/profiles", json=other), 201)
    assert ok(client.get("/v1/profiles")) == cli(project, "profile", "list")

    patch = {"worker": "anthropic:claude-haiku-4-5", "worker_params": {"max_tokens": 100}}
    changed = ok(client.patch("/v1/profiles/fast", json=patch))
    assert changed["worker"]["model"] == "claude-haiku-4-5"
    assert changed["worker"]["params"] == {"max_tokens": 100}
    assert changed["planner"]["params"] == {"temperature": 0.2}  # untouched
    added = ok(client.patch("/v1/profiles/fast", json={"planner_params": {"top_p": 0.5}}))
    assert added["planner"]["params"] == {"temperature": 0.2, "top_p": 0.5}
    assert ok(client.get("/v1/profiles/fast")) == cli(project, "profile", "show", "fast")

    assert ok(client.post("/v1/profiles/local/use")) == {"active": "local"}
    assert [p["name"] for p in cli(project, "profile", "list") if p["active"]] == ["local"]
    assert ok(client.delete("/v1/profiles/local")) == {"deleted": "local"}
    refused(client.get("/v1/profiles/local"), 404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"planner": "gpt-4o"}, "planner"),
        ({"planner": "openai:"}, "planner"),
        ({"worker": "openia:gpt-4o"}, "provider"),
        ({"planner_params": {"temprature": 0.2}}, "planner_params"),
        ({"worker_params": {"temperature": "hot"}}, "worker_params"),
        ({"name": "bad name!"}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_profile_is_a_422_naming_the_field(
    client: httpx.Client, body: dict[str, Any], field: str
) -> None:
    good = {"name": "p", "planner": "openai:gpt-4o", "worker": "openai:gpt-4o-mini"}
    refused(client.post("/v1/profiles", json={**good, **body}), 422, "INVALID_REQUEST", field)
    refused(client.get("/v1/profiles/p"), 404, "NOT_FOUND")


def test_unknown_profiles_are_404_and_bad_patches_422(client: httpx.Client) -> None:
    refused(client.patch("/v1/profiles/ghost", json={"description": "x"}), 404, "NOT_FOUND")
    refused(client.post("/v1/profiles/ghost/use"), 404, "NOT_FOUND")
    refused(client.delete("/v1/profiles/ghost"), 404, "NOT_FOUND")
    good = {"name": "patched", "planner": "openai:gpt-4o", "worker": "openai:gpt-4o-mini"}
    ok(client.post("/v1/profiles", json=good), 201)
    bad = client.patch("/v1/profiles/patched", json={"worker_params": {"temprature": 1}})
    refused(bad, 422, "INVALID_REQUEST", "worker_params")
    refused(client.patch("/v1/profiles/patched", json={"worker": "x"}), 422, "INVALID_REQUEST")


# -- prices ---------------------------------------------------------------------------------------


def test_price_overrides_are_set_shown_and_unset_as_the_cli_sees_them(
    client: httpx.Client, project: Path
) -> None:
    body = {"input": "2.50", "output": "10", "cached_input": "0.125"}
    price = ok(client.put("/v1/prices/openai/house-model", json=body))
    assert (price["input"], price["output"], price["cached_input"]) == ("2.50", "10", "0.125")
    assert price["source"] == "user"
    assert ok(client.get("/v1/prices/openai/house-model")) == cli(
        project, "pricing", "show", "openai", "house-model"
    )
    # a model id with a slash (OpenRouter's) is one path
    ok(client.put("/v1/prices/openrouter/meta/llama-9", json={"input": "0", "output": "0.5"}))
    assert ok(client.get("/v1/prices/openrouter/meta/llama-9")) == cli(
        project, "pricing", "show", "openrouter", "meta/llama-9"
    )
    dated = {"input": "3", "output": "12", "effective_from": "2099-01-01"}
    assert ok(client.put("/v1/prices/openai/house-model", json=dated))["effective_from"].startswith(
        "2099-01-01T00:00:00"
    )
    assert ok(client.get("/v1/prices/openai/house-model"))["input"] == "2.50"  # not yet
    assert ok(client.get("/v1/prices")) == cli(project, "pricing", "list")

    removed = ok(client.delete("/v1/prices/openrouter/meta/llama-9"))
    assert removed == {"provider": "openrouter", "model": "meta/llama-9", "removed": 1}
    refused(client.delete("/v1/prices/openrouter/meta/llama-9"), 404, "NOT_FOUND")
    local = ok(client.get("/v1/prices/ollama/qwen3"))
    assert (local["source"], local["input"]) == ("local", "0")


def test_bad_prices_are_refused(client: httpx.Client) -> None:
    for body, field in (
        ({"input": "-1", "output": "1"}, "input"),
        ({"input": "1", "output": "lots"}, "output"),
        ({"input": "1", "output": "1", "reasoning": "NaN"}, "reasoning"),
        ({"input": "1", "output": "1", "effective_from": "soon"}, "effective_from"),
        ({"input": "1"}, "output"),
        ({"input": 1.5, "output": "1"}, "input"),  # never a float
    ):
        refused(client.put("/v1/prices/openai/m", json=body), 422, "INVALID_REQUEST", field)
    cheap = {"input": "1", "output": "1"}
    refused(client.put("/v1/prices/openia/m", json=cheap), 422, "INVALID_REQUEST", "provider")
    refused(client.get("/v1/prices/openia/gpt-4o"), 422, "INVALID_REQUEST", "provider")
    unknown = refused(client.get("/v1/prices/openai/no-such-model-xyz"), 404, "NOT_FOUND")
    assert "no price known for openai/no-such-model-xyz" in unknown["message"]
    refused(client.delete("/v1/prices/openai/never-set"), 404, "NOT_FOUND")


# -- a run: record, timeline, events, trace, usage, reprice ---------------------------------------


@pytest.fixture(scope="module")
def charged_run(served: tuple[str, Path]) -> str:
    """A run of ``counter`` made by the server, with two LLM calls in the usage ledger."""
    url, project = served
    done = httpx.post(f"{url}/v1/runs/wait", json={"workflow": "counter", "input": {}}, timeout=60)
    assert done.status_code == 200, done.text
    run_id: str = done.json()["run_id"]
    with user_store(project / "home" / "orca.db") as store:
        for role, tokens, cost in (("planner", 100, 3000), ("worker", 40, 500)):
            context = CallContext(
                run_id=run_id, workflow="counter", session="s-1", node="step", role=role
            )
            hold = store.ledger.reserve([], {"usd": cost}, context)
            charge = Charge("openai", f"gpt-{role}", tokens, tokens // 2, cost_nano_usd=cost)
            store.ledger.settle(hold, charge, context)
    return run_id


def test_a_run_is_inspected_as_runs_show_does(
    client: httpx.Client, project: Path, charged_run: str
) -> None:
    shown = ok(client.get(f"/v1/runs/{charged_run}/inspect"))
    assert (shown["status"], shown["steps"], len(shown["tasks"])) == ("done", 3, 3)
    assert sorted(u["role"] for u in shown["usage"]) == ["planner", "worker"]
    assert shown == cli(project, "runs", "show", charged_run)
    refused(client.get("/v1/runs/run-none/inspect"), 404, "NOT_FOUND")


def test_a_runs_timeline_and_events_are_those_of_the_cli(
    client: httpx.Client, project: Path, charged_run: str
) -> None:
    timeline = ok(client.get(f"/v1/runs/{charged_run}/timeline"))
    assert [t["node"] for s in timeline["steps"] for t in s["tasks"]] == ["step"] * 3
    assert timeline == cli(project, "runs", "inspect", charged_run)

    every = ok(client.get(f"/v1/runs/{charged_run}/events"))
    assert every == cli(project, "runs", "events", charged_run)
    assert [e["seq"] for e in every] == sorted(e["seq"] for e in every)
    some = ok(
        client.get(
            f"/v1/runs/{charged_run}/events",
            params=[("type", "task.finished"), ("type", "run.finished"), ("max", "3")],
        )
    )
    assert [e["type"] for e in some] == ["task.finished"] * 3
    assert some == cli(
        project, "runs", "events", charged_run,
        "--type", "task.finished", "--type", "run.finished", "--max", "3",
    )  # fmt: skip
    later = ok(client.get(f"/v1/runs/{charged_run}/events", params={"start": 5, "stop": 8}))
    assert later
    assert all(5 <= e["seq"] < 8 for e in later)
    assert later == cli(project, "runs", "events", charged_run, "--from", "5", "--to", "8")
    recent = ok(client.get(f"/v1/runs/{charged_run}/events", params={"since": "1h"}))
    assert recent == every


def test_bad_run_queries_are_refused(client: httpx.Client, charged_run: str) -> None:
    for path in ("timeline", "events", "trace"):
        refused(client.get(f"/v1/runs/run-none/{path}"), 404, "NOT_FOUND")
    events = f"/v1/runs/{charged_run}/events"
    refused(client.get(events, params={"type": "task.exploded"}), 422, "INVALID_REQUEST", "type")
    refused(client.get(events, params={"since": "yesterday"}), 422, "INVALID_REQUEST", "since")
    refused(client.get(events, params={"max": 0}), 422, "INVALID_REQUEST", "max")
    refused(client.get(events, params={"start": -1}), 422, "INVALID_REQUEST", "start")
    trace = f"/v1/runs/{charged_run}/trace"
    refused(client.get(trace, params={"format": "svg"}), 422, "INVALID_REQUEST", "format")


def test_a_runs_trace_is_the_document_the_cli_writes(
    client: httpx.Client, project: Path, charged_run: str
) -> None:
    formats = (("chrome", "perfetto"), ("otlp-json", "otlp"))
    written = clis(
        project,
        *(("runs", "trace", charged_run, "--format", fmt, "-o", "-") for fmt, _ in formats),
        json_flag=False,
    )
    for (fmt, alias), document in zip(formats, written, strict=True):
        served = ok(client.get(f"/v1/runs/{charged_run}/trace", params={"format": fmt}))
        assert served == document
        assert ok(client.get(f"/v1/runs/{charged_run}/trace", params={"format": alias})) == served
    perfetto = ok(client.get(f"/v1/runs/{charged_run}/trace"))
    assert sum(1 for e in perfetto["traceEvents"] if e["ph"] == "X") >= 4  # run + 3 tasks


GROUPINGS = ("model", "node", "role", "day", "run", "session", "workflow")


def test_usage_reports_are_those_of_the_cli(
    client: httpx.Client, project: Path, charged_run: str
) -> None:
    mine = ("--by", "role", "--run", charged_run, "--since", "1d")
    *twins, of_run = clis(
        project,
        *(("usage", "report", "--by", by) for by in GROUPINGS),
        ("usage", "report", *mine),
    )
    for by, twin in zip(GROUPINGS, twins, strict=True):
        rows = ok(client.get("/v1/usage", params={"by": by}))
        assert rows == twin, by
        assert sum(r["llm_calls"] for r in rows) >= 2
        params = {"by": by, "run_id": charged_run, "since": "1d"}
        assert sum(r["cost_nano_usd"] for r in ok(client.get("/v1/usage", params=params))) == 3500
    params = {"by": "role", "run_id": charged_run, "since": "1d"}
    by_role = ok(client.get("/v1/usage", params=params))
    assert by_role == of_run
    assert {r["key"]: r["cost_nano_usd"] for r in by_role} == {"planner": 3000, "worker": 500}


def test_usage_reports_refuse_bad_filters(client: httpx.Client) -> None:
    refused(client.get("/v1/usage", params={"by": "colour"}), 422, "INVALID_REQUEST", "by")
    refused(client.get("/v1/usage", params={"since": "last week"}), 422, "INVALID_REQUEST", "since")
    refused(client.get("/v1/usage", params={"until": "later"}), 422, "INVALID_REQUEST", "until")
    future = ok(client.get("/v1/usage", params={"since": "2999-01-01"}))
    assert future == []


def test_a_run_is_repriced_as_the_cli_reprices_it(
    client: httpx.Client, project: Path, charged_run: str
) -> None:
    ok(client.put("/v1/prices/openai/budget-model", json={"input": "1", "output": "2"}))
    body = {"provider": "openai", "model": "budget-model"}
    repriced = ok(client.post(f"/v1/runs/{charged_run}/reprice", json=body))
    # 140 tokens in at $1/M and 70 out at $2/M: 140_000 + 140_000 nano-USD
    assert (repriced["original_nano_usd"], repriced["repriced_nano_usd"]) == (3500, 280_000)
    assert repriced["ratio"] == "80"  # a decimal string
    assert repriced == cli(
        project, "pricing", "reprice", charged_run, "--as", "openai/budget-model"
    )
    nowhere = {"provider": "openai", "model": "nope-9"}
    unpriced = ok(client.post(f"/v1/runs/{charged_run}/reprice", json=nowhere))
    assert unpriced["priced"] is False
    refused(client.post("/v1/runs/run-none/reprice", json=body), 404, "NOT_FOUND")
    half = client.post(f"/v1/runs/{charged_run}/reprice", json={"provider": "openai"})
    refused(half, 422, "INVALID_REQUEST", "model")


# -- tool audit and replay ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tool_run(served: tuple[str, Path]) -> str:
    """A run of ``rolls`` made by the CLI (which audits its tool calls)."""
    _, project = served
    done = cli(project, "run", "flows.py:rolls", "--input", '{"x": 6}')
    assert done["status"] == "done", done
    return str(done["run_id"])


def test_the_tool_audit_is_orca_tools_log_redacted_alike(
    client: httpx.Client, project: Path, tool_run: str
) -> None:
    log = ok(client.get("/v1/audit", params={"run_id": tool_run}))
    assert [(e["tool"], e["status"]) for e in log] == [("dice", "ok")]
    assert "Zq8Zq8Zq8" not in json.dumps(log)  # redacted when recorded, shown so
    assert log == cli(project, "tools", "log", "--run", tool_run)
    assert ok(client.get("/v1/audit", params={"tool": "dice", "status": "ok", "limit": 1})) == cli(
        project, "tools", "log", "--tool", "dice", "--status", "ok", "--limit", "1"
    )
    assert ok(client.get("/v1/audit", params={"tool": "shell"})) == []
    refused(client.get("/v1/audit", params={"limit": 0}), 422, "INVALID_REQUEST", "limit")
    refused(client.get("/v1/audit", params={"status": "fine"}), 422, "INVALID_REQUEST", "status")


def test_a_replay_reports_as_the_cli_does(
    client: httpx.Client, project: Path, tool_run: str, charged_run: str
) -> None:
    report = ok(client.post(f"/v1/runs/{tool_run}/replay"))
    assert (report["identical"], report["tool_calls"], report["divergence"]) == (True, 1, None)
    assert report == cli(project, "runs", "replay", tool_run)
    served_run = ok(client.post(f"/v1/runs/{charged_run}/replay", json={}))
    assert (served_run["identical"], served_run["steps"]) == (True, 3)
    # replayed with changed code: the first divergence, in a 200 whose report says so
    changed = {"graph": "changed.py:counter"}
    other = ok(client.post(f"/v1/runs/{charged_run}/replay", json=changed))
    assert (other["identical"], other["divergence"]["node"]) == (False, "step")
    wrong = client.post(f"/v1/runs/{charged_run}/replay", json={"graph": "flows.py:rolls"})
    assert "ran graph 'counter'" in refused(wrong, 400, "INVALID_INPUT")["message"]
    refused(client.post("/v1/runs/run-none/replay"), 404, "NOT_FOUND")
    missing = client.post(f"/v1/runs/{tool_run}/replay", json={"graph": "nope.py:graph"})
    refused(missing, 400, "WORKFLOW_INVALID")
    refused(client.post(f"/v1/runs/{tool_run}/replay", json={"colour": 1}), 422, "INVALID_REQUEST")
