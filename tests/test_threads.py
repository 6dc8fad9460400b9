"""Threads through ``CompiledGraph``: state, history, updates, forks, time travel, pruning.

Every test runs against both stores (memory and SQLite in ``tmp_path``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from orca import (
    END,
    START,
    Checkpointer,
    CompiledGraph,
    MemoryCheckpointer,
    RunContext,
    SqliteCheckpointer,
    StateGraph,
    reducers,
)
from orca.errors import (
    CheckpointNotFoundError,
    InvalidInputError,
    NodeError,
    UnknownStateKeyError,
)


class State(TypedDict):
    log: Annotated[list[str], reducers.append]
    n: int
    go: bool


class Harness:
    """A graph ``a -> b -> c -> check -> (finish if go) -> END`` and the calls it saw."""

    def __init__(self, store: Checkpointer, **compile_options: Any) -> None:
        self.store = store
        self.calls: Counter[str] = Counter()
        self.failing: set[str] = set()
        self.seen_n: dict[str, list[int]] = {}
        g = StateGraph(State, name="threads")
        for name in ("a", "b", "c", "finish"):
            g.add_node(name, self._node(name))
        g.add_node("check", self._node("check"))
        g.add_edge(START, "a")
        g.add_edge("a", "b")
        g.add_edge("b", "c")
        g.add_edge("c", "check")
        g.add_conditional_edges("check", lambda s: "finish" if s["go"] else END, ["finish", END])
        g.add_edge("finish", END)
        self.app: CompiledGraph = g.compile(checkpointer=store, **compile_options)

    def _node(self, name: str) -> Any:
        def node(state: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
            self.calls[name] += 1
            self.seen_n.setdefault(name, []).append(state["n"])
            if name in self.failing:
                raise RuntimeError(f"{name} failed")
            return {"log": [f"{name}@{ctx.step}"], "n": state["n"] + 1}

        return node


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Checkpointer]:
    s: Checkpointer = (
        MemoryCheckpointer() if request.param == "memory" else SqliteCheckpointer(tmp_path / "t.db")
    )
    yield s
    s.close()


@pytest.fixture
def h(store: Checkpointer) -> Harness:
    return Harness(store)


DONE = {"log": ["a@1", "b@2", "c@3", "check@4"], "n": 4, "go": False}


def all_states(h: Harness, thread: str) -> dict[str, Any]:
    return {
        i.checkpoint_id: h.app.get_state(thread, i.checkpoint_id) for i in h.app.get_history(thread)
    }


# -- reading state -----------------------------------------------------------------------------


def test_get_state_reports_values_next_step_and_parent(h: Harness) -> None:
    h.failing.add("c")
    with pytest.raises(NodeError):
        h.app.invoke({"n": 0, "go": False}, thread_id="t")
    history = h.app.get_history("t")
    st = h.app.get_state("t")
    assert st.values == {"log": ["a@1", "b@2"], "n": 2, "go": False}
    assert st.next == ("c",)
    assert st.step == 2
    assert st.thread_id == "t"
    assert st.checkpoint_id == history[0].checkpoint_id
    assert st.parent_id == history[1].checkpoint_id
    assert st.metadata["source"] == "loop"
    assert st.metadata["nodes"] == ["b"]
    assert st.interrupts == ()
    assert st.created_at

    first = h.app.get_state("t", history[-1].checkpoint_id)
    assert first.values == {"log": [], "n": 0, "go": False}
    assert first.next == ("a",)
    assert first.step == 0
    assert first.parent_id is None
    assert first.metadata["source"] == "input"


def test_get_state_of_a_finished_thread_has_nothing_next(h: Harness) -> None:
    out = h.app.invoke({"n": 0, "go": False}, thread_id="t")
    assert out == DONE
    st = h.app.get_state("t")
    assert st.values == DONE
    assert st.next == ()
    assert st.step == 4


def test_get_history_lists_newest_first_and_pages_with_before(h: Harness) -> None:
    h.app.invoke({"n": 0, "go": True}, thread_id="t")
    full = h.app.get_history("t")
    assert [i.step for i in full] == [5, 4, 3, 2, 1, 0]
    assert [i.parent_id for i in full[:-1]] == [i.checkpoint_id for i in full[1:]]
    pages: list[list[str]] = []
    before = None
    while batch := h.app.get_history("t", limit=4, before=before):
        pages.append([i.checkpoint_id for i in batch])
        before = batch[-1].checkpoint_id
    assert [len(p) for p in pages] == [4, 2]
    assert [c for p in pages for c in p] == [i.checkpoint_id for i in full]
    assert h.app.get_history("t", limit=1)[0].checkpoint_id == h.app.get_state("t").checkpoint_id


def test_history_of_an_unknown_thread_is_empty(h: Harness) -> None:
    assert h.app.get_history("nobody") == []


# -- update_state --------------------------------------------------------------------------------


def test_update_state_without_as_node_keeps_next_and_the_resume_sees_the_update(
    h: Harness,
) -> None:
    h.failing.add("c")
    with pytest.raises(NodeError):
        h.app.invoke({"n": 0, "go": False}, thread_id="t")
    before = h.app.get_state("t")
    new_id = h.app.update_state("t", {"n": 100, "log": ["human"]})
    st = h.app.get_state("t")
    assert st.checkpoint_id == new_id
    assert st.parent_id == before.checkpoint_id
    assert st.step == before.step + 1
    assert st.next == ("c",)
    # the append reducer adds to the log; the overwrite key is replaced
    assert st.values == {"log": ["a@1", "b@2", "human"], "n": 100, "go": False}
    assert st.metadata["source"] == "update"
    assert h.app.get_state("t", before.checkpoint_id).values == before.values

    h.failing.clear()
    out = h.app.invoke(None, thread_id="t")
    assert h.seen_n["c"][-1] == 100
    assert out == {"log": ["a@1", "b@2", "human", "c@4", "check@5"], "n": 102, "go": False}
    assert h.calls == Counter({"a": 1, "b": 1, "c": 2, "check": 1})


def test_update_state_as_node_routes_from_that_node(h: Harness) -> None:
    h.app.invoke({"n": 0, "go": False}, thread_id="t")
    assert h.app.get_state("t").next == ()
    h.app.update_state("t", {"go": True}, as_node="check")
    st = h.app.get_state("t")
    assert st.next == ("finish",)
    assert st.metadata["as_node"] == "check"
    out = h.app.invoke(None, thread_id="t")
    assert out == {"log": [*DONE["log"], "finish@6"], "n": 5, "go": True}
    assert h.calls["finish"] == 1
    assert h.calls["check"] == 1


def test_update_state_from_an_older_checkpoint_branches_from_it(h: Harness) -> None:
    h.app.invoke({"n": 0, "go": False}, thread_id="t")
    old = h.app.get_history("t")[-2]  # after a
    states = all_states(h, "t")
    new_id = h.app.update_state("t", {"n": 50}, checkpoint_id=old.checkpoint_id)
    st = h.app.get_state("t")
    assert st.checkpoint_id == new_id
    assert st.parent_id == old.checkpoint_id
    assert st.values == {"log": ["a@1"], "n": 50, "go": False}
    assert st.next == ("b",)
    assert {cid: h.app.get_state("t", cid) for cid in states} == states


def test_update_state_rejects_unknown_keys_and_nodes(h: Harness) -> None:
    h.app.invoke({"n": 0, "go": False}, thread_id="t")
    head = h.app.get_state("t")
    with pytest.raises(UnknownStateKeyError):
        h.app.update_state("t", {"nn": 1})
    with pytest.raises(InvalidInputError, match="as_node"):
        h.app.update_state("t", {"n": 1}, as_node="chek")
    assert h.app.get_state("t") == head


def test_update_state_while_paused_before_a_node_then_resume_runs_that_node(
    store: Checkpointer,
) -> None:
    h = Harness(store, interrupt_before=["c"])
    out = h.app.invoke({"n": 0, "go": False}, thread_id="t")
    assert "__interrupt__" in out
    assert h.app.get_state("t").next == ("c",)
    h.app.update_state("t", {"n": 40})
    # the human edited the state at the breakpoint; continuing runs the node it paused before
    out = h.app.invoke(None, thread_id="t")
    assert "__interrupt__" not in out
    assert h.calls["c"] == 1
    assert h.seen_n["c"] == [40]
    assert out == {"log": ["a@1", "b@2", "c@4", "check@5"], "n": 42, "go": False}


# -- forks and time travel -------------------------------------------------------------------------


def test_fork_into_a_new_thread_then_continue_both_branches(h: Harness) -> None:
    h.app.invoke({"n": 0, "go": False}, thread_id="t")
    original = all_states(h, "t")
    after_b = h.app.get_history("t")[2]
    assert after_b.step == 2

    new_id = h.app.fork("t", after_b.checkpoint_id, to_thread="t2", update={"go": True})
    fork = h.app.get_state("t2")
    assert fork.checkpoint_id == new_id
    assert fork.thread_id == "t2"
    assert fork.parent_id is None
    assert fork.values == {"log": ["a@1", "b@2"], "n": 2, "go": True}
    assert fork.next == ("c",)
    assert fork.metadata["source"] == "fork"
    assert fork.metadata["from"] == {"thread_id": "t", "checkpoint_id": after_b.checkpoint_id}

    out2 = h.app.invoke(None, thread_id="t2")
    assert out2 == {"log": ["a@1", "b@2", "c@4", "check@5", "finish@6"], "n": 5, "go": True}
    assert [i.step for i in h.app.get_history("t2")] == [6, 5, 4, 3]

    # the original thread is untouched and still continues on its own
    assert all_states(h, "t") == original
    h.app.update_state("t", {"go": True}, as_node="check")
    out1 = h.app.invoke(None, thread_id="t")
    assert out1["log"] == [*DONE["log"], "finish@6"]
    assert h.app.get_state("t2").values == out2


def test_fork_in_the_same_thread_becomes_the_head_and_continues(h: Harness) -> None:
    h.app.invoke({"n": 0, "go": False}, thread_id="t")
    original = all_states(h, "t")
    after_a = h.app.get_history("t")[-2]
    new_id = h.app.fork("t", after_a.checkpoint_id, update={"n": 10})
    st = h.app.get_state("t")
    assert st.checkpoint_id == new_id
    assert st.parent_id == after_a.checkpoint_id
    assert st.values == {"log": ["a@1"], "n": 10, "go": False}
    out = h.app.invoke(None, thread_id="t")
    assert out == {"log": ["a@1", "b@3", "c@4", "check@5"], "n": 13, "go": False}
    assert {cid: h.app.get_state("t", cid) for cid in original} == original
    assert len(h.app.get_history("t")) == len(original) + 4


def test_time_travel_from_an_old_checkpoint_makes_a_new_branch_without_clobbering(
    h: Harness,
) -> None:
    h.app.invoke({"n": 0, "go": False}, thread_id="t")
    original = all_states(h, "t")
    after_b = h.app.get_history("t")[2]
    h.calls.clear()

    out = h.app.invoke(None, thread_id="t", checkpoint_id=after_b.checkpoint_id)
    assert out == DONE
    assert h.calls == Counter({"c": 1, "check": 1})  # a and b are not run again
    history = h.app.get_history("t")
    assert len(history) == len(original) + 2
    new = [i for i in history if i.checkpoint_id not in original]
    assert [i.step for i in new] == [4, 3]
    assert new[-1].parent_id == after_b.checkpoint_id
    assert h.app.get_state("t").checkpoint_id == new[0].checkpoint_id
    assert {cid: h.app.get_state("t", cid) for cid in original} == original


def test_time_travel_twice_from_one_checkpoint_makes_two_distinct_branches(h: Harness) -> None:
    h.app.invoke({"n": 0, "go": False}, thread_id="t")
    after_a = h.app.get_history("t")[-2]
    h.app.invoke(None, thread_id="t", checkpoint_id=after_a.checkpoint_id)
    first_branch = h.app.get_state("t")
    h.app.invoke(None, thread_id="t", checkpoint_id=after_a.checkpoint_id)
    second_branch = h.app.get_state("t")
    assert first_branch.checkpoint_id != second_branch.checkpoint_id
    assert first_branch.values == second_branch.values == DONE
    ids = [i.checkpoint_id for i in h.app.get_history("t")]
    assert len(ids) == len(set(ids)) == 5 + 3 + 3
    assert h.app.get_state("t", first_branch.checkpoint_id) == first_branch


def test_new_input_from_an_old_checkpoint_starts_a_branch_there(h: Harness) -> None:
    h.app.invoke({"n": 0, "go": False}, thread_id="t")
    original = all_states(h, "t")
    after_a = h.app.get_history("t")[-2]
    out = h.app.invoke({"go": True}, thread_id="t", checkpoint_id=after_a.checkpoint_id)
    assert out["go"] is True
    assert out["log"][-1].startswith("finish@")
    assert {cid: h.app.get_state("t", cid) for cid in original} == original


# -- prune and delete ----------------------------------------------------------------------------


def test_prune_through_the_graph_keeps_the_newest_checkpoints(h: Harness) -> None:
    h.app.invoke({"n": 0, "go": False}, thread_id="t")
    history = h.app.get_history("t")
    assert h.app.prune("t", 2) == len(history) - 2
    kept = h.app.get_history("t")
    assert [i.checkpoint_id for i in kept] == [i.checkpoint_id for i in history[:2]]
    assert h.app.get_state("t").values == DONE
    assert h.app.get_state("t", history[1].checkpoint_id).values["log"] == DONE["log"][:3]
    with pytest.raises(CheckpointNotFoundError):
        h.app.get_state("t", history[-1].checkpoint_id)
    # the pruned thread still continues
    h.app.update_state("t", {"go": True}, as_node="check")
    assert h.app.invoke(None, thread_id="t")["log"][-1] == "finish@6"


def test_delete_thread_through_the_graph_forgets_it(h: Harness) -> None:
    h.app.invoke({"n": 0, "go": False}, thread_id="t")
    h.app.invoke({"n": 0, "go": False}, thread_id="keep")
    h.app.delete_thread("t")
    with pytest.raises(CheckpointNotFoundError):
        h.app.get_state("t")
    assert h.app.get_history("t") == []
    assert h.app.get_state("keep").values == DONE
    # the id can be used again from scratch
    assert h.app.invoke({"n": 7, "go": False}, thread_id="t")["n"] == 11


# -- errors ----------------------------------------------------------------------------------------


def test_unknown_threads_and_checkpoints_raise_checkpoint_not_found(h: Harness) -> None:
    h.app.invoke({"n": 0, "go": False}, thread_id="t")
    with pytest.raises(CheckpointNotFoundError) as info:
        h.app.get_state("nobody")
    assert info.value.thread_id == "nobody"
    assert info.value.checkpoint_id is None
    assert isinstance(info.value, LookupError)
    with pytest.raises(CheckpointNotFoundError) as info:
        h.app.get_state("t", "00000001-0000000000000000")
    assert info.value.checkpoint_id == "00000001-0000000000000000"
    with pytest.raises(CheckpointNotFoundError):
        h.app.update_state("t", {"n": 1}, checkpoint_id="no-such-checkpoint")
    # (update_state on a thread with no checkpoint makes its first: test_semantics_lg.py)
    with pytest.raises(CheckpointNotFoundError):
        h.app.fork("t", "no-such-checkpoint", to_thread="t3")
    with pytest.raises(CheckpointNotFoundError):
        h.app.invoke(None, thread_id="t", checkpoint_id="no-such-checkpoint")
    assert h.app.get_history("t3") == []
    assert len(h.app.get_history("t")) == 5


def test_resuming_a_thread_with_no_checkpoint_says_to_pass_an_input(h: Harness) -> None:
    with pytest.raises(InvalidInputError, match="nothing to resume"):
        h.app.invoke(None, thread_id="never-started")


def test_thread_methods_need_a_checkpointer() -> None:
    g = StateGraph(State)
    g.add_node("a", lambda s: None)
    g.add_edge(START, "a")
    app = g.compile()
    for call in (
        lambda: app.get_state("t"),
        lambda: app.get_history("t"),
        lambda: app.update_state("t", {"n": 1}),
        lambda: app.fork("t", "x"),
        lambda: app.prune("t", 1),
        lambda: app.delete_thread("t"),
    ):
        with pytest.raises(InvalidInputError, match="checkpointer"):
            call()
