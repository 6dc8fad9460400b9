"""The async face of the checkpoint stores: SQLite's and PostgreSQL's work never runs on
the event loop's thread, calls are applied in the order they were started, closing
refuses what is still queued, and many coroutines can share one store."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from orca.checkpoint import (
    Checkpointer,
    EventRecord,
    Lease,
    MemoryCheckpointer,
    PendingWrite,
    RunRecord,
    TaskRecord,
)
from orca.checkpoint._records import RunRow, TaskRow
from orca.checkpoint._rows import BlobRow, EventRow, HeaderRow, WriteRow
from orca.errors import CheckpointError
from orca.store import SqliteCheckpointer

from ._support import StoreUnderTest, make_save


def record(run_id: str, thread_id: str, **changes: Any) -> RunRecord:
    fields: dict[str, Any] = {
        "run_id": run_id,
        "thread_id": thread_id,
        "graph": "g",
        "status": "running",
        "started_at": "2024-01-01T00:00:00+00:00",
    }
    return RunRecord(**{**fields, **changes})


def event(run_id: str, thread_id: str, seq: int, kind: str = "custom") -> EventRecord:
    return EventRecord(kind, run_id, thread_id, 0, seq, 1000.0 + seq, {"n": seq})


def store_class(kind: str) -> Any:
    if kind == "postgres":
        from orca.store.postgres import PgCheckpointer

        return PgCheckpointer
    return SqliteCheckpointer


def database(request: pytest.FixtureRequest, kind: str, tmp_path: Path) -> Any:
    """A new SQLite file or PostgreSQL database."""
    return request.getfixturevalue("pg_url") if kind == "postgres" else tmp_path / "cp.sqlite"


class ThreadRecording:
    """Mixed into a store: notes, for each row primitive, the threads it ran on."""

    def __init__(self, where: Any) -> None:
        super().__init__(where)  # type: ignore[call-arg]
        self.ran_on: dict[str, set[int]] = {}

    def _note(self, name: str) -> None:
        self.ran_on.setdefault(name, set()).add(threading.get_ident())

    def _write(
        self,
        thread_id: str,
        header: HeaderRow | None,
        blobs: list[BlobRow],
        writes: list[tuple[str, WriteRow]],
        tasks: Sequence[TaskRow] = (),
        events: Sequence[EventRow] = (),
    ) -> None:
        self._note("_write")
        super()._write(thread_id, header, blobs, writes, tasks, events)

    def _put_tail(self, thread_id: str, rows: Sequence[EventRow]) -> None:
        self._note("_put_tail")
        super()._put_tail(thread_id, rows)

    def _events(self, run_id: str, start: int, stop: int | None) -> Iterator[bytes]:
        self._note("_events")
        return super()._events(run_id, start, stop)

    def _header(self, thread_id: str, checkpoint_id: str | None) -> HeaderRow | None:
        self._note("_header")
        return super()._header(thread_id, checkpoint_id)

    def _headers(self, thread_id: str, limit: int | None, before: str | None) -> list[HeaderRow]:
        self._note("_headers")
        return super()._headers(thread_id, limit, before)

    def _begin(self, lease: Lease, row: RunRow, blocked: Callable[[Lease], bool]) -> Lease | None:
        self._note("_begin")
        return super()._begin(lease, row, blocked)

    def _renew(self, lease: Lease) -> bool:
        self._note("_renew")
        return super()._renew(lease)

    def _end(self, row: RunRow, tasks: list[TaskRow]) -> None:
        self._note("_end")
        super()._end(row, tasks)

    def _put_task_rows(self, tasks: list[TaskRow]) -> None:
        self._note("_put_task_rows")
        super()._put_task_rows(tasks)

    def _run_row(self, run_id: str) -> Sequence[Any] | None:
        self._note("_run_row")
        return super()._run_row(run_id)

    def _run_rows(
        self, thread_id: str | None, status: str | None, limit: int | None, graph: str | None
    ) -> list[Sequence[Any]]:
        self._note("_run_rows")
        return super()._run_rows(thread_id, status, limit, graph)

    def _task_rows(self, run_id: str) -> list[Sequence[Any]]:
        self._note("_task_rows")
        return super()._task_rows(run_id)


async def every_async_method(cp: Checkpointer) -> None:
    """Each async method once, on a fresh thread ``t`` with run ``r``."""
    lease = Lease("t", "r", "me", 2000.0)
    assert await cp.abegin_run(record("r", "t"), lease, 1000.0) == lease
    task = TaskRecord("r", "k1", 0, "a", "done", "2024-01-01T00:00:01+00:00")
    await cp.aput(make_save("t", "c0", None, 0, {"n": 0}))
    await cp.aput_pending("t", "c0", [PendingWrite("k1", "writes", {"update": []})])
    await cp.aput_events([event("r", "t", 0)])
    await cp.aput_tasks([task])
    assert await cp.arenew_lease(Lease("t", "r", "me", 3000.0))
    got = await cp.aget("t")
    assert got is not None
    assert got.values == {"n": 0}
    assert [h.checkpoint_id for h in await cp.ahistory("t", limit=5)] == ["c0"]
    assert [e["seq"] for e in await cp.aread_events("r")] == [0]
    await cp.aend_run(record("r", "t", status="done"), [task])
    run = await cp.aget_run("r")
    assert run is not None
    assert run.status == "done"
    assert [r.run_id for r in await cp.alist_runs(thread_id="t")] == ["r"]
    assert await cp.arun_tasks("r") == [task]


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_async_methods_never_run_on_the_event_loops_thread(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    class Recording(ThreadRecording, store_class(kind)):  # type: ignore[misc]
        pass

    cp = Recording(database(request, kind, tmp_path))
    try:
        await every_async_method(cp)
    finally:
        cp.close()
    assert set(cp.ran_on) == {
        "_write",
        "_put_tail",
        "_events",
        "_header",
        "_headers",
        "_begin",
        "_renew",
        "_end",
        "_put_task_rows",
        "_run_row",
        "_run_rows",
        "_task_rows",
    }
    threads = set().union(*cp.ran_on.values())
    assert threading.get_ident() not in threads
    assert len(threads) == 1  # one worker thread of the store's own


async def test_memory_async_methods_are_done_as_soon_as_they_are_called() -> None:
    cp = MemoryCheckpointer()
    await every_async_method(cp)
    put = cp.aput(make_save("t", "c1", "c0", 1, {"n": 1}))
    assert put.done()
    head = cp.get("t")
    assert head is not None
    assert head.checkpoint_id == "c1"
    await put


async def test_async_calls_are_applied_in_the_order_they_were_started(
    store: StoreUnderTest,
) -> None:
    cp = store.cp
    # each checkpoint is the child of the one before: put out of order, it has no parent
    started: list[Awaitable[Any]] = []
    for i in range(60):
        save = make_save("t", f"c{i:03d}", f"c{i - 1:03d}" if i else None, i, {"n": i})
        started.append(asyncio.ensure_future(cp.aput(save)))
        started.append(cp.aput_pending("t", f"c{i:03d}", [PendingWrite(f"k{i}", "writes", i)]))
        started.append(cp.aput_events([event("r", "t", i)]))
    # a read started last sees every write started before it
    latest = await cp.aget("t")
    await asyncio.gather(*started)
    assert latest is not None
    assert latest.checkpoint_id == "c059"
    assert latest.pending == [PendingWrite("k59", "writes", 59)]
    history = await cp.ahistory("t")
    assert [h.checkpoint_id for h in history] == [f"c{i:03d}" for i in reversed(range(60))]
    assert [e["seq"] for e in await cp.aread_events("r")] == list(range(60))


async def test_an_async_call_that_fails_raises_where_it_is_awaited_and_later_calls_go_on(
    store: StoreUnderTest,
) -> None:
    cp = store.cp
    orphan = cp.aput(make_save("t", "c1", "missing", 1, {"n": 1}))
    root = cp.aput(make_save("t", "c0", None, 0, {"n": 0}))
    with pytest.raises(CheckpointError, match="missing"):
        await orphan
    await root
    assert [h.checkpoint_id for h in await cp.ahistory("t")] == ["c0"]


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_closing_a_store_with_calls_queued_refuses_them_with_checkpoint_error(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str
) -> None:
    path = database(request, kind, tmp_path)
    entered, release = threading.Event(), threading.Event()

    class Slow(store_class(kind)):  # type: ignore[misc]
        def _write(self, *args: Any, **kwargs: Any) -> None:
            entered.set()
            release.wait(10)
            super()._write(*args, **kwargs)

    cp = Slow(path)
    running = cp.aput(make_save("t", "c0", None, 0, {"n": 0}))
    queued = [cp.aput(make_save("t", f"c{i}", f"c{i - 1}", i, {"n": i})) for i in (1, 2, 3)]
    await asyncio.to_thread(entered.wait, 10)
    closing = asyncio.ensure_future(asyncio.to_thread(cp.close))
    # once close() has begun, a new call is refused at once, without waiting for the worker
    refused: list[asyncio.Future[Any]] = []
    while not refused or not refused[-1].done():
        refused.append(asyncio.ensure_future(cp.aget("t")))
        await asyncio.sleep(0.005)
    release.set()
    await closing
    await running  # the call that was running when close() began finishes
    for call in [*queued, *refused]:
        with pytest.raises(CheckpointError, match="closed") as caught:
            await call
        assert cp.location in str(caught.value)  # the file, or the database (no password)
        assert "Fix:" in str(caught.value)
    with pytest.raises(CheckpointError, match="closed after it was closed"):
        await cp.ahistory("t")
    with store_class(kind)(path) as again:
        assert [h.checkpoint_id for h in again.history("t")] == ["c0"]


async def test_many_coroutines_share_one_store_with_sync_callers_on_other_threads(
    store: StoreUnderTest,
) -> None:
    cp = store.cp

    async def one_run(i: int) -> None:
        thread, run = f"t{i}", f"r{i}"
        lease = Lease(thread, run, "me", 2000.0)
        assert await cp.abegin_run(record(run, thread), lease, 1000.0) == lease
        for step in range(5):
            parent = f"{thread}-c{step - 1}" if step else None
            task = TaskRecord(run, f"k{step}", step, "a", "done", "2024-01-01T00:00:01+00:00")
            await cp.aput(
                make_save(
                    thread,
                    f"{thread}-c{step}",
                    parent,
                    step,
                    {"n": step, "log": [i] * step},
                    tasks=[task],
                )
            )
            await cp.aput_events([event(run, thread, step)])
            await asyncio.sleep(0)
        await cp.aend_run(record(run, thread, status="done", steps=5), [])

    def sync_writer() -> None:
        for step in range(20):
            parent = f"s-c{step - 1}" if step else None
            cp.put(make_save("s", f"s-c{step}", parent, step, {"n": step}))

    writer = threading.Thread(target=sync_writer)
    writer.start()
    await asyncio.gather(*(one_run(i) for i in range(40)))
    writer.join()
    for view in store.views():
        runs = await view.alist_runs(status="done")
        assert sorted(r.run_id for r in runs) == sorted(f"r{i}" for i in range(40))
        for i in range(40):
            got = await view.aget(f"t{i}")
            assert got is not None
            assert got.values == {"n": 4, "log": [i] * 4}
            assert [t.task_id for t in await view.arun_tasks(f"r{i}")] == [
                f"k{s}" for s in range(5)
            ]
            assert [e["seq"] for e in await view.aread_events(f"r{i}")] == list(range(5))
        assert len(view.history("s")) == 20


def test_an_async_method_needs_a_running_event_loop(store: StoreUnderTest) -> None:
    with pytest.raises(RuntimeError, match="no running event loop"):
        store.cp.aget("t")
