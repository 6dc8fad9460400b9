"""A superstep's save on PostgreSQL is one transaction: when any row of it is refused,
none of the others (task records, events, pending writes, blobs) is stored."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from orca.checkpoint import EventRecord, Lease, PendingWrite, RunRecord, TaskRecord
from orca.errors import CheckpointError
from orca.store.postgres import PgCheckpointer

from ._support import make_save


def test_a_save_refused_half_way_stores_none_of_its_rows(pg_url: str) -> None:
    with PgCheckpointer(pg_url) as store:
        record = RunRecord("r1", "t", "g", "running", "2026-01-01T00:00:00+00:00")
        store.begin_run(record, Lease("t", "r1", "h:1:x", 10_000.0), 1.0)
        store.put(make_save("t", "c0", None, 0, {"log": ["a"], "n": 0}))
        again = make_save(
            "t",
            "c0",  # the same id: checkpoints are immutable
            None,
            0,
            {"log": ["b"], "n": 9},
            pending=[PendingWrite("k", "writes", {"update": []})],
            tasks=[TaskRecord("r1", "k", 0, "n", "done", "2026-01-01T00:00:01+00:00")],
        )
        save = replace(again, events=[EventRecord("custom", "r1", "t", 0, 0, 1.0, {"x": 1})])
        with pytest.raises(CheckpointError, match="already exists") as caught:
            store.put(save)
        assert "Fix:" in str(caught.value)
        # the task upsert ran before the refused row: rolled back with it
        assert store.run_tasks("r1") == []
        assert store.read_events("r1") == []
        got = store.get("t", "c0")
        assert got is not None
        assert got.values == {"log": ["a"], "n": 0}
        assert got.pending == []
        # and the store goes on
        store.put(make_save("t", "c1", "c0", 1, {"log": ["a", "b"], "n": 1}, {"log": ["b"]}))
        assert [h.checkpoint_id for h in store.history("t")] == ["c1", "c0"]


def test_a_get_reads_one_instant_while_another_process_deletes_the_thread(pg_url: str) -> None:
    other = PgCheckpointer(pg_url)  # another process's store, on the same database

    class DeletedMidRead(PgCheckpointer):
        def _blobs(self, thread_id: str, wanted: list[tuple[str, str, int]]) -> Any:
            # between the header's read and the blobs' read, the thread goes
            other.delete_thread(thread_id)
            return super()._blobs(thread_id, wanted)

    try:
        other.put(make_save("t", "c0", None, 0, {"log": ["a"], "n": 0}))
        other.put(make_save("t", "c1", "c0", 1, {"log": ["a", "b"], "n": 0}, {"log": ["b"]}))
        with DeletedMidRead(pg_url) as reader:
            got = reader.get("t")
            # the checkpoint as it was when the read began, whole: not a header without
            # its values
            assert got is not None
            assert got.values == {"log": ["a", "b"], "n": 0}
        assert other.get("t") is None  # the delete did happen
    finally:
        other.close()
