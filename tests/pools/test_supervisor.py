"""The replica supervisor against real llama.cpp servers (``python -m llama_cpp.server``)
running the tiny model on loopback: real probes, real SIGKILL and SIGSTOP, real reloads.

Every test ends with no engine process left: a fixture tags the engines each test starts
(through the environment they inherit) and looks for them in /proc afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.metadata
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sandboxing import alive

pytest.importorskip("llama_cpp")
pytest.importorskip("uvicorn")  # the [server] extra
pytest.importorskip("gguf")
httpx = pytest.importorskip("httpx")

from orca.errors import (  # noqa: E402
    ConfigError,
    PoolUnavailableError,
    PoolUnreadyError,
    ReloadFailedError,
)
from orca.pools._engines import PoolSpec  # noqa: E402
from orca.pools._process import free_port  # noqa: E402
from orca.pools._supervisor import ReplicaSet, SupervisorPolicy  # noqa: E402

HERE = Path(__file__).parent
WAIT_S = 90.0  # generous: a loaded 2-core machine starts an engine in seconds, not minutes
FAST = SupervisorPolicy(probe_interval_s=0.3, backoff_base_s=0.1, backoff_max_s=1.0)


# -- fixtures ----------------------------------------------------------------------------------


def _tagged_engines(tag: str) -> list[int]:
    """Live (not zombie) processes started as pool replicas under this test's tag."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except (OSError, IndexError):
            continue
        tagged = f"ORCA_TEST_ENGINES={tag}".encode() in environ
        if tagged and state != "Z" and any(v.startswith(b"ORCA_POOL_REPLICA=") for v in environ):
            found.append(int(entry.name))
    return found


@pytest.fixture(autouse=True)
def no_engine_left(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The test's tag; after the test, no engine process carrying it may be alive."""
    tag = uuid.uuid4().hex
    monkeypatch.setenv("ORCA_TEST_ENGINES", tag)
    yield tag
    deadline = time.monotonic() + 15
    while (left := _tagged_engines(tag)) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert left == [], "engine processes outlived the test"


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from orca.llm.tiny import ensure_tiny_model

    return ensure_tiny_model(seed=0, path=tmp_path_factory.mktemp("tiny") / "tiny-0.gguf")


def _digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def _spec(model: Path, **fields: Any) -> PoolSpec:
    values: dict[str, Any] = {
        "name": "tiny",
        "engine": "llamacpp",
        "provision": "package",
        "model_path": str(model),
        "model_digest": _digest(model),
        "replicas": 2,
        "n_ctx": 256,
        "seed": 1,
        "probe_deadline_s": 5.0,
        "start_deadline_s": WAIT_S,
    }
    values.update(fields)
    return PoolSpec(**values)


async def _until(pool: ReplicaSet, condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            pytest.fail(f"not {what} within {WAIT_S:g}s: {json.dumps(pool.health(), indent=1)}")
        await pool.wait_changed(min(remaining, 1.0))


async def _complete(base_url: str, prompt: str = "hello", max_tokens: int = 8) -> str:
    async with httpx.AsyncClient(trust_env=False) as client:
        answer = await client.post(
            f"{base_url}/completions",
            json={"model": "tiny", "prompt": prompt, "max_tokens": max_tokens, "temperature": 0},
            timeout=60,
        )
    answer.raise_for_status()
    return str(answer.json()["choices"][0]["text"])


def gone(pid: int) -> bool:
    return not alive(pid)


def _notes(error: BaseException) -> str:
    return "\n".join(getattr(error, "__notes__", []))


@pytest.fixture
async def pool(tiny: Path, tmp_path: Path) -> Any:
    replicas = ReplicaSet(_spec(tiny), policy=FAST, log_dir=tmp_path / "logs")
    await replicas.start()
    await _until(replicas, lambda: all(r.ready for r in replicas.replicas), "both ready")
    yield replicas
    await replicas.stop()


# -- readiness and dispatch --------------------------------------------------------------------


async def test_replicas_are_ready_after_a_real_completion_and_serve_calls(
    pool: ReplicaSet, no_engine_left: str
) -> None:
    # the leftover check sees these engines (so it would see them left behind)
    assert sorted(_tagged_engines(no_engine_left)) == sorted(r.pid for r in pool.replicas)
    health = pool.health()
    assert (health["live"], health["ready"], health["draining"]) == (True, True, False)
    assert health["metrics"]["slots"] == 2
    assert [r["state"] for r in health["replicas"]] == ["ready", "ready"]
    assert all(r["last_probe_ms"] is not None for r in health["replicas"])
    assert health["engine_version"] == importlib.metadata.version("llama-cpp-python")
    assert len({r.pid for r in pool.replicas}) == 2

    lease = pool.acquire(None)
    assert lease is not None
    assert lease.replica.index == 0
    assert await _complete(lease.base_url)  # the replica answers a real completion
    lease.release()
    lease.release()  # idempotent
    assert pool.in_flight == 0


async def test_dispatch_is_least_loaded_sticky_per_session_and_none_when_full(
    pool: ReplicaSet,
) -> None:
    first, second = pool.acquire("a"), pool.acquire("b")
    assert first is not None
    assert second is not None
    assert (first.replica.index, second.replica.index) == (0, 1)  # tie -> lowest, then least
    assert pool.acquire("c") is None  # one slot each, both taken
    first.release()
    second.release()
    again = pool.acquire("b")  # both free: a tie would pick 0, the session's is 1
    assert again is not None
    assert again.replica.index == 1
    held = pool.acquire(None)
    assert held is not None
    assert held.replica.index == 0
    held.release()
    again.release()


async def test_a_stopped_pool_leases_nothing(pool: ReplicaSet) -> None:
    await pool.stop()
    assert pool.acquire(None) is None
    assert [r.state for r in pool.replicas] == ["stopped", "stopped"]
    assert pool.health()["live"] is False


async def test_stop_loses_the_calls_in_flight_before_the_engine_is_signalled(
    pool: ReplicaSet,
) -> None:
    # an engine finishes its requests on SIGTERM: were the leases lost only after the
    # engine exited, a stopped pool's calls could still end well (or not, by chance)
    lease = pool.acquire("s")
    assert lease is not None
    pid = lease.replica.pid
    assert pid is not None
    seen: list[bool] = []

    async def watch() -> None:
        await lease.lost.wait()
        seen.append(alive(pid))

    watcher = asyncio.ensure_future(watch())
    await asyncio.sleep(0)  # the watcher waits on the lease
    await pool.stop()
    await asyncio.wait_for(watcher, WAIT_S)
    assert seen == [True]  # told while its engine still ran
    assert gone(pid)
    assert pool.health()["metrics"]["leases_lost"] == 1


# -- crash and hang ----------------------------------------------------------------------------


async def test_a_killed_replica_loses_its_calls_and_is_ready_again(pool: ReplicaSet) -> None:
    lease = pool.acquire("s")
    assert lease is not None
    victim = lease.replica
    other = pool.replicas[1 - victim.index]
    old_pid, other_pid = victim.pid, other.pid
    assert old_pid is not None
    killed_at = time.monotonic()
    os.kill(old_pid, signal.SIGKILL)
    await asyncio.wait_for(lease.lost.wait(), WAIT_S)
    assert victim.in_flight == 0
    lease.release()  # a lost lease gives nothing back twice
    assert victim.in_flight == 0
    await _until(pool, lambda: victim.ready and victim.pid != old_pid, "restarted")
    recovery_s = time.monotonic() - killed_at
    print(f"replica_recovery_s={recovery_s:.3f}")
    assert victim.restarts == 1
    assert "exited with status -9" in str(victim.history)
    assert (other.pid, other.restarts, other.ready) == (other_pid, 0, True)
    assert pool.health()["metrics"]["leases_lost"] == 1
    assert await _complete(victim.base_url)


async def test_while_its_only_replica_restarts_the_pool_is_unready(
    tiny: Path, tmp_path: Path
) -> None:
    slow = SupervisorPolicy(probe_interval_s=0.3, backoff_base_s=60.0, backoff_max_s=60.0)
    pool = ReplicaSet(_spec(tiny, replicas=1), policy=slow, log_dir=tmp_path)
    await pool.start()
    try:
        only = pool.replicas[0]
        assert only.pid is not None
        os.kill(only.pid, signal.SIGKILL)
        await _until(pool, lambda: only.state == "unready", "unready")  # backing off
        assert pool.acquire("s") is None
        assert pool.health()["ready"] is False
        assert pool.health()["live"] is True
    finally:
        await pool.stop()


async def test_a_stopped_replica_is_unready_within_the_probe_deadline_and_replaced(
    tiny: Path, tmp_path: Path
) -> None:
    pool = ReplicaSet(_spec(tiny, probe_deadline_s=2.0), policy=FAST, log_dir=tmp_path)
    await pool.start()
    stopped_pid = None
    try:
        await _until(pool, lambda: all(r.ready for r in pool.replicas), "both ready")
        hung = pool.replicas[1]
        stopped_pid = hung.pid
        assert stopped_pid is not None
        os.kill(stopped_pid, signal.SIGSTOP)
        await _until(pool, lambda: not hung.ready, "unready")
        assert hung.last_error == "probe missed its 2s deadline"
        await _until(pool, lambda: hung.ready and hung.pid != stopped_pid, "replaced")
        assert gone(stopped_pid)  # killed, not left stopped
        assert hung.restarts == 1
        assert pool.replicas[0].restarts == 0
        assert await _complete(hung.base_url)
    finally:
        await pool.stop()
        if stopped_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(stopped_pid, signal.SIGCONT)
                os.kill(stopped_pid, signal.SIGKILL)


async def test_a_replica_stopped_with_every_slot_busy_is_found_by_its_process_state(
    pool: ReplicaSet,
) -> None:
    # a probe would queue behind the calls in flight, so none is sent; the kernel says
    # the process is stopped
    lease = pool.acquire(None)
    assert lease is not None
    busy = lease.replica
    stopped_pid = busy.pid
    assert stopped_pid is not None
    try:
        os.kill(stopped_pid, signal.SIGSTOP)
        await asyncio.wait_for(lease.lost.wait(), WAIT_S)
        assert "stopped (SIGSTOP) with calls in flight" in str(busy.history)
        await _until(pool, lambda: busy.ready and busy.pid != stopped_pid, "replaced")
        assert gone(stopped_pid)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(stopped_pid, signal.SIGCONT)
            os.kill(stopped_pid, signal.SIGKILL)


async def test_a_replica_that_cannot_load_its_model_fails_the_start_with_its_log(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(os.urandom(4096))
    policy = SupervisorPolicy(probe_interval_s=0.3, backoff_base_s=0.1, max_quick_failures=2)
    pool = ReplicaSet(_spec(bad, replicas=1), policy=policy, log_dir=tmp_path / "logs")
    with pytest.raises(PoolUnreadyError) as caught:
        await pool.start()
    assert "no replica became ready" in str(caught.value)
    assert "the engine exited with status" in str(caught.value)
    assert str(bad) in _notes(caught.value)  # the engine's own words about the file
    replica = pool.replicas[0]
    assert replica.restarts == 1  # two tries, then failed and left alone
    assert replica.state == "stopped"
    assert "failed" in [state for _, state, _ in replica.history]


async def test_a_binary_that_cannot_be_executed_fails_the_start_naming_why(
    tiny: Path, tmp_path: Path
) -> None:
    binary = tmp_path / "llama-server"
    binary.write_bytes(b"\x00not a program")  # executable bit, but no format the kernel runs
    binary.chmod(0o755)
    spec = _spec(tiny, engine="llama-server", provision="binary", binary=str(binary), replicas=1)
    policy = SupervisorPolicy(backoff_base_s=0.1, max_quick_failures=2)
    pool = ReplicaSet(spec, policy=policy, log_dir=tmp_path / "logs")
    with pytest.raises(PoolUnreadyError) as caught:
        await pool.start()
    assert "the engine could not be started: [Errno 8] Exec format error" in str(caught.value)
    assert pool.replicas[0].pid is None


async def test_preflight_problems_refuse_the_start_before_any_process(tiny: Path) -> None:
    pool = ReplicaSet(_spec(tiny, slots=2))
    with pytest.raises(PoolUnavailableError) as caught:
        await pool.start()
    assert caught.value.code == "POOL_UNAVAILABLE"
    assert "serves one request at a time, and slots is 2" in str(caught.value)
    assert pool.replicas == []


# -- drain -------------------------------------------------------------------------------------


async def test_drain_finishes_the_calls_in_flight_accepts_none_then_stops(
    pool: ReplicaSet,
) -> None:
    lease = pool.acquire(None)
    held = pool.acquire(None)
    assert lease is not None
    assert held is not None
    pids = [r.pid for r in pool.replicas]

    async def call() -> str:
        with lease:
            return await _complete(lease.base_url, max_tokens=48)

    working = asyncio.ensure_future(call())
    draining = asyncio.ensure_future(pool.drain(WAIT_S))
    await _until(pool, lambda: pool.draining, "draining")
    assert pool.acquire(None) is None
    assert pool.health()["ready"] is False
    assert await working  # the call in flight finished on its draining replica
    assert not draining.done()  # the other lease is still held
    held.release()
    assert await draining == {"completed": 2, "lost": 0}
    assert not lease.lost.is_set()
    assert all(gone(pid) for pid in pids if pid is not None)
    assert pool.health()["live"] is False


async def test_drain_past_its_deadline_loses_the_calls_still_held(pool: ReplicaSet) -> None:
    lease = pool.acquire(None)
    assert lease is not None
    assert await pool.drain(0.5) == {"completed": 0, "lost": 1}
    assert lease.lost.is_set()


# -- reload ------------------------------------------------------------------------------------


async def test_reload_moves_dispatch_to_the_new_model_and_drains_the_old(
    pool: ReplicaSet, tiny: Path, tmp_path: Path
) -> None:
    from orca.llm.tiny import write_tiny_model

    before = await _complete(pool.replicas[0].base_url)
    old = list(pool.replicas)
    on_old = pool.acquire(None)
    assert on_old is not None
    second = write_tiny_model(tmp_path / "tiny-2.gguf", seed=2)
    await pool.reload(_spec(second))

    health = pool.health()
    assert health["model_digest"] == _digest(second) != _digest(tiny)
    assert [r.model_digest for r in pool.replicas] == [_digest(second)] * 2
    assert {r.pid for r in pool.replicas}.isdisjoint({r.pid for r in old})
    assert [r.state for r in old] == ["draining", "draining"]
    assert await _complete(on_old.base_url) == before  # the call on the old one goes on
    new = pool.acquire(None)
    assert new is not None
    assert new.replica in pool.replicas
    assert await _complete(new.base_url) != before  # other weights, other words
    new.release()

    old_pids = [r.pid for r in old]
    on_old.release()
    await _until(pool, lambda: all(r.state == "stopped" for r in old), "old replicas stopped")
    assert not on_old.lost.is_set()
    assert all(gone(pid) for pid in old_pids if pid is not None)
    assert len(pool.health()["replicas"]) == 2


async def test_reload_to_a_bad_model_file_rolls_back_and_the_old_replicas_serve_on(
    pool: ReplicaSet, tiny: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(os.urandom(4096))
    pids = [r.pid for r in pool.replicas]
    lease = pool.acquire(None)
    assert lease is not None
    with pytest.raises(ConfigError) as renamed:
        await pool.reload(_spec(tiny, name="other"))
    assert renamed.value.key == "name"
    with pytest.raises(ReloadFailedError) as caught:
        await pool.reload(_spec(bad, model_digest=_digest(bad)))
    assert "did not become ready" in str(caught.value)
    assert "the old ones serve on" in str(caught.value)
    assert str(bad) in _notes(caught.value)
    assert [r.pid for r in pool.replicas] == pids
    assert all(r.ready for r in pool.replicas)
    assert pool.health()["model_digest"] == _digest(tiny)
    assert pool.health()["metrics"]["restarts"] == 0
    assert not lease.lost.is_set()
    assert await _complete(lease.base_url)
    lease.release()


# -- external servers and orphans --------------------------------------------------------------


def _operator_server(model: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model)]
    command += ["--model_alias", "tiny", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--n_ctx", "256"]
    with log.open("ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)


async def test_an_external_server_is_probed_never_started_and_ready_again_when_back(
    tiny: Path, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = _operator_server(tiny, port, tmp_path / "operator.log")
    spec = _spec(tiny, provision="external", replicas=1, urls=(url,), probe_deadline_s=5.0)
    pool = ReplicaSet(spec, policy=FAST, log_dir=tmp_path)
    try:
        await pool.start()
        replica = pool.replicas[0]
        assert (replica.pid, replica.base_url) == (None, f"{url}/v1")
        assert pool.health()["engine_version"] == "external"
        lease = pool.acquire(None)
        assert lease is not None
        server.kill()
        server.wait()
        await asyncio.wait_for(lease.lost.wait(), WAIT_S)
        await _until(pool, lambda: not replica.ready, "unready")
        assert replica.state != "failed"
        server = _operator_server(tiny, port, tmp_path / "operator.log")
        await _until(pool, lambda: replica.ready, "ready again")
        assert replica.restarts >= 1
    finally:
        await pool.stop()
        server.kill()
        server.wait()


def test_no_engine_outlives_a_supervisor_killed_with_sigkill(tiny: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    holder = subprocess.Popen(
        [sys.executable, str(HERE / "_pool_holder.py"), str(tiny), str(tmp_path)],
        stdout=subprocess.PIPE,
        env=env,
    )
    try:
        assert holder.stdout is not None
        line = holder.stdout.readline()
        pids = json.loads(line)
        assert len(pids) == 2
        assert not any(gone(pid) for pid in pids)
    finally:
        holder.kill()
        holder.wait()
    deadline = time.monotonic() + WAIT_S
    while not all(gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [pid for pid in pids if not gone(pid)] == []


# -- policy and logs ---------------------------------------------------------------------------


def test_restart_backoff_doubles_from_its_base_up_to_its_cap() -> None:
    policy = SupervisorPolicy(backoff_base_s=0.5, backoff_max_s=3.0)
    assert [policy.backoff(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_a_log_past_its_cap_is_kept_once_and_emptied_in_place(tmp_path: Path) -> None:
    from orca.pools._process import cap_log

    log = tmp_path / "r.log"
    with log.open("ab") as writer:  # as the engine holds it: append mode
        writer.write(b"x" * 100)
        writer.flush()
        cap_log(log, 50)
        writer.write(b"after")
    assert (tmp_path / "r.log.1").read_bytes() == b"x" * 100
    assert log.read_bytes() == b"after"
    cap_log(log, 50)  # under the cap: untouched
    assert log.read_bytes() == b"after"
