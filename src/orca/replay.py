"""Replay a logged run: run the graph's code again from where the run started, answering
every LLM call and tool call from what the run recorded in its event log, with no network
and no budget; then compare what happened with what was recorded.

``replay(graph, run_id)`` returns a ``ReplayReport``: ``identical``, or the first
``Divergence`` (step, node, field, recorded value, value now), found by comparing the
run's events step by step (timings, costs and checkpoint ids aside) and the state each
recorded checkpoint holds. A node whose code changed shows up there: a different write, a
different prompt (the ``llm.response`` request digest), a different tool argument, a call
the run never made.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orca import _serde
from orca._redact import redact_secrets
from orca.checkpoint import (
    Checkpoint,
    Checkpointer,
    CheckpointSave,
    MemoryCheckpointer,
    PendingWrite,
)
from orca.errors import CheckpointNotFoundError, InvalidInputError, OrcaError
from orca.events import (
    BUDGET_STATUS,
    BUDGET_WARNING,
    ERROR,
    INTERRUPT,
    LLM_RESPONSE,
    RUN_FINISHED,
    RUN_STARTED,
    STEP_STARTED,
    TASK_FAILED,
    TASK_FINISHED,
    TOOL_CALL,
    USAGE,
    WARNING,
)

if TYPE_CHECKING:
    from orca.context import TaskContext
    from orca.engine._compiled import CompiledGraph
    from orca.llm import ChatModel, ChatRequest, ChatResponse, Delta
    from orca.tools import Policy, Tool, ToolResult

__all__ = ["Divergence", "ReplayError", "ReplayReport", "replay"]

# fields that differ between two runs doing the same thing
_VARYING = frozenset(
    {"schema", "run_id", "thread_id", "seq", "ts", "duration_ms", "first_token_ms"}
)
# per type: what depends on prices, the ledger or storage, not on the graph's code
_VARYING_BY_TYPE = {
    USAGE: frozenset({"cost_nano_usd", "priced"}),
    RUN_FINISHED: frozenset({"checkpoint_id", "cost_nano_usd"}),
    LLM_RESPONSE: frozenset({"cost_nano_usd"}),
    # `result` is a display summary of `value`, which is compared; every tool call of a
    # replay is answered from the recording, whether the run took it from its records
    TOOL_CALL: frozenset({"result", "cached"}),
    RUN_STARTED: frozenset({"head"}),
    TASK_FAILED: frozenset({"traceback"}),  # a display of where: the error is compared
}
# events a replay does not reproduce: it runs with no ledger and its own prices
_NOT_COMPARED = frozenset({BUDGET_STATUS, BUDGET_WARNING, WARNING})


class ReplayError(OrcaError):
    """The replayed code asked for an LLM or tool call the recorded run did not make."""


@dataclass(frozen=True, slots=True)
class Divergence:
    """Where a replay first differs from the recorded run."""

    step: int
    node: str | None
    field: str
    recorded: Any
    now: Any

    def __str__(self) -> str:
        where = f"step {self.step}" + (f", node {self.node}" if self.node else "")
        return f"{where}: {self.field} was {self.recorded!r}, now {self.now!r}"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class ReplayReport:
    """What a replay found: ``identical``, or the first ``divergence``."""

    run_id: str
    identical: bool
    divergence: Divergence | None
    steps: int
    llm_calls: int
    tool_calls: int

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["divergence"] = self.divergence.to_dict() if self.divergence else None
        return out


# -- the recorded answers -----------------------------------------------------------------


class Recording:
    """A run's LLM answers and tool results, per task in call order (a retried task
    made its calls again, and they were recorded again)."""

    def __init__(self, events: Sequence[Mapping[str, Any]]) -> None:
        self.llm: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        self.tools: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
        self.roles: dict[str, tuple[str, str]] = {}
        # calls a block budget refused, per task: the recorded error message (policy
        # fail) or the interrupt's value (policy pause); they never reached a model
        self.refused: dict[str, str | Mapping[str, Any]] = {}
        for e in events:
            if e["type"] == LLM_RESPONSE:
                self.llm[e["task_id"]].append(e)
                self.roles.setdefault(e["role"], (e["provider"], e["model"]))
            elif e["type"] == TOOL_CALL:
                self.tools[e["task_id"]].append(e)
            elif e["type"] == TASK_FAILED and e["error_type"] == "BudgetExceeded":
                self.refused[e["task_id"]] = e["error"]
            elif e["type"] == INTERRUPT:
                for i in e["interrupts"]:
                    value = i.get("value")
                    if isinstance(value, Mapping) and value.get("reason") == "budget_exceeded":
                        self.refused[i["task_id"]] = value

    def refuse(self, ctx: TaskContext | None) -> None:
        """Before a call's reservation: refuse it as the recorded run's budget did, when
        the task has no recorded answer left and its recorded run was refused there
        (the replay has no ledger, so the refusal comes from the log)."""
        if ctx is None or self.llm[ctx.task_id] or ctx.task_id not in self.refused:
            return
        refusal = self.refused.pop(ctx.task_id)
        if isinstance(refusal, Mapping):  # paused: the same interrupt, same value
            ctx.interrupt(dict(refusal))
        from orca.errors import BudgetExceeded

        error = BudgetExceeded.__new__(BudgetExceeded)
        RuntimeError.__init__(error, str(refusal))  # the recorded message, as it was
        error.budget, error.unit = "", "usd"
        error.limit = error.spent = error.reserved = error.asked = 0
        raise error

    @staticmethod
    def _take(queue: list[Mapping[str, Any]], ctx: TaskContext, what: str, **match: Any) -> Any:
        """The first recorded call that matches (concurrent calls were recorded in the
        order they finished), else the next one."""
        if not queue:
            raise ReplayError(
                f"node {ctx.node!r} made a {what} the recorded run did not make (the code "
                "changed, or the run was not recorded whole)"
            )
        for i, e in enumerate(queue):
            if all(e.get(k) == v for k, v in match.items()):
                return queue.pop(i)
        return queue.pop(0)

    def stream(self, ctx: TaskContext | None, model: ChatModel, request: ChatRequest) -> Any:
        """The recorded answer to the task's next LLM call, as a model's stream."""
        from orca.llm import ChatResponse, ToolCall, Usage
        from orca.llm._base import request_digest

        assert ctx is not None
        e = self._take(self.llm[ctx.task_id], ctx, "LLM call", request=request_digest(request))
        if e.get("error_type"):
            raise _llm_error(e)
        response = ChatResponse(
            text=e["text"],
            provider=e["provider"],
            model=e["model"],
            usage=Usage(**e["usage"]),
            stop_reason=e["stop_reason"],
            tool_calls=tuple(ToolCall(**c) for c in e["tool_calls"]),
            thinking=e["thinking"],
            cached=bool(e.get("cached")),
        )
        return _RecordedStream(response)

    def tool(self, ctx: TaskContext | None, name: str, arguments: Mapping[str, Any]) -> ToolResult:
        """The recorded result of the task's next call of tool ``name``."""
        from orca.tools import ToolResult

        assert ctx is not None
        queue = self.tools[ctx.task_id]
        same = [e for e in queue if e["tool"] == name] or list(queue)
        # the log holds the arguments with their credentials masked
        shown = redact_secrets(dict(arguments))
        e = self._take(same, ctx, f"call of tool {name!r}", arguments=shown)
        queue.remove(e)
        return ToolResult(
            name,  # as asked now: a call of another tool shows in the comparison
            e["status"],
            value=_serde.revive(e.get("value")),
            error=e.get("error"),
            duration_ms=e["duration_ms"],
        )


def _llm_error(e: Mapping[str, Any]) -> Exception:
    """The error a recorded call failed with, raised again."""
    import builtins

    from orca import errors
    from orca.llm import Usage

    native = getattr(builtins, e["error_type"], None)
    if isinstance(native, type) and issubclass(native, Exception):
        try:
            return native(e["error"])  # a model that raised ValueError raises it again
        except TypeError:
            pass
    cls = getattr(errors, e["error_type"], None)
    if not (isinstance(cls, type) and issubclass(cls, errors.LLMError)):
        cls = errors.LLMError
    try:
        exc = cls(e["error"], provider=e["provider"], model=e["model"])
    except TypeError:
        exc = errors.LLMError(e["error"], provider=e["provider"], model=e["model"])
    exc.args = (e["error"],)
    if isinstance(exc, errors.StreamInterruptedError):
        exc.usage = Usage(**e["usage"])
    return exc


class _RecordedStream:
    def __init__(self, response: ChatResponse) -> None:
        self.response = response
        # the recorded run took this answer from its call records: so does the replay
        self.cached = response.cached

    def __aiter__(self) -> AsyncIterator[Delta]:
        return self._pieces()

    async def _pieces(self) -> AsyncIterator[Delta]:
        from orca.llm import Delta

        if self.response.text or self.response.thinking:
            yield Delta(self.response.text, self.response.thinking)


class _RecordedModel:
    """Stands for a recorded model: its calls never reach it (the recording answers)."""

    def __init__(self, provider: str, model: str) -> None:
        self.provider = provider
        self.model = model

    def stream(self, request: ChatRequest) -> Any:
        raise ReplayError(f"{self.provider}/{self.model} was called outside a replay")


# -- the replay -----------------------------------------------------------------------------


def replay(
    graph: CompiledGraph,
    run_id: str,
    *,
    store: Checkpointer | None = None,
    tools: Sequence[Tool | Any] = (),
    policy: Policy | None = None,
) -> ReplayReport:
    """Run ``graph``'s code again as run ``run_id`` ran, answering its LLM and tool calls
    from the run's event log, and compare.

    Args:
        graph: the graph, as its code is now.
        run_id: a run logged in ``store``.
        store: where the run was logged (default: the graph's checkpointer). It is only
            read: the replay runs on a copy of the run's start checkpoint in memory.
        tools: the run's tools (their schemas are part of what the model was asked).
        policy: the run's tool policy (what it redacted in the log; default ``Policy()``).

    Raises:
        InvalidInputError: the store logged no run ``run_id``, or the graph is not the
            one that ran.
        CheckpointNotFoundError: the run's start checkpoint was pruned.
    """
    from orca._services import build_services
    from orca._sync import run_sync
    from orca.cost import PriceBook
    from orca.engine import CompiledGraph
    from orca.graph import Command

    source = store if store is not None else graph.checkpointer
    if source is None:
        raise InvalidInputError(
            "replay reads the run's event log. Fix: pass store= (the checkpointer the run "
            "was logged in)"
        )
    recorded = source.read_events(run_id)
    started = next((e for e in recorded if e["type"] == RUN_STARTED), None)
    if started is None:
        raise InvalidInputError(
            f"no run {run_id!r} is logged in this store. Fix: use an id from orca runs list "
            "(runs with log_events=False or no checkpointer cannot be replayed)"
        )
    if started["graph"] != graph.name:
        raise InvalidInputError(
            f"run {run_id} ran graph {started['graph']!r}, not {graph.name!r}. Fix: replay "
            "it with the graph it ran"
        )
    thread = started["thread_id"]
    memory = MemoryCheckpointer()
    start_id = started["checkpoint_id"]
    left: list[PendingWrite] = []  # what the run itself left on its start checkpoint
    if start_id is not None:
        left = _copy(source, memory, thread, start_id, started["pending"])
    if started["head"] is not None:  # the run forked an older checkpoint: same branch ids
        _copy(source, memory, thread, started["head"], 0)
    recording = Recording(recorded)
    replica = CompiledGraph(
        graph.spec,
        checkpointer=memory,
        interrupt_before=graph.interrupt_before,
        interrupt_after=graph.interrupt_after,
    )
    # a role whose every call was refused has no recorded answer: it still stands in
    roles = {"planner": ("replay", "recorded"), "worker": ("replay", "recorded")}
    roles.update(recording.roles)
    service_options: dict[str, Any] = {
        "models": {r: _RecordedModel(p, m) for r, (p, m) in roles.items()},
        "prices": PriceBook(),  # the catalog's: costs are not compared
        "ledger": False,  # no budget is charged
        "tools": list(tools),
    }
    if policy is not None:
        service_options["policy"] = policy
    options: dict[str, Any] = {
        "thread_id": thread,
        "run_id": run_id,
        "seed": started["seed"],
        "max_steps": started.get("max_steps", 100),
        "services": build_services(service_options, workflow=graph.name, replay=recording),
    }
    if start_id is not None:
        options["checkpoint_id"] = start_id
    given = _serde.revive(started["input"])
    if started.get("input_in_state"):  # large input values were logged by reference
        given = {**given, **_input_in_state(source, started)}
    command = _serde.revive(started.get("command"))
    if command is not None:  # a Command's update and goto, as run.started carries them
        update = _command_update(command, left)
        run_input: Any = Command(resume=given, update=update, goto=command["goto"])
    elif started["resumed"] and given is not None:
        run_input = Command(resume=given)
    else:
        run_input = given

    async def go() -> Exception | None:
        try:
            await replica.ainvoke(run_input, **options)
        except Exception as exc:
            return exc
        return None

    failure = run_sync("replay", go())
    now = memory.read_events(run_id)
    if failure is not None and not now:
        raise failure  # the replay could not start: nothing to compare
    # a failure that ran is logged like any event, and compared with the recorded run's
    divergence = _compare(recorded, now) or _compare_states(source, memory, thread, run_id, now)
    return ReplayReport(
        run_id=run_id,
        identical=divergence is None,
        divergence=divergence,
        steps=max((e["steps"] for e in now if e["type"] == RUN_FINISHED), default=0),
        llm_calls=sum(e["type"] == LLM_RESPONSE for e in now),
        tool_calls=sum(e["type"] == TOOL_CALL for e in now),
    )


def _command_update(command: Mapping[str, Any], left: Sequence[PendingWrite]) -> Any:
    """A ``Command`` input's update in the shape it was given: its values as the run's
    pending ``command`` write keeps them (whole: the log masks credentials), else as
    logged."""
    update = command["update"]
    if update is None:
        return None
    pairs = command.get("pairs") and isinstance(update, list)
    if pairs:
        update = [
            next(iter(w.items())) if isinstance(w, dict) and len(w) == 1 else tuple(w)
            for w in update
        ]
    kept = [p.value for p in left if p.kind == "command"]
    if not kept:  # refused, or nothing to run (saved at once): the logged values
        return update
    exact = [tuple(w) for w in kept[0]["update"]]
    return exact if pairs or not isinstance(update, dict) else dict(exact)


def _copy(
    source: Checkpointer, target: Checkpointer, thread: str, checkpoint_id: str, pending: int
) -> list[PendingWrite]:
    """Copy the checkpoint with its first ``pending`` writes; the writes after them."""
    cp = source.get(thread, checkpoint_id)
    if cp is None:
        raise CheckpointNotFoundError(thread, checkpoint_id)
    # the copy stands alone: the replay needs its values, not its ancestors
    target.put(_save_of(dataclasses.replace(cp, parent_id=None), list(cp.pending[:pending])))
    return list(cp.pending[pending:])


def _save_of(cp: Checkpoint, pending: list[Any]) -> CheckpointSave:
    return CheckpointSave(
        thread_id=cp.thread_id,
        checkpoint_id=cp.checkpoint_id,
        parent_id=cp.parent_id,
        step=cp.step,
        values=cp.values,
        changed=dict.fromkeys(cp.values),
        next=cp.next,
        metadata=cp.metadata,
        created_at=cp.created_at,
        pending=pending,
    )


# -- the comparison ---------------------------------------------------------------------------


def _comparable(e: Mapping[str, Any]) -> dict[str, Any]:
    skip = _VARYING | _VARYING_BY_TYPE.get(e["type"], frozenset())
    return {k: v for k, v in e.items() if k not in skip}


def _by_step(events: Sequence[Mapping[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Each step's events in an order that does not depend on timing: the step's own
    events first, then each task's in the step's task order, then the run's end."""
    order: dict[str, int] = {}
    for e in events:
        if e["type"] == STEP_STARTED:
            for i, t in enumerate(e["tasks"]):
                order[t["id"]] = i
    tail = {INTERRUPT, ERROR, RUN_FINISHED}
    keyed = []
    for pos, e in enumerate(events):
        if e["type"] in _NOT_COMPARED:
            continue
        task = e.get("task_id")
        if e["type"] in tail:
            rank: tuple[int, int] = (2, 0)
        elif task is None or e["type"] == STEP_STARTED:
            rank = (0, 0)
        else:
            rank = (1, order.get(task, len(order)))
        keyed.append(((e["step"], rank, pos), e))
    steps: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for _, e in sorted(keyed, key=lambda item: item[0]):
        steps[e["step"]].append(_comparable(e))
    return {step: _calls_sorted(items) for step, items in steps.items()}


_CALLS = frozenset({USAGE, LLM_RESPONSE, TOOL_CALL})


def _calls_sorted(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A task's calls between two other events may have run concurrently and finished in
    any order: each such run of calls is compared as a sorted list."""
    out: list[dict[str, Any]] = []
    run: list[dict[str, Any]] = []
    for e in [*items, None]:
        same_task = not run or (e is not None and run[0].get("task_id") == e.get("task_id"))
        if e is not None and e["type"] in _CALLS and same_task:
            run.append(e)
            continue
        out.extend(sorted(run, key=_canonical))
        run = []
        if e is not None:
            if e["type"] in _CALLS:
                run.append(e)
            else:
                out.append(e)
    return out


def _canonical(e: Mapping[str, Any]) -> str:
    import json

    return json.dumps(e, sort_keys=True, default=repr)


def _input_in_state(source: Checkpointer, started: Mapping[str, Any]) -> dict[str, Any]:
    """The input values ``run.started`` names in ``input_in_state``, read from the run's
    input checkpoint (the child of its start checkpoint, with ``source: input``)."""
    thread, run_id = started["thread_id"], started["run_id"]
    for info in source.history(thread):
        meta = info.metadata
        if (
            meta.get("source") == "input"
            and meta.get("run_id") == run_id
            and info.parent_id == started["checkpoint_id"]
        ):
            checkpoint = source.get(thread, info.checkpoint_id)
            if checkpoint is not None:
                return {k: checkpoint.values[k] for k in started["input_in_state"]}
    raise CheckpointNotFoundError(thread, f"input checkpoint of run {run_id}")


def _compare(
    recorded: Sequence[Mapping[str, Any]], now: Sequence[Mapping[str, Any]]
) -> Divergence | None:
    before, after = _by_step(recorded), _by_step(now)
    for step in sorted(set(before) | set(after)):
        was, got = before.get(step, []), after.get(step, [])
        for i in range(max(len(was), len(got))):
            a = was[i] if i < len(was) else None
            b = got[i] if i < len(got) else None
            if a == b:
                continue
            node = (a or b or {}).get("node")
            if a is None or b is None or a["type"] != b["type"]:
                return Divergence(step, node, "event", _describe(a), _describe(b))
            for key in sorted(set(a) | set(b)):
                if a.get(key) != b.get(key):
                    return Divergence(step, node, f"{a['type']}.{key}", a.get(key), b.get(key))
    return None


def _describe(e: Mapping[str, Any] | None) -> Any:
    if e is None:
        return None
    return {k: e[k] for k in ("type", "node", "error", "tool", "role") if k in e}


def _compare_states(
    source: Checkpointer,
    memory: Checkpointer,
    thread: str,
    run_id: str,
    now: Sequence[Mapping[str, Any]],
) -> Divergence | None:
    """The state at each step the run checkpointed, recorded vs replayed."""
    writers: dict[tuple[int, str], str] = {}
    for e in now:
        if e["type"] == TASK_FINISHED:
            for key in e["update"]:
                writers.setdefault((e["step"], key), e["node"])
    replayed = {
        info.step: info.checkpoint_id
        for info in memory.history(thread)
        if info.metadata.get("run_id") == run_id
    }
    mine = [info for info in source.history(thread) if info.metadata.get("run_id") == run_id]
    for info in sorted(mine, key=lambda i: i.step):
        cid = replayed.get(info.step)
        if cid is None:
            return Divergence(info.step, None, "checkpoint", info.checkpoint_id, None)
        was = source.get(thread, info.checkpoint_id)
        got = memory.get(thread, cid)
        assert was is not None
        assert got is not None
        for key in sorted(set(was.values) | set(got.values)):
            a, b = was.values.get(key), got.values.get(key)
            # a credential the run was answered with was logged masked, and the replay
            # answers with the mask: a state that differs only there is the same state
            if a != b and redact_secrets(a) != redact_secrets(b):
                return Divergence(info.step, writers.get((info.step, key)), f"state.{key}", a, b)
    return None
