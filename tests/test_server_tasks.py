"""LLM tasks over ``orca serve`` (a real process on loopback, the in-process llama.cpp
engine with the tiny model): submission, streams (resumed, joined after the end),
idempotent task ids, cancels that no token passes, sessions, capabilities, artifacts,
budgets that refuse before the call and are never overspent, a kill -9 and a restart;
and the cancel race, 1,000 trials against the app in-process."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("llama_cpp")

from orca.llm.tiny import ensure_tiny_model

sys.path.insert(0, str(Path(__file__).parent / "llm"))  # the simulated cloud provider

from wire import Reply, WireServer

# $1 per 1M input tokens, $1000 per 1M output tokens: one output token is 1e6 nano-USD
PRICE = ("--input", "1", "--output", "1000")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _orca(project: Path, *args: str, **kwargs: Any) -> Any:
    env = {**os.environ, "ORCA_HOME": str(project / "home"), "WIRE_API_KEY": "sk-wire"}
    command = [str(Path(sys.executable).parent / "orca"), "-C", str(project), *args]
    return subprocess.Popen(command, env=env, **kwargs)


def _cli(project: Path, *args: str) -> None:
    done = _orca(project, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, err = done.communicate(timeout=60)
    assert done.returncode == 0, err.decode()


class Served:
    """An ``orca serve`` process over a project with the tiny model as ``tiny``."""

    def __init__(self, project: Path, **server: Any) -> None:
        self.project = project
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = server
        self.proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def made(cls, project: Path, model: Path, cloud: str | None = None, **server: Any) -> Served:
        _cli(project, "init")
        settings = {"max_running_tasks": 2, "max_queued_tasks": 6, **server}
        with (project / ".orca" / "orca.toml").open("a") as f:
            f.write("\n[server]\n")
            for key, value in settings.items():
                f.write(f"{key} = {json.dumps(value)}\n")
            f.write(f'\n[server.models.tiny]\nprovider = "llamacpp"\nmodel = "{model}"\n')
            f.write("n_ctx = 2048\n")
            if cloud is not None:  # an OpenAI-compatible server, simulated
                f.write('\n[server.models.cloud]\nprovider = "openai"\nmodel = "gpt-4o-mini"\n')
                f.write(f'base_url = "{cloud}/v1"\napi_key_env = "WIRE_API_KEY"\n')
        _cli(project, "pricing", "set", "llamacpp", "tiny.gguf", *PRICE)
        return cls(project)

    def start(self) -> Served:
        self.proc = _orca(
            self.project,
            "serve",
            "--port",
            str(self.port),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(self.proc.stderr.read().decode() if self.proc.stderr else "")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("the server did not become ready")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> str:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(timeout=30)
        said = self.proc.stderr.read().decode() if self.proc.stderr else ""
        assert "Traceback" not in said, said
        return said

    def ledger(self) -> sqlite3.Connection:
        return sqlite3.connect(self.project / "home" / "orca.db")


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_tiny_model(seed=0, path=tmp_path_factory.mktemp("model") / "tiny.gguf")


@pytest.fixture(scope="module")
def cloud() -> Iterator[WireServer]:
    server = WireServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, model: Path, cloud: WireServer
) -> Iterator[Served]:
    server = Served.made(tmp_path_factory.mktemp("served"), model, cloud.url).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=60) as c:
        yield c


def sse(text: str) -> list[dict[str, Any]]:
    """The events of an SSE body: ``id``, ``event`` and parsed ``data``."""
    out = []
    for block in text.strip().split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            if not line.startswith(":"):
                key, _, value = line.partition(": ")
                fields[key] = value
        if "data" in fields:
            fields["data"] = json.loads(fields["data"])
            fields["id"] = int(fields["id"])
            out.append(fields)
    return out


def envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {
        "code", "message", "engine", "retriable", "retry_after_ms", "policy_label", "details",
    }  # fmt: skip
    assert body["code"] == code, body
    assert body["message"]
    return body


def task(**fields: Any) -> dict[str, Any]:
    return {"model_ref": "tiny", "prompt": "Say hello", "max_tokens": 8, **fields}


def streamed(client: httpx.Client, task_id: str, last: int | None = None) -> list[dict[str, Any]]:
    headers = {"Last-Event-ID": str(last)} if last is not None else {}
    answer = client.get(f"/v1/tasks/{task_id}/stream", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/event-stream")
    return sse(answer.text)


def tokens(events: list[dict[str, Any]]) -> list[str]:
    return [e["data"]["t"] for e in events if e["event"] == "token"]


# -- tasks ----------------------------------------------------------------------------------


def test_a_task_streams_started_tokens_metrics_then_end_and_is_recorded(
    client: httpx.Client,
) -> None:
    accepted = client.post("/v1/tasks", json=task(task_id="first", session_id="s-first"))
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert body["task_id"] == "first"
    assert body["status"] in ("queued", "running")
    assert {"queue_position", "predicted_start_ms", "backoff_ms"} <= set(body)
    events = streamed(client, "first")
    kinds = [e["event"] for e in events]
    assert (kinds[0], kinds[-1]) == ("started", "end")
    assert "metrics" in kinds
    assert [e["id"] for e in events] == list(range(len(events)))
    started = events[0]["data"]
    assert {"queue_position", "predicted_start_ms"} <= set(started)
    assert (started["engine"], started["model_ref"]) == ("llamacpp", "tiny")
    metrics = next(e["data"] for e in events if e["event"] == "metrics")
    assert {"queue_depth", "on_time_probability", "tokens_per_s", "budgets"} <= set(metrics)
    toks = [e["data"] for e in events if e["event"] == "token"]
    assert [t["i"] for t in toks] == list(range(8))
    end = events[-1]["data"]
    assert end["tokens_out"] == 8
    assert end["decode_ms"] >= 0
    # priced by the override: 8 output tokens at $1000/M and the prompt at $1/M
    assert end["cost_nano_usd"] == 8 * 1_000_000 + end["tokens_in"] * 1_000
    record = client.get("/v1/tasks/first").json()
    assert record["status"] == "done"
    assert (record["tokens_out"], record["cost_nano_usd"]) == (8, end["cost_nano_usd"])
    assert record["request"]["prompt"] == "Say hello"
    listed = client.get("/v1/tasks", params={"session_id": "s-first"}).json()
    assert [t["task_id"] for t in listed] == ["first"]
    done = client.get("/v1/tasks", params={"status": "done", "limit": 1000}).json()
    assert "first" in [t["task_id"] for t in done]
    metrics = client.get("/metrics").text
    assert 'orca_llm_tasks_total{engine="llamacpp",status="done"}' in metrics
    assert 'orca_llm_task_tokens_total{engine="llamacpp"}' in metrics


def test_the_same_task_id_is_the_same_task_and_another_body_is_a_conflict(
    client: httpx.Client,
) -> None:
    body = task(task_id="twice", session_id="s-twice")
    assert client.post("/v1/tasks", json=body).status_code == 202
    first = streamed(client, "twice")
    again = client.post("/v1/tasks", json=body)
    assert again.status_code == 202
    assert (again.json()["task_id"], again.json()["status"]) == ("twice", "done")
    assert streamed(client, "twice") == first  # it did not run again
    assert client.get("/v1/sessions/s-twice").json()["turns"] == 1
    other = client.post("/v1/tasks", json={**body, "prompt": "Something else"})
    refused = envelope(other, 409, "TASK_CONFLICT")
    assert refused["details"]["task_id"] == "twice"


def test_a_stream_resumes_after_last_event_id_and_joins_after_the_end(
    client: httpx.Client,
) -> None:
    assert client.post("/v1/tasks", json=task(task_id="resumed")).status_code == 202
    whole = streamed(client, "resumed")
    for cut in (0, 3, len(whole) - 2):
        rest = streamed(client, "resumed", last=cut)
        assert rest == whole[cut + 1 :]  # nothing lost, nothing twice
    assert streamed(client, "resumed", last=whole[-1]["id"]) == []
    envelope(
        client.get("/v1/tasks/resumed/stream", headers={"Last-Event-ID": str(10**30)}),
        400,
        "INVALID_INPUT",
    )
    envelope(
        client.get("/v1/tasks/resumed/stream", headers={"Last-Event-ID": "x"}),
        400,
        "INVALID_INPUT",
    )


def test_strict_determinism_gives_the_same_tokens_for_the_same_seed(
    client: httpx.Client,
) -> None:
    runs = []
    for n in range(2):
        body = task(task_id=f"strict-{n}", determinism="strict", seed=42, max_tokens=16)
        assert client.post("/v1/tasks", json=body).status_code == 202
        runs.append(tokens(streamed(client, f"strict-{n}")))
    assert runs[0] == runs[1]
    assert len(runs[0]) == 16
    envelope(
        client.post("/v1/tasks", json=task(determinism="strict")), 400, "INVALID_INPUT"
    )  # no seed


def test_a_cancelled_task_streams_no_token_after_the_cancel_returned(
    client: httpx.Client,
) -> None:
    for n in range(10):
        body = task(task_id=f"cancelled-{n}", max_tokens=400)
        assert client.post("/v1/tasks", json=body).status_code == 202
        time.sleep(random.choice([0, 0.01, 0.05]))
        cancelled = client.post(f"/v1/tasks/cancelled-{n}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        answer = cancelled.json()
        assert (answer["status"], answer["cancelled"]) == ("cancelled", True)
        events = streamed(client, f"cancelled-{n}")
        assert len(tokens(events)) == answer["tokens_out"]
        assert events[-1]["event"] == "error"
        assert events[-1]["data"]["code"] == "CANCELLED"
        record = client.get(f"/v1/tasks/cancelled-{n}").json()
        assert record["status"] == "cancelled"
        assert record["error"]["code"] == "CANCELLED"
        if answer["tokens_out"]:  # what streamed before the cancel is charged
            assert record["cost_nano_usd"] == events[-1]["data"]["cost_nano_usd"] > 0
    late = client.post("/v1/tasks/first/cancel")
    assert late.json()["cancelled"] is False
    assert late.json()["status"] == "done"


def test_a_task_past_its_deadline_ends_with_deadline_exceeded(client: httpx.Client) -> None:
    body = task(task_id="late", max_tokens=1900, deadline_ms=200)
    assert client.post("/v1/tasks", json=body).status_code == 202
    end = streamed(client, "late")[-1]
    assert (end["event"], end["data"]["code"], end["data"]["retriable"]) == (
        "error",
        "DEADLINE_EXCEEDED",
        True,
    )
    assert end["data"]["tokens_out"] < 1900
    assert client.get("/v1/tasks/late").json()["status"] == "failed"


def test_a_task_runs_on_a_cloud_engine_through_its_adapter(
    client: httpx.Client, served: Served, cloud: WireServer
) -> None:
    body = task(task_id="remote", model_ref="cloud", engine="openai", session_id="s-cloud")
    assert client.post("/v1/tasks", json=body).status_code == 202
    events = streamed(client, "remote")
    end = events[-1]["data"]
    assert (events[-1]["event"], end["engine"], end["model"]) == ("end", "openai", "gpt-4o-mini")
    assert end["tokens_out"] == len(tokens(events)) > 0
    assert end["cost_nano_usd"] > 0  # the catalog's price
    sent = cloud.bodies[-1]
    assert (sent["model"], sent.get("max_completion_tokens") or sent.get("max_tokens")) == (
        "gpt-4o-mini", 8,
    )  # fmt: skip
    with served.ledger() as db:
        row = db.execute(
            "SELECT provider, model, session, cost_nano_usd FROM usage WHERE session = 's-cloud'"
        ).fetchone()
    assert row == ("openai", "gpt-4o-mini", "s-cloud", end["cost_nano_usd"])
    strict = task(model_ref="cloud", determinism="strict", seed=1)
    envelope(client.post("/v1/tasks", json=strict), 400, "INVALID_INPUT")


def test_a_failed_task_s_error_is_stored_and_streamed_without_the_credential_it_quoted(
    client: httpx.Client, cloud: WireServer
) -> None:
    leaked = "sk-proj-Lk9vT3xN5mR2kL9pW4yB7cD1"
    refusal = {"error": {"message": f"Incorrect API key provided: {leaked}", "type": "auth"}}
    cloud.script(Reply.json(refusal, status=401))
    body = task(task_id="refused-key", model_ref="cloud", engine="openai")
    assert client.post("/v1/tasks", json=body).status_code == 202
    events = streamed(client, "refused-key")
    assert events[-1]["event"] == "error"
    message = events[-1]["data"]["message"]
    assert "[REDACTED:api_key]" in message
    stored = client.get("/v1/tasks/refused-key").json()
    assert "[REDACTED:api_key]" in stored["error"]["message"]
    for text in (json.dumps(events), json.dumps(stored)):
        assert leaked not in text


# -- sessions, capabilities, artifacts --------------------------------------------------------


def test_a_session_counts_its_turns_and_totals_and_can_be_deleted(
    client: httpx.Client, served: Served
) -> None:
    _cli(served.project, "budget", "create", "chat-tokens", "--amount", "100000",
         "--unit", "tokens", "--session", "s-chat")  # fmt: skip
    for n in range(3):
        assert client.post("/v1/tasks", json=task(task_id=f"chat-{n}", session_id="s-chat"))
        streamed(client, f"chat-{n}")
    session = client.get("/v1/sessions/s-chat").json()
    assert session["turns"] == 3
    assert session["tokens_out"] == 24
    spent = sum(t["cost_nano_usd"] for t in client.get("/v1/tasks?session_id=s-chat").json())
    assert session["cost_nano_usd"] == spent > 0
    assert 0 < session["ttl_remaining_ms"] <= session["ttl_ms"]
    budget = next(b for b in session["budgets"] if b["name"] == "chat-tokens")
    assert budget["spent"] == session["tokens_in"] + session["tokens_out"]
    assert budget["remaining"] == 100000 - budget["spent"]
    busy = task(task_id="chat-long", session_id="s-chat", max_tokens=1900)
    assert client.post("/v1/tasks", json=busy).status_code == 202
    assert client.get("/v1/sessions/s-chat").json()["active_tasks"] == 1
    assert client.delete("/v1/sessions/s-chat").status_code == 204
    assert client.get("/v1/tasks/chat-long").json()["status"] == "cancelled"
    assert client.get("/v1/tasks/chat-0").json()["status"] == "done"  # records stay
    envelope(client.get("/v1/sessions/s-chat"), 404, "NOT_FOUND")
    envelope(client.delete("/v1/sessions/s-chat"), 404, "NOT_FOUND")


def test_capabilities_give_a_concurrency_that_is_never_refused(client: httpx.Client) -> None:
    caps = client.get("/v1/capabilities").json()
    assert caps["api_version"] == "v1"
    assert client.get("/openapi.json").json()["info"]["version"] == caps["version"]
    assert [e["engine"] for e in caps["engines"]] == ["llamacpp", "openai"]
    assert [m["model_ref"] for m in caps["models"]] == ["cloud", "tiny"]
    assert caps["max_context"] == 2048
    assert caps["rate_limits"]["tasks"]["policy"] == "reject"
    assert caps["feature_flags"]["determinism_strict"] == ["llamacpp"]
    safe = caps["concurrency"]["safe"]
    assert safe == caps["concurrency"]["max_running"] + caps["concurrency"]["max_queued"] == 8

    running = caps["concurrency"]["max_running"]
    for n in range(running):  # long ones hold the slots while the queue fills
        held = client.post("/v1/tasks", json=task(task_id=f"held-{n}", max_tokens=1500))
        assert held.json()["status"] == "running"

    def send(n: int) -> httpx.Response:
        with httpx.Client(base_url=str(client.base_url), timeout=60) as c:
            return c.post("/v1/tasks", json=task(task_id=f"safe-{n}"))

    with ThreadPoolExecutor(safe) as pool:
        answers = list(pool.map(send, range(safe - running)))
    assert [a.status_code for a in answers] == [202] * (safe - running)
    positions = sorted(a.json()["queue_position"] for a in answers)
    assert positions == list(range(safe - running))
    over = client.post("/v1/tasks", json=task(task_id="one-too-many"))
    refused = envelope(over, 429, "OVERLOADED")
    assert (refused["policy_label"], refused["retriable"]) == ("reject", True)
    assert int(over.headers["Retry-After"]) >= 1
    assert int(over.headers["X-Backoff-Ms"]) == refused["retry_after_ms"] > 0
    envelope(client.get("/v1/tasks/one-too-many"), 404, "NOT_FOUND")  # never stored
    for n in range(running):
        assert client.post(f"/v1/tasks/held-{n}/cancel").json()["cancelled"] is True
    for n in range(safe - running):
        assert streamed(client, f"safe-{n}")[-1]["event"] == "end"


def test_artifacts_are_content_addressed_with_tags_and_lineage(client: httpx.Client) -> None:
    import hashlib

    plan = client.post("/v1/artifacts", json={"kind": "plan", "content": "1. do it", "tags": ["a"]})
    assert plan.status_code == 201, plan.text
    plan_id = plan.json()["artifact_id"]
    assert plan_id == "sha256:" + hashlib.sha256(b"1. do it").hexdigest()
    again = client.post(
        "/v1/artifacts", json={"kind": "plan", "content": "1. do it", "tags": ["b"]}
    )
    assert again.status_code == 200
    assert (again.json()["artifact_id"], again.json()["tags"]) == (plan_id, ["a", "b"])
    diff = client.post(
        "/v1/artifacts",
        json={"kind": "diff", "content": "+x", "parents": [plan_id], "session_id": "s-art"},
    ).json()
    shown = client.get(f"/v1/artifacts/{plan_id}").json()
    assert (shown["content"], shown["children"]) == ("1. do it", [diff["artifact_id"]])
    assert client.get(f"/v1/artifacts/{diff['artifact_id']}").json()["parents"] == [plan_id]
    assert [a["artifact_id"] for a in client.get("/v1/artifacts?tag=b").json()] == [plan_id]
    assert [a["kind"] for a in client.get("/v1/artifacts?session_id=s-art").json()] == ["diff"]
    envelope(
        client.post("/v1/artifacts", json={"kind": "trace", "content": "1. do it"}),
        409,
        "ARTIFACT_CONFLICT",
    )
    orphan = {"kind": "summary", "content": "s", "parents": ["sha256:00"]}
    envelope(client.post("/v1/artifacts", json=orphan), 400, "INVALID_INPUT")
    envelope(client.post("/v1/artifacts", json={"kind": "plans", "content": "x"}), 422,
             "INVALID_REQUEST")  # fmt: skip
    envelope(client.get("/v1/artifacts?kind=nope"), 400, "INVALID_INPUT")
    lone = b'{"kind": "plan", "content": "\\ud800"}'
    headers = {"content-type": "application/json"}
    envelope(client.post("/v1/artifacts", content=lone, headers=headers), 400, "INVALID_INPUT")
    envelope(client.get("/v1/artifacts/sha256:00"), 404, "NOT_FOUND")


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code", "names"),
    [
        ({"prompt": "x"}, 422, "INVALID_REQUEST", "model_ref"),
        (task(priority="urgent"), 422, "INVALID_REQUEST", "priority"),
        (task(surprise=1), 422, "INVALID_REQUEST", "surprise"),
        (task(max_tokens=0), 422, "INVALID_REQUEST", "max_tokens"),
        (task(task_id="has space"), 422, "INVALID_REQUEST", "task_id"),
        (task(sampler_profile_version="v9"), 422, "INVALID_REQUEST", "sampler_profile_version"),
        (task(workload="embedding"), 422, "INVALID_REQUEST", "workload"),
        (task(inputs=[{"role": "user", "content": "x"}]), 400, "INVALID_INPUT", "prompt"),
        (task(prompt=None), 400, "INVALID_INPUT", "prompt"),
        (task(model_ref="nope"), 400, "INVALID_INPUT", "model_ref"),
        (task(model_ref="llamacpp:/etc/passwd"), 400, "INVALID_INPUT", "[server.models]"),
        (task(engine="openai"), 400, "INVALID_INPUT", "engine"),
        (task(ctx=4096), 400, "INVALID_INPUT", "ctx"),
    ],
)
def test_a_bad_task_gets_the_envelope_naming_what_to_fix(
    client: httpx.Client, body: dict[str, Any], status: int, code: str, names: str
) -> None:
    refused = envelope(client.post("/v1/tasks", json=body), status, code)
    assert names in refused["message"] + json.dumps(refused["details"])


def test_a_task_of_text_that_is_not_unicode_is_refused(client: httpx.Client) -> None:
    headers = {"content-type": "application/json"}
    for lone in (b'"\\ud800"', b'"\\udc80"'):
        body = b'{"model_ref": "tiny", "prompt": ' + lone + b"}"
        refused = client.post("/v1/tasks", content=body, headers=headers)
        # refused by the body's parser, or by the server when the parser takes it
        code = {422: "INVALID_REQUEST", 400: "INVALID_INPUT"}.get(refused.status_code, "?")
        envelope(refused, refused.status_code, code)


def test_unknown_tasks_and_sessions_are_not_found(client: httpx.Client) -> None:
    for response in (
        client.get("/v1/tasks/nope"),
        client.get("/v1/tasks/nope/stream"),
        client.post("/v1/tasks/nope/cancel"),
        client.get("/v1/sessions/nope"),
        client.delete("/v1/sessions/nope"),
    ):
        envelope(response, 404, "NOT_FOUND")
    envelope(client.get("/v1/tasks?status=lost"), 400, "INVALID_INPUT")
    envelope(client.get("/v1/tasks?limit=0"), 400, "INVALID_INPUT")


def test_inputs_are_chat_messages(client: httpx.Client) -> None:
    inputs = [{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hi"}]
    body = task(task_id="chatty", prompt=None, inputs=inputs)
    assert client.post("/v1/tasks", json=body).status_code == 202
    assert len(tokens(streamed(client, "chatty"))) == 8


# -- budgets --------------------------------------------------------------------------------


def test_a_block_budget_that_cannot_afford_a_task_refuses_it_before_the_call(
    client: httpx.Client, served: Served
) -> None:
    _cli(served.project, "budget", "create", "tight", "--amount", "0.005", "--session", "s-tight")
    refused = client.post("/v1/tasks", json=task(task_id="too-dear", session_id="s-tight"))
    body = envelope(refused, 402, "BUDGET_EXCEEDED")
    assert "tight" in body["message"]
    envelope(client.get("/v1/tasks/too-dear"), 404, "NOT_FOUND")  # never stored
    cheap = task(task_id="cheap", session_id="s-tight", max_tokens=2)
    assert client.post("/v1/tasks", json=cheap).status_code == 202
    assert streamed(client, "cheap")[-1]["event"] == "end"


def test_a_block_budget_shared_by_concurrent_tasks_is_never_overspent(
    client: httpx.Client, served: Served
) -> None:
    # each task's worst case is about 8.03e6 nano-USD: the budget affords 5 of them
    _cli(served.project, "budget", "create", "shared", "--amount", "0.042", "--session", "s-pool")

    def send(n: int) -> httpx.Response:
        with httpx.Client(base_url=served.url, timeout=60) as c:
            return c.post("/v1/tasks", json=task(task_id=f"pool-{n}", session_id="s-pool"))

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(16)))
    accepted = [a.json()["task_id"] for a in answers if a.status_code == 202]
    refused = [a for a in answers if a.status_code != 202]
    assert all(a.json()["code"] in ("BUDGET_EXCEEDED", "OVERLOADED") for a in refused)
    ends = {t: streamed(client, t)[-1] for t in accepted}
    done = [t for t, e in ends.items() if e["event"] == "end"]
    failed = [e["data"]["code"] for e in ends.values() if e["event"] == "error"]
    assert set(failed) <= {"BUDGET_EXCEEDED"}
    assert 0 < len(done) <= 5
    with served.ledger() as db:
        limit, spent, overdraft = db.execute(
            "SELECT p.amount, p.spent, p.overdraft FROM budget_periods p "
            "JOIN budgets b ON b.id = p.budget_id WHERE b.name = 'shared'"
        ).fetchone()
        charged = db.execute(
            "SELECT COALESCE(SUM(c.amount), 0) FROM usage_charges c JOIN budget_periods p "
            "ON p.id = c.period_id JOIN budgets b ON b.id = p.budget_id WHERE b.name = 'shared'"
        ).fetchone()[0]
    assert charged == spent <= limit
    assert overdraft == 0
    costs = sum(client.get(f"/v1/tasks/{t}").json()["cost_nano_usd"] for t in done)
    assert costs == charged


CHAT_FLOW = """
from typing import TypedDict
from orca import END, START, StateGraph


class S(TypedDict, total=False):
    answer: str


async def ask(state, ctx):
    answer = await ctx.worker.acomplete("Say hello", max_tokens=8)
    return {"answer": answer.text}


chat = StateGraph(S, name="chat")
chat.add_node("ask", ask)
chat.add_edge(START, "ask")
chat.add_edge("ask", END)
"""


def test_a_block_budget_shared_by_server_runs_and_tasks_is_never_overspent(
    tmp_path: Path, model: Path
) -> None:
    (tmp_path / "flows.py").write_text(CHAT_FLOW)
    server = Served.made(tmp_path, model, workflows=["flows.py:chat"], max_running_runs=4)
    _cli(tmp_path, "profile", "create", "tiny", "--planner", f"llamacpp:{model}",
         "--worker", f"llamacpp:{model}")  # fmt: skip
    # each call's worst case is about 8.03e6 nano-USD: the active budget affords 7
    _cli(tmp_path, "budget", "create", "team", "--amount", "0.058", "--activate")
    server.start()
    try:

        def send(n: int) -> tuple[str, httpx.Response]:
            with httpx.Client(base_url=server.url, timeout=60) as c:
                if n % 2:
                    body = {"workflow": "chat", "input": {}, "profile": "tiny"}
                    return "run", c.post("/v1/runs", json=body)
                return "task", c.post("/v1/tasks", json=task(task_id=f"mixed-{n}"))

        with ThreadPoolExecutor(8) as pool:
            sent = list(pool.map(send, range(20)))
        with httpx.Client(base_url=server.url, timeout=60) as c:
            done = {"run": 0, "task": 0}
            for kind, answer in sent:
                if answer.status_code not in (200, 202):
                    assert answer.json()["code"] in ("BUDGET_EXCEEDED", "OVERLOADED")
                elif kind == "task":
                    done[kind] += streamed(c, answer.json()["task_id"])[-1]["event"] == "end"
                else:
                    run = c.get(f"/v1/runs/{answer.json()['run_id']}/wait").json()
                    assert run["status"] in ("done", "failed"), run
                    done[kind] += run["status"] == "done"
        assert done["run"] > 0  # both kinds shared it
        assert done["task"] > 0
        assert sum(done.values()) <= 7
        with server.ledger() as db:
            limit, spent, overdraft = db.execute(
                "SELECT p.amount, p.spent, p.overdraft FROM budget_periods p "
                "JOIN budgets b ON b.id = p.budget_id WHERE b.name = 'team'"
            ).fetchone()
            charged, calls = db.execute(
                "SELECT COALESCE(SUM(c.amount), 0), COUNT(*) FROM usage_charges c "
                "JOIN budget_periods p ON p.id = c.period_id "
                "JOIN budgets b ON b.id = p.budget_id WHERE b.name = 'team'"
            ).fetchone()
        assert charged == spent <= limit
        assert overdraft == 0
        assert calls == sum(done.values())
    finally:
        server.stop()


# -- durability -----------------------------------------------------------------------------


def test_a_killed_server_fails_its_running_task_and_runs_its_queued_ones_once(
    tmp_path: Path, model: Path
) -> None:
    server = Served.made(tmp_path, model, max_running_tasks=1).start()
    try:
        with httpx.Client(base_url=server.url, timeout=60) as c:
            long = task(task_id="long", max_tokens=1900)
            assert c.post("/v1/tasks", json=long).status_code == 202
            with c.stream("GET", "/v1/tasks/long/stream") as live:
                for line in live.iter_lines():
                    if line == "event: token":
                        break  # it is running
            queued = [c.post("/v1/tasks", json=task(task_id=f"after-{n}")) for n in range(3)]
            assert [q.json()["status"] for q in queued] == ["queued"] * 3
        server.kill()
        server.start()
        with httpx.Client(base_url=server.url, timeout=60) as c:
            failed = c.get("/v1/tasks/long").json()
            assert failed["status"] == "failed"
            assert failed["error"]["code"] == "WORKER_RESET"
            ended = streamed(c, "long")
            assert (ended[0]["event"], ended[-1]["event"]) == ("started", "error")
            assert ended[-1]["data"] == {
                "code": "WORKER_RESET",
                "message": "the server stopped while the task ran; send it again",
                "engine": None,
                "retriable": True,
            }
            assert [e["id"] for e in ended] == list(range(len(ended)))
            for n in range(3):
                events = streamed(c, f"after-{n}")
                kinds = [e["event"] for e in events]
                assert kinds.count("started") == kinds.count("end") == 1, kinds
                assert c.get(f"/v1/tasks/after-{n}").json()["status"] == "done"
            assert c.get("/v1/tasks", params={"status": "running"}).json() == []
            # a server stopped in order reports its running task at once
            assert c.post("/v1/tasks", json={**long, "task_id": "stopped"}).status_code == 202
            with c.stream("GET", "/v1/tasks/stopped/stream") as live:
                for line in live.iter_lines():
                    if line == "event: token":
                        break
    finally:
        server.stop()
    with sqlite3.connect(tmp_path / ".orca" / "project.db") as db:
        status, code = db.execute(
            "SELECT status, error_code FROM llm_tasks WHERE id = 'stopped'"
        ).fetchone()
        last = db.execute(
            "SELECT type, data FROM llm_task_events WHERE task_id = 'stopped' "
            "ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    assert (status, code) == ("failed", "WORKER_RESET")
    assert last[0] == "error"
    assert json.loads(last[1])["code"] == "WORKER_RESET"


# -- the cancel race, in-process ------------------------------------------------------------


CANCEL_TRIALS = int(os.environ.get("ORCA_CANCEL_TRIALS", "1000"))


@pytest.fixture
def memory_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder in memory when the system has one (/dev/shm): the race is about the
    order of events, not the disk, and a thousand trials of fsyncs take long."""
    import shutil
    import tempfile

    shm = Path("/dev/shm")
    where = Path(tempfile.mkdtemp(dir=shm if shm.is_dir() else None))
    monkeypatch.setenv("ORCA_HOME", str(where / "home"))
    try:
        yield where
    finally:
        shutil.rmtree(where, ignore_errors=True)


def test_no_token_follows_a_cancel_in_1000_trials(memory_dir: Path, model: Path) -> None:
    from orca.server._app import ServerSettings, create_app

    tmp_path = memory_dir
    (tmp_path / ".orca").mkdir()
    settings = ServerSettings(
        project=tmp_path,
        models={"tiny": {"provider": "llamacpp", "model": str(model), "n_ctx": 512}},
        max_running_tasks=2,
        max_queued_tasks=16,
    )
    app = create_app(settings)
    seen = {"queued": 0, "streaming": 0, "ended": 0}

    async def trial(c: httpx.AsyncClient, n: int, rng: random.Random) -> None:
        task_id = f"race-{n}"
        body = task(task_id=task_id, max_tokens=rng.choice([4, 16, 64]), seed=n)
        assert (await c.post("/v1/tasks", json=body)).status_code == 202
        wanted = rng.choice([0, 0, 1, 3, 10])  # tokens to see before cancelling
        live = app.state.tenancy.default.tasks.live.get(task_id)
        while live is not None and live.tokens < wanted and not live.ended:  # noqa: ASYNC110 - a count, not an event
            await asyncio.sleep(0.0002)
        answer = (await c.post(f"/v1/tasks/{task_id}/cancel")).json()
        for _ in range(3):
            await asyncio.sleep(0)  # a producer that would go on has its chance
        events = sse((await c.get(f"/v1/tasks/{task_id}/stream")).text)
        got = [e["data"] for e in events if e["event"] == "token"]
        assert [t["i"] for t in got] == list(range(len(got)))
        if answer["cancelled"]:
            assert len(got) == answer["tokens_out"], (n, answer, len(got))
            assert events[-1]["data"]["code"] == "CANCELLED"
            seen["streaming" if got else "queued"] += 1
        else:
            assert events[-1]["event"] == "end"
            seen["ended"] += 1

    async def main() -> None:
        rng = random.Random(16)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
                for start in range(0, CANCEL_TRIALS, 4):
                    await asyncio.gather(
                        *(trial(c, n, rng) for n in range(start, min(start + 4, CANCEL_TRIALS)))
                    )

    asyncio.run(main())
    assert sum(seen.values()) == CANCEL_TRIALS
    assert seen["streaming"] > 0  # the cancels hit both moments
    assert seen["queued"] > 0


def test_a_task_evicted_by_the_policy_ends_with_admission_evicted(
    memory_dir: Path, model: Path
) -> None:
    from orca.server._app import ServerSettings, create_app

    (memory_dir / ".orca").mkdir()
    app = create_app(
        ServerSettings(
            project=memory_dir,
            models={"tiny": {"provider": "llamacpp", "model": str(model)}},
            max_running_tasks=1,
            max_queued_tasks=1,
            admission_policy="drop-lru",
        )
    )

    async def main() -> list[dict[str, Any]]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
                for name, tokens in (("holds", 1900), ("oldest", 8), ("newest", 8)):
                    sent = await c.post("/v1/tasks", json=task(task_id=name, max_tokens=tokens))
                    assert sent.status_code == 202, sent.text
                await c.post("/v1/tasks/holds/cancel")
                records = [(await c.get(f"/v1/tasks/{n}")).json() for n in ("oldest", "newest")]
                await c.get("/v1/tasks/newest/stream")  # it runs to its end
                ended = sse((await c.get("/v1/tasks/oldest/stream")).text)[-1]
                return [*records, ended]

    oldest, newest, ended = asyncio.run(main())
    assert (oldest["status"], oldest["error"]["code"]) == ("failed", "ADMISSION_EVICTED")
    assert newest["status"] in ("queued", "running", "done")
    assert (ended["event"], ended["data"]["code"], ended["data"]["retriable"]) == (
        "error",
        "ADMISSION_EVICTED",
        True,
    )
