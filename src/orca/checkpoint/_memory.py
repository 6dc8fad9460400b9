"""An in-memory checkpointer: for tests and short-lived runs."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from orca.checkpoint._base import Lease, refuse_ended
from orca.checkpoint._records import RunRow, TaskRow
from orca.checkpoint._rows import BlobRow, CallRow, EventRow, HeaderRow, RowCheckpointer, WriteRow
from orca.errors import CheckpointError


class MemoryCheckpointer(RowCheckpointer):
    """Keeps checkpoints in this process's memory, serialised exactly as on disk."""

    def __init__(self) -> None:
        super().__init__()
        self._headers_by_thread: dict[str, list[HeaderRow]] = {}
        self._blob_rows: dict[str, dict[tuple[str, str, int], bytes]] = {}
        self._write_rows: dict[str, dict[str, list[WriteRow]]] = {}
        self._event_batches: list[tuple[str, EventRow]] = []  # (thread, rows)
        # rows keep the order they were first stored in, as SQLite's rowid does
        self._order = itertools.count()
        self._runs: dict[str, tuple[int, RunRow]] = {}
        self._tasks: dict[tuple[str, str], tuple[int, TaskRow]] = {}
        self._leases: dict[str, Lease] = {}
        # thread -> task -> (kind, digest, occurrence) -> row
        self._call_records: dict[str, dict[str, dict[tuple[str, str, int], CallRow]]] = {}

    def _write(
        self,
        thread_id: str,
        header: HeaderRow | None,
        blobs: list[BlobRow],
        writes: list[tuple[str, WriteRow]],
        tasks: Sequence[TaskRow] = (),
        events: Sequence[EventRow] = (),
    ) -> None:
        if header is not None and any(
            r.checkpoint_id == header.checkpoint_id
            for r in self._headers_by_thread.get(thread_id, ())
        ):
            raise CheckpointError(
                f"checkpoint {header.checkpoint_id!r} already exists in thread {thread_id!r}. "
                "Fix: checkpoints are immutable; write a new one"
            )
        store = self._blob_rows.setdefault(thread_id, {})
        for b in blobs:
            store[(b.channel, b.base, b.pos)] = b.data
        pending = self._write_rows.setdefault(thread_id, {})
        for checkpoint_id, row in writes:
            pending.setdefault(checkpoint_id, []).append(row)
        if header is not None:
            self._headers_by_thread.setdefault(thread_id, []).append(header)
        self._event_batches.extend((thread_id, row) for row in events)
        self._put_task_rows(list(tasks))

    def _put_tail(self, thread_id: str, rows: Sequence[EventRow]) -> None:
        self._event_batches.extend((thread_id, row) for row in rows)

    def _events(self, run_id: str, start: int, stop: int | None) -> Iterator[bytes]:
        rows = [
            r
            for _, r in self._event_batches
            if r.run_id == run_id and r.last >= start and (stop is None or r.first < stop)
        ]
        return iter([r.batch for r in sorted(rows, key=lambda r: (r.ts, r.first))])

    def _header(self, thread_id: str, checkpoint_id: str | None) -> HeaderRow | None:
        rows = self._headers_by_thread.get(thread_id)
        if not rows:
            return None
        if checkpoint_id is None:
            return rows[-1]
        return next((r for r in rows if r.checkpoint_id == checkpoint_id), None)

    def _blobs(self, thread_id: str, wanted: list[tuple[str, str, int]]) -> list[BlobRow]:
        store = self._blob_rows.get(thread_id, {})
        out = []
        for channel, base, top in sorted(wanted):
            for pos in range(top + 1):
                data = store.get((channel, base, pos))
                if data is not None:
                    out.append(BlobRow(channel, base, pos, data))
        return out

    def _writes(self, thread_id: str, checkpoint_id: str) -> list[WriteRow]:
        return list(self._write_rows.get(thread_id, {}).get(checkpoint_id, ()))

    def _headers(self, thread_id: str, limit: int | None, before: str | None) -> list[HeaderRow]:
        rows = list(reversed(self._headers_by_thread.get(thread_id, [])))
        if before is not None:
            ids = [r.checkpoint_id for r in rows]
            rows = rows[ids.index(before) + 1 :] if before in ids else []
        return rows if limit is None else rows[:limit]

    def _delete(
        self, thread_id: str, keep: set[str] | None, needed: dict[tuple[str, str], int]
    ) -> int:
        rows = self._headers_by_thread.get(thread_id, [])
        if not rows:
            return 0
        if keep is None:
            self._headers_by_thread.pop(thread_id, None)
            self._blob_rows.pop(thread_id, None)
            self._write_rows.pop(thread_id, None)
            self._event_batches = [b for b in self._event_batches if b[0] != thread_id]
            self._call_records.pop(thread_id, None)
            return len(rows)
        kept = [r for r in rows if r.checkpoint_id in keep]
        self._headers_by_thread[thread_id] = kept
        blobs = self._blob_rows.get(thread_id, {})
        for channel, base, pos in list(blobs):
            if pos > needed.get((channel, base), -1):
                del blobs[(channel, base, pos)]
        pending = self._write_rows.get(thread_id, {})
        for checkpoint_id in list(pending):
            if checkpoint_id not in keep:
                del pending[checkpoint_id]
        by_task = self._call_records.get(thread_id, {})
        for task_id, calls in list(by_task.items()):
            if any(r.checkpoint_id not in keep for r in calls.values()):
                del by_task[task_id]
        return len(rows) - len(kept)

    def threads(self) -> list[str]:
        return sorted(self._headers_by_thread)

    def _put_call_row(self, row: CallRow) -> None:
        calls = self._call_records.setdefault(row.thread_id, {}).setdefault(row.task_id, {})
        calls[(row.kind, row.digest, row.occurrence)] = row

    def _call_rows(self, thread_id: str, task_id: str) -> list[CallRow]:
        calls = self._call_records.get(thread_id, {}).get(task_id, {})
        return [calls[k] for k in sorted(calls)]

    def _drop_call_rows(self, thread_id: str, task_id: str) -> int:
        return len(self._call_records.get(thread_id, {}).pop(task_id, {}))

    # -- run records and leases ----------------------------------------------------------------

    def _upsert_run(self, row: RunRow) -> None:
        found = self._runs.get(row.run_id)
        self._runs[row.run_id] = (next(self._order) if found is None else found[0], row)

    def _begin(self, lease: Lease, row: RunRow, blocked: Callable[[Lease], bool]) -> Lease | None:
        held = self._leases.get(lease.thread_id)
        if held is not None and blocked(held):
            return held
        stored = self._runs.get(row.run_id)
        refuse_ended(row.run_id, stored[1].status if stored is not None else None)
        self._leases[lease.thread_id] = lease
        self._upsert_run(row)
        return None

    def _lease(self, thread_id: str) -> Lease | None:
        return self._leases.get(thread_id)

    def _renew(self, lease: Lease) -> bool:
        held = self._leases.get(lease.thread_id)
        if held is None or (held.run_id, held.owner) != (lease.run_id, lease.owner):
            return False
        self._leases[lease.thread_id] = lease
        return True

    def _end(self, row: RunRow, tasks: list[TaskRow]) -> None:
        self._upsert_run(row)
        self._put_task_rows(tasks)
        held = self._leases.get(row.thread_id)
        if held is not None and held.run_id == row.run_id:
            del self._leases[row.thread_id]

    def _put_task_rows(self, tasks: list[TaskRow]) -> None:
        for t in tasks:
            key = (t.run_id, t.task_id)
            found = self._tasks.get(key)
            self._tasks[key] = (next(self._order) if found is None else found[0], t)

    def _run_row(self, run_id: str) -> Sequence[Any] | None:
        found = self._runs.get(run_id)
        return None if found is None else found[1]

    def _run_rows(
        self, thread_id: str | None, status: str | None, limit: int | None, graph: str | None
    ) -> list[Sequence[Any]]:
        rows = sorted(
            (
                (row.started_at, seq, row)
                for seq, row in self._runs.values()
                if (thread_id is None or row.thread_id == thread_id)
                and (status is None or row.status == status)
                and (graph is None or row.graph == graph)
            ),
            reverse=True,
        )
        return [row for _, _, row in rows[:limit]]

    def _task_rows(self, run_id: str) -> list[Sequence[Any]]:
        rows = sorted(
            (t.step, t.started_at, seq, t) for seq, t in self._tasks.values() if t.run_id == run_id
        )
        return [t for *_, t in rows]

    def _delete_runs(self, thread_id: str) -> None:
        gone = {r for r, (_, row) in self._runs.items() if row.thread_id == thread_id}
        for run_id in gone:
            del self._runs[run_id]
        for key in [k for k in self._tasks if k[0] in gone]:
            del self._tasks[key]
        self._leases.pop(thread_id, None)
