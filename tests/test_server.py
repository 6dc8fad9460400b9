"""``orca serve`` as a real process on loopback, driven over HTTP with httpx: health,
workflows, runs on threads (background, wait, interrupt and resume, cancel, a busy
thread), their events over SSE (live, after the fact, resumed with Last-Event-ID), one
error envelope, correlation ids, and the refusal to listen beyond loopback."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from _served import assert_envelope, free_port, orca, sse, start

FLOW = """
import asyncio
from typing import Annotated, TypedDict
from orca import END, START, StateGraph, reducers


class S(TypedDict, total=False):
    n: int
    log: Annotated[list[str], reducers.append]
    verdict: str


async def step(state, ctx):
    await asyncio.sleep(state.get("pause", 0) if isinstance(state, dict) else 0)
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
    await asyncio.sleep(0.4)
    return {"n": state.get("n", 0) + 1}


slow = StateGraph(Slow, name="slow")
slow.add_node("s", slow_step)
slow.add_edge(START, "s")
slow.add_conditional_edges("s", lambda s: "s" if s["n"] < 5 else END)
"""


def _free_port() -> int:
    return free_port()


def _orca(project: Path, *args: str, **kwargs: Any) -> Any:
    return orca(project, *args, **kwargs)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    project = tmp_path_factory.mktemp("served")
    (project / "flows.py").write_text(FLOW)
    _orca(project, "init").wait(timeout=60)
    with (project / ".orca" / "orca.toml").open("a") as f:
        f.write('\n[server]\nwebhook_networks = ["127.0.0.0/8"]\n')  # the test's receiver
    proc, url = start(project, ["counter", "review", "slow"])
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    said = proc.stderr.read().decode() if proc.stderr else ""
    assert f"serving counter, review, slow on {url}" in said
    assert "Traceback" not in said


@pytest.fixture
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=30) as c:
        yield c


def test_health_and_correlation_ids(client: httpx.Client) -> None:
    health = client.get("/healthz")
    assert health.json()["status"] == "ok"
    assert health.headers["X-Correlation-Id"].startswith("srv-")
    echoed = client.get("/readyz", headers={"X-Correlation-Id": "abc-123"})
    assert echoed.json() == {"status": "ready", "workflows": 3}
    assert echoed.headers["X-Correlation-Id"] == "abc-123"


def test_workflows_are_listed_and_described(client: httpx.Client) -> None:
    listed = client.get("/v1/workflows").json()
    assert [w["name"] for w in listed] == ["counter", "review", "slow"]
    shown = client.get("/v1/workflows/counter").json()
    assert shown["name"] == "counter"
    assert [n["name"] for n in shown["nodes"]] == ["step"]
    assert {"source": "__start__", "target": "step"} in shown["edges"]
    assert shown["branches"] == [{"source": "step", "targets": None}]
    assert {s["key"]: s["reducer"] for s in shown["state"]}["log"] == "append"
    assert_envelope(client.get("/v1/workflows/nope"), 404, "NOT_FOUND")


def test_a_run_waits_for_its_result_and_is_recorded(client: httpx.Client) -> None:
    done = client.post("/v1/runs/wait", json={"workflow": "counter", "input": {"n": 0}}).json()
    assert done["status"] == "done"
    assert done["values"]["n"] == 3
    assert done["values"]["log"] == ["step 0", "step 1", "step 2"]
    record = client.get(f"/v1/runs/{done['run_id']}").json()
    assert (record["status"], record["steps"], record["graph"]) == ("done", 3, "counter")
    assert record["metadata"]["via"] == "server"
    listed = client.get("/v1/runs", params={"thread_id": done["thread_id"]}).json()
    assert [r["run_id"] for r in listed] == [done["run_id"]]


def test_a_run_started_without_a_thread_gets_one_of_its_own(client: httpx.Client) -> None:
    started = client.post("/v1/runs", json={"workflow": "counter", "input": {}})
    assert started.status_code == 202
    body = started.json()
    assert body["thread_id"].startswith("t-")
    done = client.get(f"/v1/runs/{body['run_id']}/wait").json()
    assert (done["thread_id"], done["status"]) == (body["thread_id"], "done")


def test_a_finished_run_streams_its_log_then_end_and_resumes_by_last_event_id(
    client: httpx.Client,
) -> None:
    started = client.post("/v1/threads/t-log/runs", json={"workflow": "counter", "input": {}})
    assert started.status_code == 202
    run_id = started.json()["run_id"]
    client.get(f"/v1/runs/{run_id}/wait")
    events = sse(client.get(f"/v1/runs/{run_id}/stream").text)
    assert events[0]["event"] == "run.started"
    assert events[-1]["event"] == "end"
    body = events[:-1]
    assert body[-1]["event"] == "run.finished"
    seqs = [int(e["id"]) for e in body]
    assert seqs == sorted(seqs)
    cut = seqs[len(seqs) // 2]
    rest = sse(client.get(f"/v1/runs/{run_id}/stream", headers={"Last-Event-ID": str(cut)}).text)
    assert [int(e["id"]) for e in rest[:-1]] == [
        s for s in seqs if s > cut
    ]  # none lost, none twice
    assert_envelope(
        client.get(f"/v1/runs/{run_id}/stream", headers={"Last-Event-ID": "x"}),
        400,
        "INVALID_INPUT",
    )


def test_a_running_run_streams_live_until_it_ends(client: httpx.Client) -> None:
    run_id = client.post("/v1/threads/t-live/runs", json={"workflow": "slow", "input": {}}).json()[
        "run_id"
    ]
    with client.stream("GET", f"/v1/runs/{run_id}/stream") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    events = sse(text)
    assert events[-1]["event"] == "end"
    kinds = [e["event"] for e in events]
    assert kinds.count("step.started") == 5
    assert client.get(f"/v1/runs/{run_id}").json()["status"] == "done"


def test_an_interrupt_is_answered_by_a_resume(client: httpx.Client) -> None:
    paused = client.post(
        "/v1/runs/wait", params={"thread_id": "t-review"}, json={"workflow": "review", "input": {}}
    ).json()
    assert paused["status"] == "interrupted"
    [interrupt] = paused["interrupts"]
    assert interrupt["value"] == {"question": "ship it?"}
    state = client.get("/v1/threads/t-review/state", params={"workflow": "review"}).json()
    assert state["next"] == ["ask"]
    done = client.post(
        "/v1/runs/wait",
        params={"thread_id": "t-review"},
        json={"workflow": "review", "resume": "yes"},
    ).json()
    assert (done["status"], done["values"]["verdict"]) == ("done", "yes")


def test_a_busy_thread_is_refused_and_a_run_can_be_cancelled(client: httpx.Client) -> None:
    run_id = client.post("/v1/threads/t-busy/runs", json={"workflow": "slow", "input": {}}).json()[
        "run_id"
    ]
    second = client.post("/v1/threads/t-busy/runs", json={"workflow": "slow", "input": {}})
    body = assert_envelope(second, 409, "THREAD_BUSY")
    assert run_id in body["message"]
    assert client.post(f"/v1/runs/{run_id}/cancel").status_code == 202
    stopped = client.get(f"/v1/runs/{run_id}/wait").json()
    assert stopped["status"] == "cancelled"
    assert_envelope(client.post(f"/v1/runs/{run_id}/cancel"), 409, "HTTP_ERROR")


def test_bad_requests_get_the_envelope_naming_the_field(client: httpx.Client) -> None:
    missing = assert_envelope(
        client.post("/v1/runs/wait", json={"input": {}}), 422, "INVALID_REQUEST"
    )
    assert missing["message"].startswith("workflow")
    extra = assert_envelope(
        client.post("/v1/runs/wait", json={"workflow": "counter", "colour": "red"}),
        422,
        "INVALID_REQUEST",
    )
    assert "colour" in extra["message"]
    assert_envelope(
        client.post("/v1/runs/wait", json={"workflow": "counter", "max_steps": -1}),
        422,
        "INVALID_REQUEST",
    )
    both = assert_envelope(
        client.post("/v1/runs/wait", json={"workflow": "review", "input": {}, "resume": 1}),
        400,
        "INVALID_INPUT",
    )
    assert "fix" in both["details"]
    unknown_key = assert_envelope(
        client.post("/v1/runs/wait", json={"workflow": "counter", "input": {"nope": 1}}),
        400,
        "INVALID_INPUT",
    )
    assert "nope" in unknown_key["message"]
    assert_envelope(client.get("/v1/runs/run-none"), 404, "NOT_FOUND")
    assert_envelope(client.get("/v1/runs", params={"status": "sleeping"}), 400, "INVALID_INPUT")
    assert_envelope(client.get("/v1/nowhere"), 404, "NOT_FOUND")
    assert_envelope(
        client.post(
            "/v1/runs/wait", content=b"{not json", headers={"content-type": "application/json"}
        ),
        422,
        "INVALID_REQUEST",
    )


def test_listening_beyond_loopback_without_auth_is_refused(tmp_path: Path) -> None:
    proc = _orca(
        tmp_path,
        "serve",
        "--host",
        "0.0.0.0",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3
    assert "refusing to listen on 0.0.0.0" in err
    assert "fix:" in err


def test_a_workflow_that_cannot_be_loaded_stops_the_start(tmp_path: Path) -> None:
    _orca(tmp_path, "init").wait(timeout=60)
    proc = _orca(
        tmp_path,
        "serve",
        "--port",
        str(_free_port()),
        "--workflow",
        "missing.py",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.splitlines()[0] == f"error: workflow file {tmp_path / 'missing.py'} does not exist"
    assert "Traceback" not in err


def test_the_committed_openapi_document_matches_the_code() -> None:
    from orca._version import __version__
    from orca.server._openapi import text

    committed = Path(__file__).resolve().parents[1] / "contracts" / "openapi.json"
    now = text()
    assert committed.read_text() == now, (
        "contracts/openapi.json differs from the server's API. Fix: "
        "python -m orca.server._openapi > contracts/openapi.json"
    )
    document = json.loads(now)
    assert document["openapi"].startswith("3.1")
    assert document["info"]["version"] == __version__
    for path, methods in document["paths"].items():
        if path == "/metrics":  # Prometheus text, whatever happens
            continue
        for method, operation in methods.items():
            for status in ("400", "404", "422", "500"):
                schema = operation["responses"][status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}, (path, method)


def test_the_served_openapi_is_the_committed_one(client: httpx.Client) -> None:
    served = client.get("/openapi.json").json()
    committed = json.loads(
        (Path(__file__).resolve().parents[1] / "contracts" / "openapi.json").read_text()
    )
    assert served == committed


def test_threads_are_listed_read_edited_forked_and_deleted(client: httpx.Client) -> None:
    made = client.post("/v1/threads", params={"thread_id": "t-edit"})
    assert (made.status_code, made.json()) == (201, {"thread_id": "t-edit"})
    assert client.post("/v1/threads").json()["thread_id"].startswith("t-")
    ran = client.post(
        "/v1/runs/wait", params={"thread_id": "t-edit"}, json={"workflow": "counter", "input": {}}
    )
    assert ran.json()["status"] == "done"
    assert "t-edit" in client.get("/v1/threads").json()
    state = client.get("/v1/threads/t-edit").json()  # the workflow of its latest run
    assert (state["values"]["n"], state["next"]) == (3, [])
    history = client.get("/v1/threads/t-edit/history", params={"limit": 2}).json()
    assert len(history) == 2
    assert history[0]["checkpoint_id"] == state["checkpoint_id"]

    edited = client.post("/v1/threads/t-edit/state", json={"values": {"n": 1}}).json()
    assert client.get("/v1/threads/t-edit").json()["values"]["n"] == 1
    assert edited["checkpoint_id"] != state["checkpoint_id"]
    bad = client.post("/v1/threads/t-edit/state", json={"values": {"nope": 1}})
    assert_envelope(bad, 400, "INVALID_INPUT")

    forked = client.post(
        "/v1/threads/t-edit/fork",
        json={"checkpoint_id": state["checkpoint_id"], "to_thread": "t-branch"},
    ).json()
    assert forked["thread_id"] == "t-branch"
    branch = client.get("/v1/threads/t-branch", params={"workflow": "counter"}).json()
    assert branch["values"]["n"] == 3

    assert client.delete("/v1/threads/t-edit").status_code == 204
    assert_envelope(
        client.get("/v1/threads/t-edit", params={"workflow": "counter"}), 404, "NOT_FOUND"
    )
    assert_envelope(client.delete("/v1/threads/t-edit"), 404, "NOT_FOUND")
    assert_envelope(client.get("/v1/threads/t-none"), 404, "NOT_FOUND")  # no run names it


def test_the_state_at_any_checkpoint_of_the_history_is_read(client: httpx.Client) -> None:
    ran = client.post(
        "/v1/runs/wait", params={"thread_id": "t-past"}, json={"workflow": "counter", "input": {}}
    )
    assert ran.json()["status"] == "done"
    history = client.get("/v1/threads/t-past/history").json()
    assert len(history) >= 3
    older = history[-2]  # an early checkpoint: its own values, not the latest's
    state = client.get(
        "/v1/threads/t-past/state", params={"checkpoint_id": older["checkpoint_id"]}
    ).json()
    assert (state["checkpoint_id"], state["step"]) == (older["checkpoint_id"], older["step"])
    assert state["parent_id"] == older["parent_id"]
    assert state["metadata"] == older["metadata"]
    assert state["created_at"] == older["created_at"]
    assert state["values"]["n"] < client.get("/v1/threads/t-past").json()["values"]["n"]
    assert_envelope(
        client.get("/v1/threads/t-past/state", params={"checkpoint_id": "cp-none"}),
        404,
        "NOT_FOUND",
    )
    bad = client.get("/v1/threads/t-past/state", params={"checkpoint_id": "a\nb"})
    assert bad.status_code == 422


def test_a_run_may_interrupt_the_run_holding_its_thread(client: httpx.Client) -> None:
    first = client.post("/v1/threads/t-take/runs", json={"workflow": "slow", "input": {}}).json()
    assert_envelope(client.delete("/v1/threads/t-take"), 409, "HTTP_ERROR")  # it is running
    second = client.post(
        "/v1/threads/t-take/runs",
        json={"workflow": "slow", "multitask_strategy": "interrupt"},
    )
    assert second.status_code == 202
    assert client.get(f"/v1/runs/{first['run_id']}").json()["status"] == "cancelled"
    done = client.get(f"/v1/runs/{second.json()['run_id']}/wait").json()
    # the second continued the thread from what the first had committed
    assert (done["status"], done["values"]["n"]) == ("done", 5)


def test_large_bodies_are_refused_and_cors_stays_closed(client: httpx.Client) -> None:
    huge = {"workflow": "counter", "input": {"n": 0}, "metadata": {"x": "a" * (1 << 20)}}
    too_large = assert_envelope(client.post("/v1/runs/wait", json=huge), 413, "PAYLOAD_TOO_LARGE")
    assert too_large["details"]["limit"] == 1 << 20

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"workflow": "counter", "metadata": {"x": "'
        for _ in range(20):
            yield b"a" * 65536
        yield b'"}}'

    streamed = client.post(
        "/v1/runs/wait", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_envelope(streamed, 413, "PAYLOAD_TOO_LARGE")
    asked = client.options(
        "/v1/workflows",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
    )
    assert "access-control-allow-origin" not in asked.headers


def test_metrics_count_requests_by_route_and_the_runs(client: httpx.Client) -> None:
    client.get("/v1/workflows")
    client.get("/v1/runs/run-none")
    text = client.get("/metrics").text
    assert 'orca_http_requests_total{method="GET",route="/v1/workflows",status="200"}' in text
    assert 'orca_http_requests_total{method="GET",route="/v1/runs/{run_id}",status="404"}' in text
    assert "orca_http_request_duration_seconds_bucket" in text
    assert "orca_runs_started_total" in text  # the runs' own series, in the same registry


def test_a_run_posts_its_record_to_its_webhook_when_it_stops(client: httpx.Client) -> None:
    import http.server
    import queue
    import threading

    got: queue.Queue[dict[str, Any]] = queue.Queue()

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            got.put(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    receiver = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        hook = f"http://127.0.0.1:{receiver.server_port}/done?k=1"
        started = client.post(
            "/v1/threads/t-hook/runs", json={"workflow": "counter", "input": {}, "webhook": hook}
        ).json()
        record = got.get(timeout=30)
        assert (record["run_id"], record["status"]) == (started["run_id"], "done")
    finally:
        receiver.shutdown()
    refused = client.post(
        "/v1/runs/wait", json={"workflow": "counter", "input": {}, "webhook": "http://10.1.2.3/x"}
    )
    body = assert_envelope(refused, 400, "INVALID_INPUT")
    assert "10.1.2.3" in body["message"]
    assert "webhook_networks" in body["details"]["fix"]


@pytest.mark.parametrize(
    ("url", "networks", "says"),
    [
        ("ftp://example.com/x", (), r"not an http\(s\) URL"),
        ("http:///nohost", (), r"not an http\(s\) URL"),
        ("http://127.0.0.1:9/x", (), "loopback"),
        ("http://169.254.169.254/latest/meta-data", (), "private or reserved"),
        ("http://[::1]/x", (), "loopback"),
        ("http://no-such-host.invalid/x", (), "cannot resolve"),
    ],
)
def test_webhooks_never_reach_into_the_machine_s_network(
    url: str, networks: tuple[str, ...], says: str
) -> None:
    from orca.errors import InvalidInputError
    from orca.server._webhooks import check_webhook

    with pytest.raises(InvalidInputError, match=says):
        check_webhook(url, networks)
    assert check_webhook("http://127.0.0.1:9/x", ["127.0.0.0/8"])[2] == "127.0.0.1"


def test_pages_of_other_sites_cannot_use_the_server(client: httpx.Client) -> None:
    rebound = client.get("/v1/workflows", headers={"Host": "evil.example.com"})
    assert_envelope(rebound, 421, "HOST_NOT_ALLOWED")
    assert rebound.headers["X-Correlation-Id"]
    cross = client.post("/v1/runs/run-x/cancel", headers={"Origin": "https://evil.example.com"})
    assert_envelope(cross, 403, "ORIGIN_NOT_ALLOWED")
    own = client.get("/v1/workflows", headers={"Origin": f"{client.base_url}".rstrip("/")})
    assert own.status_code == 200
    assert client.get("/healthz", headers={"Host": "localhost:1234"}).status_code == 200
