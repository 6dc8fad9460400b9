"""Checkpoint logic shared by every store, over a few row-level primitives.

A checkpoint is a header row (its body: channel versions, next tasks, metadata) plus
blob rows holding channel values. A channel's version is ``[base, pos]``: ``base`` is
the checkpoint that wrote its last full snapshot (row ``pos`` 0), and rows ``1..pos``
are deltas appended since. Only append channels get deltas, and a new snapshot is
written whenever the deltas since the last one would outweigh it, so the bytes stored
grow linearly with history and reading a value touches at most about twice its size.
"""

from __future__ import annotations

import asyncio
import threading
from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import orjson

from orca import _serde
from orca.checkpoint._base import (
    CallRecord,
    Checkpoint,
    CheckpointInfo,
    CheckpointSave,
    EventRecord,
    PendingWrite,
)
from orca.checkpoint._records import RecordRows, TaskRow, task_rows
from orca.errors import (
    CheckpointNotFoundError,
    CorruptDatabaseError,
    InvalidInputError,
    SchemaVersionError,
    SerializationError,
)
from orca.events import TASK_FINISHED

BODY_VERSION = 1


@dataclass(frozen=True, slots=True)
class HeaderRow:
    thread_id: str
    checkpoint_id: str
    parent_id: str | None
    step: int
    body: bytes
    created_at: str


class EventRow(NamedTuple):
    """A batch of one run's events (``EVENTS_PER_ROW`` at most), seqs first..last."""

    run_id: str
    first: int
    last: int
    ts: float  # of the first event: two runs logged under one run_id follow each other
    batch: bytes


class BlobRow(NamedTuple):
    channel: str
    base: str
    pos: int
    data: bytes


class CallRow(NamedTuple):
    """A call record as stored: its value serialised."""

    thread_id: str
    task_id: str
    kind: str
    digest: str
    occurrence: int
    checkpoint_id: str
    run_id: str
    value: bytes
    created_at: str


@dataclass(frozen=True, slots=True)
class WriteRow:
    task_id: str
    idx: int
    kind: str
    data: bytes


@dataclass(slots=True)
class _Head:
    """What this store last wrote for a thread, so the next write can extend its chains."""

    checkpoint_id: str
    versions: dict[str, list[Any]]
    chains: dict[str, tuple[int, int, int]]  # channel -> (snapshot bytes, delta bytes, deltas)


MAX_CHAIN = 256


def _extend_chain(snapshot: int, delta_bytes: int, deltas: int, weight: int = 1) -> bool:
    """Whether a delta may extend a chain, or a new snapshot is due.

    A snapshot is due once the deltas outweigh it ``weight`` times, which keeps the
    bytes stored linear in history (snapshots sum to at most (1 + 1/weight) times the
    deltas; a read touches at most (1 + weight) times the value), or once there are
    ``MAX_CHAIN`` deltas that weigh an eighth of it, which bounds the rows a read
    touches when items are tiny while keeping storage linear (at most 8x).
    """
    if delta_bytes > snapshot * weight:
        return False
    return deltas <= MAX_CHAIN or delta_bytes * 8 < snapshot


def encode_value(key: str, value: Any) -> bytes:
    try:
        return _serde.dumps(value)
    except _serde.UnserializableError as exc:
        raise SerializationError(key, exc.type_name, exc.detail) from None


def _encode_pending(writes: Sequence[PendingWrite]) -> list[WriteRow]:
    rows = []
    for idx, w in enumerate(writes):
        rows.append(WriteRow(w.task_id, idx, w.kind, encode_value(f"pending {w.kind}", w.value)))
    return rows


EVENTS_PER_ROW = 256
"""A row of the event log holds at most this many events, so that reading a few
events decodes a bounded batch, however long the run."""


def event_rows(events: Sequence[EventRecord]) -> list[EventRow]:
    """One run's events as rows of ``EVENTS_PER_ROW`` at most."""
    rows = []
    for i in range(0, len(events), EVENTS_PER_ROW):
        chunk = list(events[i : i + EVENTS_PER_ROW])
        seqs = [e.seq for e in chunk]
        rows.append(
            EventRow(chunk[0].run_id, min(seqs), max(seqs), chunk[0].ts, _batch_json(chunk))
        )
    return rows


def _batch_json(batch: list[EventRecord]) -> bytes:
    items = []
    for e in batch:
        fields = e.fields
        if e.type == TASK_FINISHED:  # the values it wrote are in the checkpoint
            fields = {**fields, "update": dict.fromkeys(fields["update"])}
        items.append(
            [
                e.type,
                {
                    "run_id": e.run_id,
                    "thread_id": e.thread_id,
                    "step": e.step,
                    "seq": e.seq,
                    "ts": e.ts,
                    **fields,
                },
            ]
        )
    # values are tagged as in checkpoints; one JSON cannot hold is logged as its repr
    return _serde.dumps_lenient(items)


def decode_events(
    data: bytes, run_id: str, start: int, stop: int | None, types: Sequence[str] | None
) -> list[dict[str, Any]]:
    """A batch back as ``Event.to_dict()`` forms of one run, filtered by seq and type."""
    from orca.events import EVENT_SCHEMA_VERSION

    found = []
    for kind, fields in orjson.loads(data):
        seq = fields["seq"]
        if (
            fields["run_id"] == run_id
            and seq >= start
            and (stop is None or seq < stop)
            and (not types or kind in types)
        ):
            found.append({"schema": EVENT_SCHEMA_VERSION, "type": kind, **fields})
    return found


class RowCheckpointer(RecordRows):
    """Implements ``Checkpointer`` over row primitives that each store provides (those
    of run records and leases are declared by ``RecordRows``)."""

    location = "memory"
    """Where the store keeps its data, for error messages."""

    SNAPSHOT_WEIGHT = 1
    """How many times the deltas of a chain may outweigh its snapshot before a new one
    is written (``_extend_chain``): a store whose reads are cheap trades them for size."""

    def __init__(self) -> None:
        self._heads: dict[str, _Head] = {}
        self._lock = threading.RLock()

    # -- primitives ------------------------------------------------------------------------

    @abstractmethod
    def _write(
        self,
        thread_id: str,
        header: HeaderRow | None,
        blobs: list[BlobRow],
        writes: list[tuple[str, WriteRow]],
        tasks: Sequence[TaskRow] = (),
        events: Sequence[EventRow] = (),
    ) -> None:
        """Store the rows atomically (``tasks``, upserted, and the event rows of the
        header's superstep too); ``writes`` pairs each row with its checkpoint id."""

    @abstractmethod
    def _put_tail(self, thread_id: str, rows: Sequence[EventRow]) -> None:
        """Log a run's events that came after its last checkpoint."""

    @abstractmethod
    def _events(self, run_id: str, start: int, stop: int | None) -> Iterator[bytes]:
        """A run's event batches that may hold seqs in ``[start, stop)``, ordered by
        (first event's ts, first seq), read as they are iterated (so that reading a few
        events costs a few rows)."""

    @abstractmethod
    def _header(self, thread_id: str, checkpoint_id: str | None) -> HeaderRow | None: ...

    @abstractmethod
    def _blobs(self, thread_id: str, wanted: list[tuple[str, str, int]]) -> list[BlobRow]:
        """Rows (channel, base, pos <= wanted pos), ordered by channel then pos."""

    @abstractmethod
    def _writes(self, thread_id: str, checkpoint_id: str) -> list[WriteRow]: ...

    @abstractmethod
    def _headers(self, thread_id: str, limit: int | None, before: str | None) -> list[HeaderRow]:
        """Newest first."""

    @abstractmethod
    def _delete(
        self, thread_id: str, keep: set[str] | None, needed: dict[tuple[str, str], int]
    ) -> int:
        """Delete checkpoints not in ``keep`` (all if None), their writes and call
        records, and blob rows not needed (``needed[(channel, base)]`` is the highest pos
        still referenced).
        Returns the number of checkpoints removed."""

    @abstractmethod
    def threads(self) -> list[str]: ...

    @abstractmethod
    def _put_call_row(self, row: CallRow) -> None:
        """Insert ``row`` (replacing one with the same key) and commit."""

    def _keeps_ledger(self, ledger: Any) -> bool:
        """Whether ``ledger``'s tables live in this store's database, so that a call's
        record and its hold's answer can commit together (none here)."""
        return False

    def _put_paid_call_row(self, row: CallRow, paid: Any) -> bool:
        """Insert ``row`` and record ``paid``'s answer on its hold in one transaction
        (called only where ``_keeps_ledger(paid.ledger)``); False, nothing written,
        when the hold is not in this database after all."""
        raise NotImplementedError

    @abstractmethod
    def _call_rows(self, thread_id: str, task_id: str) -> list[CallRow]:
        """The task's call rows, by kind, digest and occurrence."""

    @abstractmethod
    def _drop_call_rows(self, thread_id: str, task_id: str) -> int: ...

    def close(self) -> None:
        """Release resources."""

    # -- Checkpointer -----------------------------------------------------------------------

    def put(self, save: CheckpointSave) -> None:
        tasks = task_rows(save.tasks) if save.tasks else []
        with self._lock:
            if tasks:
                self._check_runs(tasks)
            prev, chains = self._parent_state(save.thread_id, save.parent_id)
            versions = dict(prev)
            new_chains = dict(chains)
            blobs: list[BlobRow] = []
            for key, delta in save.changed.items():
                if key not in save.values:
                    versions.pop(key, None)
                    new_chains.pop(key, None)
                    continue
                if delta is not None and key in prev and key in chains:
                    data = encode_value(key, delta)
                    snapshot, since, count = chains[key]
                    if _extend_chain(snapshot, since + len(data), count + 1, self.SNAPSHOT_WEIGHT):
                        base, pos = prev[key]
                        versions[key] = [base, pos + 1]
                        blobs.append(BlobRow(key, base, pos + 1, data))
                        new_chains[key] = (snapshot, since + len(data), count + 1)
                        continue
                data = encode_value(key, save.values[key])
                versions[key] = [save.checkpoint_id, 0]
                blobs.append(BlobRow(key, save.checkpoint_id, 0, data))
                new_chains[key] = (len(data), 0, 0)
            body = encode_value(
                "next tasks (Send arguments) or metadata",
                {
                    "v": BODY_VERSION,
                    "versions": versions,
                    "next": save.next,
                    "metadata": save.metadata,
                },
            )
            first_run = save.events[0].run_id if save.events else None
            mine = [e for e in save.events if e.run_id == first_run]
            header = HeaderRow(
                save.thread_id,
                save.checkpoint_id,
                save.parent_id,
                save.step,
                body,
                save.created_at,
            )
            writes = [(save.checkpoint_id, r) for r in _encode_pending(save.pending)]
            self._write(save.thread_id, header, blobs, writes, tasks, event_rows(mine))
            others = [e for e in save.events if e.run_id != first_run]
            if others:  # the engine logs one run per save; anything else is kept anyway
                self.put_events(others)
            self._heads[save.thread_id] = _Head(save.checkpoint_id, versions, new_chains)

    def _parent_state(
        self, thread_id: str, parent_id: str | None
    ) -> tuple[dict[str, list[Any]], dict[str, tuple[int, int, int]]]:
        head = self._heads.get(thread_id)
        if head is not None and head.checkpoint_id == parent_id:
            return head.versions, head.chains
        if parent_id is None:
            return {}, {}
        row = self._header(thread_id, parent_id)
        if row is None:
            raise CheckpointNotFoundError(thread_id, parent_id)
        return dict(self._body(row)["versions"]), {}

    def put_events(self, events: Sequence[EventRecord]) -> None:
        by_run: dict[str, list[EventRecord]] = {}
        for e in events:
            by_run.setdefault(e.run_id, []).append(e)
        with self._lock:
            for batch in by_run.values():
                self._put_tail(batch[0].thread_id, event_rows(batch))

    def read_events(
        self,
        run_id: str,
        *,
        start: int = 0,
        stop: int | None = None,
        types: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        if limit is not None and limit < 1:
            raise InvalidInputError(f"read_events limit must be at least 1, got {limit}")
        found: list[dict[str, Any]] = []
        with self._lock:
            # batches are decoded one by one, and no more once ``limit`` are found
            for data in self._events(run_id, start, stop):
                try:
                    found += decode_events(data, run_id, start, stop, types)
                except (ValueError, TypeError, KeyError) as exc:  # orjson's error is one
                    raise self._damaged(f"the event log of run {run_id!r}", exc) from None
                if limit is not None and len(found) >= limit:
                    break
        return found[:limit] if limit is not None else found

    def put_pending(
        self, thread_id: str, checkpoint_id: str, writes: Sequence[PendingWrite]
    ) -> None:
        with self._lock:
            existing = self._writes(thread_id, checkpoint_id)
            start = max((r.idx for r in existing), default=-1) + 1
            rows = [
                (checkpoint_id, WriteRow(r.task_id, start + r.idx, r.kind, r.data))
                for r in _encode_pending(writes)
            ]
            self._write(thread_id, None, [], rows)

    def get(self, thread_id: str, checkpoint_id: str | None = None) -> Checkpoint | None:
        with self._lock:
            row = self._header(thread_id, checkpoint_id)
            if row is None:
                return None
            body = self._body(row)
            versions: dict[str, list[Any]] = body["versions"]
            wanted = [(key, v[0], v[1]) for key, v in versions.items()]
            blobs = self._blobs(thread_id, wanted)
            pending = []
            for w in self._writes(thread_id, row.checkpoint_id):
                value = self._decode_value(w.data, row, "a pending write")
                pending.append(PendingWrite(w.task_id, w.kind, value))  # type: ignore[arg-type]
            values = self._decode_value(blobs, row, "a state value", _assemble)
        return Checkpoint(
            thread_id=row.thread_id,
            checkpoint_id=row.checkpoint_id,
            parent_id=row.parent_id,
            step=row.step,
            values=values,
            next=body["next"],
            metadata=body["metadata"],
            created_at=row.created_at,
            pending=pending,
        )

    def _decode_value(
        self, data: Any, row: HeaderRow, what: str, decode: Callable[[Any], Any] = _serde.loads
    ) -> Any:
        """``decode(data)``, its damage reported as ``CorruptDatabaseError``."""
        try:
            return decode(data)
        except (_serde.CorruptValueError, TypeError) as exc:
            raise self._damaged(f"{what} of checkpoint {row.checkpoint_id!r}", exc) from None

    def _damaged(self, what: str, exc: BaseException) -> CorruptDatabaseError:
        return CorruptDatabaseError(
            self.location,
            f"{what} is damaged ({exc})",
            "restore the file from a backup, or delete the damaged thread "
            "(Checkpointer.delete_thread); `orca doctor` checks the whole file",
        )

    def _body(self, row: HeaderRow) -> dict[str, Any]:
        body = self._decode_value(row.body, row, "the header")
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("versions"), dict)
            or not isinstance(body.get("v", 0), int)
            or not all(
                isinstance(v, list) and len(v) == 2 and isinstance(v[1], int)
                for v in body["versions"].values()
            )
            or not isinstance(body.get("next"), list)
            or not isinstance(body.get("metadata"), dict)
        ):
            raise self._damaged(
                f"the header of checkpoint {row.checkpoint_id!r}", ValueError("bad shape")
            )
        if body.get("v", 0) > BODY_VERSION:
            raise SchemaVersionError(
                f"{self.location} (checkpoint {row.checkpoint_id})", body["v"], BODY_VERSION
            )
        return body

    def history(
        self, thread_id: str, *, limit: int | None = None, before: str | None = None
    ) -> list[CheckpointInfo]:
        if limit is not None and limit < 1:
            raise InvalidInputError(f"history limit must be at least 1, got {limit}")
        with self._lock:
            rows = self._headers(thread_id, limit, before)
        out = []
        for row in rows:
            body = self._body(row)
            out.append(
                CheckpointInfo(
                    thread_id=row.thread_id,
                    checkpoint_id=row.checkpoint_id,
                    parent_id=row.parent_id,
                    step=row.step,
                    next=body["next"],
                    metadata=body["metadata"],
                    created_at=row.created_at,
                )
            )
        return out

    def prune(self, thread_id: str, keep: int) -> int:
        if keep < 0:
            raise InvalidInputError(f"prune keep must be 0 or more, got {keep}")
        if keep == 0:
            with self._lock:
                self._heads.pop(thread_id, None)
                return self._delete(thread_id, None, {})
        with self._lock:
            kept = self._headers(thread_id, keep, None)
            needed: dict[tuple[str, str], int] = {}
            for row in kept:
                for key, (base, pos) in self._body(row)["versions"].items():
                    needed[(key, base)] = max(pos, needed.get((key, base), -1))
            return self._delete(thread_id, {r.checkpoint_id for r in kept}, needed)

    def rollback(self, thread_id: str, to: str | None) -> int:
        with self._lock:
            kept: list[HeaderRow] = []
            if to is not None:
                if self._header(thread_id, to) is None:
                    raise CheckpointNotFoundError(thread_id, to)
                headers = self._headers(thread_id, None, None)
                ids = [h.checkpoint_id for h in headers]
                kept = headers[ids.index(to) :]
            needed: dict[tuple[str, str], int] = {}
            for row in kept:
                for key, (base, pos) in self._body(row)["versions"].items():
                    needed[(key, base)] = max(pos, needed.get((key, base), -1))
            self._heads.pop(thread_id, None)
            return self._delete(thread_id, {r.checkpoint_id for r in kept}, needed)

    def delete_thread(self, thread_id: str) -> None:
        with self._lock:
            self.prune(thread_id, 0)
            self._delete_runs(thread_id)

    # -- call records ------------------------------------------------------------------------

    def put_call(self, record: CallRecord) -> None:
        row = _call_row(record)
        with self._lock:
            self._put_call_row(row)

    def put_paid_call(self, record: CallRecord, paid: Any) -> bool:
        if not self._keeps_ledger(paid.ledger):
            return False
        row = _call_row(record)
        with self._lock:
            return self._put_paid_call_row(row, paid)

    def calls(self, thread_id: str, task_id: str) -> list[CallRecord]:
        with self._lock:
            rows = self._call_rows(thread_id, task_id)
        return [
            CallRecord(
                r.thread_id,
                r.task_id,
                r.kind,  # type: ignore[arg-type]
                r.digest,
                r.occurrence,
                r.checkpoint_id,
                r.run_id,
                _serde.loads(r.value),
                r.created_at,
            )
            for r in rows
        ]

    def drop_calls(self, thread_id: str, task_id: str) -> int:
        with self._lock:
            return self._drop_call_rows(thread_id, task_id)

    # -- async twins (see ``Checkpointer``: queued when called, applied in call order) ----

    def aput_call(self, record: CallRecord) -> asyncio.Future[None]:
        return self._submit(self.put_call, record)

    def aput_paid_call(self, record: CallRecord, paid: Any) -> asyncio.Future[bool]:
        if not self._keeps_ledger(paid.ledger):  # nothing to write: no trip to the store
            done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
            done.set_result(False)
            return done
        return self._submit(self.put_paid_call, record, paid)

    def acalls(self, thread_id: str, task_id: str) -> asyncio.Future[list[CallRecord]]:
        return self._submit(self.calls, thread_id, task_id)

    def adrop_calls(self, thread_id: str, task_id: str) -> asyncio.Future[int]:
        return self._submit(self.drop_calls, thread_id, task_id)

    def arollback(self, thread_id: str, to: str | None) -> asyncio.Future[int]:
        return self._submit(self.rollback, thread_id, to)

    def aput(self, save: CheckpointSave) -> asyncio.Future[None]:
        return self._submit(self.put, save)

    def aput_pending(
        self, thread_id: str, checkpoint_id: str, writes: Sequence[PendingWrite]
    ) -> asyncio.Future[None]:
        return self._submit(self.put_pending, thread_id, checkpoint_id, writes)

    def aput_events(self, events: Sequence[EventRecord]) -> asyncio.Future[None]:
        return self._submit(self.put_events, events)

    def aget(
        self, thread_id: str, checkpoint_id: str | None = None
    ) -> asyncio.Future[Checkpoint | None]:
        return self._submit(self.get, thread_id, checkpoint_id)

    def ahistory(
        self, thread_id: str, *, limit: int | None = None, before: str | None = None
    ) -> asyncio.Future[list[CheckpointInfo]]:
        return self._submit(self.history, thread_id, limit=limit, before=before)

    def aread_events(
        self,
        run_id: str,
        *,
        start: int = 0,
        stop: int | None = None,
        types: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> asyncio.Future[list[dict[str, Any]]]:
        return self._submit(
            self.read_events, run_id, start=start, stop=stop, types=types, limit=limit
        )


def _call_row(record: CallRecord) -> CallRow:
    """A call record as stored: its value serialised."""
    return CallRow(
        record.thread_id,
        record.task_id,
        record.kind,
        record.digest,
        record.occurrence,
        record.checkpoint_id,
        record.run_id,
        encode_value(f"{record.kind} call record", record.value),
        record.created_at,
    )


def _assemble(blobs: list[BlobRow]) -> dict[str, Any]:
    """Channel values from their rows: a snapshot, then deltas spliced onto it."""
    values: dict[str, Any] = {}
    i = 0
    n = len(blobs)
    while i < n:
        channel = blobs[i][0]
        j = i + 1
        while j < n and blobs[j][0] == channel:
            j += 1
        if j - i == 1:
            values[channel] = _serde.loads(blobs[i][3])
        else:
            parts = [b[3][1:-1] for b in blobs[i:j] if len(b[3]) > 2]
            values[channel] = _serde.loads(b"[" + b",".join(parts) + b"]")
        i = j
    return values
