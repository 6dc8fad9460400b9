"""Call records: the ``Checkpointer`` conformance suite's part on the LLM answers and
tool results a task completed, run against every store, sync and async."""

from __future__ import annotations

from typing import Any

from orca.checkpoint import CallRecord

from ._support import StoreUnderTest, make_save


def record(
    task_id: str = "task-1",
    digest: str = "d1",
    occurrence: int = 0,
    *,
    thread: str = "t",
    checkpoint: str = "c1",
    kind: str = "llm",
    value: dict[str, Any] | None = None,
) -> CallRecord:
    return CallRecord(
        thread,
        task_id,
        kind,  # type: ignore[arg-type]
        digest,
        occurrence,
        checkpoint,
        "run-1",
        value if value is not None else {"text": f"{digest}#{occurrence}"},
        "2026-12-06T00:00:00+00:00",
    )


def test_records_round_trip_in_key_order(store: StoreUnderTest, face: str) -> None:
    tricky = {"text": "ünïcode ✓", "tool_calls": [{"id": "c", "arguments": {"k": [1, None]}}]}
    store.cp.put_call(record(digest="b", occurrence=1))
    store.cp.put_call(record(digest="b", occurrence=0, value=tricky))
    store.cp.put_call(record(kind="tool", digest="a"))
    store.cp.put_call(record(digest="a"))
    store.cp.put_call(record(task_id="task-2"))
    store.cp.put_call(record(thread="other"))
    for cp in store.views():
        got = cp.calls("t", "task-1")
        assert [(r.kind, r.digest, r.occurrence) for r in got] == [
            ("llm", "a", 0),
            ("llm", "b", 0),
            ("llm", "b", 1),
            ("tool", "a", 0),
        ]
        assert got[1].value == tricky
        assert got[1] == record(digest="b", occurrence=0, value=tricky)
        assert cp.calls("t", "nothing") == []


def test_a_record_with_the_same_key_is_replaced(store: StoreUnderTest, face: str) -> None:
    store.cp.put_call(record(value={"text": "first"}))
    store.cp.put_call(record(value={"text": "second"}))
    for cp in store.views():
        [only] = cp.calls("t", "task-1")
        assert only.value == {"text": "second"}


def test_dropping_forgets_one_task_only(store: StoreUnderTest, face: str) -> None:
    store.cp.put_call(record())
    store.cp.put_call(record(digest="d2"))
    store.cp.put_call(record(task_id="task-2"))
    assert store.cp.drop_calls("t", "task-1") == 2
    assert store.cp.drop_calls("t", "task-1") == 0
    for cp in store.views():
        assert cp.calls("t", "task-1") == []
        assert len(cp.calls("t", "task-2")) == 1


def test_records_go_with_their_thread(store: StoreUnderTest) -> None:
    store.cp.put(make_save("t", "c1", None, 0, {"a": 1}))
    store.cp.put_call(record())
    store.cp.put_call(record(thread="kept"))
    store.cp.delete_thread("t")
    for cp in store.views():
        assert cp.calls("t", "task-1") == []
        assert len(cp.calls("kept", "task-1")) == 1


def test_pruning_drops_the_records_of_tasks_from_pruned_checkpoints(
    store: StoreUnderTest,
) -> None:
    store.cp.put(make_save("t", "c1", None, 0, {"a": 1}))
    store.cp.put(make_save("t", "c2", "c1", 1, {"a": 2}))
    store.cp.put_call(record(task_id="old", checkpoint="c1"))
    store.cp.put_call(record(task_id="new", checkpoint="c2"))
    assert store.cp.prune("t", 1) == 1
    for cp in store.views():
        assert cp.calls("t", "old") == []
        assert len(cp.calls("t", "new")) == 1
