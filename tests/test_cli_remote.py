"""``orca --server URL`` (or ``ORCA_SERVER``): the same commands against a real
``orca serve`` answer as they do on this machine: the same ``--json``, the same exit
codes, the same ``error:`` / ``fix:`` format. Local and remote commands work on one
project here (the server serves it), so their answers can be compared whole."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from _client_served import make_project, orca_env, serving
from _served import free_port

VOLATILE = {"run_id", "thread_id"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    project = make_project(tmp_path_factory.mktemp("remote"))
    with serving(project) as url:
        yield project, url


def orca(
    project: Path, *args: str, server: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``orca ARGS`` on this machine, or against ``server``."""
    where = ["--server", server] if server else ["-C", str(project)]
    command = [str(Path(sys.executable).parent / "orca"), *where, *args]
    return subprocess.run(
        command,
        env=env or orca_env(project),
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )


def both(project: Path, url: str, *args: str) -> tuple[Any, Any, int]:
    """The ``--json`` of ``orca ARGS`` here and against the server, and the exit code
    (the same for both)."""
    here = orca(project, *args, "--json")
    there = orca(project, *args, "--json", server=url)
    assert here.returncode == there.returncode, (here.stderr, there.stderr)
    return json.loads(here.stdout), json.loads(there.stdout), here.returncode


def without(data: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    """``data`` without ``keys``, and its interrupts without their ids (made from the
    run's)."""
    kept = {k: v for k, v in data.items() if k not in keys}
    if "interrupts" in kept:
        kept["interrupts"] = [without(i, {"id", "task_id"}) for i in kept["interrupts"]]
    return kept


def test_a_run_gives_the_same_json_here_and_on_the_server(served: tuple[Path, str]) -> None:
    project, url = served
    here, there, code = both(project, url, "run", "flows.py:counter", "--input", '{"n": 0}')
    assert code == 0
    assert there["status"] == "done"
    assert there["values"] == {"n": 3, "log": ["step 0", "step 1", "step 2"]}
    assert without(here, VOLATILE) == without(there, VOLATILE)
    # the server's run is in the project's records, like any other
    listed = json.loads(orca(project, "runs", "list", "--json").stdout)
    assert there["run_id"] in [r["run_id"] for r in listed]


def normal(text: str) -> str:
    """Output without what differs between two runs: ids and seconds."""
    text = re.sub(r"\brun-[0-9a-f]+", "RUN", text)
    text = re.sub(r"\bt-[0-9a-f]+", "THREAD", text)
    return re.sub(r"in \d+\.\ds", "in Ns", text)


def test_a_run_prints_the_same_here_and_on_the_server(served: tuple[Path, str]) -> None:
    project, url = served
    for workflow in ("counter", "review"):
        here = orca(project, "run", f"flows.py:{workflow}")
        there = orca(project, "run", workflow, server=url)
        assert here.returncode == there.returncode
        assert normal(here.stdout) == normal(there.stdout)
        assert "step 1" in there.stdout


def test_a_failed_run_is_reported_as_it_is_here(served: tuple[Path, str]) -> None:
    project, url = served
    here, there, code = both(project, url, "run", "flows.py:boom")
    assert code == 1
    assert there["error"]["type"] == "NodeError"
    # the server names the failing frame's file by its path there
    there["error"]["message"] = there["error"]["message"].replace(f"{project}/", "")
    assert without(here, VOLATILE) == without(there, VOLATILE)
    said = orca(project, "run", "boom", server=url).stderr
    assert said.startswith("error: node 'explode' failed")
    assert "fix: correct the node's code, then re-run only what failed: orca runs resume" in said


def test_a_served_workflow_may_be_named_by_its_name(served: tuple[Path, str]) -> None:
    project, url = served
    done = orca(project, "run", "counter", "--json", server=url)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["steps"] == 3
    missing = orca(project, "run", "nope", server=url)
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: ")
    assert "boom, counter, review, slow" in missing.stderr
    assert "\nfix: " in missing.stderr


def test_an_interrupt_and_its_resume_match(served: tuple[Path, str]) -> None:
    project, url = served
    here, there, code = both(project, url, "run", "flows.py:review")
    assert code == 5  # paused at an interrupt
    assert without(here, VOLATILE) == without(there, VOLATILE)
    assert there["interrupts"][0]["value"] == {"question": "ship it?"}
    resumed_here = orca(project, "runs", "resume", here["run_id"], "--value", '"yes"', "--json")
    resumed_there = orca(
        project, "runs", "resume", there["run_id"], "--value", '"yes"', "--json", server=url
    )
    assert resumed_here.returncode == resumed_there.returncode == 0
    a, b = json.loads(resumed_here.stdout), json.loads(resumed_there.stdout)
    assert b["values"]["verdict"] == "yes"
    assert without(a, VOLATILE) == without(b, VOLATILE)
    again = orca(project, "runs", "resume", there["run_id"], server=url)
    assert again.returncode == 3
    assert "nothing left to run" in again.stderr


def test_runs_list_show_history_and_events_match(served: tuple[Path, str]) -> None:
    project, url = served
    ran = json.loads(orca(project, "run", "counter", "--json", server=url).stdout)
    run = ran["run_id"]
    here, there, code = both(project, url, "runs", "list", "--limit", "50")
    assert code == 0
    assert here == there
    here, there, _ = both(project, url, "runs", "list", "--status", "interrupted")
    assert here == there
    here, there, _ = both(project, url, "runs", "show", run[:12])  # a prefix is enough
    assert here["run_id"] == there["run_id"] == run
    assert without(here, {"tasks", "usage"}) == without(there, {"tasks", "usage"})
    here, there, _ = both(project, url, "runs", "history", run)
    assert len(there) == 4
    assert here == there
    here, there, _ = both(project, url, "runs", "events", run, "--type", "step.started")
    assert [e["step"] for e in there] == [1, 2, 3]
    assert here == there
    here, there, _ = both(project, url, "runs", "events", run, "--from", "3", "--max", "2")
    assert here == there
    human = orca(project, "runs", "history", run, server=url)
    assert f"History of thread {ran['thread_id']}" in human.stdout


def test_runs_list_filters_match(served: tuple[Path, str]) -> None:
    project, url = served
    ran = json.loads(orca(project, "run", "counter", "--json", server=url).stdout)
    here, there, code = both(project, url, "runs", "list", "--thread", ran["thread_id"])
    assert code == 0
    assert [r["run_id"] for r in there] == [ran["run_id"]]
    assert here == there
    for args in (
        ("--workflow", "counter", "--since", "1d", "--status", "done"),
        ("--search", "STEP.started", "--limit", "3"),
        ("--search", "no such text was ever logged"),
        ("--until", "2000-01-01"),
    ):
        here, there, code = both(project, url, "runs", "list", *args)
        assert code == 0, args
        assert here == there, args
    assert len(there) == 0
    searched = both(project, url, "runs", "list", "--search", "step.started", "--limit", "3")[1]
    stepped = [r for r in both(project, url, "runs", "list", "--limit", "50")[1] if r["steps"]]
    assert searched == stepped[: len(searched)]
    assert len(searched) == min(3, len(stepped)) >= 1
    refused = [orca(project, "runs", "list", "--since", "soon", server=s) for s in (None, url)]
    assert [r.returncode for r in refused] == [2, 2]
    assert all("--since" in r.stderr or "since" in r.stderr for r in refused)


def test_a_fork_runs_the_branch_on_the_server(served: tuple[Path, str]) -> None:
    project, url = served
    ran = json.loads(orca(project, "run", "counter", "--json", server=url).stdout)
    history = json.loads(orca(project, "runs", "history", ran["run_id"], "--json").stdout)
    first = history[-1]["checkpoint_id"]  # the input's checkpoint
    forked = orca(
        project, "runs", "fork", ran["run_id"], "--checkpoint", first, "--update", '{"n": 1}',
        "--json", server=url,
    )  # fmt: skip
    assert forked.returncode == 0, forked.stderr
    branch = json.loads(forked.stdout)
    assert branch["thread_id"] != ran["thread_id"]
    assert branch["values"]["n"] == 3
    assert branch["steps"] == 2
    bad = orca(
        project, "runs", "fork", ran["run_id"], "--checkpoint", first, "--as-node", "stepp",
        server=url,
    )  # fmt: skip
    assert bad.returncode == 2
    assert "did you mean 'step'" in bad.stderr


def test_errors_have_the_same_format_and_exit_codes(served: tuple[Path, str]) -> None:
    project, url = served
    cases = [
        (["runs", "show", "no-such-run"], 3),
        (["runs", "list", "--status", "sleeping"], 2),
        (["run", "counter", "--input", "[1]"], 2),
        (["runs", "resume", "no-such-run"], 3),
    ]
    for args, code in cases:
        there = orca(project, *args, server=url)
        assert there.returncode == code, (args, there.stderr)
        assert there.stderr.startswith("error: "), there.stderr
        assert "\nfix: " in there.stderr
        if args[0] == "runs":
            here = orca(project, *args)
            assert here.returncode == code
    no_budget = orca(project, "run", "counter", "--budget", "nope", server=url)
    local_budget = orca(project, "run", "flows.py:counter", "--budget", "nope")
    assert no_budget.returncode == local_budget.returncode == 3
    assert no_budget.stderr.startswith("error: ")
    wrong_key = orca(project, "run", "counter", "--input", '{"colour": 1}', server=url)
    local_key = orca(project, "run", "flows.py:counter", "--input", '{"colour": 1}')
    assert wrong_key.returncode == local_key.returncode == 2
    assert wrong_key.stderr.startswith("error: --input: ")


def test_commands_of_this_machine_refuse_a_server(served: tuple[Path, str]) -> None:
    project, url = served
    refused = orca(project, "profile", "list", server=url)
    assert refused.returncode == 2
    assert "orca profile list works on this machine's files only" in refused.stderr
    assert "fix: run it without --server" in refused.stderr
    bad = orca(project, "runs", "list", server="localhost:8700")
    assert bad.returncode == 2
    assert "not an http(s) URL" in bad.stderr


def test_orca_server_in_the_environment_makes_the_cli_remote(served: tuple[Path, str]) -> None:
    project, url = served
    env = orca_env(project, ORCA_SERVER=url)
    listed = orca(project, "runs", "list", "--json", env=env)
    assert listed.returncode == 0
    assert json.loads(listed.stdout) == json.loads(orca(project, "runs", "list", "--json").stdout)
    # and orca serve, by nature this machine's, ignores it
    port = free_port()
    serve = orca(project, "serve", "--port", str(port), "--host", "0.0.0.0", env=env)
    assert serve.returncode != 0
    assert "works on this machine's files only" not in serve.stderr


def test_a_server_that_does_not_answer_is_an_error_with_a_fix(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    gone = orca(tmp_path, "runs", "list", server=url)
    assert gone.returncode == 1
    assert gone.stderr.startswith(f"error: no answer from {url}")
    assert "fix: check that orca serve runs there" in gone.stderr


def test_tasks_are_submitted_streamed_and_cancelled_on_a_server(tmp_path: Path) -> None:
    """Against a loopback server written here that answers as orca serve's task
    endpoints do (the tasks' own behaviour is tested with the server)."""
    from http.server import BaseHTTPRequestHandler

    from _scripted import Scripted, answer

    def handler(req: BaseHTTPRequestHandler, n: int) -> None:
        if req.command == "POST" and req.path == "/v1/tasks":
            body = json.loads(server.bodies[-1])
            queued = {"status": "queued", "queue_position": 1, "predicted_start_ms": 40}
            answer(req, 202, {"task_id": body["task_id"], **queued})
        elif req.path.endswith("/stream"):
            req.send_response(200)
            req.send_header("Content-Type", "text/event-stream")
            req.end_headers()
            req.close_connection = True
            frames = [("started", {"queue_position": 0, "predicted_start_ms": 0}),
                      ("token", {"t": "Hel", "i": 0}), ("token", {"t": "lo", "i": 1}),
                      ("end", {"tokens_out": 2, "decode_ms": 5, "cost_nano_usd": 0})]  # fmt: skip
            for i, (event, data) in enumerate(frames):
                req.wfile.write(f"id: {i}\nevent: {event}\ndata: {json.dumps(data)}\n\n".encode())
        elif req.path.endswith("/cancel"):
            answer(req, 200, {"task_id": "t-1", "cancelled": True, "tokens_out": 2})
        else:
            answer(req, 404, {"code": "NOT_FOUND", "message": "no task 't-9'"})

    server = Scripted(handler)
    try:
        submitted = orca(
            tmp_path, "tasks", "submit", "Say hello", "--model", "llamacpp/tiny", "--priority",
            "batch", "--json", server=server.url,
        )  # fmt: skip
        assert submitted.returncode == 0, submitted.stderr
        accepted = json.loads(submitted.stdout)
        sent = json.loads(server.bodies[0])
        assert accepted["task_id"] == sent["task_id"]
        assert (sent["prompt"], sent["model_ref"], sent["priority"]) == (
            "Say hello", "llamacpp/tiny", "batch",
        )  # fmt: skip
        assert accepted["queue_position"] == 1
        streamed = orca(tmp_path, "tasks", "stream", "t-1", server=server.url)
        assert streamed.returncode == 0, streamed.stderr
        assert streamed.stdout.startswith("Hello")
        assert "end: 2 tokens in 5 ms" in streamed.stdout
        lines = orca(tmp_path, "tasks", "stream", "t-1", "--json", server=server.url).stdout
        assert [json.loads(x)["event"] for x in lines.splitlines()] == [
            "started", "token", "token", "end",
        ]  # fmt: skip
        cancelled = orca(tmp_path, "tasks", "cancel", "t-1", "--json", server=server.url)
        assert json.loads(cancelled.stdout)["cancelled"] is True
        missing = orca(tmp_path, "tasks", "show", "t-9", server=server.url)
        assert missing.returncode == 3
        assert missing.stderr.startswith("error: no task 't-9'")
    finally:
        server.close()
    here = orca(tmp_path, "tasks", "submit", "hi", "--model", "m")
    assert here.returncode == 2
    assert "fix: orca --server http://127.0.0.1:8700 tasks" in here.stderr


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, str, str]]:
    """A server that requires tokens: one with scope run, one with scope read."""
    project = make_project(tmp_path_factory.mktemp("guarded"))
    tokens = []
    for name, scope in (("runner", "run"), ("reader", "read")):
        made = orca(project, "token", "create", name, "--scope", scope, "--json")
        assert made.returncode == 0, made.stderr
        tokens.append(json.loads(made.stdout)["token"])
    with serving(project) as url:
        yield project, url, tokens[0], tokens[1]


def test_the_token_comes_from_orca_token(guarded: tuple[Path, str, str, str]) -> None:
    from orca.client import Client, ServerAuthError

    project, url, runner, reader = guarded
    with Client(url) as anonymous, pytest.raises(ServerAuthError) as refused:
        anonymous.list_runs()
    assert (refused.value.status, refused.value.code) == (401, "UNAUTHENTICATED")
    with Client(url, token=reader) as client, pytest.raises(ServerAuthError) as short:
        client.start_run("counter", {})
    assert (short.value.status, short.value.code) == (403, "FORBIDDEN")
    with_token = orca(
        project, "run", "counter", "--json", server=url, env=orca_env(project, ORCA_TOKEN=runner)
    )
    assert with_token.returncode == 0, with_token.stderr
    assert json.loads(with_token.stdout)["status"] == "done"
    without_token = orca(project, "runs", "list", server=url)
    assert without_token.returncode == 3
    assert without_token.stderr.startswith("error: this server requires a bearer token")
    assert "\nfix: set ORCA_TOKEN to a token the server takes" in without_token.stderr


def test_budgets_and_usage_match(served: tuple[Path, str]) -> None:
    project, url = served
    made = orca(project, "budget", "create", "team", "--amount", "5.00", "--json", server=url)
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["limit"] == 5_000_000_000
    for args in (["budget", "list"], ["budget", "show", "team"], ["budget", "status", "team"]):
        here, there, code = both(project, url, *args)
        assert code == 0
        assert here == there
    raised = orca(project, "budget", "raise", "team", "--by", "1.50", "--json", server=url)
    assert json.loads(raised.stdout)["limit"] == 6_500_000_000
    used = orca(project, "budget", "use", "team", "--json", server=url)
    assert json.loads(used.stdout) == {"active": "team"}
    here, there, code = both(project, url, "run", "flows.py:counter", "--budget", "team")
    assert code == 0
    assert [b["name"] for b in there["budgets_after"]] == ["team"]
    assert here["budgets_after"] == there["budgets_after"]
    for by in ("model", "run", "day"):
        here, there, _ = both(project, url, "usage", "report", "--by", by)
        assert here == there
    missing = orca(project, "budget", "show", "teem", server=url)
    assert missing.returncode == 3
    assert missing.stderr.startswith("error: ")
    assert "\nfix: " in missing.stderr
    gone = orca(project, "budget", "delete", "team", "--yes", "--json", server=url)
    assert gone.returncode == 0, gone.stderr
    assert "team" not in orca(project, "budget", "list", "--json").stdout


def test_tasks_on_a_real_server_with_the_tiny_model(tmp_path: Path) -> None:
    from orca.client import Client
    from orca.llm.tiny import ensure_tiny_model

    project = make_project(tmp_path)
    with (project / ".orca" / "orca.toml").open("a") as f:
        f.write("\n[server]\nmax_running_tasks = 2\nmax_queued_tasks = 6\n")
        f.write(f'\n[server.models.tiny]\nprovider = "llamacpp"\nmodel = "{ensure_tiny_model()}"\n')
    with serving(project) as url:
        with Client(url) as client:
            assert client.safe_concurrency() == 8  # what it runs and queues at once
        streamed = orca(
            project, "tasks", "submit", "Hello", "--model", "tiny", "--max-tokens", "6",
            "--stream", "--json", server=url,
        )  # fmt: skip
        assert streamed.returncode == 0, streamed.stderr
        events = [json.loads(line) for line in streamed.stdout.splitlines()]
        assert events[0]["event"] == "started"
        assert events[-1]["event"] == "end"
        tokens = [e for e in events if e["event"] == "token"]
        assert [t["data"]["i"] for t in tokens] == list(range(events[-1]["data"]["tokens_out"]))
        unknown = orca(project, "tasks", "submit", "x", "--model", "nope", server=url)
        assert unknown.returncode == 3
        assert unknown.stderr.startswith("error: model_ref 'nope' names no model")


def test_runs_inspect_and_trace_match(served: tuple[Path, str], tmp_path: Path) -> None:
    project, url = served
    run = json.loads(orca(project, "run", "counter", "--json", server=url).stdout)["run_id"]
    here, there, code = both(project, url, "runs", "inspect", run[:12])
    assert code == 0
    assert [s["step"] for s in there["steps"]] == [1, 2, 3]
    assert here == there
    for fmt in ("chrome", "otlp-json"):
        traced = [
            orca(project, "runs", "trace", run, "--format", fmt, "-o", "-", server=server)
            for server in (None, url)
        ]
        assert [t.returncode for t in traced] == [0, 0]
        assert json.loads(traced[0].stdout) == json.loads(traced[1].stdout)
    human = orca(project, "runs", "inspect", run, server=url)
    assert "Timeline" in human.stdout
    missing = [orca(project, "runs", "inspect", "run-nope", server=s) for s in (None, url)]
    assert missing[0].returncode == missing[1].returncode != 0


def test_runs_replay_matches(served: tuple[Path, str]) -> None:
    project, url = served
    run = json.loads(orca(project, "run", "counter", "--json", server=url).stdout)["run_id"]
    here, there, code = both(project, url, "runs", "replay", run)
    assert code == 0
    assert there["identical"] is True
    assert there["steps"] == 3
    assert here == there
    human = orca(project, "runs", "replay", run, server=url)
    assert "identical" in human.stdout


def test_runs_prune_matches_and_prunes_on_the_server(served: tuple[Path, str]) -> None:
    project, url = served
    ran = json.loads(orca(project, "run", "counter", "--json", server=url).stdout)
    later = "2999-01-01T00:00:00+00:00"
    here, there, code = both(project, url, "runs", "prune", "--older-than", later, "--dry-run")
    assert code == 0
    assert here == there
    assert ran["thread_id"] in there["removed"]
    done = json.loads(
        orca(project, "runs", "prune", "--older-than", later, "--json", server=url).stdout
    )
    assert done["dry_run"] is False
    assert ran["thread_id"] in done["removed"]
    with httpx.Client(base_url=url, timeout=30) as c:
        assert ran["thread_id"] not in c.get("/v1/threads").json()
        assert c.post("/v1/admin/prune", json={"older_than": "soon"}).status_code == 422
