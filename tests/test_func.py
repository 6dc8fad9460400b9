"""The functional API: ``@entrypoint`` runs a function as a workflow, ``@task`` calls run
once per thread however often the function runs again (interrupts, crashes)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from orca import Command, MemoryCheckpointer, RetryPolicy
from orca.checkpoint import Checkpointer
from orca.errors import InvalidInputError
from orca.func import TaskFuture, entrypoint, task
from orca.store import SqliteCheckpointer
from orca.store.postgres import PgCheckpointer

SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Checkpointer:
    if request.param == "memory":
        return MemoryCheckpointer()
    if request.param == "sqlite":
        return SqliteCheckpointer(tmp_path / "func.sqlite")
    return PgCheckpointer(str(request.getfixturevalue("pg_url")))


def test_finished_tasks_are_not_run_again_when_the_function_resumes(store: Checkpointer) -> None:
    ran: list[int] = []

    @task
    def double(x: int) -> int:
        ran.append(x)
        return 2 * x

    @entrypoint(checkpointer=store)
    def review(n: int, *, ctx: Any) -> dict[str, Any]:
        values = [f.result() for f in [double(i) for i in range(n)]]
        verdict = ctx.interrupt({"values": values})
        return {"values": values, "verdict": verdict}

    paused = review.invoke(3, thread_id="t")
    assert [i.value for i in paused["__interrupt__"]] == [{"values": [0, 2, 4]}]
    assert sorted(ran) == [0, 1, 2]

    done = review.invoke(Command(resume="ok"), thread_id="t")
    assert done == {"values": [0, 2, 4], "verdict": "ok"}
    assert sorted(ran) == [0, 1, 2], "a finished task ran again on resume"
    assert review.get_state("t").values["value"] == done
    store.close()


def test_the_same_call_twice_is_two_tasks_and_each_is_kept() -> None:
    ran: list[str] = []

    @task
    def stamp(tag: str) -> str:
        ran.append(tag)
        return f"{tag}#{len(ran)}"

    @entrypoint(checkpointer=MemoryCheckpointer())
    def twice(tag: str, *, ctx: Any) -> list[str]:
        first, second = stamp(tag).result(), stamp(tag).result()
        ctx.interrupt("go on?")
        return [first, second]

    twice.invoke("a", thread_id="t")
    assert twice.invoke(Command(resume=True), thread_id="t") == ["a#1", "a#2"]
    assert ran == ["a", "a"]


def test_tasks_started_together_run_at_the_same_time() -> None:
    barrier = threading.Barrier(3, timeout=30)

    @task
    def meet(i: int) -> int:
        barrier.wait()  # breaks (raises) unless all three run at once
        return i

    @entrypoint()
    def fan(n: int) -> list[int]:
        return [f.result() for f in [meet(i) for i in range(n)]]

    assert fan.invoke(3) == [0, 1, 2]


def test_previous_is_what_the_last_run_on_the_thread_returned_or_saved() -> None:
    @entrypoint(checkpointer=MemoryCheckpointer())
    def counter(step: int, *, previous: int | None = None) -> Any:
        total = (previous or 0) + step
        return entrypoint.final(value=f"total {total}", save=total)

    assert counter.invoke(2, thread_id="t") == "total 2"
    assert counter.invoke(5, thread_id="t") == "total 7"
    assert counter.invoke(1, thread_id="other") == "total 1"

    @entrypoint(checkpointer=MemoryCheckpointer())
    def echo(x: int, *, previous: Any = None) -> list[Any]:
        return [x, previous]

    assert echo.invoke(1, thread_id="t") == [1, None]
    assert echo.invoke(2, thread_id="t") == [2, [1, None]]


def test_async_entrypoints_await_their_tasks() -> None:
    @task
    async def inc(x: int) -> int:
        await asyncio.sleep(0)
        return x + 1

    @task
    def square(x: int) -> int:
        return x * x

    @entrypoint()
    async def both(n: int) -> list[int]:
        started = [inc(i) for i in range(n)]
        return [await square(await f) for f in started]

    assert asyncio.run(both.ainvoke(3)) == [1, 4, 9]


def test_a_task_retries_under_its_policy_and_raises_when_it_gives_up() -> None:
    tries: list[int] = []

    @task(retry_policy=RetryPolicy(max_attempts=3, initial_interval=0, jitter=False))
    def flaky(x: int) -> int:
        tries.append(x)
        if len(tries) < 3:
            raise ConnectionError("503")
        return x

    @task(name="broken", retry_policy=RetryPolicy(max_attempts=2, initial_interval=0))
    def always(x: int) -> int:
        tries.append(-x)
        raise ConnectionError("down")

    @entrypoint()
    def use(kind: str) -> int:
        return (flaky if kind == "flaky" else always)(7).result()

    assert use.invoke("flaky") == 7
    assert tries == [7, 7, 7]
    tries.clear()
    with pytest.raises(Exception, match="down"):
        use.invoke("broken")
    assert tries == [-7, -7]


def test_misuse_is_refused_with_the_fix() -> None:
    @task
    def plain(x: int) -> int:
        return x

    with pytest.raises(InvalidInputError, match=r"outside an entrypoint.*plain\.fn"):
        plain(1)
    assert plain.fn(1) == 1  # type: ignore[attr-defined]

    with pytest.raises(InvalidInputError, match="takes no input"):

        @entrypoint()
        def nothing() -> None:
            return None

    with pytest.raises(InvalidInputError, match="needs a function"):
        task(42)  # type: ignore[arg-type]

    @task
    def opaque(x: int) -> object:
        return threading.Lock()

    @entrypoint(checkpointer=MemoryCheckpointer())
    def keeps(x: int) -> object:
        return opaque(x).result()

    with pytest.raises(Exception, match="cannot be kept"):
        keeps.invoke(1, thread_id="t")


def test_a_task_future_says_whether_it_is_done() -> None:
    release = threading.Event()

    @task
    def slow(x: int) -> int:
        release.wait(30)
        return x

    seen: list[bool] = []

    @entrypoint()
    def look(x: int) -> int:
        future = slow(x)
        assert isinstance(future, TaskFuture)
        seen.append(future.done())
        release.set()
        value = future.result()
        seen.append(future.done())
        return value

    assert look.invoke(4) == 4
    assert seen == [False, True]


PROGRAM = """
import os, signal, sys
from orca.func import entrypoint, task
from orca.store import SqliteCheckpointer

effects = open(sys.argv[2], "a")

@task
def step(name):
    if name == "second" and os.environ.get("KILL"):
        os.kill(os.getpid(), signal.SIGKILL)
    effects.write(name + "\\n"); effects.flush()
    return name.upper()

@entrypoint(checkpointer=SqliteCheckpointer(sys.argv[1]))
def chain(names):
    return [step(n).result() for n in names]

start = ["first", "second", "third"] if sys.argv[3] == "start" else None
print(chain.invoke(start, thread_id="t"))
"""


def test_a_killed_process_resumes_without_running_finished_tasks_again(tmp_path: Path) -> None:
    db, effects = tmp_path / "func.sqlite", tmp_path / "effects.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCA_")}
    env["PYTHONPATH"] = str(SRC)
    env["ORCA_HOME"] = str(tmp_path / "home")

    def run(mode: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", PROGRAM, str(db), str(effects), mode],
            env={**env, **extra}, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    killed = run("start", KILL="1")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert effects.read_text().split() == ["first"]

    resumed = run("resume")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.strip() == "['FIRST', 'SECOND', 'THIRD']"
    assert effects.read_text().split() == ["first", "second", "third"]


def test_the_updates_stream_shows_each_task_that_ran_and_none_answered_from_records() -> None:
    @task
    def square(x: int) -> int:
        return x * x

    @entrypoint(checkpointer=MemoryCheckpointer())
    def squares(n: int, *, ctx: Any) -> list[int]:
        values = [f.result() for f in [square(i) for i in range(n)]]
        ctx.interrupt("ok?")
        return values

    first = [(e.node, e.update) for e in squares.stream(3, mode="updates", thread_id="t")]
    assert sorted(first, key=str) == [("square", {"__return__": v}) for v in (0, 1, 4)]
    again = [
        (e.node, e.update)
        for e in squares.stream(Command(resume=True), mode="updates", thread_id="t")
    ]
    assert again == [("squares", {"value": [0, 1, 4], "saved": [0, 1, 4]})]
