"""``orca worker`` processes executing queued runs, end to end: real worker processes,
a real model server on loopback (OpenAI's wire format) that records every call, and the
store's run queue. A worker SIGKILLed in the middle of a run: another takes the run up
from its last checkpoint; every run completes exactly once and no paid call is made
twice. A worker sent SIGTERM gives its runs back and exits cleanly."""

from __future__ import annotations

import dataclasses
import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from _served import init_project, orca, served, sse
from orca.flows import load_workflow
from orca.server._models import RunBody
from orca.server._worker import submit
from orca.store import open_store

sys.path.insert(0, str(Path(__file__).parent / "llm"))
from wire import WireServer

FLOWS = """\
import os, time
from pathlib import Path
from typing import TypedDict

from orca import END, START, StateGraph


class S(TypedDict, total=False):
    n: int
    first: str
    second: str


async def ask(s, ctx):
    answer = await ctx.worker.acomplete(f"first {s['n']}", max_tokens=4)
    return {"first": answer.text}


def slow(s):
    # a marker says which process is in this step, for the test to kill it here; a run
    # named in VICTIMS sleeps long the first time only (it is killed in it)
    markers = Path(os.environ["MARKERS"])
    first = not list(markers.glob(f"{s['n']}.*"))
    (markers / f"{s['n']}.{os.getpid()}").write_text("")
    victim = first and str(s["n"]) in os.environ.get("VICTIMS", "").split(",")
    time.sleep(600 if victim else float(os.environ["SLOW_S"]))
    return {}


async def ask_again(s, ctx):
    answer = await ctx.worker.acomplete(f"second {s['n']}", max_tokens=4)
    return {"second": answer.text}


graph = StateGraph(S, name="flow")
graph.add_node("ask", ask)
graph.add_node("slow", slow)
graph.add_node("ask_again", ask_again)
graph.add_edge(START, "ask")
graph.add_edge("ask", "slow")
graph.add_edge("slow", "ask_again")
graph.add_edge("ask_again", END)
"""

LEASE_S = "2"

SAVED = {
    "format": "orca.flow/v1",
    "name": "acme-flow",
    "state": [{"key": "n", "type": "integer"}, {"key": "first", "type": "string"}],
    "nodes": [{"id": "ask", "kind": "python", "ref": "flows:ask"}],
    "edges": [{"from": "__start__", "to": "ask"}, {"from": "ask", "to": "__end__"}],
}
"""A flow acme saves: its one node asks the model through the run's profile."""


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "project" / ".orca" / "project.db")


@pytest.fixture
def wire() -> Iterator[WireServer]:
    server = WireServer()
    yield server
    server.close()


@pytest.fixture
def project(tmp_path: Path, wire: WireServer, store_url: str) -> Path:
    """A project serving ``flow``, with a profile ``sim`` calling the model server (in
    the one PostgreSQL store the workers are given, or in the user database)."""
    return make_project(tmp_path / "project", wire, shared=shared_store(store_url))


def shared_store(store_url: str) -> str | None:
    """The store a worker is given with ``--store``, which then keeps everything (a
    PostgreSQL one); None for SQLite, where a worker uses the project's database and the
    user database, as every other command of the project."""
    return store_url if store_url.startswith("postgresql://") else None


def make_project(
    root: Path, wire: WireServer, server_config: str = "", *, shared: str | None = None
) -> Path:
    root.mkdir()
    init_project(root, FLOWS, server_config)
    (root / "markers").mkdir()
    url = f"base_url={wire.url}/v1"
    env = {"ORCA_STORE": shared} if shared else {}
    made = orca(root, "profile", "create", "sim", "--planner", "vllm:m", "--worker", "vllm:m",
                "--planner-param", url, "--worker-param", url, env=env)  # fmt: skip
    assert made.wait(timeout=60) == 0
    return root


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def start_worker(
    project: Path,
    store_url: str,
    started: list[subprocess.Popen[bytes]],
    *args: str,
    slow_s: float,
    victims: str = "",
) -> subprocess.Popen[bytes]:
    shared = shared_store(store_url)
    proc = orca(
        project, "worker", *(["--store", shared] if shared else []),
        "--workflow", "flows.py:graph", "--lease-s", LEASE_S, *args,
        env={"SLOW_S": str(slow_s), "MARKERS": str(project / "markers"), "VICTIMS": victims},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    started.append(proc)
    return proc


def submit_runs(project: Path, store_url: str, count: int) -> list[str]:
    """Queue ``count`` runs of ``flow`` (n = 0 ...), as ``orca serve --workers
    external`` does: a queued record, then the queue item."""
    store = open_store(store_url)
    try:
        workflow = load_workflow("flows.py:graph", store.checkpoints, root=project)
        ids = []
        for n in range(count):
            run_id = f"run-{n}"
            body = RunBody(workflow="flow", input={"n": n}, profile="sim")
            submit(store, run_id=run_id, thread_id=f"thread-{n}", body=body,
                   workflow=workflow, owner="test")  # fmt: skip
            ids.append(run_id)
        return ids
    finally:
        store.close()


def until(check: Callable[[], Any], what: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def marker_of(project: Path, pid: int) -> list[str]:
    return [p.name for p in (project / "markers").iterdir() if p.name.endswith(f".{pid}")]


def statuses(store_url: str, run_ids: list[str]) -> dict[str, str]:
    """Each run's status as its record says, once its queue item has ended too
    (``"open"`` until then)."""
    store = open_store(store_url)
    try:
        out = {}
        for run_id in run_ids:
            record, item = store.checkpoints.get_run(run_id), store.queue.get(run_id)
            ended = item is not None and item.status in ("done", "failed", "cancelled")
            out[run_id] = record.status if record is not None and ended else "open"
        return out
    finally:
        store.close()


def prompts(wire: WireServer) -> Counter[str]:
    """How often each prompt was sent to the model (each is one paid call)."""
    out: Counter[str] = Counter()
    for body in wire.bodies:
        if isinstance(body, dict) and "messages" in body:
            content = body["messages"][-1]["content"]
            text = content if isinstance(content, str) else json.dumps(content)
            out[text] += 1
    return out


def usage_by_run(project: Path, store_url: str) -> Counter[str]:
    """The usage rows (one per paid call) per run, from the store that keeps them."""
    shared = shared_store(store_url)
    if shared:
        import psycopg

        with psycopg.connect(shared) as pg:
            return Counter(r[0] for r in pg.execute("SELECT run_id FROM usage"))
    conn = sqlite3.connect(project / "home" / "orca.db")
    try:
        return Counter(r[0] for r in conn.execute("SELECT run_id FROM usage"))
    finally:
        conn.close()


def test_a_killed_worker_s_run_is_resumed_by_another_and_every_run_completes_once(
    project: Path, store_url: str, wire: WireServer, workers: list[Any]
) -> None:
    run_ids = submit_runs(project, store_url, 6)
    # one worker takes a run and is killed in its second step, after its first paid call
    doomed = start_worker(project, store_url, workers, "--concurrency", "1", slow_s=600)
    until(lambda: marker_of(project, doomed.pid), "the first worker to reach the slow step")
    (killed_marker,) = marker_of(project, doomed.pid)
    killed_run = f"run-{killed_marker.split('.')[0]}"
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=30)

    # two others take every run, the killed one from its checkpoint once its lease is out
    for _ in range(2):
        start_worker(project, store_url, workers, "--concurrency", "2", slow_s=0.2)
    done = until(
        lambda: (s := statuses(store_url, run_ids)) and all(v == "done" for v in s.values()) and s,
        "every run to be done",
    )
    assert set(done.values()) == {"done"}

    # no paid call made twice: each prompt reached the model once, and was charged once
    sent = prompts(wire)
    assert sent == Counter(
        {f"first {n}": 1 for n in range(6)} | {f"second {n}": 1 for n in range(6)}
    )
    assert usage_by_run(project, store_url) == Counter({r: 2 for r in run_ids})

    store = open_store(store_url)
    try:
        killed = store.queue.get(killed_run)
        assert killed is not None
        assert killed.status == "done"
        assert killed.attempts >= 2  # claimed again (more when a lease was lost meanwhile)
        assert {store.queue.get(r).status for r in run_ids} == {"done"}  # type: ignore[union-attr]
        # the run's log ends once: one run.finished, done
        events = store.checkpoints.read_events(killed_run)
        finished = [e for e in events if e["type"] == "run.finished"]
        assert len(finished) == 1
        assert [e["seq"] for e in events] == sorted({e["seq"] for e in events})
        # its first step ran once (in the killed worker), its last in another
        record = store.checkpoints.get_run(killed_run)
        assert record is not None
        assert record.metadata["owner"] != "test"
    finally:
        store.close()

    # SIGTERM: the idle workers stop cleanly, and say so in the queue
    for proc in workers[1:]:
        proc.send_signal(signal.SIGTERM)
    for proc in workers[1:]:
        assert proc.wait(timeout=60) == 0, proc.stderr.read().decode()[-2000:]
    store = open_store(store_url)
    try:
        seen = {w.pid: w for w in store.queue.workers()}
    finally:
        store.close()
    assert set(seen) == {p.pid for p in workers}
    assert seen[doomed.pid].stopped_at is None  # killed: it never said
    assert all(seen[p.pid].stopped_at is not None for p in workers[1:])


def test_sigterm_gives_the_running_runs_back_and_another_worker_finishes_them(
    project: Path, store_url: str, wire: WireServer, workers: list[Any]
) -> None:
    (run_id,) = submit_runs(project, store_url, 1)
    leaving = start_worker(
        project, store_url, workers, "--concurrency", "1", "--grace-s", "0", slow_s=600
    )
    until(lambda: marker_of(project, leaving.pid), "the worker to reach the slow step")
    leaving.send_signal(signal.SIGTERM)
    assert leaving.wait(timeout=60) == 0
    assert b"gave back 1 running run(s) to the queue: run-0" in leaving.stderr.read()
    store = open_store(store_url)
    try:
        item = store.queue.get(run_id)
        assert item is not None
        assert (item.status, item.worker_id, item.attempts) == ("queued", None, 1)
        assert store.queue.workers()[0].stopped_at is not None
    finally:
        store.close()

    start_worker(project, store_url, workers, slow_s=0.1)
    until(lambda: statuses(store_url, [run_id]) == {run_id: "done"}, "the run to be done")
    assert prompts(wire) == Counter({"first 0": 1, "second 0": 1})
    assert usage_by_run(project, store_url) == Counter({run_id: 2})


def test_a_cancel_through_the_queue_stops_the_run_at_the_next_heartbeat(
    project: Path, store_url: str, workers: list[Any]
) -> None:
    (run_id,) = submit_runs(project, store_url, 1)
    worker = start_worker(project, store_url, workers, slow_s=600)
    until(lambda: marker_of(project, worker.pid), "the worker to reach the slow step")
    store = open_store(store_url)
    try:
        assert store.queue.cancel(run_id) == "running"
    finally:
        store.close()
    until(lambda: statuses(store_url, [run_id]) == {run_id: "cancelled"}, "the run cancelled")


def test_a_run_of_a_workflow_the_worker_does_not_serve_fails_with_the_reason(
    project: Path, store_url: str, workers: list[Any]
) -> None:
    store = open_store(store_url)
    try:
        workflow = load_workflow("flows.py:graph", store.checkpoints, root=project)
        body = RunBody(workflow="flow", input={"n": 0}, profile="sim")
        record = submit(store, run_id="run-x", thread_id="t-x", body=body, workflow=workflow,
                        owner="test")  # fmt: skip
        # the same run, queued under a workflow no worker serves
        store.queue.cancel("run-x")
        store.queue.enqueue("run-y", workflow="elsewhere")
        store.checkpoints.put_run(dataclasses.replace(record, run_id="run-y", graph="elsewhere"))
    finally:
        store.close()
    start_worker(project, store_url, workers, slow_s=0)
    until(lambda: statuses(store_url, ["run-y"]) == {"run-y": "failed"}, "the run to fail")
    store = open_store(store_url)
    try:
        record = store.checkpoints.get_run("run-y")
        assert record is not None
        assert record.error is not None
        assert "does not serve workflow 'elsewhere'" in record.error
        assert "flow" in record.error
        assert store.queue.get("run-y").status == "failed"  # type: ignore[union-attr]
    finally:
        store.close()


def ask(n: int) -> dict[str, Any]:
    """A run's request: ``flow`` with input ``n``, calling the model through ``sim``."""
    return {"workflow": "flow", "input": {"n": n}, "profile": "sim"}


def test_a_server_with_external_workers_queues_streams_waits_and_cancels(
    tmp_path: Path, wire: WireServer, workers: list[Any], store_url: str
) -> None:
    shared = shared_store(store_url)
    env = {"ORCA_STORE": shared} if shared else {}
    project = make_project(tmp_path / "project", wire, 'workers = "external"', shared=shared)
    with (
        served(project, ["graph"], env=env) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        fast = start_worker(project, store_url, workers, "--concurrency", "2", slow_s=0.1)
        started = http.post("/v1/threads/t1/runs", json=ask(1))
        assert started.status_code == 202, started.text
        assert started.json()["status"] == "queued"
        run_id = started.json()["run_id"]
        # the server streams the events the worker writes, to the end
        events = sse(http.get(f"/v1/runs/{run_id}/stream").text)
        kinds = [e["event"] for e in events]
        assert kinds[0] == "run.started"
        assert kinds[-2:] == ["run.finished", "end"]
        assert events[-2]["data"]["status"] == "done"
        assert [int(e["id"]) for e in events[:-1]] == sorted({int(e["id"]) for e in events[:-1]})
        resumed = sse(http.get(f"/v1/runs/{run_id}/stream",
                               headers={"Last-Event-ID": events[1]["id"]}).text)  # fmt: skip
        assert [e["id"] for e in resumed[:-1]] == [e["id"] for e in events[2:-1]]
        assert http.get(f"/v1/runs/{run_id}").json()["status"] == "done"
        # orca doctor lists the live workers
        doctor = orca(project, "doctor", "--json", stdout=subprocess.PIPE, env=env)
        checks = {c["check"]: c for c in json.loads(doctor.communicate(timeout=60)[0])["checks"]}
        assert checks["workers"]["status"] == "ok"
        assert f":{fast.pid}" in checks["workers"]["detail"]
        # a stateless run waited for: its values, though its thread is gone
        waited = http.post("/v1/runs/wait", json=ask(2)).json()
        assert waited["status"] == "done"
        assert waited["values"]["n"] == 2
        assert waited["values"]["second"]
        assert http.get(f"/v1/threads/{waited['thread_id']}/state").status_code == 404

        # with no worker, a run waits in the queue; cancelled there, it never runs
        fast.send_signal(signal.SIGTERM)
        assert fast.wait(timeout=60) == 0
        queued = http.post("/v1/threads/t3/runs", json=ask(3)).json()
        busy = http.post("/v1/threads/t3/runs", json=ask(9))
        assert busy.status_code == 409
        cancelled = http.post(f"/v1/runs/{queued['run_id']}/cancel").json()
        assert cancelled["status"] == "cancelled"

        # a running run's cancel reaches its worker at the next heartbeat
        running = http.post("/v1/threads/t4/runs", json=ask(4)).json()
        slow = start_worker(project, store_url, workers, slow_s=600)
        until(lambda: marker_of(project, slow.pid), "the worker to reach the slow step")
        stopped = http.post(f"/v1/runs/{running['run_id']}/cancel").json()
        assert stopped["status"] == "cancelled"
        tail = sse(http.get(f"/v1/runs/{running['run_id']}/stream").text)
        assert tail[-2]["event"] == "run.finished"
        assert tail[-2]["data"]["status"] == "cancelled"
    assert "first 3" not in prompts(wire)  # the run cancelled while queued never ran


def test_a_worker_with_no_workflows_or_a_bad_store_refuses_to_start(project: Path) -> None:
    for args, says in (
        ((), "the worker has no workflows to run"),
        (("--workflow", "flows.py:graph", "--store", "ftp://x"), "no backend serves"),
        (("--workflow", "missing.py"), "does not exist"),
    ):
        proc = orca(project, "worker", *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode != 0
        assert says in err.decode()


def test_four_workers_killed_one_after_another_complete_every_run_once(
    project: Path, store_url: str, wire: WireServer, workers: list[Any]
) -> None:
    """Four workers (one run at a time each) share 40 runs; each time one reaches the
    slow step of a victim run, it is SIGKILLed and a new worker takes its place. Every
    run ends done once, and no call the model answered is asked again."""
    run_ids = submit_runs(project, store_url, 40)
    victims = "3,11,19,27,35"

    def spawn() -> subprocess.Popen[bytes]:
        return start_worker(
            project, store_url, workers, "--concurrency", "1", slow_s=0.02, victims=victims
        )

    live = [spawn() for _ in range(4)]
    killed = 0
    markers = project / "markers"
    deadline = time.monotonic() + 240
    while killed < len(victims.split(",")) and time.monotonic() < deadline:
        for n in victims.split(","):
            found = list(markers.glob(f"{n}.*"))
            pids = {int(p.name.split(".")[1]) for p in found}
            doomed = [w for w in live if w.pid in pids and w.poll() is None]
            if len(found) == 1 and doomed:  # in its first, long slow step
                doomed[0].send_signal(signal.SIGKILL)
                doomed[0].wait(timeout=30)
                live.remove(doomed[0])
                live.append(spawn())
                killed += 1
        time.sleep(0.05)
    assert killed == 5
    until(
        lambda: set(statuses(store_url, run_ids).values()) == {"done"},
        "every run to be done",
        timeout=240,
    )
    assert prompts(wire) == Counter(
        [f"first {n}" for n in range(40)] + [f"second {n}" for n in range(40)]
    )
    assert usage_by_run(project, store_url) == Counter({r: 2 for r in run_ids})
    store = open_store(store_url)
    try:
        for run_id in run_ids:
            events = store.checkpoints.read_events(run_id)
            assert [e["type"] for e in events].count("run.finished") == 1
    finally:
        store.close()


def test_a_queued_run_whose_enqueue_was_lost_is_queued_again_when_the_server_starts(
    tmp_path: Path, wire: WireServer
) -> None:
    project = make_project(tmp_path / "project", wire, 'workers = "external"')
    store = open_store(project / ".orca" / "project.db")
    try:
        workflow = load_workflow("flows.py:graph", store.checkpoints, root=project)
        record = submit(store, run_id="run-lost", thread_id="t-lost", body=RunBody(**ask(7)),
                        workflow=workflow, owner="a-server-that-died")  # fmt: skip
        # as if the server had died between the record and the enqueue
        store.queue.cancel("run-lost")
        store.close()
        conn = sqlite3.connect(project / ".orca" / "project.db")
        with conn:
            conn.execute("DELETE FROM run_queue WHERE run_id = 'run-lost'")
        conn.close()
        store = open_store(project / ".orca" / "project.db")
        assert store.queue.get("run-lost") is None
        with served(project, ["graph"]):
            item = store.queue.get("run-lost")
        assert item is not None
        assert (item.status, item.workflow) == ("queued", record.graph)
    finally:
        store.close()


def test_a_tenants_run_is_executed_on_its_own_store_by_any_worker(
    tmp_path: Path, wire: WireServer, workers: list[Any], store_url: str
) -> None:
    """Tenant acme's run goes through the one queue; the worker runs it on acme's store
    with acme's profile, and charges acme's ledger; the default tenant sees none of it."""
    shared = shared_store(store_url)
    env = {"ORCA_STORE": shared} if shared else {}
    project = make_project(tmp_path / "project", wire, 'workers = "external"', shared=shared)

    def cli(*args: str) -> str:
        proc = orca(project, *args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, said = proc.communicate(timeout=60)
        assert proc.returncode == 0, said.decode()
        return out.decode()

    cli("tenant", "create", "acme")
    url_param = f"base_url={wire.url}/v1"
    cli("--tenant", "acme", "profile", "create", "sim", "--planner", "vllm:m", "--worker",
        "vllm:m", "--planner-param", url_param, "--worker-param", url_param)  # fmt: skip
    acme = json.loads(cli("token", "create", "a", "--scope", "admin", "--tenant", "acme",
                          "--json"))["token"]  # fmt: skip
    root = json.loads(cli("token", "create", "r", "--scope", "admin", "--json"))["token"]
    with (project / ".orca" / "orca.toml").open("a") as f:
        f.write('\n[flows]\npython_modules = ["flows"]\n')  # the saved flow's node
    with (
        served(project, ["graph"], env=env, cwd=project) as url,
        httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {acme}"}) as a,
        httpx.Client(base_url=url, timeout=60, headers={"Authorization": f"Bearer {root}"}) as r,
    ):
        shared_args = ["--store", shared] if shared else []
        workers.append(orca(
            project, "worker", *shared_args, "--workflow", "flows.py:graph", "--lease-s", LEASE_S,
            env={**env, "SLOW_S": "0.1", "MARKERS": str(project / "markers")}, cwd=project,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        ))  # fmt: skip
        done = a.post("/v1/runs/wait", params={"thread_id": "t1"}, json=ask(7))
        assert done.status_code == 200, done.text
        run_id = done.json()["run_id"]
        assert done.json()["status"] == "done"
        events = sse(a.get(f"/v1/runs/{run_id}/stream").text)
        assert events[-2]["data"]["status"] == "done"
        assert a.get("/v1/threads/t1/state").json()["values"]["n"] == 7
        assert r.get(f"/v1/runs/{run_id}").status_code == 404
        assert r.get("/v1/threads/t1/state").status_code == 404
        [row] = a.get("/v1/usage", params={"by": "run"}).json()  # acme's ledger: its call
        assert run_id in json.dumps(row)
        assert r.get("/v1/usage", params={"by": "run"}).json() == []
        # acme's saved flow runs on a worker too; the default tenant has no such flow
        saved = a.post("/v1/flows", json={"flow": SAVED, "version": "1.0.0"})
        assert saved.status_code == 201, saved.text
        flowed = a.post("/v1/runs/wait", json={"workflow": "acme-flow@1.0.0", "input": {"n": 8},
                                               "profile": "sim"})  # fmt: skip
        assert flowed.status_code == 200, flowed.text
        assert flowed.json()["status"] == "done"
        assert flowed.json()["values"]["first"]  # the model's answer, through acme's sim
        assert r.post("/v1/runs/wait", json={"workflow": "acme-flow@1.0.0"}).status_code == 404
    assert prompts(wire)["first 7"] == 1
    assert prompts(wire)["first 8"] == 1


def test_a_run_executed_by_a_worker_posts_its_record_to_its_webhook(
    tmp_path: Path, wire: WireServer, workers: list[Any], store_url: str
) -> None:
    import http.server
    import queue
    import threading

    got: queue.Queue[dict[str, Any]] = queue.Queue()

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.put(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    shared = shared_store(store_url)
    env = {"ORCA_STORE": shared} if shared else {}
    config = 'workers = "external"\nwebhook_networks = ["127.0.0.0/8"]'
    project = make_project(tmp_path / "project", wire, config, shared=shared)
    receiver = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        with (
            served(project, ["graph"], env=env) as url,
            httpx.Client(base_url=url, timeout=60) as http,
        ):
            start_worker(project, store_url, workers, slow_s=0.1)
            hook = f"http://127.0.0.1:{receiver.server_port}/done?k=1"
            started = http.post("/v1/threads/t1/runs", json={**ask(5), "webhook": hook})
            assert started.status_code == 202, started.text
            record = got.get(timeout=60)
            assert (record["run_id"], record["status"]) == (started.json()["run_id"], "done")
            refused = http.post("/v1/runs", json={**ask(6), "webhook": "http://10.1.2.3/x"})
            assert refused.status_code == 400
            assert "webhook_networks" in refused.json()["details"]["fix"]
    finally:
        receiver.shutdown()
