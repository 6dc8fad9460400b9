"""The server's runs under admission control, against real ``orca serve`` processes: a
full queue answers 429 with its headers, queued runs start in order and stream once they
do, the multitask strategies enqueue and rollback, cancel of queued runs and with
rollback, stateless runs that leave no thread, predictions of when a run starts, and
kill -9 of the server with queued and running runs: each completes exactly once."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from _served import assert_envelope, init_project, served, sse, start

FLOW = """
import asyncio
from typing import TypedDict
from orca import END, START, StateGraph


class S(TypedDict, total=False):
    n: int
    pause: float
    until: int


async def tick(state, ctx):
    await asyncio.sleep(state.get("pause", 0.2))
    return {"n": state.get("n", 0) + 1}


ticker = StateGraph(S, name="ticker")
ticker.add_node("tick", tick)
ticker.add_edge(START, "tick")
ticker.add_conditional_edges("tick", lambda s: "tick" if s["n"] < s.get("until", 4) else END)
"""


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    project = tmp_path_factory.mktemp("queued")
    init_project(project, FLOW, "max_running_runs = 1\nmax_queued_runs = 2")
    with served(project, ["ticker"]) as url, httpx.Client(base_url=url, timeout=60) as c:
        yield c


def run_on(client: httpx.Client, thread: str, **body: Any) -> httpx.Response:
    return client.post(f"/v1/threads/{thread}/runs", json={"workflow": "ticker", **body})


def wait(client: httpx.Client, run_id: str) -> dict[str, Any]:
    found: dict[str, Any] = client.get(f"/v1/runs/{run_id}/wait").json()
    return found


def at(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp)


def test_a_full_queue_answers_429_with_when_to_come_back(client: httpx.Client) -> None:
    running = run_on(client, "full-a", input={"pause": 0.3}).json()
    assert running["status"] == "running"
    first = run_on(client, "full-b", input={"pause": 0.05}).json()
    second = run_on(client, "full-c", input={"pause": 0.05}).json()
    assert (first["status"], first["queue_position"]) == ("queued", 0)
    assert (second["status"], second["queue_position"]) == ("queued", 1)
    assert 0 < first["predicted_start_ms"] <= second["predicted_start_ms"]
    assert client.get(f"/v1/runs/{first['run_id']}").json()["status"] == "queued"

    refused = run_on(client, "full-d", input={})
    body = assert_envelope(refused, 429, "OVERLOADED")
    assert (body["policy_label"], body["retriable"]) == ("reject", True)
    assert body["retry_after_ms"] > 0
    assert int(refused.headers["Retry-After"]) >= 1
    assert int(refused.headers["X-Backoff-Ms"]) == body["retry_after_ms"]
    assert body["details"]["queue_depth"] == 2
    # nothing was kept of the refused run
    assert client.get("/v1/runs", params={"thread_id": "full-d"}).json() == []

    # a queued run's stream waits for it to start, then follows it to its end
    events = sse(client.get(f"/v1/runs/{second['run_id']}/stream").text)
    assert events[0]["event"] == "run.started"
    assert events[-1]["event"] == "end"
    done = [wait(client, r["run_id"]) for r in (running, first, second)]
    assert [d["status"] for d in done] == ["done", "done", "done"]
    # one slot: each started after the one before it ended
    for before, after in itertools.pairwise(done):
        assert at(after["started_at"]) >= at(before["ended_at"])
    metrics = client.get("/metrics").text
    assert 'orca_admission_rejected_total{policy="reject",queue="runs"}' in metrics
    assert 'orca_admission_queue_depth{priority="interactive",queue="runs"} 0.0' in metrics


def test_enqueue_starts_after_the_thread_s_run_and_builds_on_its_state(
    client: httpx.Client,
) -> None:
    first = run_on(client, "enq", input={"pause": 0.1}).json()
    refused = run_on(client, "enq", input={"n": 10})
    assert_envelope(refused, 409, "THREAD_BUSY")
    assert first["run_id"] in refused.json()["message"]
    second = run_on(client, "enq", input={"n": 10}, multitask_strategy="enqueue").json()
    assert second["status"] == "queued"
    one, two = wait(client, first["run_id"]), wait(client, second["run_id"])
    assert (one["status"], two["status"]) == ("done", "done")
    assert at(two["started_at"]) >= at(one["ended_at"])
    assert two["values"]["n"] == 11  # on the thread's state: its pause is still 0.1
    assert two["values"]["pause"] == 0.1


def test_a_queued_run_can_be_cancelled_and_never_runs(client: httpx.Client) -> None:
    holder = run_on(client, "cq-a", input={"pause": 0.2}).json()
    queued = run_on(client, "cq-b", input={}).json()
    assert queued["status"] == "queued"
    cancelled = client.post(f"/v1/runs/{queued['run_id']}/cancel")
    assert cancelled.status_code == 202
    assert cancelled.json()["status"] == "cancelled"
    record = wait(client, queued["run_id"])
    assert (record["status"], record["steps"], record["values"]) == ("cancelled", 0, None)
    assert client.get("/v1/threads/cq-b/history", params={"workflow": "ticker"}).status_code == 404
    assert sse(client.get(f"/v1/runs/{queued['run_id']}/stream").text) == [
        {"event": "end", "data": {}}
    ]
    assert wait(client, holder["run_id"])["status"] == "done"


def checkpoints_of(client: httpx.Client, thread: str) -> list[dict[str, Any]]:
    found = client.get(f"/v1/threads/{thread}/history", params={"workflow": "ticker"})
    return found.json() if found.status_code == 200 else []


def until_checkpointed(client: httpx.Client, thread: str, n: int = 1) -> None:
    deadline = time.monotonic() + 30
    while len(checkpoints_of(client, thread)) < n:
        assert time.monotonic() < deadline, "no checkpoint came"
        time.sleep(0.05)


def test_rollback_strategy_removes_what_the_running_run_made(client: httpx.Client) -> None:
    first = run_on(client, "rb", input={"pause": 0.3, "until": 8}).json()
    until_checkpointed(client, "rb", 2)
    second = run_on(client, "rb", input={"pause": 0.01}, multitask_strategy="rollback")
    assert second.status_code == 202
    assert client.get(f"/v1/runs/{first['run_id']}").json()["status"] == "cancelled"
    done = wait(client, second.json()["run_id"])
    assert (done["status"], done["values"]["n"]) == ("done", 4)  # from nothing again
    made_by = {c["metadata"]["run_id"] for c in checkpoints_of(client, "rb")}
    assert made_by == {second.json()["run_id"]}


def test_cancel_with_rollback_puts_the_thread_back(client: httpx.Client) -> None:
    before = wait(client, run_on(client, "cr", input={"pause": 0.01}).json()["run_id"])
    kept = [c["checkpoint_id"] for c in checkpoints_of(client, "cr")]
    run = run_on(client, "cr", input={"n": 0, "pause": 0.3, "until": 8}).json()
    until_checkpointed(client, "cr", len(kept) + 1)
    stopped = client.post(f"/v1/runs/{run['run_id']}/cancel", params={"action": "rollback"})
    assert stopped.json()["status"] == "cancelled"
    assert stopped.json()["rolled_back"] >= 1
    assert [c["checkpoint_id"] for c in checkpoints_of(client, "cr")] == kept
    state = client.get("/v1/threads/cr/state", params={"workflow": "ticker"}).json()
    assert state["values"] == before["values"]
    bad = client.post(f"/v1/runs/{run['run_id']}/cancel", params={"action": "explode"})
    assert_envelope(bad, 422, "INVALID_REQUEST")


def test_a_stateless_run_leaves_no_thread_but_its_record_and_log(
    client: httpx.Client,
) -> None:
    done = client.post("/v1/runs/wait", json={"workflow": "ticker", "input": {"pause": 0}})
    result = done.json()
    assert (result["status"], result["values"]["n"]) == ("done", 4)
    assert result["thread_id"] not in client.get("/v1/threads").json()
    assert checkpoints_of(client, result["thread_id"]) == []
    assert client.get(f"/v1/runs/{result['run_id']}").json()["status"] == "done"
    events = sse(client.get(f"/v1/runs/{result['run_id']}/stream").text)
    assert events[-2]["event"] == "run.finished"
    # its result is still there to wait for
    assert wait(client, result["run_id"])["values"]["n"] == 4


def test_predicted_start_is_within_twice_the_real_start_under_steady_load(
    tmp_path: Path,
) -> None:
    init_project(tmp_path, FLOW, "max_running_runs = 1\nmax_queued_runs = 10")
    with served(tmp_path, ["ticker"]) as url, httpx.Client(base_url=url, timeout=60) as c:
        steady = {"pause": 0.1, "until": 4}  # each run ~0.4 s
        for i in range(2):  # measured service times
            wait(c, run_on(c, f"warm-{i}", input=steady).json()["run_id"])
        c.post("/v1/threads/p-0/runs", json={"workflow": "ticker", "input": steady})
        submitted = []
        for i in range(1, 4):
            sent = time.time()
            reply = run_on(c, f"p-{i}", input=steady).json()
            submitted.append((sent, reply))
        for sent, reply in submitted:
            record = wait(c, reply["run_id"])
            real_ms = (at(record["started_at"]).timestamp() - sent) * 1000
            predicted = reply["predicted_start_ms"]
            assert real_ms / 2 <= predicted <= real_ms * 2, (predicted, real_ms)


def test_kill_9_with_queued_and_running_runs_then_restart_each_completes_once(
    tmp_path: Path,
) -> None:
    init_project(tmp_path, FLOW, "max_running_runs = 1\nmax_queued_runs = 10")
    proc, url = start(tmp_path, ["ticker"])
    try:
        with httpx.Client(base_url=url, timeout=60) as c:
            running = run_on(c, "k-a", input={"pause": 0.25, "until": 8}).json()
            queued = [run_on(c, f"k-{x}", input={"pause": 0.01}).json() for x in "bc"]
            stateless = c.post("/v1/runs", json={"workflow": "ticker", "input": {}}).json()
            assert {q["status"] for q in [*queued, stateless]} == {"queued"}
            until_checkpointed(c, "k-a", 3)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    ids = [running["run_id"], *(q["run_id"] for q in queued), stateless["run_id"]]

    proc, url = start(tmp_path, ["ticker"])
    try:
        with httpx.Client(base_url=url, timeout=60) as c:
            done = [wait(c, run_id) for run_id in ids]
            assert [d["status"] for d in done] == ["done"] * 4
            assert done[0]["values"]["n"] == 8  # continued: no step applied twice
            assert [d["values"]["n"] for d in done[1:]] == [4, 4, 4]
            for run_id in ids:
                events = sse(c.get(f"/v1/runs/{run_id}/stream").text)[:-1]
                seqs = [int(e["id"]) for e in events]
                assert seqs == sorted(set(seqs))  # numbered on, never twice
                assert [e["event"] for e in events].count("run.finished") == 1
            assert stateless["thread_id"] not in c.get("/v1/threads").json()
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    # a third start finds nothing left to take up
    proc, url = start(tmp_path, ["ticker"])
    try:
        with httpx.Client(base_url=url, timeout=60) as c:
            records = {r["run_id"]: r for r in c.get("/v1/runs").json()}
            assert {records[i]["status"] for i in ids} == {"done"}
            assert all(r["status"] == "done" for r in records.values())
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_runs_are_listed_by_workflow(client: httpx.Client) -> None:
    wait(client, run_on(client, "by-wf", input={"pause": 0}).json()["run_id"])
    listed = client.get("/v1/runs", params={"workflow": "ticker", "limit": 1000}).json()
    assert listed
    assert {r["graph"] for r in listed} == {"ticker"}
    assert client.get("/v1/runs", params={"workflow": "nothing"}).json() == []


@pytest.mark.parametrize("cancel", [True, False])
def test_a_stream_s_client_leaving_cancels_the_run_only_when_it_asked(
    client: httpx.Client, cancel: bool
) -> None:
    run = run_on(client, f"leave-{cancel}", input={"pause": 0.2, "until": 6}).json()
    params = {"cancel_on_disconnect": "true"} if cancel else {}
    with client.stream("GET", f"/v1/runs/{run['run_id']}/stream", params=params) as s:
        for line in s.iter_lines():
            if line.startswith("event: step.started"):
                break  # and go away
    done = wait(client, run["run_id"])
    assert done["status"] == ("cancelled" if cancel else "done")


def test_runs_sent_at_once_to_one_thread_are_taken_in_turn_or_refused(
    tmp_path: Path,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    init_project(tmp_path, FLOW, "max_running_runs = 4\nmax_queued_runs = 50")
    with served(tmp_path, ["ticker"]) as url, httpx.Client(base_url=url, timeout=60) as c:

        def send(strategy: str) -> httpx.Response:
            body = {"input": {"pause": 0.01, "until": 2}, "multitask_strategy": strategy}
            return run_on(c, f"race-{strategy}", **body)

        with ThreadPoolExecutor(8) as pool:
            queued = list(pool.map(send, ["enqueue"] * 8))
            rejected = list(pool.map(send, ["reject"] * 8))
        assert [r.status_code for r in queued] == [202] * 8
        done = [wait(c, r.json()["run_id"]) for r in queued]
        assert [d["status"] for d in done] == ["done"] * 8, [d["error"] for d in done]
        spans = sorted((at(d["started_at"]), at(d["ended_at"])) for d in done)
        for (_, ended), (started, _) in itertools.pairwise(spans):
            assert started >= ended  # one at a time on the thread
        codes = sorted(r.status_code for r in rejected)
        assert codes.count(202) >= 1
        assert set(codes) <= {202, 409}
        winners = [r.json()["run_id"] for r in rejected if r.status_code == 202]
        for run_id in winners:
            assert wait(c, run_id)["status"] == "done"


def test_a_flood_keeps_the_bounds_and_loses_or_doubles_no_accepted_run(
    tmp_path: Path,
) -> None:
    """A bounded load test on loopback: 240 runs sent 24 at a time at a server that runs
    2 and queues 6. Every answer is a 202 or a 429 with its headers, the queue gauge never
    passes its bound, and every accepted run ends done exactly once."""
    import asyncio
    import re

    init_project(tmp_path, FLOW, "max_running_runs = 2\nmax_queued_runs = 6")
    with served(tmp_path, ["ticker"]) as url:

        async def flood() -> tuple[list[httpx.Response], list[float]]:
            depths: list[float] = []
            async with httpx.AsyncClient(base_url=url, timeout=60) as c:

                async def one(i: int) -> httpx.Response:
                    body = {"workflow": "ticker", "input": {"pause": 0.01, "until": 2}}
                    return await c.post(f"/v1/threads/flood-{i}/runs", json=body)

                answers: list[httpx.Response] = []
                for wave in range(10):
                    answers += await asyncio.gather(*(one(wave * 24 + i) for i in range(24)))
                    metrics = (await c.get("/metrics")).text
                    depths += [
                        float(v)
                        for v in re.findall(
                            r'orca_admission_queue_depth\{priority="\w+",queue="runs"\} (\S+)',
                            metrics,
                        )
                    ]
            return answers, depths

        answers, depths = asyncio.run(flood())
        accepted = [a.json()["run_id"] for a in answers if a.status_code == 202]
        refused = [a for a in answers if a.status_code != 202]
        assert accepted
        assert refused  # the bounds were reached
        for answer in refused:
            body = assert_envelope(answer, 429, "OVERLOADED")
            assert int(answer.headers["Retry-After"]) >= 1
            assert int(answer.headers["X-Backoff-Ms"]) == body["retry_after_ms"]
        assert depths
        assert max(depths) <= 6
        with httpx.Client(base_url=url, timeout=60) as c:
            for run_id in accepted:
                assert wait(c, run_id)["status"] == "done"
                events = sse(c.get(f"/v1/runs/{run_id}/stream").text)
                assert [e["event"] for e in events].count("run.finished") == 1
            records = c.get("/v1/runs", params={"limit": 1000}).json()
        assert sorted(r["run_id"] for r in records) == sorted(accepted)  # none lost, none extra


def test_runs_take_the_project_s_execution_settings_unless_they_set_their_own(
    tmp_path: Path,
) -> None:
    init_project(tmp_path, FLOW)
    config = tmp_path / ".orca" / "orca.toml"
    config.write_text(config.read_text().replace("max_steps = 100", "max_steps = 2"))
    with served(tmp_path, ["ticker"]) as url, httpx.Client(base_url=url, timeout=60) as c:
        short = c.post("/v1/runs/wait", json={"workflow": "ticker", "input": {"pause": 0}})
        assert short.json()["status"] == "failed"
        assert "StepLimitError" in short.json()["error"]
        body = {"workflow": "ticker", "input": {"pause": 0}, "max_steps": 10}
        assert c.post("/v1/runs/wait", json=body).json()["status"] == "done"


TOOLED = """
from typing import TypedDict
from orca import END, START, StateGraph
from orca.tools import file_tools

tools = file_tools()


class S(TypedDict, total=False):
    text: str
    written: int


async def write(state, ctx):
    text = state["text"]
    return {"written": await ctx.tools.acall("files_write", path="out/a.txt", content=text)}


writer = StateGraph(S, name="writer")
writer.add_node("write", write)
writer.add_edge(START, "write")
writer.add_edge("write", END)
"""


def test_a_served_workflow_s_tools_work_in_the_project_and_are_audited(tmp_path: Path) -> None:
    init_project(tmp_path, TOOLED)
    with served(tmp_path, ["writer"]) as url, httpx.Client(base_url=url, timeout=60) as c:
        body = {"workflow": "writer", "input": {"text": "hello"}}
        done = c.post("/v1/runs/wait", json=body).json()
        assert done["status"] == "done", done["error"]
        assert (tmp_path / "out" / "a.txt").read_text() == "hello"  # the project's workspace
        audit = c.get("/v1/audit", params={"run_id": done["run_id"]}).json()
        assert [e["tool"] for e in audit] == ["files_write"]
