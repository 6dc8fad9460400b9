"""Supersteps with many rows of a kind (channels, pending writes): PostgreSQL writes a
few rows of a kind as parameters and many as one JSON document (``_batch.py``); both
(and task records), must store hostile text, any bytes and any float exactly as the
other stores do."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from orca.checkpoint import Lease, PendingWrite, RunRecord, TaskRecord

from ._support import StoreUnderTest, make_save

HOSTILE = ["nul\x00here", "esc\uffffhere", "\uffff0", 'q"uo\\te', "{a,b}", "NULL", "", "é🙂"]


def test_a_superstep_with_many_channels_and_writes_is_stored_exactly(
    store: StoreUnderTest,
) -> None:
    cp = store.cp
    values: dict[str, Any] = {
        # (channel names without U+0000: SQLite's checkpointer loses such a channel)
        f"ch-{i}-{HOSTILE[i % len(HOSTILE)].replace(chr(0), '')}": {
            "bytes": bytes(range(256)) * (i + 1),
            "float": [0.1, 1e308, 2.5, -3.0, 1e-300][i % 5],
        }
        for i in range(40)
    }
    pending = [
        PendingWrite(f"task-{i}-{HOSTILE[i % len(HOSTILE)]}", "writes", {"writes": [["n", i]]})
        for i in range(30)
    ]
    cp.put(make_save("t\x00many", "c0", None, 0, values, pending=pending))
    few = [PendingWrite(HOSTILE[0], "resume", {"id": "i", "value": b"\x00\xff"})]
    cp.put_pending("t\x00many", "c0", few)
    for view in store.views():
        got = view.get("t\x00many")
        assert got is not None
        assert got.values == values
        assert got.pending == [*pending, *few]


def test_many_task_records_are_stored_exactly(store: StoreUnderTest) -> None:
    record = RunRecord(
        "r\x00many", "t-tasks", graph="g", status="running", started_at="2026-01-01T00:00:00"
    )
    tasks = [
        TaskRecord(
            record.run_id,
            f"task-{i:02d}-{HOSTILE[i % len(HOSTILE)]}",
            1,
            node=HOSTILE[i % len(HOSTILE)],
            status="done",
            started_at=f"2026-01-01T00:00:{i:02d}",
            ended_at=HOSTILE[(i + 1) % len(HOSTILE)],
            duration_ms=[0.1, 1e-300, 12.5, 2.0**60, None][i % 5],
            error=None if i % 2 else HOSTILE[(i + 2) % len(HOSTILE)],
        )
        for i in range(25)
    ]
    lease = Lease(record.thread_id, record.run_id, "another-host:4242:beef", 2e9)
    assert store.cp.begin_run(record, lease, 1e9) == lease
    store.cp.end_run(replace(record, status="done"), tasks)
    for cp in store.views():
        assert cp.run_tasks(record.run_id) == tasks
