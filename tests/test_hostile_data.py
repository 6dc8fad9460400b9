"""Hostile data never becomes code, and what the event log cannot hold never fails a run.

State, tool results and events hold JSON that LLMs, tools and the web wrote. Whatever
keys it has (``"__orca__"`` included) it comes back exactly as it went in; reading a
checkpoint imports nothing, and restores only the classes a graph's schema declares.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import sys
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from orca import END, START, Send, SqliteCheckpointer, StateGraph, reducers
from orca._redact import redact
from orca.errors import CorruptDatabaseError, NodeError, SerializationError
from orca.tools import tool

# the three payloads, and the same ideas nested and combined
PAYLOADS: list[Any] = [
    {"__orca__": "bytes", "v": "aGVsbG8="},
    {"__orca__": "nope"},
    {"__orca__": "dataclass", "cls": "this:nothing"},
    {"__orca__": "dataclass", "cls": "this:nothing", "v": {"x": 1}},
    {"outer": [{"__orca__": "set", "v": [1, 2]}, {"__orca__": {"__orca__": "map"}}]},
    [{"__orca__": "decimal", "v": "1.5"}, b"real bytes", {"k": {"__orca__": None}}],
    {"__orca__": "map", "v": [["__orca__", "bytes"]]},
]


class Holder(TypedDict, total=False):
    data: Any
    out: Any


def _one_node(fn: Any, name: str = "hostile") -> StateGraph:
    g = StateGraph(Holder, name=name)
    g.add_node("n", fn)
    g.add_edge(START, "n")
    g.add_edge("n", END)
    return g


def _sentinel_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    """A module that leaves a file behind if anything imports it."""
    name = f"orca_sentinel_{abs(hash(tmp_path)) % 10**8}"
    marker = tmp_path / "imported"
    (tmp_path / f"{name}.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('imported')\n"
        "class Thing:\n    def __init__(self, **kw):\n        pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return name, marker


@pytest.mark.parametrize("payload", PAYLOADS)
def test_user_data_holding_the_tag_key_round_trips_exactly(tmp_path: Path, payload: Any) -> None:
    path = tmp_path / "t.db"
    with SqliteCheckpointer(path) as store:
        app = _one_node(lambda s: {"out": s["data"]}).compile(checkpointer=store)
        result = app.invoke({"data": payload}, thread_id="t")
        assert result == {"data": payload, "out": payload}
    with SqliteCheckpointer(path) as store:  # read back from the file, by a fresh store
        app = _one_node(lambda s: {}).compile(checkpointer=store)
        values = app.get_state("t").values
        assert values == {"data": payload, "out": payload}
        assert type(values["data"]) is type(payload)
        # and every later read of the thread still works
        assert app.invoke({"data": 1}, thread_id="t")["out"] == payload


def test_reading_never_imports_a_module_named_in_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module, marker = _sentinel_module(tmp_path, monkeypatch)
    hostile = {"__orca__": "dataclass", "cls": f"{module}:Thing", "v": {}}
    path = tmp_path / "t.db"
    with SqliteCheckpointer(path) as store:
        app = _one_node(lambda s: {"out": s["data"]}).compile(checkpointer=store)
        app.invoke({"data": hostile}, thread_id="t")
        assert app.get_state("t").values["out"] == hostile
    # a tag written straight into the file (by an older Orca, or by someone who can
    # write the file) is not code either: its class is not one the schema declares
    conn = sqlite3.connect(path)
    conn.execute(
        "UPDATE checkpoint_blobs SET data = ? WHERE channel = 'out'",
        (f'{{"__orca__":"dataclass","cls":"{module}:Thing","v":{{"a":1}}}}'.encode(),),
    )
    conn.commit()
    conn.close()
    with SqliteCheckpointer(path) as store:
        app = _one_node(lambda s: {}).compile(checkpointer=store)
        assert app.get_state("t").values["out"] == {"a": 1}
    assert module not in sys.modules
    assert not marker.exists()


@dataclasses.dataclass
class Declared:
    n: int
    label: str


@dataclasses.dataclass
class Undeclared:
    n: int


class Typed(TypedDict, total=False):
    point: Declared
    anything: list[Any]


def test_declared_classes_come_back_as_themselves_others_as_their_fields(
    tmp_path: Path,
) -> None:
    g = StateGraph(Typed, name="typed")
    g.add_node("n", lambda s: {"point": Declared(1, "a"), "anything": [Undeclared(2)]})
    g.add_edge(START, "n")
    g.add_edge("n", END)
    path = tmp_path / "t.db"
    with SqliteCheckpointer(path) as store:
        g.compile(checkpointer=store).invoke({}, thread_id="t")
    with SqliteCheckpointer(path) as store:
        values = g.compile(checkpointer=store).get_state("t").values
    assert values["point"] == Declared(1, "a")
    assert values["anything"] == [{"n": 2}]  # not declared by the schema: plain data


@pytest.mark.parametrize(
    "stored",
    [
        b'{"__orca__":"bytes","v":"!!not base64"}',
        b'{"__orca__":"decimal","v":"twelve"}',
        b'{"__orca__":"datetime","v":5}',
        b'{"__orca__":"set"}',
        b'{"__orca__":"map","v":[[1,2]]}',
        b"\x00\xffnot json",
    ],
)
def test_a_damaged_value_is_a_corrupt_database_error(tmp_path: Path, stored: bytes) -> None:
    path = tmp_path / "t.db"
    with SqliteCheckpointer(path) as store:
        _one_node(lambda s: {"out": 1}).compile(checkpointer=store).invoke({}, thread_id="t")
    conn = sqlite3.connect(path)
    conn.execute("UPDATE checkpoint_blobs SET data = ? WHERE channel = 'out'", (stored,))
    conn.commit()
    conn.close()
    with SqliteCheckpointer(path) as store:
        with pytest.raises(CorruptDatabaseError, match=r"state value of checkpoint .* damaged"):
            store.get("t")
        # the rest of the file still reads: the thread's history, its other values
        assert len(store.history("t")) == 2


def test_an_unknown_tag_stored_by_an_older_orca_reads_back_as_data(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    with SqliteCheckpointer(path) as store:
        _one_node(lambda s: {"out": 1}).compile(checkpointer=store).invoke({}, thread_id="t")
    conn = sqlite3.connect(path)
    conn.execute(
        "UPDATE checkpoint_blobs SET data = ? WHERE channel = 'out'", (b'{"__orca__":"nope"}',)
    )
    conn.commit()
    conn.close()
    with SqliteCheckpointer(path) as store:
        assert store.get("t").values["out"] == {"__orca__": "nope"}  # type: ignore[union-attr]


# -- what the event log cannot encode -------------------------------------------------------


@tool
def int_keys() -> Any:
    """A result JSON cannot hold: an int key and an int beyond 64 bits."""
    return {1: "one", "big": 2**70}


def _deep(depth: int, leaf: Any = "end") -> list[Any]:
    root: list[Any] = []
    node = root
    for _ in range(depth - 1):
        child: list[Any] = []
        node.append(child)
        node = child
    node.append(leaf)
    return root


@tool
def deep_result() -> Any:
    """A result nested 10,000 levels, a secret at the bottom."""
    return {"v": _deep(10_000, "api_key=sk-abcdefghijklmnopqrstuvwxyz")}


async def _writes_what_json_cannot_hold(state: Holder, ctx: Any) -> dict[str, Any]:
    ctx.write({1: "one"})
    ctx.write(2**70)
    keys = await ctx.tools.acall("int_keys")
    deep = await ctx.tools.acall("deep_result")
    return {"out": [keys["big"] == 2**70, len(deep["v"])]}


@pytest.mark.parametrize("checkpointed", [False, True])
def test_values_the_log_cannot_encode_behave_the_same_with_or_without_a_checkpointer(
    tmp_path: Path, checkpointed: bool
) -> None:
    store = SqliteCheckpointer(tmp_path / "t.db") if checkpointed else None
    try:
        app = _one_node(_writes_what_json_cannot_hold).compile(checkpointer=store)
        result = app.invoke({}, thread_id="t", tools=[int_keys, deep_result])
        assert result["out"] == [True, 1]
        if store is None:
            return
        run_id = store.list_runs(thread_id="t")[0].run_id
        custom = [e["data"] for e in store.read_events(run_id, types=["custom"])]
        # documented: a value JSON cannot hold is logged as its repr
        assert custom == ["{1: 'one'}", "1180591620717411303424"]
        calls = store.read_events(run_id, types=["tool.call"])
        assert calls[0]["value"] == "{1: 'one', 'big': 1180591620717411303424}"
        # nested past the log's depth: a marker, never a crash
        text = repr(calls[1]["value"])
        assert "nested deeper than" in text
        assert "sk-abcdefghijklmnopqrstuvwxyz" not in text
    finally:
        if store is not None:
            store.close()


def test_a_ten_thousand_deep_input_is_a_serialization_error(tmp_path: Path) -> None:
    with SqliteCheckpointer(tmp_path / "t.db") as store:
        app = _one_node(lambda s: {"out": 1}).compile(checkpointer=store)
        with pytest.raises(SerializationError, match="state key 'data'") as caught:
            app.invoke({"data": _deep(10_000)}, thread_id="t")
        assert type(caught.value) is SerializationError


def test_redaction_walks_any_depth() -> None:
    deep = _deep(10_000, {"token": "s3cret-value", "note": "mail bob@example.com"})
    out = redact(deep)
    for _ in range(9_999):
        out = out[0]
    assert out == [{"token": "[REDACTED:secret]", "note": "mail [REDACTED:email]"}]


# -- a large input is stored once -------------------------------------------------------------


def test_a_large_input_is_stored_once_and_still_replays(tmp_path: Path) -> None:
    from orca.replay import replay

    size = 4 * 1024 * 1024
    doc = "x" * size
    path = tmp_path / "t.db"

    def build() -> StateGraph:
        return _one_node(lambda s: {"out": len(s["data"])}, name="big")

    with SqliteCheckpointer(path) as store:
        assert build().compile(checkpointer=store).invoke({"data": doc}, thread_id="t") == {
            "data": doc,
            "out": size,
        }
        run_id = store.list_runs(thread_id="t")[0].run_id
        (started,) = store.read_events(run_id, types=["run.started"])
        assert started["input"] == {}
        assert started["input_in_state"] == ["data"]
        report = replay(build().compile(), run_id, store=store)
        assert report.identical, report.divergence
    assert path.stat().st_size < size * 1.5  # once, not twice


def test_a_small_input_stays_in_the_log(tmp_path: Path) -> None:
    with SqliteCheckpointer(tmp_path / "t.db") as store:
        app = _one_node(lambda s: {"out": 1}).compile(checkpointer=store)
        app.invoke({"data": {"q": "short"}}, thread_id="t")
        run_id = store.list_runs(thread_id="t")[0].run_id
        (started,) = store.read_events(run_id, types=["run.started"])
        assert started["input"] == {"data": {"q": "short"}}
        assert "input_in_state" not in started


@dataclasses.dataclass
class Job:
    name: str


class Jobs(TypedDict, total=False):
    done: Annotated[list[str], reducers.append]


def test_a_send_argument_of_the_type_its_node_takes_is_restored_on_resume(
    tmp_path: Path,
) -> None:
    def work(job: Job, ctx: Any) -> dict[str, Any]:
        assert isinstance(job, Job)
        if job.name == "b" and not (tmp_path / "go").exists():
            raise RuntimeError("not yet")
        return {"done": [job.name]}

    g = StateGraph(Jobs, name="jobs")
    g.add_node("work", work)
    g.add_conditional_edges(START, lambda s: [Send("work", Job("a")), Send("work", Job("b"))])
    g.add_edge("work", END)
    path = tmp_path / "t.db"
    with SqliteCheckpointer(path) as store, pytest.raises(NodeError):
        g.compile(checkpointer=store).invoke({}, thread_id="t")
    (tmp_path / "go").write_text("")
    with SqliteCheckpointer(path) as store:  # the Send is read back from the file
        out = g.compile(checkpointer=store).invoke(None, thread_id="t")
    assert sorted(out["done"]) == ["a", "b"]
