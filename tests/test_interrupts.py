"""Interrupts: pausing a run for a human, and resuming it on its thread.

``ctx.interrupt(value)`` pauses inside a node; ``interrupt_before``/``interrupt_after``
pause around nodes. ``invoke(Command(resume=v), thread_id=...)`` answers a
``ctx.interrupt``; ``invoke(None, thread_id=...)`` continues a before/after pause.
"""

from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from orca import (
    END,
    START,
    Command,
    Interrupt,
    RetryPolicy,
    RunContext,
    SqliteCheckpointer,
    StateGraph,
    reducers,
)
from orca.errors import (
    GraphError,
    InvalidInputError,
    InvalidResumeError,
    InvalidUpdateError,
    StateError,
)


class State(TypedDict):
    log: Annotated[list[Any], reducers.append]
    answer: Any


def store(tmp_path: Path) -> SqliteCheckpointer:
    return SqliteCheckpointer(tmp_path / "threads.db")


def ask_graph(tmp_path: Path, calls: list[str] | None = None) -> Any:
    """START -> ask (interrupts with a question) -> done."""

    def ask(state: State, ctx: RunContext) -> dict[str, Any]:
        if calls is not None:
            calls.append("ask")
        answer = ctx.interrupt({"question": "ship it?"})
        return {"answer": answer, "log": ["asked"]}

    g = StateGraph(State)
    g.add_node("ask", ask)
    g.add_node("done", lambda s: {"log": [f"done with {s['answer']}"]})
    g.add_edge(START, "ask")
    g.add_edge("ask", "done")
    return g.compile(store(tmp_path))


# -- ctx.interrupt -------------------------------------------------------------------------------


def test_interrupt_pauses_the_run_and_reports_the_value(tmp_path: Path) -> None:
    app = ask_graph(tmp_path)

    result = app.invoke({"log": ["start"]}, thread_id="t")

    assert result["log"] == ["start"]
    [pause] = result["__interrupt__"]
    assert isinstance(pause, Interrupt)
    assert pause.value == {"question": "ship it?"}
    assert pause.node == "ask"
    assert pause.when == "during"
    assert pause.id
    assert pause.task_id


def test_get_state_shows_the_pending_interrupt_and_the_paused_node(tmp_path: Path) -> None:
    app = ask_graph(tmp_path)
    result = app.invoke({}, thread_id="t")

    snapshot = app.get_state("t")

    assert snapshot.interrupts == tuple(result["__interrupt__"])
    assert snapshot.next == ("ask",)
    assert "__interrupt__" not in snapshot.values


def test_resume_value_is_returned_by_ctx_interrupt(tmp_path: Path) -> None:
    app = ask_graph(tmp_path)
    app.invoke({}, thread_id="t")

    result = app.invoke(Command(resume="yes"), thread_id="t")

    assert "__interrupt__" not in result
    assert result["answer"] == "yes"
    assert result["log"] == ["asked", "done with yes"]
    snapshot = app.get_state("t")
    assert snapshot.interrupts == ()
    assert snapshot.next == ()


def test_resumed_node_runs_again_from_its_start(tmp_path: Path) -> None:
    calls: list[str] = []
    app = ask_graph(tmp_path, calls)
    app.invoke({}, thread_id="t")
    app.invoke(Command(resume="yes"), thread_id="t")
    assert calls == ["ask", "ask"]


def test_interrupt_survives_reopening_the_database(tmp_path: Path) -> None:
    ask_graph(tmp_path).invoke({}, thread_id="t")

    reopened = ask_graph(tmp_path)
    assert reopened.get_state("t").interrupts[0].value == {"question": "ship it?"}
    assert reopened.invoke(Command(resume=42), thread_id="t")["answer"] == 42


def test_interrupt_is_not_swallowed_by_except_exception(tmp_path: Path) -> None:
    def careless(state: State, ctx: RunContext) -> dict[str, Any]:
        try:
            answer = ctx.interrupt("approve?")
        except Exception:
            return {"answer": "swallowed"}
        return {"answer": answer}

    g = StateGraph(State)
    g.add_node("careless", careless)
    g.add_edge(START, "careless")
    app = g.compile(store(tmp_path))

    result = app.invoke({}, thread_id="t")
    assert result["__interrupt__"][0].value == "approve?"
    assert "answer" not in result
    assert app.invoke(Command(resume="ok"), thread_id="t")["answer"] == "ok"


async def test_async_node_can_interrupt(tmp_path: Path) -> None:
    async def ask(state: State, ctx: RunContext) -> dict[str, Any]:
        return {"answer": ctx.interrupt("name?")}

    g = StateGraph(State)
    g.add_node("ask", ask)
    g.add_edge(START, "ask")
    app = g.compile(store(tmp_path))

    first = await app.ainvoke({}, thread_id="t")
    assert first["__interrupt__"][0].value == "name?"
    assert (await app.ainvoke(Command(resume="Ada"), thread_id="t"))["answer"] == "Ada"


def test_a_node_may_interrupt_several_times_in_order(tmp_path: Path) -> None:
    def form(state: State, ctx: RunContext) -> dict[str, Any]:
        name = ctx.interrupt("name?")
        age = ctx.interrupt("age?")
        return {"answer": {"name": name, "age": age}}

    g = StateGraph(State)
    g.add_node("form", form)
    g.add_edge(START, "form")
    app = g.compile(store(tmp_path))

    assert app.invoke({}, thread_id="t")["__interrupt__"][0].value == "name?"
    second = app.invoke(Command(resume="Ada"), thread_id="t")
    assert second["__interrupt__"][0].value == "age?"
    assert app.get_state("t").interrupts[0].value == "age?"
    assert len(app.get_state("t").interrupts) == 1
    final = app.invoke(Command(resume=36), thread_id="t")
    assert final["answer"] == {"name": "Ada", "age": 36}


def test_interrupt_ids_are_stable_across_runs_of_the_same_thread(tmp_path: Path) -> None:
    a = ask_graph(tmp_path).invoke({}, thread_id="one")["__interrupt__"][0]
    b = ask_graph(tmp_path).invoke({}, thread_id="one-again")["__interrupt__"][0]
    again = ask_graph(tmp_path).invoke(None, thread_id="one")["__interrupt__"][0]
    assert again.id == a.id
    assert a.id != b.id


def test_interrupt_without_checkpointer_still_pauses() -> None:
    def ask(state: State, ctx: RunContext) -> dict[str, Any]:
        return {"answer": ctx.interrupt("q")}

    g = StateGraph(State)
    g.add_node("ask", ask)
    g.add_edge(START, "ask")
    result = g.compile().invoke({})
    assert result["__interrupt__"][0].value == "q"


# -- parallel interrupts -------------------------------------------------------------------------


def parallel_graph(tmp_path: Path, calls: dict[str, int]) -> Any:
    """START -> left, right (both interrupt), steady (finishes); then -> join."""

    def asker(name: str):  # type: ignore[no-untyped-def]
        def node(state: State, ctx: RunContext) -> dict[str, Any]:
            calls[name] = calls.get(name, 0) + 1
            return {"log": [[name, ctx.interrupt(f"{name}?")]]}

        return node

    def steady(state: State) -> dict[str, Any]:
        calls["steady"] = calls.get("steady", 0) + 1
        return {"log": [["steady", None]]}

    def join(state: State) -> dict[str, Any]:
        calls["join"] = calls.get("join", 0) + 1
        return {"answer": len(state["log"])}

    g = StateGraph(State)
    g.add_node("left", asker("left"))
    g.add_node("steady", steady)
    g.add_node("right", asker("right"))
    g.add_node("join", join)
    for name in ("left", "steady", "right"):
        g.add_edge(START, name)
        g.add_edge(name, "join")
    return g.compile(store(tmp_path))


def test_parallel_interrupts_in_one_step_are_resumed_together_by_id(tmp_path: Path) -> None:
    calls: dict[str, int] = {}
    app = parallel_graph(tmp_path, calls)

    paused = app.invoke({}, thread_id="t")["__interrupt__"]
    assert [(i.node, i.value) for i in paused] == [("left", "left?"), ("right", "right?")]
    by_node = {i.node: i.id for i in paused}

    result = app.invoke(
        Command(resume={by_node["left"]: "L", by_node["right"]: "R"}), thread_id="t"
    )

    assert "__interrupt__" not in result
    assert result["log"] == [["left", "L"], ["right", "R"], ["steady", None]]  # by name
    assert result["answer"] == 3
    assert calls["join"] == 1


def test_a_task_that_finished_in_the_interrupted_step_does_not_run_again(tmp_path: Path) -> None:
    calls: dict[str, int] = {}
    app = parallel_graph(tmp_path, calls)
    paused = app.invoke({}, thread_id="t")["__interrupt__"]

    app.invoke(Command(resume={i.id: i.node for i in paused}), thread_id="t")

    assert calls == {"left": 2, "steady": 1, "right": 2, "join": 1}


def test_a_single_resume_value_is_ambiguous_when_two_interrupts_are_pending(
    tmp_path: Path,
) -> None:
    calls: dict[str, int] = {}
    app = parallel_graph(tmp_path, calls)
    paused = app.invoke({}, thread_id="t")["__interrupt__"]

    with pytest.raises(InvalidResumeError) as exc:
        app.invoke(Command(resume="yes"), thread_id="t")

    message = str(exc.value)
    assert "2 interrupts are pending" in message
    assert all(i.id in message for i in paused)
    assert "Command(resume={interrupt_id: value, ...})" in message
    assert isinstance(exc.value, InvalidInputError)
    assert set(exc.value.pending) == {i.id for i in paused}
    # nothing was consumed: both interrupts still wait
    assert app.get_state("t").interrupts == tuple(paused)


def test_resume_with_an_unknown_interrupt_id_is_rejected(tmp_path: Path) -> None:
    calls: dict[str, int] = {}
    app = parallel_graph(tmp_path, calls)
    paused = app.invoke({}, thread_id="t")["__interrupt__"]

    with pytest.raises(InvalidResumeError) as exc:
        app.invoke(Command(resume={paused[0].id: "ok", "no-such-id": "x"}), thread_id="t")
    assert "'no-such-id'" in str(exc.value)


def test_resuming_one_of_two_parallel_interrupts_leaves_the_other_pending(
    tmp_path: Path,
) -> None:
    calls: dict[str, int] = {}
    app = parallel_graph(tmp_path, calls)
    left, right = app.invoke({}, thread_id="t")["__interrupt__"]

    partial = app.invoke(Command(resume={left.id: "L"}), thread_id="t")

    assert [i.id for i in partial["__interrupt__"]] == [right.id]
    assert app.get_state("t").interrupts == (right,)

    final = app.invoke(Command(resume="R"), thread_id="t")
    assert final["log"] == [["left", "L"], ["right", "R"], ["steady", None]]
    assert calls["steady"] == 1
    assert calls["left"] == 2  # once to pause, once with its answer


# -- interrupt_before / interrupt_after ----------------------------------------------------------


def pipeline(tmp_path: Path, calls: list[str], **compile_options: Any) -> Any:
    """START -> prepare -> review -> publish -> END."""

    def step(name: str):  # type: ignore[no-untyped-def]
        def node(state: State) -> dict[str, Any]:
            calls.append(name)
            return {"log": [name]}

        return node

    g = StateGraph(State)
    for name in ("prepare", "review", "publish"):
        g.add_node(name, step(name))
    g.add_edge(START, "prepare")
    g.add_edge("prepare", "review")
    g.add_edge("review", "publish")
    g.add_edge("publish", END)
    return g.compile(store(tmp_path), **compile_options)


def test_interrupt_before_pauses_before_the_node_runs(tmp_path: Path) -> None:
    calls: list[str] = []
    app = pipeline(tmp_path, calls, interrupt_before=["review"])

    result = app.invoke({}, thread_id="t")

    assert calls == ["prepare"]
    assert result["log"] == ["prepare"]
    [pause] = result["__interrupt__"]
    assert (pause.node, pause.when, pause.value) == ("review", "before", None)
    snapshot = app.get_state("t")
    assert snapshot.next == ("review",)
    assert snapshot.interrupts == (pause,)


def test_invoke_none_continues_after_interrupt_before(tmp_path: Path) -> None:
    calls: list[str] = []
    app = pipeline(tmp_path, calls, interrupt_before=["review"])
    app.invoke({}, thread_id="t")

    result = app.invoke(None, thread_id="t")

    assert "__interrupt__" not in result
    assert result["log"] == ["prepare", "review", "publish"]
    assert calls == ["prepare", "review", "publish"]
    assert app.get_state("t").interrupts == ()


def test_interrupt_after_pauses_once_the_node_has_run(tmp_path: Path) -> None:
    calls: list[str] = []
    app = pipeline(tmp_path, calls, interrupt_after=["review"])

    result = app.invoke({}, thread_id="t")

    assert calls == ["prepare", "review"]
    assert result["log"] == ["prepare", "review"]
    [pause] = result["__interrupt__"]
    assert (pause.node, pause.when) == ("review", "after")
    assert app.get_state("t").next == ("publish",)

    final = app.invoke(None, thread_id="t")
    assert final["log"] == ["prepare", "review", "publish"]
    assert calls == ["prepare", "review", "publish"]


def test_interrupt_after_the_last_node_does_not_pause(tmp_path: Path) -> None:
    calls: list[str] = []
    app = pipeline(tmp_path, calls, interrupt_after=["publish"])
    result = app.invoke({}, thread_id="t")
    assert "__interrupt__" not in result
    assert result["log"] == ["prepare", "review", "publish"]


def test_a_node_in_a_loop_pauses_before_each_visit(tmp_path: Path) -> None:
    g = StateGraph(State)
    g.add_node("work", lambda s: {"log": ["work"]})
    g.add_edge(START, "work")
    g.add_conditional_edges("work", lambda s: "work" if len(s["log"]) < 2 else END)
    app = g.compile(store(tmp_path), interrupt_before=["work"])

    assert app.invoke({}, thread_id="t")["__interrupt__"][0].node == "work"
    second = app.invoke(None, thread_id="t")
    assert second["log"] == ["work"]
    assert second["__interrupt__"][0].node == "work"
    assert app.invoke(None, thread_id="t")["log"] == ["work", "work"]


def test_resume_value_when_only_an_interrupt_before_is_pending_is_rejected(
    tmp_path: Path,
) -> None:
    calls: list[str] = []
    app = pipeline(tmp_path, calls, interrupt_before=["review"])
    app.invoke({}, thread_id="t")

    with pytest.raises(InvalidResumeError) as exc:
        app.invoke(Command(resume="approve"), thread_id="t")

    message = str(exc.value)
    assert "no pending interrupt" in message
    assert "before node 'review'" in message
    assert "invoke(None, thread_id=...)" in message
    assert calls == ["prepare"]


def test_resume_value_for_a_finished_thread_is_rejected(tmp_path: Path) -> None:
    calls: list[str] = []
    app = pipeline(tmp_path, calls)
    app.invoke({}, thread_id="t")
    with pytest.raises(InvalidResumeError, match="nothing waits for a resume value"):
        app.invoke(Command(resume="x"), thread_id="t")


def test_resuming_a_thread_that_does_not_exist_is_rejected(tmp_path: Path) -> None:
    app = ask_graph(tmp_path)
    with pytest.raises(InvalidInputError) as exc:
        app.invoke(Command(resume="x"), thread_id="nobody")
    assert "'nobody' has nothing to resume" in str(exc.value)
    assert "Fix:" in str(exc.value)


def test_a_command_given_to_invoke_updates_the_thread_then_resumes(tmp_path: Path) -> None:
    app = ask_graph(tmp_path)
    app.invoke({}, thread_id="t")
    result = app.invoke(Command(resume="yes", update={"log": ["edited"]}), thread_id="t")
    assert result["log"] == ["edited", "asked", "done with yes"]
    assert app.get_state("t").values["log"] == ["edited", "asked", "done with yes"]


def test_a_command_given_to_invoke_runs_its_goto_with_its_update(tmp_path: Path) -> None:
    app = ask_graph(tmp_path)
    app.invoke({}, thread_id="t")
    app.invoke(Command(resume="yes"), thread_id="t")
    result = app.invoke(
        Command(goto="done", update=[("log", ["a"]), ("log", ["b"]), ("answer", "again")]),
        thread_id="t",
    )
    assert result["log"] == ["asked", "done with yes", "a", "b", "done with again"]
    # the update is saved with the step it led to, though that step wrote other keys
    state = app.get_state("t")
    assert state.values["answer"] == "again"
    assert state.values["log"] == result["log"]
    assert state.next == ()


def test_a_command_whose_goto_pauses_keeps_its_update_and_goto_until_resumed(
    tmp_path: Path,
) -> None:
    calls: list[str] = []
    app = ask_graph(tmp_path, calls)
    app.invoke({}, thread_id="t")
    app.invoke(Command(resume="yes"), thread_id="t")  # done: ask, then done
    paused = app.invoke(Command(goto="ask", update={"log": ["again"]}), thread_id="t")
    assert [i.value for i in paused["__interrupt__"]] == [{"question": "ship it?"}]
    # the update and the goto are kept with the thread (in SQLite) while it waits
    reopened = ask_graph(tmp_path)
    state = reopened.get_state("t")
    assert state.next == ("ask",)
    assert state.values["log"] == ["asked", "done with yes", "again"]
    result = reopened.invoke(Command(resume="no"), thread_id="t")
    assert result["log"] == ["asked", "done with yes", "again", "asked", "done with no"]
    assert reopened.get_state("t").values == result
    assert calls == ["ask", "ask", "ask"]


def test_a_command_that_runs_nothing_saves_its_update_at_once(tmp_path: Path) -> None:
    app = ask_graph(tmp_path)
    app.invoke({}, thread_id="t")
    app.invoke(Command(resume="yes"), thread_id="t")
    result = app.invoke(Command(update={"log": ["note"]}), thread_id="t")
    assert result["log"] == ["asked", "done with yes", "note"]
    head = app.get_state("t")
    assert head.values == result
    assert head.metadata["source"] == "update"
    assert head.next == ()


def test_a_command_given_to_invoke_is_checked(tmp_path: Path) -> None:
    app = ask_graph(tmp_path)
    app.invoke({}, thread_id="t")
    with pytest.raises(StateError, match="nope"):
        app.invoke(Command(goto="done", update={"nope": 1}), thread_id="t")
    with pytest.raises(InvalidUpdateError, match="pairs"):
        app.invoke(Command(goto="done", update=[("log",)]), thread_id="t")
    with pytest.raises(GraphError, match="ghost"):
        app.invoke(Command(goto="ghost"), thread_id="t")
    assert app.invoke(Command(resume="still pending"), thread_id="t")["answer"] == "still pending"


# -- interplay with retries, timeouts and parallel steps -----------------------------------------


def test_a_single_pending_interrupt_may_be_resumed_with_a_dict_payload(tmp_path: Path) -> None:
    app = ask_graph(tmp_path)
    app.invoke({}, thread_id="t")
    result = app.invoke(Command(resume={"approved": True, "by": "ada"}), thread_id="t")
    assert result["answer"] == {"approved": True, "by": "ada"}


def test_a_retried_node_gets_the_same_resume_value_on_every_attempt(tmp_path: Path) -> None:
    answers: list[tuple[int, Any]] = []

    def ask_then_flake(state: State, ctx: RunContext) -> dict[str, Any]:
        answer = ctx.interrupt("continue?")
        answers.append((ctx.attempt, answer))
        if ctx.attempt == 1:
            raise ConnectionError("lost the connection after the human answered")
        return {"answer": answer}

    g = StateGraph(State)
    policy = RetryPolicy(initial_interval=0.001, jitter=False)
    g.add_node("ask", ask_then_flake, retry=policy)
    g.add_edge(START, "ask")
    app = g.compile(store(tmp_path))
    app.invoke({}, thread_id="t")

    result = app.invoke(Command(resume="yes"), thread_id="t")

    assert "__interrupt__" not in result  # the human is not asked twice
    assert answers == [(1, "yes"), (2, "yes")]
    assert result["answer"] == "yes"


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_node_with_a_timeout_can_interrupt(tmp_path: Path, kind: str) -> None:
    def sync_ask(state: State, ctx: RunContext) -> dict[str, Any]:
        return {"answer": ctx.interrupt("q")}

    async def async_ask(state: State, ctx: RunContext) -> dict[str, Any]:
        return {"answer": ctx.interrupt("q")}

    g = StateGraph(State)
    g.add_node("ask", sync_ask if kind == "sync" else async_ask, timeout=5)
    g.add_edge(START, "ask")
    app = g.compile(store(tmp_path))

    assert app.invoke({}, thread_id="t")["__interrupt__"][0].value == "q"
    assert app.invoke(Command(resume="a"), thread_id="t")["answer"] == "a"


def test_interrupt_before_one_node_of_a_parallel_step_holds_the_whole_step(
    tmp_path: Path,
) -> None:
    calls: list[str] = []

    def step(name: str):  # type: ignore[no-untyped-def]
        def node(state: State) -> dict[str, Any]:
            calls.append(name)
            return {"log": [name]}

        return node

    g = StateGraph(State)
    g.add_node("free", step("free"))
    g.add_node("gated", step("gated"))
    g.add_edge(START, "free")
    g.add_edge(START, "gated")
    app = g.compile(store(tmp_path), interrupt_before=["gated"])

    paused = app.invoke({}, thread_id="t")
    assert [i.node for i in paused["__interrupt__"]] == ["gated"]
    assert calls == []

    assert app.invoke(None, thread_id="t")["log"] == ["free", "gated"]
    assert calls == ["free", "gated"]


def test_continuing_a_finished_thread_runs_nothing(tmp_path: Path) -> None:
    calls: list[str] = []
    app = pipeline(tmp_path, calls)
    first = app.invoke({}, thread_id="t")

    again = app.invoke(None, thread_id="t")

    assert again == first
    assert calls == ["prepare", "review", "publish"]
