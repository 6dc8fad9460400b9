"""An in-memory checkpointer: for tests and short-lived runs."""

from __future__ import annotations

from orca.checkpoint._rows import BlobRow, HeaderRow, RowCheckpointer, WriteRow
from orca.errors import CheckpointError


class MemoryCheckpointer(RowCheckpointer):
    """Keeps checkpoints in this process's memory, serialised exactly as on disk."""

    def __init__(self) -> None:
        super().__init__()
        self._headers_by_thread: dict[str, list[HeaderRow]] = {}
        self._blob_rows: dict[str, dict[tuple[str, str, int], bytes]] = {}
        self._write_rows: dict[str, dict[str, list[WriteRow]]] = {}
        self._event_batches: list[tuple[str, str, bytes]] = []  # (thread, run, batch)

    def _write(
        self,
        thread_id: str,
        header: HeaderRow | None,
        blobs: list[BlobRow],
        writes: list[tuple[str, WriteRow]],
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
        if header is not None and header.events is not None and header.events_run:
            self._event_batches.append((thread_id, header.events_run, header.events))

    def _put_tail(self, run_id: str, thread_id: str, batch: bytes) -> None:
        self._event_batches.append((thread_id, run_id, batch))

    def _events(self, run_id: str) -> list[bytes]:
        return [batch for _, run, batch in self._event_batches if run == run_id]

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
        return len(rows) - len(kept)

    def threads(self) -> list[str]:
        return sorted(self._headers_by_thread)
