"""The ``Checkpointer`` conformance suite: every store must pass every test here.

The ``store`` fixture runs each test against ``MemoryCheckpointer()``,
``SqliteCheckpointer(path)`` and ``PgCheckpointer(url)``; ``store.reopen()`` reads a
SQLite or PostgreSQL store back through a new instance on the same file or database.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from orca.checkpoint import Checkpoint, Checkpointer, EventRecord, PendingWrite
from orca.errors import CheckpointNotFoundError, SerializationError

from ._support import Point, Reading, StoreUnderTest, Track, make_save


def put_chain(
    cp: Checkpointer, thread: str, n: int, *, prefix: str = "c", start: int = 0
) -> list[str]:
    """``n`` checkpoints, each the child of the one before; returns their ids."""
    ids: list[str] = []
    log: list[str] = []
    for i in range(start, start + n):
        cid = f"{prefix}{i:03d}"
        log.append(f"item-{i}")
        parent = ids[-1] if ids else None
        changed: dict[str, list[Any] | None] = {"n": None, "log": [f"item-{i}"]}
        if parent is None:
            changed = {"n": None, "log": None}
        cp.put(make_save(thread, cid, parent, i, {"n": i, "log": list(log)}, changed))
        ids.append(cid)
    return ids


def test_the_store_satisfies_the_protocol(store: StoreUnderTest) -> None:
    assert isinstance(store.cp, Checkpointer)


def test_get_returns_none_for_an_unknown_thread_or_checkpoint(
    store: StoreUnderTest, face: str
) -> None:
    cp = store.cp
    assert cp.get("nobody") is None
    assert cp.get("nobody", "c000") is None
    put_chain(cp, "t", 2)
    assert cp.get("t", "missing") is None
    assert cp.get("other") is None


def test_put_then_get_returns_every_field_by_id_and_as_latest(
    store: StoreUnderTest, face: str
) -> None:
    save = make_save(
        "t",
        "c1",
        None,
        0,
        {"a": 1, "b": "two"},
        next=[{"node": "x"}, {"node": "w", "arg": {"k": [1, 2]}}],
        metadata={"source": "input", "nodes": ["__start__"]},
    )
    store.cp.put(save)
    for cp in store.views():
        for got in (cp.get("t"), cp.get("t", "c1")):
            assert got == Checkpoint(
                thread_id="t",
                checkpoint_id="c1",
                parent_id=None,
                step=0,
                values={"a": 1, "b": "two"},
                next=[{"node": "x"}, {"node": "w", "arg": {"k": [1, 2]}}],
                metadata={"source": "input", "nodes": ["__start__"]},
                created_at=save.created_at,
                pending=[],
            )


def test_latest_is_the_checkpoint_put_most_recently(store: StoreUnderTest, face: str) -> None:
    cp = store.cp
    ids = put_chain(cp, "t", 5)
    # a branch from an older checkpoint is put last, so it is the latest
    cp.put(make_save("t", "branch", ids[1], 2, {"n": 99, "log": ["x"]}))
    for cp in store.views():
        latest = cp.get("t")
        assert latest is not None
        assert latest.checkpoint_id == "branch"
        assert latest.values == {"n": 99, "log": ["x"]}


def test_keys_left_out_of_changed_are_inherited_from_the_parent(
    store: StoreUnderTest, face: str
) -> None:
    cp = store.cp
    cp.put(make_save("t", "c0", None, 0, {"a": 1, "b": [1], "c": {"k": "v"}}))
    cp.put(make_save("t", "c1", "c0", 1, {"a": 2, "b": [1], "c": {"k": "v"}}, {"a": None}))
    cp.put(make_save("t", "c2", "c1", 2, {"a": 2, "b": [1], "c": {"k": "w"}}, {"c": None}))
    for cp in store.views():
        assert cp.get("t", "c0").values == {"a": 1, "b": [1], "c": {"k": "v"}}  # type: ignore[union-attr]
        assert cp.get("t", "c1").values == {"a": 2, "b": [1], "c": {"k": "v"}}  # type: ignore[union-attr]
        assert cp.get("t", "c2").values == {"a": 2, "b": [1], "c": {"k": "w"}}  # type: ignore[union-attr]


def test_a_changed_key_missing_from_values_is_removed(store: StoreUnderTest) -> None:
    cp = store.cp
    cp.put(make_save("t", "c0", None, 0, {"a": 1, "gone": "soon"}))
    cp.put(make_save("t", "c1", "c0", 1, {"a": 1}, {"gone": None}))
    for cp in store.views():
        assert cp.get("t", "c1").values == {"a": 1}  # type: ignore[union-attr]
        assert cp.get("t", "c0").values == {"a": 1, "gone": "soon"}  # type: ignore[union-attr]


def test_putting_a_child_of_an_unknown_parent_raises_not_found(
    store: StoreUnderTest, face: str
) -> None:
    cp = store.reopen()
    put_chain(cp, "t", 2)
    with pytest.raises(CheckpointNotFoundError) as info:
        cp.put(make_save("t", "orphan", "no-such-parent", 5, {"n": 1}, {"n": None}))
    assert info.value.checkpoint_id == "no-such-parent"
    assert cp.get("t", "orphan") is None


# -- pending writes --------------------------------------------------------------------------


def test_pending_writes_stored_with_a_checkpoint_and_added_later_keep_their_order(
    store: StoreUnderTest,
    face: str,
) -> None:
    cp = store.cp
    first = [
        PendingWrite("task-b", "writes", {"writes": [["log", ["b"]]], "targets": []}),
        PendingWrite("task-a", "interrupt", {"id": "i1", "value": {"ask": "ok?"}}),
    ]
    cp.put(make_save("t", "c0", None, 0, {"n": 0}, pending=first))
    later = [
        PendingWrite("task-a", "resume", {"id": "i1", "value": Decimal("1.5")}),
        PendingWrite("task-c", "writes", {"writes": [["n", 3]], "targets": [{"node": "z"}]}),
    ]
    cp.put_pending("t", "c0", later)
    cp.put_pending("t", "c0", [PendingWrite("task-d", "writes", {"writes": [], "targets": []})])
    for cp in store.views():
        got = cp.get("t", "c0")
        assert got is not None
        assert got.pending == [
            *first,
            *later,
            PendingWrite("task-d", "writes", {"writes": [], "targets": []}),
        ]
        assert got == cp.get("t")


def test_pending_writes_belong_to_their_checkpoint_only(store: StoreUnderTest) -> None:
    cp = store.cp
    ids = put_chain(cp, "t", 3)
    put_chain(cp, "u", 3)
    cp.put_pending("t", ids[1], [PendingWrite("x", "writes", {"writes": [], "targets": []})])
    for cp in store.views():
        assert [p.task_id for p in cp.get("t", ids[1]).pending] == ["x"]  # type: ignore[union-attr]
        assert cp.get("t", ids[0]).pending == []  # type: ignore[union-attr]
        assert cp.get("t", ids[2]).pending == []  # type: ignore[union-attr]
        assert cp.get("u", ids[1]).pending == []  # type: ignore[union-attr]


# -- history and threads ---------------------------------------------------------------------


def test_history_lists_headers_newest_first(store: StoreUnderTest, face: str) -> None:
    cp = store.cp
    ids = put_chain(cp, "t", 4)
    cp.put(make_save("t", "fork", ids[1], 2, {"n": 7, "log": []}, next=[{"node": "q"}]))
    put_chain(cp, "other", 2)
    for cp in store.views():
        history = cp.history("t")
        assert [h.checkpoint_id for h in history] == ["fork", *reversed(ids)]
        assert [h.parent_id for h in history] == [ids[1], ids[2], ids[1], ids[0], None]
        assert [h.step for h in history] == [2, 3, 2, 1, 0]
        assert history[0].next == [{"node": "q"}]
        assert history[0].metadata == {"step": 2}
        assert all(h.thread_id == "t" for h in history)
        assert history[1].created_at == cp.get("t", ids[3]).created_at  # type: ignore[union-attr]


@pytest.mark.parametrize("page", [1, 3, 7, 25, 100])
def test_history_limit_and_before_page_through_every_checkpoint_once(
    store: StoreUnderTest, face: str, page: int
) -> None:
    ids = put_chain(store.cp, "t", 25)
    for cp in store.views():
        seen: list[str] = []
        before: str | None = None
        while True:
            batch = cp.history("t", limit=page, before=before)
            assert len(batch) <= page
            if not batch:
                break
            seen += [h.checkpoint_id for h in batch]
            before = batch[-1].checkpoint_id
        assert seen == list(reversed(ids))


def test_history_of_an_unknown_thread_or_before_an_unknown_id_is_empty(
    store: StoreUnderTest,
) -> None:
    cp = store.cp
    put_chain(cp, "t", 3)
    assert cp.history("nobody") == []
    assert cp.history("t", before="no-such-checkpoint") == []
    assert cp.history("t", before="c000") == []


def test_history_rejects_a_limit_below_one(store: StoreUnderTest, face: str) -> None:
    put_chain(store.cp, "t", 2)
    with pytest.raises(ValueError, match="limit"):
        store.cp.history("t", limit=0)


def test_threads_lists_each_thread_once(store: StoreUnderTest) -> None:
    cp = store.cp
    assert cp.threads() == []
    for thread in ("zeta", "alpha", "mid"):
        put_chain(cp, thread, 3)
    for cp in store.views():
        assert sorted(cp.threads()) == ["alpha", "mid", "zeta"]
        assert len(cp.threads()) == 3


# -- prune and delete ------------------------------------------------------------------------


@pytest.mark.parametrize("keep", [1, 2, 5, 39, 40, 100])
def test_prune_keeps_the_newest_n_whose_values_still_read_back(
    store: StoreUnderTest, keep: int
) -> None:
    cp = store.cp
    ids = put_chain(cp, "t", 40)
    expected = {cid: cp.get("t", cid).values for cid in ids}  # type: ignore[union-attr]
    removed = cp.prune("t", keep)
    assert removed == max(0, 40 - keep)
    kept = list(reversed(ids))[:keep]
    for cp in store.views():
        assert [h.checkpoint_id for h in cp.history("t")] == kept
        for cid in ids:
            got = cp.get("t", cid)
            if cid in kept:
                # the append channel's snapshot and deltas were written by pruned checkpoints
                assert got is not None
                assert got.values == expected[cid]
            else:
                assert got is None


def test_prune_then_continue_the_chain(store: StoreUnderTest) -> None:
    cp = store.cp
    ids = put_chain(cp, "t", 30)
    cp.prune("t", 1)

    def log(n: int) -> list[str]:
        return [f"item-{i}" for i in range(n)]

    cp.put(
        make_save(
            "t", "c030", ids[-1], 30, {"n": 30, "log": log(31)}, {"n": None, "log": ["item-30"]}
        )
    )
    cp = store.reopen()
    cp.put(
        make_save(
            "t", "c031", "c030", 31, {"n": 31, "log": log(32)}, {"n": None, "log": ["item-31"]}
        )
    )
    for cp in store.views():
        assert [h.checkpoint_id for h in cp.history("t")] == ["c031", "c030", ids[-1]]
        assert cp.get("t", ids[-1]).values == {"n": 29, "log": log(30)}  # type: ignore[union-attr]
        assert cp.get("t", "c030").values == {"n": 30, "log": log(31)}  # type: ignore[union-attr]
        assert cp.get("t").values == {"n": 31, "log": log(32)}  # type: ignore[union-attr]


def test_prune_keeps_values_shared_with_a_branch(store: StoreUnderTest) -> None:
    cp = store.cp
    ids = put_chain(cp, "t", 10)
    # a branch from c004 whose log extends c004's
    log = [f"item-{i}" for i in range(5)]
    parent = ids[4]
    branch: list[str] = []
    for j in range(3):
        log = [*log, f"b-{j}"]
        cid = f"b{j}"
        cp.put(
            make_save(
                "t",
                cid,
                parent,
                5 + j,
                {"n": 100 + j, "log": list(log)},
                {"n": None, "log": [f"b-{j}"]},
            )
        )
        branch.append(cid)
        parent = cid
    # continue the main line after the branch
    main_log = [f"item-{i}" for i in range(11)]
    cp.put(
        make_save(
            "t", "c010", ids[-1], 10, {"n": 10, "log": main_log}, {"n": None, "log": ["item-10"]}
        )
    )
    expected = {cid: cp.get("t", cid).values for cid in ["c010", *branch, ids[-1]]}  # type: ignore[union-attr]
    assert cp.prune("t", 5) == 9
    for cp in store.views():
        assert [h.checkpoint_id for h in cp.history("t")] == ["c010", "b2", "b1", "b0", ids[-1]]
        for cid, values in expected.items():
            assert cp.get("t", cid).values == values  # type: ignore[union-attr]


def test_prune_leaves_other_threads_alone(store: StoreUnderTest) -> None:
    cp = store.cp
    put_chain(cp, "t", 10)
    other = put_chain(cp, "u", 10)
    before = {cid: cp.get("u", cid) for cid in other}
    cp.prune("t", 2)
    for cp in store.views():
        assert {cid: cp.get("u", cid) for cid in other} == before
        assert len(cp.history("u")) == 10


def test_prune_drops_pending_writes_of_removed_checkpoints(store: StoreUnderTest) -> None:
    cp = store.cp
    ids = put_chain(cp, "t", 4)
    cp.put_pending("t", ids[0], [PendingWrite("old", "writes", {"writes": [], "targets": []})])
    cp.put_pending("t", ids[3], [PendingWrite("new", "writes", {"writes": [], "targets": []})])
    cp.prune("t", 1)
    # the same id put again must not find the pruned checkpoint's pending writes
    cp.put(make_save("t", ids[0], ids[3], 4, {"n": 4, "log": []}))
    for cp in store.views():
        assert cp.get("t", ids[0]).pending == []  # type: ignore[union-attr]
        assert [p.task_id for p in cp.get("t", ids[3]).pending] == ["new"]  # type: ignore[union-attr]


def test_prune_keep_zero_removes_the_thread_and_negative_keep_is_rejected(
    store: StoreUnderTest,
) -> None:
    cp = store.cp
    put_chain(cp, "t", 5)
    with pytest.raises(ValueError, match="keep"):
        cp.prune("t", -1)
    assert len(cp.history("t")) == 5
    assert cp.prune("t", 0) == 5
    assert cp.get("t") is None
    assert "t" not in cp.threads()


def test_prune_of_an_unknown_thread_removes_nothing(store: StoreUnderTest) -> None:
    assert store.cp.prune("nobody", 3) == 0
    assert store.cp.threads() == []


def test_delete_thread_removes_checkpoints_blobs_and_pending_writes(
    store: StoreUnderTest,
) -> None:
    cp = store.cp
    ids = put_chain(cp, "t", 6)
    put_chain(cp, "u", 2)
    cp.put_pending("t", ids[-1], [PendingWrite("x", "writes", {"writes": [], "targets": []})])
    cp.delete_thread("t")
    for cp in store.views():
        assert cp.get("t") is None
        assert cp.history("t") == []
        assert cp.threads() == ["u"]
        assert cp.get("u") is not None
    # the thread starts afresh: nothing of the old one shows through
    cp.put(make_save("t", ids[-1], None, 0, {"n": -1}))
    got = cp.get("t")
    assert got is not None
    assert got.values == {"n": -1}
    assert got.pending == []


# -- values ------------------------------------------------------------------------------------

SUPPORTED_VALUES: dict[str, Any] = {
    "none": None,
    "bool": True,
    "int": -(2**53),
    "float": 0.1,
    "str": "naïve ☃ \u0000 text",
    "bytes": b"\x00\xffbinary\n",
    "decimal": Decimal("12345678901234567890.000000001"),
    "datetime_utc": dt.datetime(2024, 2, 29, 23, 59, 59, 999999, tzinfo=dt.UTC),
    "datetime_offset": dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    "datetime_naive": dt.datetime(2000, 1, 1, 0, 0),
    "date": dt.date(1999, 12, 31),
    "time": dt.time(13, 14, 15, 16),
    "set": {3, 1, 2},
    "set_of_str": {"b", "a"},
    "frozenset": frozenset({"x", "y"}),
    "empty_set": set(),
    "nested": {"a": [1, {"b": [b"c", Decimal("1.10"), {"d": {"e": [None, True]}}]}], "z": {}},
    "list": [1, "two", [3, [4, [5]]], {"six": 6}],
    "dataclass": Point(1, Decimal("2.50"), "p"),
    "nested_dataclass": Track(
        "run",
        [Point(0, Decimal("0")), Point(1, Decimal("-1.5"))],
        dt.datetime(2024, 5, 6, 7, 8, 9, tzinfo=dt.UTC),
        {"fast", "far"},
    ),
    "pydantic": Reading(
        sensor="s1",
        value=Decimal("20.25"),
        taken=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        raw=b"\x01\x02",
        history=[1, 2, 3],
    ),
    "dict_of_models": {
        "r": Reading(sensor="s2", value=Decimal("1"), taken=dt.datetime(2024, 1, 1))
    },
}


def test_values_of_every_supported_type_round_trip(store: StoreUnderTest) -> None:
    store.cp.put(make_save("t", "c0", None, 0, SUPPORTED_VALUES))
    for cp in store.views():
        got = cp.get("t", "c0")
        assert got is not None
        assert got.values == SUPPORTED_VALUES
        for key, value in SUPPORTED_VALUES.items():
            assert type(got.values[key]) is type(value), key
        assert got.values["nested"]["a"][1]["b"][0] == b"c"
        assert type(got.values["nested_dataclass"].points[1]) is Point
        assert got.values["datetime_offset"].utcoffset() == dt.timedelta(hours=-5)


ODD_KEY = "nul \x00, U+FFFF \uffff0 \uffff1, quote ' \" ; --, emoji \U0001f40b"


# channels (state keys) and checkpoint ids come from code and the engine, never from
# outside: no NUL (SQLite's JSON lookup of a checkpoint's blobs stops at one)
ODD_NAME = "odd ' \" \uffff0 \U0001f40b"


def test_odd_ids_and_channel_names_round_trip(store: StoreUnderTest, face: str) -> None:
    thread, first, second = f"t {ODD_KEY}", f"c0 {ODD_NAME}", f"c1 {ODD_NAME}"
    channel = f"channel {ODD_NAME}"
    store.cp.put(make_save(thread, first, None, 0, {channel: [ODD_KEY], "n": 0}))
    store.cp.put(
        make_save(
            thread,
            second,
            first,
            1,
            {channel: [ODD_KEY, "more"], "n": 1},
            {channel: ["more"], "n": None},
            pending=[PendingWrite(f"task {ODD_KEY}", "writes", ODD_KEY)],
        )
    )
    store.cp.put_events([EventRecord("custom", ODD_KEY, thread, 1, 0, 1.0, {"data": ODD_KEY})])
    for cp in store.views():
        got = cp.get(thread)
        assert got is not None
        assert (got.thread_id, got.checkpoint_id, got.parent_id) == (thread, second, first)
        assert got.values == {channel: [ODD_KEY, "more"], "n": 1}
        assert got.pending == [PendingWrite(f"task {ODD_KEY}", "writes", ODD_KEY)]
        assert [h.checkpoint_id for h in cp.history(thread, before=second)] == [first]
        assert thread in cp.threads()
        assert [e["data"] for e in cp.read_events(ODD_KEY)] == [ODD_KEY]
        assert cp.get(f"t {ODD_KEY[:5]}") is None  # a prefix names another thread


def test_tuples_come_back_as_lists(store: StoreUnderTest) -> None:
    store.cp.put(make_save("t", "c0", None, 0, {"t": (1, (2, 3))}))
    assert store.reopen().get("t").values == {"t": [1, [2, 3]]}  # type: ignore[union-attr]


def test_supported_values_round_trip_inside_append_deltas(store: StoreUnderTest) -> None:
    cp = store.cp
    items = list(SUPPORTED_VALUES.values())
    cp.put(make_save("t", "c0", None, 0, {"log": []}))
    parent = "c0"
    for i, item in enumerate(items, start=1):
        cid = f"c{i}"
        cp.put(make_save("t", cid, parent, i, {"log": items[:i]}, {"log": [item]}))
        parent = cid
    for cp in store.views():
        for i in range(len(items) + 1):
            assert cp.get("t", f"c{i}").values == {"log": items[:i]}  # type: ignore[union-attr]


class _NotSerialisable:
    pass


def _local_class_instance() -> Any:
    class Local:
        pass

    return Local()


@pytest.mark.parametrize(
    ("value", "type_name"),
    [
        (object(), "object"),
        (lambda: 1, "function"),
        (_local_class_instance(), "Local"),
        ({"deep": [1, {"deeper": _NotSerialisable()}]}, "_NotSerialisable"),
    ],
    ids=["object", "lambda", "local-class", "nested"],
)
def test_an_unserialisable_value_raises_naming_the_key_and_type_and_stores_nothing(
    store: StoreUnderTest, face: str, value: Any, type_name: str
) -> None:
    cp = store.cp
    cp.put(make_save("t", "c0", None, 0, {"ok": 1}))
    with pytest.raises(SerializationError) as info:
        cp.put(make_save("t", "c1", "c0", 1, {"ok": 2, "bad_key": value}))
    assert info.value.key == "bad_key"
    assert type_name in info.value.type_name
    assert "bad_key" in str(info.value)
    assert type_name in str(info.value)
    assert "Fix:" in str(info.value)
    for cp in store.views():
        assert cp.get("t", "c1") is None
        assert cp.get("t").checkpoint_id == "c0"  # type: ignore[union-attr]
        assert [h.checkpoint_id for h in cp.history("t")] == ["c0"]


def test_an_unserialisable_append_delta_raises_naming_the_key(store: StoreUnderTest) -> None:
    cp = store.cp
    cp.put(make_save("t", "c0", None, 0, {"log": ["a"]}))
    bad = object()
    with pytest.raises(SerializationError) as info:
        cp.put(make_save("t", "c1", "c0", 1, {"log": ["a", bad]}, {"log": [bad]}))
    assert info.value.key == "log"
    assert cp.get("t", "c1") is None


def test_an_unserialisable_pending_write_raises_and_stores_nothing(
    store: StoreUnderTest, face: str
) -> None:
    cp = store.cp
    cp.put(make_save("t", "c0", None, 0, {"n": 1}))
    with pytest.raises(SerializationError):
        cp.put_pending("t", "c0", [PendingWrite("x", "writes", {"writes": [["n", object()]]})])
    assert cp.get("t", "c0").pending == []  # type: ignore[union-attr]


# -- append channels and branches ------------------------------------------------------------


def _item(i: int) -> Any:
    kinds = [
        f"text-{i}",
        {"i": i, "when": dt.date(2024, 1, 1 + i % 28)},
        [i, [i + 1]],
        Decimal(i) / 7,
        b"x" * (i % 5),
        "y" * (i * 37 % 500),
    ]
    return kinds[i % len(kinds)]


def test_append_deltas_reassemble_to_the_full_list_at_every_checkpoint_of_a_long_chain(
    store: StoreUnderTest,
    face: str,
) -> None:
    cp = store.cp
    full: list[Any] = []
    expected: dict[str, list[Any]] = {}
    parent = None
    for i in range(300):
        delta = [_item(i + k) for k in range(i % 4)]  # 0 to 3 items, some steps none
        full = [*full, *delta]
        cid = f"c{i:04d}"
        changed: dict[str, list[Any] | None] = {"log": delta, "step": None}
        if parent is None:
            changed = {"log": None, "step": None}
        cp.put(make_save("t", cid, parent, i, {"log": list(full), "step": i}, changed))
        expected[cid] = list(full)
        parent = cid
        if i == 150:
            cp = store.reopen()  # a new instance carries the chain on
    for cp in store.views():
        for cid, values in expected.items():
            got = cp.get("t", cid)
            assert got is not None
            assert got.values["log"] == values, cid


def test_a_chain_of_many_tiny_deltas_reads_back_at_every_checkpoint(
    store: StoreUnderTest,
) -> None:
    # tiny items: the deltas never outweigh the snapshot, so only a bound on the length
    # of a chain makes the store take new snapshots
    cp = store.cp
    cp.put(make_save("t", "c0000", None, 0, {"log": ["seed" * 50]}))
    full: list[Any] = ["seed" * 50]
    expected = {"c0000": list(full)}
    for i in range(1, 900):
        item = i % 10
        full.append(item)
        cid = f"c{i:04d}"
        cp.put(make_save("t", cid, f"c{i - 1:04d}", i, {"log": list(full)}, {"log": [item]}))
        expected[cid] = list(full)
    for cp in store.views():
        for cid in [*list(expected)[::7], max(expected)]:
            assert cp.get("t", cid).values["log"] == expected[cid], cid  # type: ignore[union-attr]


def test_an_append_channel_replaced_mid_chain_restarts_from_the_new_value(
    store: StoreUnderTest,
) -> None:
    cp = store.cp
    cp.put(make_save("t", "c0", None, 0, {"log": ["a"]}))
    cp.put(make_save("t", "c1", "c0", 1, {"log": ["a", "b"]}, {"log": ["b"]}))
    cp.put(make_save("t", "c2", "c1", 2, {"log": ["fresh"]}, {"log": None}))
    cp.put(make_save("t", "c3", "c2", 3, {"log": ["fresh", "c"]}, {"log": ["c"]}))
    for cp in store.views():
        assert [cp.get("t", f"c{i}").values["log"] for i in range(4)] == [  # type: ignore[union-attr]
            ["a"],
            ["a", "b"],
            ["fresh"],
            ["fresh", "c"],
        ]


def test_a_checkpoint_whose_parent_is_older_than_the_head_starts_a_correct_branch(
    store: StoreUnderTest,
) -> None:
    cp = store.cp
    main = put_chain(cp, "t", 8)
    main_values = {cid: cp.get("t", cid).values for cid in main}  # type: ignore[union-attr]

    # branch from c003: its log is c003's plus the branch's own items
    base = [f"item-{i}" for i in range(4)]
    cp.put(
        make_save(
            "t", "b0", main[3], 4, {"n": 40, "log": [*base, "b0"]}, {"n": None, "log": ["b0"]}
        )
    )
    cp.put(
        make_save(
            "t", "b1", "b0", 5, {"n": 41, "log": [*base, "b0", "b1"]}, {"n": None, "log": ["b1"]}
        )
    )
    # continue the main line from its old head, then the branch again
    cp.put(
        make_save(
            "t",
            "c008",
            main[-1],
            8,
            {"n": 8, "log": [f"item-{i}" for i in range(9)]},
            {"n": None, "log": ["item-8"]},
        )
    )
    cp = store.reopen()
    cp.put(
        make_save(
            "t",
            "b2",
            "b1",
            6,
            {"n": 42, "log": [*base, "b0", "b1", "b2"]},
            {"n": None, "log": ["b2"]},
        )
    )
    # and a second branch from the same old checkpoint
    cp.put(
        make_save(
            "t", "d0", main[3], 4, {"n": 90, "log": [*base, "d0"]}, {"n": None, "log": ["d0"]}
        )
    )

    for cp in store.views():
        for cid, values in main_values.items():
            assert cp.get("t", cid).values == values  # type: ignore[union-attr]
        assert cp.get("t", "c008").values["log"] == [f"item-{i}" for i in range(9)]  # type: ignore[union-attr]
        assert cp.get("t", "b0").values == {"n": 40, "log": [*base, "b0"]}  # type: ignore[union-attr]
        assert cp.get("t", "b1").values == {"n": 41, "log": [*base, "b0", "b1"]}  # type: ignore[union-attr]
        assert cp.get("t", "b2").values == {"n": 42, "log": [*base, "b0", "b1", "b2"]}  # type: ignore[union-attr]
        assert cp.get("t", "d0").values == {"n": 90, "log": [*base, "d0"]}  # type: ignore[union-attr]
        assert cp.get("t", "b0").parent_id == main[3]  # type: ignore[union-attr]


def test_two_instances_on_one_file_see_each_others_checkpoints(store: StoreUnderTest) -> None:
    # a memory store is one instance by nature; the same object sees everything
    other = store.another()
    try:
        ids = put_chain(store.cp, "t", 5)
        put_chain(other, "u", 3)
        full = [*[f"item-{i}" for i in range(5)], "tail"]
        other.put(
            make_save("t", "x5", ids[-1], 5, {"n": 5, "log": full}, {"n": None, "log": ["tail"]})
        )
        got = store.cp.get("t")
        assert got is not None
        assert got.checkpoint_id == "x5"
        assert got.values == {"n": 5, "log": full}
        assert sorted(store.cp.threads()) == ["t", "u"]
    finally:
        if other is not store.cp:
            other.close()


def test_rollback_drops_the_newer_checkpoints_and_the_chain_continues_from_the_kept_one(
    store: StoreUnderTest,
) -> None:
    cp = store.cp
    ids = put_chain(cp, "t", 12)
    expected = cp.get("t", ids[4])
    assert expected is not None
    assert cp.rollback("t", ids[4]) == 7
    for view in store.views():
        assert [h.checkpoint_id for h in view.history("t")] == list(reversed(ids[:5]))
        latest = view.get("t")
        assert latest is not None
        assert latest.checkpoint_id == ids[4]
        assert latest.values == expected.values
        assert view.get("t", ids[5]) is None
    # the thread goes on from where it was put back, its append channel intact
    cp = store.reopen()
    log = [f"item-{i}" for i in range(5)] + ["again"]
    cp.put(make_save("t", "again", ids[4], 5, {"n": 5, "log": log}, {"n": None, "log": ["again"]}))
    again = cp.get("t")
    assert again is not None
    assert again.values["log"] == log


def test_rollback_of_every_checkpoint_leaves_no_state_and_bad_targets_are_refused(
    store: StoreUnderTest,
) -> None:
    cp = store.cp
    put_chain(cp, "t", 3)
    with pytest.raises(CheckpointNotFoundError):
        cp.rollback("t", "no-such-checkpoint")
    assert len(cp.history("t")) == 3  # nothing removed by the refusal
    assert cp.rollback("t", None) == 3
    for view in store.views():
        assert view.get("t") is None
        assert view.history("t") == []
