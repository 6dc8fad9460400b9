"""Local engine pools behind ``orca serve``: real llama.cpp replicas (CPU mode, the tiny
model), tasks routed to them through the pool's own admission, health and replica
sets, a replica killed under a task, a full queue, deadlines, drain, reload, trust, and
no engine left behind by a killed server."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orca.llm.tiny import ensure_tiny_model, write_tiny_model

sys.path.insert(0, str(Path(__file__).parents[1]))

from _served import ENVELOPE, free_port, orca, sse, start
from sandboxing import alive

pytestmark = pytest.mark.timeout(300)


def _cli(project: Path, *args: str) -> str:
    done = orca(project, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = done.communicate(timeout=120)
    assert done.returncode == 0, err.decode()
    return out.decode()


def _wait(what: str, check: Any, timeout: float = 90.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Pools:
    """An ``orca serve`` over a project whose catalog holds the tiny model (``tiny``,
    verified and active) and a second one (``tiny2``), with pool ``tiny``: 2 CPU
    replicas."""

    def __init__(self, project: Path) -> None:
        self.project = project
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def made(cls, project: Path, models: Path) -> Pools:
        _cli(project, "init")
        one = ensure_tiny_model(seed=0, path=models / "tiny.gguf")
        two = write_tiny_model(models / "tiny2.gguf", seed=2)
        for name, path in (("tiny", one), ("tiny2", two)):
            _cli(project, "model", "add", str(path), "--name", name, "--state", "active")
            _cli(project, "model", "verify", name)
        # a pool is free unless priced: this one is ($1000 per 1M output tokens)
        _cli(project, "pricing", "set", "pool", "drainme", "--input", "1", "--output", "1000")
        with (project / ".orca" / "orca.toml").open("a") as f:
            f.write("\n[pools.tiny]\n")
            f.write('model = "tiny"\nmode = "cpu"\nreplicas = 2\nqueue = 8\nseed = 7\n')
        return cls(project)

    def start(self) -> Pools:
        self.proc, _ = start(self.project, [], self.port)
        return self

    def health(self, pool: str = "tiny") -> dict[str, Any]:
        answer = httpx.get(f"{self.url}/v1/pools/{pool}/health", timeout=30)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def ready(self, pool: str = "tiny", replicas: int = 1) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            answer = httpx.get(f"{self.url}/v1/pools/{pool}/health", timeout=30)
            if answer.status_code != 200:
                return None
            seen: dict[str, Any] = answer.json()
            ready = [r for r in seen["replicas"] if r["state"] == "ready"]
            return seen if len(ready) >= replicas else None

        return _wait(f"{replicas} ready replica(s) of {pool}", check)  # type: ignore[no-any-return]

    def stop(self) -> str:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(timeout=60)
        said = self.proc.stderr.read().decode() if self.proc.stderr else ""
        assert "Traceback" not in said, said
        return said


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pools]:
    server = Pools.made(tmp_path_factory.mktemp("pools"), tmp_path_factory.mktemp("models")).start()
    pids: list[int] = []
    try:
        seen = server.ready(replicas=2)
        pids = [r["pid"] for r in seen["replicas"]]
        yield server
    finally:
        for r in _replicas(server):  # a test's stopped replica must not hang the stop
            if r.get("pid"):
                os.kill(r["pid"], signal.SIGCONT) if alive(r["pid"]) else None
        server.stop()
    for pid in pids:  # the engines die with the server
        _wait(f"engine {pid} to exit", lambda pid=pid: not alive(pid), 30)


def _replicas(server: Pools) -> list[dict[str, Any]]:
    try:
        answer = httpx.get(f"{server.url}/v1/replicasets", timeout=10)
    except httpx.TransportError:
        return []
    return [r for s in answer.json() for r in s["replicas"]] if answer.status_code == 200 else []


@pytest.fixture
def client(served: Pools) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=120) as c:
        yield c


def _task(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    body = {"model_ref": "pool:tiny", "prompt": "hello there", "max_tokens": 16, **fields}
    answer = client.post("/v1/tasks", json=body)
    assert answer.status_code == 202, answer.text
    return answer.json()  # type: ignore[no-any-return]


def _events(client: httpx.Client, task_id: str) -> list[dict[str, Any]]:
    return sse(client.get(f"/v1/tasks/{task_id}/stream").text)


def _tokens(events: list[dict[str, Any]]) -> list[str]:
    return [e["data"]["t"] for e in events if e["event"] == "token"]


def _envelope(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert set(body) == ENVELOPE
    assert body["code"] == code, body
    return body


def test_a_pool_reports_its_health_and_replica_sets(client: httpx.Client) -> None:
    health = client.get("/v1/pools/tiny/health").json()
    assert health["live"] is True
    assert health["ready"] is True
    assert health["draining"] is False
    assert health["capacity"] == 2
    catalog = client.get("/v1/catalog/models/tiny").json()
    [rs] = [s for s in client.get("/v1/replicasets").json() if s["pool"] == "tiny"]
    assert rs["engine"] == "llamacpp"
    assert rs["model_digest"] == catalog["digest"]
    assert rs["capacity"] == 2
    assert rs["slots"] == 2
    assert rs["mode"] == "cpu"
    assert [r["index"] for r in rs["replicas"]] == [0, 1]
    assert all(r["state"] == "ready" and r["pid"] for r in rs["replicas"])
    assert set(rs["slo"]) >= {"tokens_per_s", "queue_depth", "mean_service_ms"}
    [listed] = [p for p in client.get("/v1/pools").json() if p["name"] == "tiny"]
    assert listed["state"] == "running"
    assert listed["model"]["name"] == "tiny"


def test_a_task_runs_on_a_replica_and_streams_as_any_task(client: httpx.Client) -> None:
    accepted = _task(client, session_id="s-stream")
    assert accepted["engine"] == "llamacpp"
    events = _events(client, accepted["task_id"])
    kinds = [e["event"] for e in events]
    assert kinds[0] == "started", kinds
    assert kinds[-1] == "end", kinds
    assert 1 <= len(_tokens(events)) <= 16
    metrics = [e["data"] for e in events if e["event"] == "metrics"]
    assert metrics
    assert all(m["pool"] == "tiny" for m in metrics)
    assert metrics[0]["replica"] in (0, 1)
    end = events[-1]["data"]
    assert end["cost_nano_usd"] == 0
    assert end["tokens_out"] == len(_tokens(events))


def test_a_session_stays_on_its_replica_and_finds_its_cache_warm(client: httpx.Client) -> None:
    seen = []
    for _ in range(3):
        events = _events(client, _task(client, session_id="s-warm")["task_id"])
        [first, *_] = [e["data"] for e in events if e["event"] == "metrics"]
        seen.append((first["replica"], first["kv_warmth"]))
    assert len({replica for replica, _ in seen}) == 1
    assert [warmth for _, warmth in seen] == [0.0, 1.0, 1.0]


def test_the_same_seed_gives_the_same_tokens_on_a_pool(client: httpx.Client) -> None:
    body = {"seed": 11, "determinism": "strict", "max_tokens": 24, "session_id": "s-det"}
    runs = [_tokens(_events(client, _task(client, **body)["task_id"])) for _ in range(3)]
    assert runs[0]
    assert runs[0] == runs[1] == runs[2]


def test_a_replica_killed_under_a_task_ends_it_worker_reset_and_comes_back(
    served: Pools, client: httpx.Client
) -> None:
    before = served.ready(replicas=2)
    victim = before["replicas"][0]
    os.kill(victim["pid"], signal.SIGSTOP)  # the task's call hangs on it ...
    try:
        accepted = _task(client, session_id=None, max_tokens=64)
        _wait(
            "the task to hold the stopped replica's slot",
            lambda: served.health()["replicas"][0]["in_flight"] == 1,
        )
    finally:
        with contextlib.suppress(ProcessLookupError):  # (unless found hung and replaced)
            os.kill(victim["pid"], signal.SIGKILL)  # ... and the replica dies under it
    events = _events(client, accepted["task_id"])
    error = events[-1]
    assert error["event"] == "error", events
    assert error["data"]["code"] == "WORKER_RESET"
    assert error["data"]["retriable"] is True
    back = served.ready(replicas=2)
    replica = back["replicas"][0]
    assert replica["pid"] != victim["pid"]
    assert replica["restarts"] >= 1
    again = _events(client, _task(client)["task_id"])  # and the pool serves again
    assert again[-1]["event"] == "end"


def test_a_full_pool_queue_is_a_429_and_a_late_deadline_is_refused_first(
    served: Pools, client: httpx.Client
) -> None:
    answer = client.post(
        "/v1/pools",
        json={"name": "small", "model": "tiny", "mode": "cpu", "replicas": 1, "queue": 1},
    )
    assert answer.status_code == 201, answer.text
    served.ready("small")
    [replica] = served.health("small")["replicas"]
    os.kill(replica["pid"], signal.SIGSTOP)
    try:
        running = _task(client, model_ref="pool:small")
        queued = _task(client, model_ref="pool:small")
        assert queued["status"] == "queued"
        assert queued["queue_position"] == 0
        full = client.post("/v1/tasks", json={"model_ref": "pool:small", "prompt": "x"})
        body = _envelope(full, 429, "OVERLOADED")
        assert body["retriable"] is True
        assert int(full.headers["Retry-After"]) >= 1
        assert "pool:small" in body["details"]["queue"]
    finally:
        os.kill(replica["pid"], signal.SIGCONT)
    for task in (running, queued):
        assert _events(client, task["task_id"])[-1]["event"] == "end"
    # with a measured decode speed, a deadline it cannot meet is refused before it queues
    late = client.post(
        "/v1/tasks",
        json={"model_ref": "pool:small", "prompt": "x", "max_tokens": 2000, "deadline_ms": 1},
    )
    body = _envelope(late, 503, "DEADLINE_UNMET")
    assert body["retriable"] is True
    assert "tokens/s" in body["message"]


def test_a_drained_pool_finishes_its_work_then_takes_none(
    served: Pools, client: httpx.Client
) -> None:
    answer = client.post("/v1/pools", json={"name": "drainme", "model": "tiny", "mode": "cpu"})
    assert answer.status_code == 201, answer.text
    [replica] = served.ready("drainme")["replicas"]
    task = _task(client, model_ref="pool:drainme", max_tokens=32)
    drained = client.post("/v1/pools/drainme/drain", json={"deadline_ms": 60_000})
    assert drained.status_code == 200, drained.text
    assert drained.json()["state"] == "stopped"
    end = _events(client, task["task_id"])[-1]
    assert end["event"] == "end"  # it finished first
    assert end["data"]["priced"] is True  # metered and priced by the override
    assert end["data"]["cost_nano_usd"] >= end["data"]["tokens_out"] * 10**6 > 0
    refused = client.post("/v1/tasks", json={"model_ref": "pool:drainme", "prompt": "x"})
    _envelope(refused, 503, "POOL_UNAVAILABLE")
    _wait("the drained engine to exit", lambda: not alive(replica["pid"]), 30)


def test_a_reload_swaps_the_model_and_a_failed_one_rolls_back(
    served: Pools, client: httpx.Client, tmp_path: Path
) -> None:
    answer = client.post("/v1/pools", json={"name": "swap", "model": "tiny", "mode": "cpu"})
    assert answer.status_code == 201, answer.text
    served.ready("swap")
    two = client.get("/v1/catalog/models/tiny2").json()
    reloaded = client.post("/v1/pools/swap/reload", json={"model": "tiny2"})
    assert reloaded.status_code == 200, reloaded.text
    assert reloaded.json()["model"]["digest"] == two["digest"]
    assert _events(client, _task(client, model_ref="pool:swap")["task_id"])[-1]["event"] == "end"
    # a whole GGUF file of an architecture llama.cpp does not know: catalogued, but it
    # fails to load
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(Path(two["path"]).read_bytes().replace(b"llama", b"llamx"))
    added = client.post(
        "/v1/catalog/models", json={"path": str(broken), "name": "broken", "state": "active"}
    )
    assert added.status_code == 201, added.text
    assert client.post("/v1/catalog/models/broken/verify").status_code == 200
    failed = client.post("/v1/pools/swap/reload", json={"model": "broken"})
    _envelope(failed, 409, "RELOAD_FAILED")
    shown = client.get("/v1/pools/swap").json()
    assert shown["state"] == "running"
    assert shown["model"]["digest"] == two["digest"]
    assert _events(client, _task(client, model_ref="pool:swap")["task_id"])[-1]["event"] == "end"


def test_a_model_whose_file_changed_is_untrusted_and_no_pool_loads_it(
    served: Pools, client: httpx.Client, tmp_path: Path
) -> None:
    path = write_tiny_model(tmp_path / "swapped.gguf", seed=3)
    added = client.post(
        "/v1/catalog/models", json={"path": str(path), "name": "swapped", "state": "active"}
    )
    assert added.status_code == 201, added.text
    assert client.post("/v1/catalog/models/swapped/verify").status_code == 200
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # the file is changed behind the catalog's back
    path.write_bytes(bytes(data))
    refused = client.post("/v1/pools", json={"name": "evil", "model": "swapped", "mode": "cpu"})
    _envelope(refused, 409, "UNTRUSTED_ARTIFACT")
    assert client.get("/v1/catalog/models/swapped").json()["trust"] == "untrusted"


def test_bad_pool_definitions_and_unknown_pools_get_the_envelope(client: httpx.Client) -> None:
    wrong = client.post("/v1/pools", json={"name": "x", "model": "tiny", "replicaz": 2})
    body = _envelope(wrong, 422, "INVALID_REQUEST")
    assert body["details"]["problems"][0]["field"] == "replicaz"
    bad_name = client.post("/v1/pools", json={"name": "../x", "model": "tiny"})
    problem = _envelope(bad_name, 422, "INVALID_REQUEST")["details"]["problems"][0]
    assert problem["field"] == "name"
    assert "pool name" in problem["problem"]
    external = client.post(
        "/v1/pools", json={"name": "ext", "model": "tiny", "provision": "external"}
    )  # one URL per replica, and none given
    assert _envelope(external, 400, "CONFIG_INVALID")["details"]["field"] == "pool.urls"
    gpu = client.post("/v1/pools", json={"name": "nogpu", "model": "tiny", "mode": "gpu"})
    assert "mode" in _envelope(gpu, 409, "POOL_UNAVAILABLE")["message"] + json.dumps(
        gpu.json()["details"]
    )
    _envelope(client.get("/v1/pools/nope/health"), 404, "POOL_UNAVAILABLE")
    task = client.post("/v1/tasks", json={"model_ref": "pool:nope", "prompt": "x"})
    _envelope(task, 404, "POOL_UNAVAILABLE")


def test_a_killed_server_leaves_no_engine_behind(tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "m").mkdir()
    server = Pools.made(tmp_path / "p", tmp_path / "m").start()
    pids = [r["pid"] for r in server.ready(replicas=2)["replicas"]]
    assert server.proc is not None
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(timeout=30)
    for pid in pids:
        _wait(f"engine {pid} to die with its server", lambda pid=pid: not alive(pid), 30)


def test_the_cli_lists_and_shows_pools_of_a_server(served: Pools) -> None:
    listed = json.loads(_cli(served.project, "--server", served.url, "pool", "list", "--json"))
    assert "tiny" in [p["name"] for p in listed]
    health = json.loads(
        _cli(served.project, "--server", served.url, "pool", "health", "tiny", "--json")
    )
    assert health["ready"] is True
    table = _cli(served.project, "--server", served.url, "pool", "health", "tiny")
    assert "ready True" in table
    local = orca(served.project, "pool", "list", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, said = local.communicate(timeout=60)
    assert local.returncode == 2  # a usage error: pools are a server's
    assert b"--server" in said


def test_doctor_checks_each_configured_pool(served: Pools, tmp_path: Path) -> None:
    found = json.loads(_doctor(served.project))
    mine = [c for c in found["checks"] if c["check"] == "pool tiny"]
    assert mine
    assert all(c["status"] == "ok" for c in mine), mine
    assert any("trusted" in c["detail"] for c in mine)
    assert [c for c in found["checks"] if c["check"] == "gpus"]
    # a pool whose model is not catalogued fails the doctor, naming it
    _cli(tmp_path, "init")
    with (tmp_path / ".orca" / "orca.toml").open("a") as f:
        f.write('\n[pools.ghost]\nmodel = "nope"\nmode = "cpu"\n')
    found = json.loads(_doctor(tmp_path, ok=False))
    [ghost] = [c for c in found["checks"] if c["check"] == "pool ghost"]
    assert ghost["status"] == "fail"
    assert "nope" in ghost["detail"]


def _doctor(project: Path, *, ok: bool = True) -> str:
    done = orca(project, "doctor", "--json", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = done.communicate(timeout=120)
    assert (done.returncode == 0) is ok, out.decode() + err.decode()
    return out.decode()


def test_a_stopped_pool_ends_its_running_task_worker_reset_and_its_queued_one_unavailable(
    served: Pools, client: httpx.Client
) -> None:
    answer = client.post(
        "/v1/pools", json={"name": "stopme", "model": "tiny", "mode": "cpu", "queue": 4}
    )
    assert answer.status_code == 201, answer.text
    [replica] = served.ready("stopme")["replicas"]
    os.kill(replica["pid"], signal.SIGSTOP)  # the first task holds the only slot
    try:
        running = _task(client, model_ref="pool:stopme")
        _wait(
            "the task to hold the stopped replica's slot",
            lambda: served.health("stopme")["replicas"][0]["in_flight"] == 1,
        )
        queued = _task(client, model_ref="pool:stopme")
        assert queued["status"] == "queued"
        stopped = client.delete("/v1/pools/stopme")
        assert stopped.status_code == 200, stopped.text
        assert stopped.json()["state"] == "stopped"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(replica["pid"], signal.SIGCONT)
    ran = _events(client, running["task_id"])[-1]
    assert ran["event"] == "error"
    assert ran["data"]["code"] == "WORKER_RESET"
    waited = _events(client, queued["task_id"])[-1]
    assert waited["event"] == "error"
    assert waited["data"]["code"] == "POOL_UNAVAILABLE"
    _wait("the stopped engine to exit", lambda: not alive(replica["pid"]), 30)
