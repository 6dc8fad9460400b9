"""The server figures: a real ``orca serve`` beside LangGraph's Agent Server in its local
form (``langgraph dev``), both serving the same 10-superstep counter graph on loopback.

server_wait_ms           one client: create a stateless run and wait for its result
                         (Orca ``POST /v1/runs/wait``, LangGraph ``POST /runs/wait``), median
server_runs_per_s        16 clients in a closed loop doing the same for a fixed time
                         (default 20 s, ``--server-seconds``), completed runs per second
sse_first_event_ms       create a run and stream it: time to the first event (Orca:
                         ``POST /v1/runs`` then ``GET /v1/runs/{id}/stream``; LangGraph:
                         ``POST /runs/stream``), median
admission_reject_p99_ms  Orca alone: every running slot and queue place taken, 16 clients
                         keep asking for runs; p99 of the time to each 429
task_stream_ratio        tokens/s of one local-engine task through ``/v1/tasks`` and its
                         SSE, over the same model called in-process

Both servers run as subprocesses; the client is ``_http`` (asyncio streams, a few tens
of microseconds per request) in this process. The two take turns within every
repetition. See NOTES.md (server section) for the peer's setup.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _http import Connection

IDS = (
    "server_wait_ms",
    "server_runs_per_s",
    "sse_first_event_ms",
    "admission_reject_p99_ms",
    "task_stream_ratio",
)
# the Orca measured: this checkout's, or another's (ORCA_BENCH_SRC, to compare two versions)
SRC = Path(os.environ.get("ORCA_BENCH_SRC") or Path(__file__).resolve().parent.parent / "src")
STEPS = 10
CLIENTS = 16
SECONDS = float(
    os.environ.get("ORCA_BENCH_SERVER_SECONDS", "20")
)  # server_runs_per_s: window per engine and repetition (--server-seconds)
LOAD_REPS = 3  # server_runs_per_s: repetitions at most (each is a whole window)
# server_wait_ms and sse_first_event_ms: requests per engine and repetition (the peer's
# take about a second each: its in-memory queue is polled every 0.5 s)
WAITS_PER_REP = {"orca": 30, "langgraph": 8}
REJECTS = 1000  # admission_reject_p99_ms: requests per repetition, sent at REJECT_RATE
REJECT_RATE = 200.0  # a second, open loop
REJECT_CONNECTIONS = 16  # kept open for them (more are opened if all are busy)
TASK_TOKENS = 128
TASK_ROUNDS = 3  # task_stream_ratio: calls per side and repetition
TARGETS = {
    "server_wait_ms": ("ratio <= 0.05", lambda r: r <= 0.05),
    "server_runs_per_s": ("ratio >= 10", lambda r: r >= 10),
    "sse_first_event_ms": ("ratio <= 0.1", lambda r: r <= 0.1),
}
REJECT_P99_LIMIT_MS = 5.0
TASK_RATIO_LIMIT = 0.90

ORCA_FLOW = f"""
import asyncio
from typing import TypedDict
from orca import END, START, StateGraph


class S(TypedDict):
    count: int


def inc(state):
    return {{"count": state["count"] + 1}}


def route(state):
    return "inc" if state["count"] < {STEPS} else END


counter = StateGraph(S, name="counter")
counter.add_node("inc", inc)
counter.add_edge(START, "inc")
counter.add_conditional_edges("inc", route)


class H(TypedDict, total=False):
    seconds: float


async def wait_long(state):
    await asyncio.sleep(state.get("seconds", 60))
    return {{}}


hold = StateGraph(H, name="hold")
hold.add_node("hold", wait_long)
hold.add_edge(START, "hold")
hold.add_edge("hold", END)
"""

PEER_GRAPH = f"""
from typing import TypedDict
from langgraph.graph import END, START, StateGraph


class S(TypedDict):
    count: int


def inc(state):
    return {{"count": state["count"] + 1}}


def route(state):
    return "inc" if state["count"] < {STEPS} else END


builder = StateGraph(S)
builder.add_node("inc", inc)
builder.add_edge(START, "inc")
builder.add_conditional_edges("inc", route)
graph = builder.compile()
"""

# langgraph dev, local and quiet: no analytics, version check, tracing or browser; the
# peer's own log at WARNING (at INFO it writes several lines per run to its stdout)
PEER_ENV = {
    "LANGGRAPH_CLI_NO_ANALYTICS": "1",
    "LANGGRAPH_NO_VERSION_CHECK": "true",
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGSMITH_TRACING_V2": "false",
    "LOG_LEVEL": "WARNING",
}
PEER_ENV_DROPPED = (
    "LANGSMITH_API_KEY",
    "LANGCHAIN_API_KEY",
    "LANGGRAPH_CLOUD_LICENSE_KEY",
    "LANGSMITH_CONTROL_PLANE_API_KEY",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bin(name: str) -> str:
    path = Path(sys.executable).parent / name
    if not path.is_file():
        raise RuntimeError(f"no {name} script at {path}: install the bench extra (make bench)")
    return str(path)


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} server exited: {self.log.read_text()[-2000:]}")


def _wait_ready(server: Server, path: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server.check()
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", server.port), timeout=1) as s,
        ):
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            if s.recv(64).split(b" ")[1:2] == [b"200"]:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{server.name} server not ready after {timeout:.0f} s")


@contextlib.contextmanager
def _process(name: str, argv: list[str], cwd: Path, env: dict[str, str]) -> Iterator[Server]:
    log = cwd / f"{name}-server.log"
    port = int(argv[argv.index("--port") + 1])
    with log.open("wb") as out:
        proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = Server(name, port, proc, log)
    try:
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # the group this process started, by id
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextlib.contextmanager
def orca_server(
    root: Path,
    toml: str = "",
    env: dict[str, str] | None = None,
    launcher: list[str] | None = None,
    setup: tuple[tuple[str, ...], ...] = (),
) -> Iterator[Server]:
    """``orca serve`` on a free loopback port over a fresh project serving the counter
    (and ``hold``) workflows; ``toml`` is appended to the project's ``orca.toml``,
    ``setup`` are ``orca`` commands run before it starts; ``launcher`` replaces the
    ``orca`` script (a profiler around ``orca.cli.main``)."""
    project = root / "orca-project"
    project.mkdir()
    (project / "flows.py").write_text(ORCA_FLOW)
    # the code of this checkout, whatever the installed ``orca`` script points at
    path = os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH")) if p)
    environ = {**os.environ, "PYTHONPATH": path, "ORCA_HOME": str(root / "orca-home")}
    environ.update(env or {})
    orca = _bin("orca")
    for command in (("init",), *setup):
        subprocess.run(
            [orca, "-C", str(project), *command], env=environ, check=True, capture_output=True
        )
    if toml:
        with (project / ".orca" / "orca.toml").open("a") as f:
            f.write(f"\n{toml}\n")
    argv = [*(launcher or [orca]), "-C", str(project), "serve", "--port", str(_free_port())]
    argv += ["--workflow", "flows.py:counter", "--workflow", "flows.py:hold"]
    with _process("orca", argv, root, environ) as server:
        _wait_ready(server, "/readyz")
        yield server


@contextlib.contextmanager
def peer_server(root: Path) -> Iterator[Server]:
    """``langgraph dev`` on a free loopback port serving the same counter graph."""
    folder = root / "langgraph-project"
    folder.mkdir()
    (folder / "counter_graph.py").write_text(PEER_GRAPH)
    config = {"dependencies": ["."], "graphs": {"counter": "./counter_graph.py:graph"}}
    (folder / "langgraph.json").write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if k not in PEER_ENV_DROPPED}
    env.update(PEER_ENV)
    argv = [_bin("langgraph"), "dev", "--port", str(_free_port()), "--host", "127.0.0.1"]
    argv += ["--no-browser", "--no-reload", "--config", str(folder / "langgraph.json")]
    # its default runs one background job at a time; give it one per client
    argv += ["--n-jobs-per-worker", str(CLIENTS)]
    with _process("langgraph", argv, folder, env) as server:
        _wait_ready(server, "/ok")
        yield server


# -- one request of each kind, per engine ----------------------------------------------------


def _check_count(name: str, values: Any) -> None:
    if not isinstance(values, dict) or values.get("count") != STEPS:
        raise RuntimeError(f"{name}: the run answered {values!r}, not count={STEPS}")


async def _orca_wait(conn: Connection) -> None:
    answer = await conn.request(
        "POST", "/v1/runs/wait", {"workflow": "counter", "input": {"count": 0}}
    )
    if answer.status != 200:
        raise RuntimeError(f"orca /v1/runs/wait: {answer.status} {answer.body[:300]!r}")
    body = answer.json()
    assert isinstance(body, dict)
    _check_count("orca", body.get("values"))


async def _peer_wait(conn: Connection) -> None:
    answer = await conn.request(
        "POST", "/runs/wait", {"assistant_id": "counter", "input": {"count": 0}}
    )
    if answer.status != 200:
        raise RuntimeError(f"langgraph /runs/wait: {answer.status} {answer.body[:300]!r}")
    _check_count("langgraph", answer.json())


async def _orca_first_event(conn: Connection, stream: Connection) -> float:
    """Seconds from sending the create to the first event; the stream is then read to
    its end (so that the run is done before the next)."""
    start = time.perf_counter()
    answer = await conn.request("POST", "/v1/runs", {"workflow": "counter", "input": {"count": 0}})
    if answer.status != 202:
        raise RuntimeError(f"orca /v1/runs: {answer.status} {answer.body[:300]!r}")
    run = answer.json()
    assert isinstance(run, dict)
    first = None
    kinds = []
    async for kind, _ in stream.events("GET", f"/v1/runs/{run['run_id']}/stream"):
        first = first or time.perf_counter()
        kinds.append(kind)
    if first is None or kinds[-1] != "end":
        raise RuntimeError(f"orca stream: events {kinds}")
    return first - start


async def _peer_first_event(conn: Connection, stream: Connection) -> float:
    start = time.perf_counter()
    first = None
    kinds = []
    body = {"assistant_id": "counter", "input": {"count": 0}, "stream_mode": "values"}
    async for kind, _ in stream.events("POST", "/runs/stream", body):
        first = first or time.perf_counter()
        kinds.append(kind)
    if first is None or kinds.count("values") != STEPS + 1:
        raise RuntimeError(f"langgraph stream: events {kinds}")
    return first - start


WAIT: dict[str, Callable[[Connection], Awaitable[None]]] = {
    "orca": _orca_wait,
    "langgraph": _peer_wait,
}
FIRST_EVENT = {"orca": _orca_first_event, "langgraph": _peer_first_event}


# -- the figures ------------------------------------------------------------------------------


@contextlib.contextmanager
def _both() -> Iterator[dict[str, Server]]:
    with tempfile.TemporaryDirectory(prefix="orca-bench-server-") as tmp:
        root = Path(tmp)
        with orca_server(root) as orca, peer_server(root) as peer:
            yield {"orca": orca, "langgraph": peer}


def _side_by_side(
    figure_id: str, unit: str, per_engine: dict[str, list[float]], higher_is_better: bool = False
) -> dict[str, Any]:
    orca, peer = statistics.median(per_engine["orca"]), statistics.median(per_engine["langgraph"])
    ratio = orca / peer
    target, met = TARGETS[figure_id]
    return {
        "orca": orca,
        "langgraph": peer,
        "unit": unit,
        "ratio": ratio,
        "orca_min": min(per_engine["orca"]),
        "orca_max": max(per_engine["orca"]),
        "langgraph_min": min(per_engine["langgraph"]),
        "langgraph_max": max(per_engine["langgraph"]),
        "reps": len(per_engine["orca"]),
        "target": target,
        "met": met(ratio),
    }


def _turns(rep: int) -> tuple[str, str]:
    return ("orca", "langgraph") if rep % 2 == 0 else ("langgraph", "orca")


async def _latencies(
    servers: dict[str, Server],
    reps: int,
    one: Callable[..., Awaitable[float]],
    n: dict[str, int],
) -> dict[str, list[float]]:
    """Median milliseconds of ``n`` sequential requests, per engine and repetition (the
    first repetition is a warm-up); the engines take turns."""
    out: dict[str, list[float]] = {"orca": [], "langgraph": []}
    conns = {
        name: (Connection("127.0.0.1", s.port), Connection("127.0.0.1", s.port))
        for name, s in servers.items()
    }
    try:
        for rep in range(reps + 1):
            for name in _turns(rep):
                servers[name].check()
                times = []
                for _ in range(n[name]):
                    times.append(await one(name, *conns[name]) * 1000)
                if rep:
                    out[name].append(statistics.median(times))
    finally:
        for pair in conns.values():
            for c in pair:
                c.close()
    return out


async def _timed_wait(name: str, conn: Connection, _: Connection) -> float:
    start = time.perf_counter()
    await WAIT[name](conn)
    return time.perf_counter() - start


async def _timed_first_event(name: str, conn: Connection, stream: Connection) -> float:
    return await FIRST_EVENT[name](conn, stream)


def server_wait(reps: int) -> dict[str, Any]:
    with _both() as servers:
        per = asyncio.run(_latencies(servers, reps, _timed_wait, WAITS_PER_REP))
    return _side_by_side("server_wait_ms", "ms/run", per)


def sse_first_event(reps: int) -> dict[str, Any]:
    with _both() as servers:
        per = asyncio.run(_latencies(servers, reps, _timed_first_event, WAITS_PER_REP))
    return _side_by_side("sse_first_event_ms", "ms", per)


async def _closed_loop(server: Server, name: str, seconds: float) -> float:
    """Runs per second that ``CLIENTS`` clients complete, each waiting for its run's
    result before asking for the next, over ``seconds``."""
    done = 0
    stop = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal done
        conn = Connection("127.0.0.1", server.port)
        try:
            while time.perf_counter() < stop:
                await WAIT[name](conn)
                done += 1
        finally:
            conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return done / (time.perf_counter() - start)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_runs(reps: int) -> dict[str, Any]:
    reps = min(reps, LOAD_REPS)
    per: dict[str, list[float]] = {"orca": [], "langgraph": []}
    cpu: dict[str, list[float]] = {"orca": [], "langgraph": []}  # server CPU ms per run
    with _both() as servers:
        for rep in range(reps + 1):
            for name in _turns(rep):
                server = servers[name]
                server.check()
                # the warm-up repetition is short: it only fills the caches and pools
                seconds = SECONDS if rep else min(SECONDS, 3.0)
                used = cpu_seconds(server.proc.pid)
                start = time.perf_counter()
                rate = asyncio.run(_closed_loop(server, name, seconds))
                runs = rate * (time.perf_counter() - start)
                used = cpu_seconds(server.proc.pid) - used
                if rep:
                    per[name].append(rate)
                    cpu[name].append(used / runs * 1000)
    entry = _side_by_side("server_runs_per_s", "runs/s", per)
    entry.update(
        clients=CLIENTS,
        seconds=SECONDS,
        orca_cpu_ms_per_run=statistics.median(cpu["orca"]),
        langgraph_cpu_ms_per_run=statistics.median(cpu["langgraph"]),
    )
    return entry


# -- admission (Orca alone) -----------------------------------------------------------------

ADMISSION_TOML = (
    '[server]\nmax_running_runs = 2\nmax_queued_runs = 2\nadmission_policy = "reject"\n'
)


async def _fill(conn: Connection) -> list[str]:
    """Runs that hold on, until one is refused: every slot and queue place taken."""
    held = []
    for _ in range(64):
        body = {"workflow": "hold", "input": {"seconds": 600}}
        answer = await conn.request("POST", "/v1/runs", body)
        if answer.status == 429:
            return held
        if answer.status != 202:
            raise RuntimeError(f"orca /v1/runs: {answer.status} {answer.body[:300]!r}")
        run = answer.json()
        assert isinstance(run, dict)
        held.append(run["run_id"])
    raise RuntimeError("64 held runs were all accepted: the server has no admission bound")


async def _rejections(
    server: Server, total: int, floor: bool = False
) -> tuple[list[float], int, float]:
    """With every slot and queue place taken, ask for ``total`` more runs at
    ``REJECT_RATE`` a second (open loop: each request leaves on time, on a connection of
    its own from a pool, whether the ones before it were answered or not); the
    milliseconds from sending each request to its 429, how many were not 429, and the
    most seconds a request left after its due time. ``floor``: ``GET /healthz`` instead,
    answered 200 (what the same load costs on this machine without admission)."""
    setup = Connection("127.0.0.1", server.port)
    held = await _fill(setup)
    times: list[float] = []
    other = 0
    late = 0.0  # how late the client sent its most late request (a loaded machine)
    idle = [Connection("127.0.0.1", server.port) for _ in range(REJECT_CONNECTIONS)]
    pool = list(idle)

    async def one(due: float) -> None:
        nonlocal other, late
        conn = idle.pop() if idle else Connection("127.0.0.1", server.port)
        if conn not in pool:
            pool.append(conn)
        body = {"workflow": "counter", "input": {"count": 0}}
        sent = time.perf_counter()
        late = max(late, sent - due)
        try:
            if floor:
                answer = await conn.request("GET", "/healthz")
            else:
                answer = await conn.request("POST", "/v1/runs", body)
        finally:
            idle.append(conn)
        ms = (time.perf_counter() - sent) * 1000
        if answer.status != (200 if floor else 429):
            other += 1
            return
        if floor:
            times.append(ms)
            return
        if "retry-after" not in answer.headers or "x-backoff-ms" not in answer.headers:
            raise RuntimeError(f"a 429 without Retry-After and X-Backoff-Ms: {answer.headers}")
        times.append(ms)

    try:
        tasks = []
        start = time.perf_counter()
        for i in range(total):
            due = start + i / REJECT_RATE
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(due)))
        await asyncio.gather(*tasks)
        return times, other, late
    finally:
        for run_id in held:
            with contextlib.suppress(Exception):
                await setup.request("POST", f"/v1/runs/{run_id}/cancel")
        setup.close()
        for conn in pool:
            conn.close()


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def admission_reject(reps: int) -> dict[str, Any]:
    p99s, medians, floors, not_refused, late = [], [], [], 0, 0.0
    with (
        tempfile.TemporaryDirectory(prefix="orca-bench-admission-") as tmp,
        orca_server(Path(tmp), ADMISSION_TOML) as server,
    ):
        for rep in range(reps + 1):  # the first is a warm-up
            count = REJECTS if rep else 100
            healthz, _, _ = asyncio.run(_rejections(server, count, floor=True))
            times, other, behind = asyncio.run(_rejections(server, count))
            server.check()
            if not times:
                raise RuntimeError("no request was refused")
            if rep:
                p99s.append(_p99(times))
                medians.append(statistics.median(times))
                floors.append(_p99(healthz))
                not_refused += other
                late = max(late, behind)
    value = statistics.median(p99s)
    return {
        "value": value,
        "unit": "ms",
        "min": min(p99s),
        "max": max(p99s),
        "median_ms": statistics.median(medians),
        "reps": reps,
        "requests_per_rep": REJECTS,
        "rate_per_s": REJECT_RATE,
        "not_refused": not_refused,
        "client_late_ms_max": late * 1000,
        "healthz_p99_ms": statistics.median(floors),
        "target": f"<= {REJECT_P99_LIMIT_MS:g} ms",
        "met": value <= REJECT_P99_LIMIT_MS,
    }


# -- an LLM task through the server (needs /v1/tasks and the local engine) -------------------


TASK_PROMPT = "Tell me a story."
SERIES = (
    "served",
    "direct",
    "served_decode",
    "direct_decode",
    "served_first_ms",
    "direct_first_ms",
)
TASK_SEED = 7


async def _task_through_server(conn: Connection, stream: Connection) -> tuple[int, float, float]:
    """Tokens of one task submitted to ``/v1/tasks`` and read from its SSE stream, the
    seconds from the submission to its ``end`` event, and from it to the first token."""
    body = {
        "model_ref": "tiny",
        "prompt": TASK_PROMPT,
        "max_tokens": TASK_TOKENS,
        "seed": TASK_SEED,
    }
    start = time.perf_counter()
    first = None
    answer = await conn.request("POST", "/v1/tasks", body)
    if answer.status != 202:
        raise RuntimeError(f"orca /v1/tasks: {answer.status} {answer.body[:300]!r}")
    accepted = answer.json()
    assert isinstance(accepted, dict)
    tokens = 0
    kinds = []
    async for kind, _ in stream.events("GET", f"/v1/tasks/{accepted['task_id']}/stream"):
        kinds.append(kind)
        if kind == "token":
            tokens += 1
            first = first or time.perf_counter()
        if kind in ("end", "error"):
            break
    if first is None or kinds[-1] != "end":
        raise RuntimeError(f"orca task stream: events {sorted(set(kinds))}, {tokens} tokens")
    return tokens, time.perf_counter() - start, first - start


async def _task_in_process(model: Any) -> tuple[int, float, float]:
    """The same call on the same model in this process: tokens, seconds to the last and
    to the first."""
    from orca.llm import ChatRequest, Message

    request = ChatRequest((Message.user(TASK_PROMPT),), max_tokens=TASK_TOKENS, seed=TASK_SEED)
    start = time.perf_counter()
    first = None
    tokens = 0
    async for delta in model.stream(request):
        if delta.text:
            tokens += 1
            first = first or time.perf_counter()
    if first is None:
        raise RuntimeError("the in-process model streamed no token")
    return tokens, time.perf_counter() - start, first - start


def task_stream(reps: int) -> dict[str, Any]:
    """Tokens/s of one local-engine task through the server's ``/v1/tasks`` and its SSE,
    over the same model (the tiny one, llama.cpp) called in this process; the two take
    turns, one at a time (each holds its own copy of the model)."""
    from orca.llm import ModelSpec
    from orca.llm.tiny import ensure_tiny_model

    with tempfile.TemporaryDirectory(prefix="orca-bench-tasks-") as tmp:
        path = ensure_tiny_model(seed=0, path=Path(tmp) / "tiny.gguf")
        toml = (
            "[server]\nmax_running_tasks = 1\n\n[server.models.tiny]\n"
            f'provider = "llamacpp"\nmodel = "{path}"\nn_ctx = 2048\n'
        )
        price = ("pricing", "set", "llamacpp", "tiny.gguf", "--input", "1", "--output", "1000")
        local = ModelSpec("llamacpp", str(path), {"n_ctx": 2048}).build()  # freed at exit
        with orca_server(Path(tmp), toml, setup=(price,)) as server:

            async def measure() -> dict[str, list[float]]:
                conn = Connection("127.0.0.1", server.port)
                stream = Connection("127.0.0.1", server.port)
                out: dict[str, list[float]] = {k: [] for k in SERIES}
                try:
                    for rep in range(reps + 1):  # the first is a warm-up
                        got: dict[str, list[float]] = {k: [] for k in SERIES}
                        for i in range(TASK_ROUNDS):
                            order = ("served", "direct") if (rep + i) % 2 else ("direct", "served")
                            for who in order:
                                if who == "served":
                                    n, s, f = await _task_through_server(conn, stream)
                                else:
                                    n, s, f = await _task_in_process(local)
                                got[who].append(n / s)
                                got[f"{who}_decode"].append((n - 1) / (s - f))
                                got[f"{who}_first_ms"].append(f * 1000)
                        if rep:
                            for k in SERIES:
                                out[k].append(statistics.median(got[k]))
                finally:
                    conn.close()
                    stream.close()
                return out

            got = asyncio.run(measure())
    served, direct = got["served"], got["direct"]
    ratio = statistics.median(s / d for s, d in zip(served, direct, strict=True))
    decode = zip(got["served_decode"], got["direct_decode"], strict=True)
    return {
        "orca_server": statistics.median(served),
        "in_process": statistics.median(direct),
        "unit": "tokens/s",
        "ratio": ratio,
        # the same from each side's first token to its last: the stream without the
        # fixed cost of a task (submission, admission, metering, the stream's start)
        "decode_ratio": statistics.median(s / d for s, d in decode),
        "orca_server_first_token_ms": statistics.median(got["served_first_ms"]),
        "in_process_first_token_ms": statistics.median(got["direct_first_ms"]),
        "reps": reps,
        "rounds_per_rep": TASK_ROUNDS,
        "max_tokens": TASK_TOKENS,
        "target": f"ratio >= {TASK_RATIO_LIMIT:g}",
        "met": ratio >= TASK_RATIO_LIMIT,
    }


FIGURES = (
    ("server_wait_ms", server_wait),
    ("sse_first_event_ms", sse_first_event),
    ("server_runs_per_s", server_runs),
    ("admission_reject_p99_ms", admission_reject),
    ("task_stream_ratio", task_stream),
)


def run(reps: int, wanted: set[str] | None) -> dict[str, dict[str, Any]]:
    """The server figures in ``wanted`` (all when None)."""
    from _report import run_figures

    return run_figures(FIGURES, reps, wanted, "server")


def _n(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def markdown(results: dict[str, Any]) -> list[str]:
    """The server section of RESULTS.md."""
    shown = [i for i in IDS if i in results]
    if not shown:
        return []
    lines = [
        "",
        "## Server",
        "",
        "A real `orca serve` and LangGraph's Agent Server in its local form (`langgraph dev`, "
        "in-memory runtime) on loopback, serving the same 10-superstep counter graph; one "
        "client process (plain asyncio HTTP/1.1, keep-alive); the two take turns in every "
        "repetition. Orca commits every superstep to SQLite (durability `sync`); the peer "
        "keeps its checkpoints in memory. See *Server figures* below for the method.",
        "",
        "| id | Orca | LangGraph | unit | ratio Orca/LangGraph | target | met | Orca min–max "
        "| LangGraph min–max |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for figure_id in ("server_wait_ms", "server_runs_per_s", "sse_first_event_ms"):
        e = results.get(figure_id)
        if e is None:
            continue
        if "error" in e:
            error = e["error"].splitlines()[0]
            lines.append(f"| `{figure_id}` | error: `{error}` | | | | | n/a | | |")
            continue
        lines.append(
            f"| `{figure_id}` | {_n(e['orca'])} | {_n(e['langgraph'])} | {e['unit']} | "
            f"{e['ratio']:.3f} | {e['target']} | {'yes' if e['met'] else 'no'} | "
            f"{_n(e['orca_min'])}–{_n(e['orca_max'])} | "
            f"{_n(e['langgraph_min'])}–{_n(e['langgraph_max'])} |"
        )
    runs = results.get("server_runs_per_s")
    if runs and "error" not in runs:
        lines += [
            "",
            f"`server_runs_per_s`: {runs['clients']} clients in a closed loop, "
            f"{runs['seconds']:g} s per engine and repetition, {runs['reps']} repetitions; "
            f"server CPU per run: Orca {runs['orca_cpu_ms_per_run']:.2f} ms, LangGraph "
            f"{runs['langgraph_cpu_ms_per_run']:.2f} ms.",
        ]
    reject = results.get("admission_reject_p99_ms")
    if reject:
        lines += [
            "",
            "- `admission_reject_p99_ms` (Orca alone): every running slot and queue place "
            "taken by runs that hold on, then requests for more runs sent open-loop at "
            f"{REJECT_RATE:g}/s; p99 of the time from sending each request to its 429.",
        ]
        lines.append(
            f"  error: `{reject['error'].splitlines()[0]}`"
            if "error" in reject
            else f"  p99 {reject['value']:.2f} ms (median of {reject['reps']} repetitions of "
            f"{reject['requests_per_rep']}; min {reject['min']:.2f}, max {reject['max']:.2f}; "
            f"median answer {reject['median_ms']:.2f} ms); target {reject['target']}: "
            f"{'met' if reject['met'] else 'NOT met'}. The same load of `GET /healthz` "
            f"(no admission, no body) on the same server: p99 {reject['healthz_p99_ms']:.2f} ms; "
            f"the client sent its latest request {reject['client_late_ms_max']:.1f} ms late."
        )
    task = results.get("task_stream_ratio")
    if task:
        lines.append(
            "- `task_stream_ratio`: tokens/s of one local-engine task (tiny model, llama.cpp, "
            f"{TASK_TOKENS} tokens) submitted to `/v1/tasks` and read from its SSE stream, "
            "over the same call on the same model in-process; the two take turns."
        )
        lines.append(
            f"  error: `{task['error'].splitlines()[0]}`"
            if "error" in task
            else f"  server {task['orca_server']:.0f} tokens/s, in-process "
            f"{task['in_process']:.0f} tokens/s, ratio {task['ratio']:.3f}; target "
            f"{task['target']}: {'met' if task['met'] else 'NOT met'}. First token after "
            f"{task['orca_server_first_token_ms']:.1f} ms through the server, "
            f"{task['in_process_first_token_ms']:.1f} ms in-process; from the first token "
            f"to the last the ratio is {task['decode_ratio']:.3f}."
        )
    return lines


if __name__ == "__main__":  # python benchmarks/server_figures.py [ids]: just these figures
    chosen = set(sys.argv[1:]) or None
    print(json.dumps(run(int(os.environ.get("REPS", "3")), chosen), indent=2))
