"""``orca.client`` against real servers: a real ``orca serve`` on loopback (typed results
and errors, event streams, the sync face), and small loopback HTTP servers written here
that answer 429/503 with their headers or cut an event stream mid-way (retries that
honour the advice, streams resumed with Last-Event-ID, safe concurrency)."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from _client_served import make_project, serving
from _scripted import Handler, Scripted, answer
from orca.client import (
    NEVER,
    AsyncClient,
    Backpressure,
    Client,
    Retry,
    RetryPolicy,
    Run,
    ServerConflictError,
    ServerError,
    ServerNotFoundError,
    ServerOverloadedError,
    ServerRequestError,
    ServerUnreachableError,
    declared_capacity,
)
from orca.client._retry import advised_wait_s, may_retry
from orca.client._sse import SSEParser
from orca.events import RUN_FINISHED, STEP_STARTED, Event, RunFinished

# -- a real orca serve ------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving(make_project(tmp_path_factory.mktemp("served"))) as url:
        yield url


async def test_a_run_streams_typed_events_and_waits_for_its_result(server: str) -> None:
    async with AsyncClient(server) as client:
        assert [w.name for w in await client.workflows()] == ["boom", "counter", "review", "slow"]
        run = await client.start_run("counter", {"n": 0})
        assert isinstance(run, Run)
        assert run.run_id
        assert run.thread_id
        events = [e async for e in client.stream_run(run.run_id)]
        assert all(isinstance(e, Event) for e in events)
        seqs = [e.seq for e in events]  # (the log keeps no values or checkpoint events)
        assert seqs[0] == 0
        assert seqs == sorted(set(seqs))
        assert sum(e.type == STEP_STARTED for e in events) == 3
        last = events[-1]
        assert isinstance(last, RunFinished)
        assert last.status == "done"
        result = await client.wait_run(run.run_id)
        assert result.run.status == "done"
        assert result.run.steps == 3
        assert result.values["n"] == 3
        listed = await client.list_runs(thread_id=run.thread_id)
        assert [r.run_id for r in listed] == [run.run_id]
        # joined after it finished, from an event on: the rest of the log, nothing twice
        logged = [e.seq async for e in client.stream_run(run.run_id)]
        rest = [e.seq async for e in client.stream_run(run.run_id, last_event_id="2")]
        assert rest == [s for s in logged if s > 2]
        assert set(logged) <= set(seqs)


async def test_threads_state_history_and_interrupts(server: str) -> None:
    async with AsyncClient(server) as client:
        thread = await client.create_thread()  # (a run without one is stateless)
        paused = await client.run("review", {}, thread_id=thread)
        assert paused.run.status == "interrupted"
        assert paused.interrupts[0]["value"] == {"question": "ship it?"}
        assert paused.run.thread_id == thread
        answered = await client.run("review", thread_id=thread, resume="yes")
        assert answered.values["verdict"] == "yes"
        state = await client.thread_state(thread)
        assert state.values["verdict"] == "yes"
        assert state.next == []
        history = await client.thread_history(thread)
        assert history
        assert history[0].checkpoint_id == state.checkpoint_id
        assert thread in await client.threads()


async def test_server_errors_are_typed_and_carry_the_envelope(server: str) -> None:
    async with AsyncClient(server, correlation_id="client-test-1") as client:
        with pytest.raises(ServerNotFoundError) as missing:
            await client.get_run("no-such-run")
        assert missing.value.status == 404
        assert missing.value.code == "NOT_FOUND"
        assert missing.value.retriable is False
        assert missing.value.policy_label is None
        assert missing.value.correlation_id == "client-test-1"
        with pytest.raises(ServerRequestError) as bad:
            await client.start_run("counter", {}, colour="red")
        assert bad.value.status == 422
        assert bad.value.code == "INVALID_REQUEST"
        assert bad.value.details["problems"][0]["field"] == "colour"
        with pytest.raises(ServerRequestError) as wrong:
            await client.list_runs(status="sleeping")
        assert wrong.value.code == "INVALID_INPUT"
        assert "Fix:" in str(wrong.value)
        slow = await client.start_run("slow", {})
        try:
            with pytest.raises(ServerConflictError) as busy:
                await client.start_run("slow", {}, thread_id=slow.thread_id)
            assert busy.value.code == "THREAD_BUSY"
            assert slow.run_id in busy.value.message
        finally:
            await client.cancel_run(slow.run_id)
        assert (await client.wait_run(slow.run_id)).run.status == "cancelled"


def test_the_sync_face_makes_the_same_calls(server: str) -> None:
    with Client(server) as client:
        result = client.run("counter", {"n": 1})
        assert (result.run.status, result.values["n"]) == ("done", 3)
        kinds = [e.type for e in client.stream_run(result.run.run_id)]
        assert kinds[-1] == RUN_FINISHED
        with pytest.raises(ServerNotFoundError):
            client.workflow("nope")
        # what the server runs and queues at once, as its capabilities declare it
        declared = client.capabilities().raw["concurrency"]["safe"]
        assert client.safe_concurrency(default=3) == declared


def test_server_url_and_token_come_from_the_environment(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCA_SERVER", server)
    with Client() as client:
        assert client.base_url == server
        assert client.health()["status"] == "ok"
    monkeypatch.delenv("ORCA_SERVER")
    with pytest.raises(ValueError, match="ORCA_SERVER"):
        AsyncClient()


# -- small loopback servers that misbehave on purpose ------------------------------------


def refusal(req: BaseHTTPRequestHandler, status: int = 429, backoff_ms: int = 150) -> None:
    answer(
        req,
        status,
        {
            "code": "OVERLOADED",
            "message": "the task queue is full",
            "engine": None,
            "retriable": True,
            "retry_after_ms": backoff_ms,
            "policy_label": "reject",
            "details": {"queue_depth": 8},
        },
        {"Retry-After": str(max(1, backoff_ms // 1000)), "X-Backoff-Ms": str(backoff_ms)},
    )


@pytest.fixture
def scripted() -> Iterator[Callable[[Handler], Scripted]]:
    made: list[Scripted] = []

    def make(handler: Handler) -> Scripted:
        made.append(Scripted(handler))
        return made[-1]

    yield make
    for s in made:
        s.close()


def test_a_429_is_retried_after_the_wait_it_names_even_for_a_post(
    scripted: Callable[[Handler], Scripted],
) -> None:
    def handler(req: BaseHTTPRequestHandler, n: int) -> None:
        if n < 2:
            refusal(req)  # not accepted: safe to send again
        else:
            answer(req, 202, {"task_id": "t-1", "status": "queued", "queue_position": 0})

    server = scripted(handler)
    retries: list[Retry] = []
    with Client(server.url, token="s3cret", on_retry=retries.append) as client:
        accepted = client.submit_task(task_id="t-1", prompt="hi", max_tokens=4)
    assert (accepted.task_id, accepted.queue_position) == ("t-1", 0)
    assert [s[0] for s in server.seen] == ["POST", "POST", "POST"]
    assert all(s[2]["Authorization"] == "Bearer s3cret" for s in server.seen)
    # X-Backoff-Ms (finer than Retry-After) is the floor of each wait; jitter only adds
    assert [r.attempt for r in retries] == [1, 2]
    assert all(0.150 <= r.wait_s <= 0.150 * 1.2 for r in retries)
    assert all(isinstance(r.error, ServerOverloadedError) for r in retries)
    gaps = [b[3] - a[3] for a, b in zip(server.seen, server.seen[1:], strict=False)]
    assert all(gap >= 0.150 for gap in gaps)


def test_retries_are_bounded_and_the_last_refusal_is_raised_with_its_envelope(
    scripted: Callable[[Handler], Scripted],
) -> None:
    server = scripted(lambda req, n: refusal(req, backoff_ms=10))
    with (
        Client(server.url, retry=RetryPolicy(attempts=3)) as client,
        pytest.raises(ServerOverloadedError) as refused,
    ):
        client.submit_task(task_id="t-2", prompt="hi")
    assert len(server.seen) == 3
    e = refused.value
    assert (e.status, e.code, e.policy_label, e.retry_after_ms) == (429, "OVERLOADED", "reject", 10)
    assert e.retriable
    assert e.details == {"queue_depth": 8}


def test_a_wait_longer_than_the_caller_allows_is_raised_at_once(
    scripted: Callable[[Handler], Scripted],
) -> None:
    server = scripted(lambda req, n: refusal(req, backoff_ms=120_000))
    with (
        Client(server.url, retry=RetryPolicy(max_wait_s=5)) as client,
        pytest.raises(ServerOverloadedError) as refused,
    ):
        client.get_run("r-1")
    assert len(server.seen) == 1
    assert refused.value.retry_after_ms == 120_000


def test_a_post_the_server_may_have_accepted_is_never_retried(
    scripted: Callable[[Handler], Scripted],
) -> None:
    def handler(req: BaseHTTPRequestHandler, n: int) -> None:
        answer(req, 500, {"code": "INTERNAL", "message": "boom", "retriable": True})

    server = scripted(handler)
    with Client(server.url, retry=RetryPolicy(base_s=0.001)) as client:
        with pytest.raises(ServerError) as failed:
            client.start_run("counter", {})
        assert len(server.seen) == 1  # a 500 after a POST: it may have started the run
        assert failed.value.code == "INTERNAL"
        assert type(failed.value) is ServerError
        with pytest.raises(ServerError):
            client.get_run("r-1")  # a GET may be sent again
        assert len(server.seen) == 1 + 4


def test_a_task_submission_is_retried_safely_under_the_same_task_id(
    scripted: Callable[[Handler], Scripted],
) -> None:
    def handler(req: BaseHTTPRequestHandler, n: int) -> None:
        if n == 0:
            answer(req, 500, {"code": "INTERNAL", "message": "boom", "retriable": True})
        else:
            answer(req, 202, {"task_id": json.loads(server.bodies[-1])["task_id"]})

    server = scripted(handler)
    with Client(server.url, retry=RetryPolicy(base_s=0.001)) as client:
        accepted = client.submit_task(prompt="hi", model_ref="m")
    sent = [json.loads(b)["task_id"] for b in server.bodies]
    assert len(sent) == 2
    assert sent[0] == sent[1] == accepted.task_id  # made once, by the client


def test_a_503_on_a_read_is_retried_until_it_answers(
    scripted: Callable[[Handler], Scripted],
) -> None:
    def handler(req: BaseHTTPRequestHandler, n: int) -> None:
        if n == 0:
            refusal(req, status=503, backoff_ms=20)
        else:
            answer(req, 200, {"run_id": "r-9", "status": "done", "steps": 2})

    server = scripted(handler)
    with Client(server.url) as client:
        run = client.get_run("r-9")
    assert (run.run_id, run.status, run.steps, run.finished) == ("r-9", "done", 2, True)
    assert len(server.seen) == 2


def test_a_server_that_is_not_there_is_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nobody listens
    retries: list[Retry] = []
    policy = RetryPolicy(attempts=2, base_s=0.001)
    url = f"http://127.0.0.1:{port}"
    with (
        Client(url, retry=policy, on_retry=retries.append) as client,
        pytest.raises(ServerUnreachableError) as gone,
    ):
        client.start_run("counter", {})  # never sent: a POST may be tried again
    assert len(retries) == 1
    assert gone.value.status == 0
    assert "orca serve" in str(gone.value)


def sse_event(seq: int) -> bytes:
    data = {"type": "step.started", "seq": seq, "step": seq, "run_id": "r", "thread_id": "t",
            "ts": 0.0, "tasks": []}  # fmt: skip
    return b"id: %d\nevent: step.started\ndata: %s\n\n" % (seq, json.dumps(data).encode())


def test_a_stream_cut_by_the_server_resumes_with_last_event_id(
    scripted: Callable[[Handler], Scripted],
) -> None:
    """The first connection ends after 4 events; the second is cut in the middle of an
    event; the third finishes. Every event arrives once, in order."""

    def handler(req: BaseHTTPRequestHandler, n: int) -> None:
        start = int(req.headers.get("Last-Event-ID", "-1")) + 1
        req.send_response(200)
        req.send_header("Content-Type", "text/event-stream")
        req.end_headers()
        req.close_connection = True
        if n == 0:
            req.wfile.write(b": keep-alive\n\n" + b"".join(sse_event(i) for i in range(4)))
        elif n == 1:
            req.wfile.write(b"".join(sse_event(i) for i in range(start, 6)))
            req.wfile.write(sse_event(6)[:20])  # cut mid-event: it must not count
        else:
            req.wfile.write(b"".join(sse_event(i) for i in range(start, 10)))
            req.wfile.write(b"event: end\ndata: {}\n\n")
        req.wfile.flush()

    server = scripted(handler)
    retries: list[Retry] = []
    policy = RetryPolicy(base_s=0.001)
    with Client(server.url, retry=policy, on_retry=retries.append) as client:
        seqs = [e.seq for e in client.stream_run("r")]
    assert seqs == list(range(10))
    sent = [s[2].get("Last-Event-ID") for s in server.seen]
    assert sent == [None, "3", "5"]
    assert len(retries) == 2
    assert all(isinstance(r.error, ServerUnreachableError) for r in retries)


def test_a_stream_that_keeps_failing_gives_up(scripted: Callable[[Handler], Scripted]) -> None:
    def handler(req: BaseHTTPRequestHandler, n: int) -> None:
        req.send_response(200)
        req.send_header("Content-Type", "text/event-stream")
        req.end_headers()
        req.close_connection = True

    server = scripted(handler)
    with Client(server.url, retry=RetryPolicy(base_s=0.001)) as client:
        client.aio._t.stream_reconnects = 2
        with pytest.raises(ServerUnreachableError):
            list(client.stream_task("t-1"))
    assert len(server.seen) == 3


def test_safe_concurrency_follows_capacity_and_backpressure(
    scripted: Callable[[Handler], Scripted],
) -> None:
    def handler(req: BaseHTTPRequestHandler, n: int) -> None:
        if req.path == "/v1/capabilities":
            answer(req, 200, {"api_version": "1", "admission": {"tasks": {"max_running": 8}}})
        elif n < 2:
            refusal(req, backoff_ms=1)
        else:
            answer(req, 202, {"task_id": f"t-{n}", "status": "queued"})

    server = scripted(handler)
    with Client(server.url) as client:
        assert client.capabilities().api_version == "1"
        assert client.safe_concurrency() == 8
        client.submit_task(task_id="t", prompt="x")  # two 429s, then accepted
        assert client.safe_concurrency() == 2  # 8 -> 4 -> 2, and one of a window of 2 accepted
        client.submit_task(task_id="t", prompt="x")
        assert client.safe_concurrency() == 3  # a full window accepted: one more


# -- pure parts ---------------------------------------------------------------------------


def test_declared_capacity_is_found_where_servers_state_it() -> None:
    assert declared_capacity({"max_running_tasks": 6}) == 6
    tasks = {
        "concurrency": {"max_running": 2, "safe": 10},
        "rate_limits": {"tasks": {"max_running": 2}},
    }
    assert declared_capacity(tasks) == 10  # running and queued: no 429 of its own making
    assert declared_capacity(tasks, "runs") is None
    assert declared_capacity({"limits": {"max_concurrency": 3}}) == 3
    assert declared_capacity({"admission": {"runs": {"max_running": 2}}}, "runs") == 2
    assert declared_capacity({"admission": {"tasks": {"max_running": 0}}}) is None
    assert declared_capacity({"engines": ["llamacpp"]}) is None


def test_backpressure_halves_on_refusal_and_regains_one_window_at_a_time() -> None:
    p = Backpressure(8)
    p.refused()
    p.refused()
    assert p.limit == 2
    for _ in range(2):
        p.accepted()
    assert p.limit == 3
    for _ in range(100):
        p.accepted()
    assert p.limit == 8  # never past the capacity
    with pytest.raises(ValueError, match="ceiling"):
        Backpressure(0)


def test_retry_rules() -> None:
    assert advised_wait_s({"retry-after": "2", "x-backoff-ms": "250"}, None) == 0.25
    assert advised_wait_s({"retry-after": "2"}, None) == 2.0
    assert advised_wait_s({}, 1500) == 1.5
    assert advised_wait_s({}, None) is None
    assert may_retry("POST", 429, True)
    assert not may_retry("POST", 503, True)
    assert may_retry("GET", 503, True)
    assert not may_retry("GET", 400, False)
    assert may_retry("POST", 0, True, sent=False)
    assert not may_retry("POST", 0, True)
    assert NEVER.attempts == 1
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)


def test_the_event_stream_parser_follows_the_format() -> None:
    p = SSEParser()
    lines = [": comment", "id: 7", "event: token", 'data: {"t": "a"', "data: }", "", ""]
    found = [e for e in (p.feed(line) for line in lines) if e is not None]
    assert len(found) == 1
    assert (found[0].id, found[0].event, found[0].data) == ("7", "token", '{"t": "a"\n}')
    assert p.feed("data:x") is None
    assert p.feed("").event == "message"


def test_the_client_is_typed_for_its_callers(tmp_path: Path) -> None:
    from orca.errors import OrcaError

    assert issubclass(ServerError, OrcaError)
    assert issubclass(ServerNotFoundError, LookupError)
    assert issubclass(ServerUnreachableError, ConnectionError)
    e = ServerError("x", details={"fix": "do y"})
    assert str(e) == "x. Fix: do y"
    assert e.message == "x"


def test_orca_client_exports_exactly_its_public_api() -> None:
    import orca.client

    assert sorted(orca.client.__all__) == sorted(
        [
            "NEVER", "AsyncClient", "Backpressure", "Budget", "Capabilities", "Checkpoint",
            "Client", "Retry", "RetryPolicy", "Run", "RunResult", "ServerAuthError",
            "ServerConflictError", "ServerError", "ServerNotFoundError",
            "ServerOverloadedError", "ServerRequestError", "ServerUnreachableError",
            "StreamEvent", "TaskAccepted", "ThreadState", "Workflow", "declared_capacity",
            "event_of",
        ]
    )  # fmt: skip
    for name in orca.client.__all__:
        assert getattr(orca.client, name) is not None


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server that runs one run at once and queues none: a second is refused (429)."""
    from _client_served import FLOW, WORKFLOWS
    from _served import init_project, served

    project = tmp_path_factory.mktemp("crowded")
    init_project(project, FLOW, "max_running_runs = 1\nmax_queued_runs = 0")
    with served(project, WORKFLOWS) as url:
        yield url


def test_a_real_admission_refusal_is_waited_out_as_the_server_advises(crowded: str) -> None:
    with Client(crowded, retry=NEVER) as client:
        busy = client.start_run("slow", {}, thread_id="t-busy")
        with pytest.raises(ServerOverloadedError) as refused:
            client.start_run("counter", {}, thread_id="t-second")
        e = refused.value
        assert e.status == 429
        assert e.policy_label == "reject"
        assert e.retry_after_ms is not None
        assert e.retriable
        client.wait_run(busy.run_id)
    retries: list[Retry] = []
    with Client(crowded, retry=RetryPolicy(attempts=10), on_retry=retries.append) as client:
        busy = client.start_run("slow", {}, thread_id="t-busy-2")
        second = client.start_run("counter", {}, thread_id="t-second-2")  # waits its turn
        assert client.wait_run(second.run_id).run.status == "done"
        assert client.wait_run(busy.run_id).run.status == "done"
    assert retries  # refused at least once, then accepted
    for r in retries:
        assert isinstance(r.error, ServerOverloadedError)
        assert r.error.retry_after_ms is not None
        assert r.wait_s >= r.error.retry_after_ms / 1000  # never sooner than advised


def test_safe_concurrency_without_capabilities_is_the_default(
    scripted: Callable[[Handler], Scripted],
) -> None:
    server = scripted(
        lambda req, n: answer(req, 404, {"code": "NOT_FOUND", "message": "Not Found"})
    )
    with Client(server.url) as client:
        assert client.safe_concurrency(default=3) == 3
