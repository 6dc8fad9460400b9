"""The SQLite store's writer thread commits the async calls queued while it was busy in
one transaction: each call gets its own result or error, a call that fails undoes only
its own writes, a commit that fails fails every call of the group and stores nothing,
and no other thread's call runs inside a group's open transaction."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from orca.checkpoint import CallRecord, Checkpoint
from orca.errors import CheckpointError, CheckpointNotFoundError
from orca.store import SqliteCheckpointer

from ._support import make_save


class Hold:
    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()


class HeldStore(SqliteCheckpointer):
    """A SQLite store whose writes to the threads named in ``holds`` wait (on the writer
    thread) until their ``release`` is set, so that the calls made meanwhile queue up
    into one group. Every statement run on the connection is noted in ``statements``."""

    def __init__(self, path: Path, *hold_on: str) -> None:
        super().__init__(path)
        self.holds = {thread: Hold() for thread in hold_on}
        self.statements: list[str] = []
        self._conn.set_trace_callback(self.statements.append)

    def _write(self, thread_id: str, *args: Any, **kwargs: Any) -> None:
        hold = self.holds.get(thread_id)
        if hold is not None:
            hold.entered.set()
            assert hold.release.wait(10)
        super()._write(thread_id, *args, **kwargs)

    def release_all(self) -> None:
        for hold in self.holds.values():
            hold.release.set()


class CommitFails:
    """The store's connection, except that COMMIT fails while ``armed`` (as a full disk
    would make it): a fake at the SQLite edge only."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.armed = False

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if self.armed and sql == "COMMIT":
            raise sqlite3.OperationalError("database or disk is full")
        return self.conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


def call(thread: str, digest: str) -> CallRecord:
    return CallRecord(
        thread, "task", "llm", digest, 0, "c0", "run-1", {"text": digest}, "2026-12-06T00:00Z"
    )


async def test_concurrent_writers_share_a_commit_and_each_gets_its_own_outcome(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cp.sqlite"
    cp = HeldStore(path, "first")
    held = cp.holds["first"]
    try:
        await cp.aput(make_save("dup", "d0", None, 0, {"v": "original"}))
        first = cp.aput(make_save("first", "f0", None, 0, {"n": 0}))
        await asyncio.to_thread(held.entered.wait, 10)  # the writer is busy: calls queue
        cp.statements.clear()

        async def writer(i: int) -> None:
            thread = f"t{i}"
            await cp.aput(make_save(thread, f"{thread}-c0", None, 0, {"n": i, "log": [i]}))
            await cp.aput(make_save(thread, f"{thread}-c1", f"{thread}-c0", 1, {"n": i + 1}))

        writers = [asyncio.ensure_future(writer(i)) for i in range(25)]
        await asyncio.sleep(0)  # each writer queues its first put
        # in the middle of the group: a checkpoint id that exists already; its blob rows
        # (written before the checkpoint row fails) must be undone with it
        duplicate = cp.aput(make_save("dup", "d0", None, 0, {"v": "overwritten"}))
        records = [cp.aput_call(call("dup", f"x{i}")) for i in range(3)]
        writers += [asyncio.ensure_future(writer(i)) for i in range(25, 50)]
        await asyncio.sleep(0)
        held.release.set()
        await first
        await asyncio.gather(*writers, *records)
        with pytest.raises(CheckpointError, match="already exists"):
            await duplicate
    finally:
        cp.close()
    # 1 + 25 + 3 + 25 calls queued behind the held write: far fewer commits than calls
    commits = cp.statements.count("COMMIT")
    assert 2 <= commits <= 1 + 50 + 1
    assert cp.statements.count("SAVEPOINT orca_call") >= 50
    assert "ROLLBACK TO orca_call" in cp.statements
    with SqliteCheckpointer(path) as again:
        for i in range(50):
            got = again.get(f"t{i}")
            assert isinstance(got, Checkpoint)
            assert (got.checkpoint_id, got.values) == (f"t{i}-c1", {"n": i + 1, "log": [i]})
        dup = again.get("dup")
        assert dup is not None
        assert dup.values == {"v": "original"}
        assert [h.checkpoint_id for h in again.history("dup")] == ["d0"]
        assert sorted(r.digest for r in again.calls("dup", "task")) == ["x0", "x1", "x2"]
        assert again.get("first") is not None


async def test_a_group_whose_commit_fails_fails_every_call_and_stores_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cp.sqlite"
    cp = HeldStore(path, "lead")
    lead, held = cp.holds["lead"], Hold()

    def hold_the_group() -> None:  # a call of the group that waits, holding no lock itself
        held.entered.set()
        assert held.release.wait(10)

    conn = CommitFails(cp._conn)
    cp._conn = conn  # type: ignore[assignment]
    seen_by_reader: list[Checkpoint | None] = []
    reader_started = threading.Event()

    def reader() -> None:  # a sync caller on another thread while the group is open
        reader_started.set()
        seen_by_reader.append(cp.get("a"))

    try:
        await cp.aput(make_save("a", "a0", None, 0, {"n": 0}))
        leader = cp.aput(make_save("lead", "l0", None, 0, {"n": 0}))
        await asyncio.to_thread(lead.entered.wait, 10)  # the writer is busy: calls queue
        group = [
            cp.aput(make_save("a", "a1", "a0", 1, {"n": 1})),
            cp.aput(make_save("b", "b0", None, 0, {"n": 0})),
            cp.aput(make_save("c", "c0", None, 0, {"n": 0})),
            cp._submit(hold_the_group),
            cp.aput_events([]),
        ]
        lead.release.set()
        await leader
        await asyncio.to_thread(held.entered.wait, 10)
        conn.armed = True  # the group has begun: its COMMIT will fail
        thread = threading.Thread(target=reader)
        thread.start()
        await asyncio.to_thread(reader_started.wait, 10)
        await asyncio.sleep(0.05)  # let the reader reach the store's lock
        held.release.set()
        outcomes = await asyncio.gather(*group, return_exceptions=True)
        await asyncio.to_thread(thread.join, 10)
        assert len(outcomes) == 5
        for outcome in outcomes:
            assert isinstance(outcome, sqlite3.OperationalError)
            assert "disk is full" in str(outcome)
        # the reader ran after the group, never inside it: it saw a0, not the lost a1
        assert [c.checkpoint_id if c else None for c in seen_by_reader] == ["a0"]
        conn.armed = False
        # the lost checkpoint is not a parent: the store forgot what the group cached
        with pytest.raises(CheckpointNotFoundError):
            await cp.aput(make_save("a", "a2", "a1", 2, {"n": 2}))
        await cp.aput(make_save("c", "c0", None, 0, {"n": 5}))  # the id is free again
    finally:
        held.release.set()
        cp.release_all()
        cp.close()
    with SqliteCheckpointer(path) as again:
        assert [h.checkpoint_id for h in again.history("a")] == ["a0"]
        assert [h.checkpoint_id for h in again.history("lead")] == ["l0"]
        assert again.history("b") == []
        got = again.get("c")
        assert got is not None
        assert got.values == {"n": 5}


class LosesTheTransaction(CommitFails):
    """As a full disk can: a statement fails and SQLite rolls back the whole open
    transaction (done here with a ROLLBACK at the SQLite edge), for the checkpoint row
    of the thread ``doomed``."""

    def __init__(self, conn: sqlite3.Connection, doomed: str) -> None:
        super().__init__(conn)
        self.doomed = doomed

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql.startswith("INSERT INTO checkpoints") and self.doomed in args[0]:
            self.conn.execute("ROLLBACK")
            raise sqlite3.OperationalError("database or disk is full")
        return super().execute(sql, *args)


async def test_a_call_whose_failure_rolls_back_the_group_fails_the_calls_before_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cp.sqlite"
    cp = HeldStore(path, "lead")
    lead = cp.holds["lead"]
    cp._conn = LosesTheTransaction(cp._conn, "doomed")  # type: ignore[assignment]
    try:
        leader = cp.aput(make_save("lead", "l0", None, 0, {"n": 0}))
        await asyncio.to_thread(lead.entered.wait, 10)  # the writer is busy: calls queue
        before = cp.aput(make_save("a", "a0", None, 0, {"n": 0}))
        doomed = cp.aput(make_save("doomed", "d0", None, 0, {"n": 0}))
        after = cp.aput(make_save("c", "c0", None, 0, {"n": 0}))
        lead.release.set()
        await leader
        with pytest.raises(CheckpointError, match="rolled back the transaction") as caught:
            await before
        assert "Fix:" in str(caught.value)
        with pytest.raises(sqlite3.OperationalError, match="disk is full"):
            await doomed
        await after  # the calls after it ran in a transaction of their own
        # the lost checkpoint is not a parent: the store forgot what the group cached
        with pytest.raises(CheckpointNotFoundError):
            await cp.aput(make_save("a", "a1", "a0", 1, {"n": 1}))
    finally:
        cp.release_all()
        cp.close()
    with SqliteCheckpointer(path) as again:
        assert again.history("a") == []
        assert again.history("doomed") == []
        assert [h.checkpoint_id for h in again.history("c")] == ["c0"]
        assert [h.checkpoint_id for h in again.history("lead")] == ["l0"]
