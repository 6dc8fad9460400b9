"""Orca's run events as LangGraph's stream chunks."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from orca.compat.langgraph import _state
from orca.compat.langgraph._nodes import GraphInfo
from orca.compat.langgraph.types import StateSnapshot
from orca.errors import InvalidInputError
from orca.events import (
    CHECKPOINT_SAVED,
    CUSTOM,
    INTERRUPT,
    STEP_STARTED,
    TASK_FAILED,
    TASK_FINISHED,
    TASK_RETRY,
    TASK_STARTED,
    TOKEN,
    TOOL_CALL,
    USAGE,
    VALUES,
    CheckpointSaved,
    Custom,
    Event,
    InterruptEvent,
    StepStarted,
    TaskFailed,
    TaskFinished,
    TaskStarted,
    Values,
)

STREAM_MODES = ("values", "updates", "checkpoints", "tasks", "debug", "messages", "custom")
SUPPORTED_MODES = STREAM_MODES
INTERRUPT_KEY = "__interrupt__"

# events raised while a step's tasks run (the rest come at or after its barrier): the
# messages of that step's models go after them
_WITHIN_STEP = frozenset({STEP_STARTED, TASK_STARTED, TASK_RETRY, CUSTOM, TOKEN, USAGE, TOOL_CALL})

ReadSnapshot = Callable[[str, str], Awaitable[StateSnapshot | None]]


def modes_of(stream_mode: str | Sequence[str] | None) -> tuple[tuple[str, ...], bool]:
    """The modes asked for, and whether one mode was asked as a string (plain chunks)
    rather than a list (``(mode, chunk)`` pairs). LangGraph's default is ``updates``."""
    if stream_mode is None:
        stream_mode = "updates"
    single = isinstance(stream_mode, str)
    modes = (stream_mode,) if isinstance(stream_mode, str) else tuple(stream_mode)
    for mode in modes:
        if mode not in STREAM_MODES:
            raise InvalidInputError(
                f"stream_mode {mode!r} is not one of {', '.join(STREAM_MODES)}. Fix: pass "
                "one of them, or a list of them"
            )
        if mode not in SUPPORTED_MODES:
            raise InvalidInputError(
                f"stream_mode {mode!r} is not supported by Orca's LangGraph layer yet. Fix: "
                f"use {', '.join(SUPPORTED_MODES)}"
            )
    return modes, single


class Shaper:
    """Turns one run's events into LangGraph's chunks for the modes asked."""

    def __init__(
        self,
        modes: tuple[str, ...],
        single: bool,
        output_keys: str | Sequence[str] | None,
        info: GraphInfo,
        read: ReadSnapshot,
    ) -> None:
        self.info = info
        self.modes = frozenset(modes)
        self.single = single
        self.output_keys = output_keys
        self.read = read
        self.values: dict[str, Any] = {}
        self.held: list[tuple[Any, dict[str, Any]]] = []
        self.step = 0
        self.inside = False  # whether the reader is within a step (before its barrier)
        # a checkpoint's chunk waits for the next step's start, which names its tasks' ids
        self.pending: tuple[CheckpointSaved, dict[str, Any], int] | None = None

    def hold(self, item: tuple[Any, dict[str, Any]]) -> None:
        """A ``messages`` chunk, kept until the events before it have gone out: the run
        may be steps ahead of whoever reads the stream."""
        self.held.append(item)

    def live(self) -> list[Any]:
        """Held chunks of the step the reader is in: a model streams while it runs."""
        return self._release(self.step, include=self.inside)

    def _release(self, step: int, *, include: bool) -> list[Any]:
        out, kept = [], []
        for item in self.held:
            made = item[1].get("langgraph_step", step)
            if made < step or (include and made == step):
                out.append(self._out("messages", item))
            else:
                kept.append(item)
        self.held = kept
        return out

    def _out(self, mode: str, chunk: Any) -> Any:
        return chunk if self.single else (mode, chunk)

    def _debug(self, event: Event, kind: str, payload: Any, step: int | None = None) -> Any:
        stamp = dt.datetime.fromtimestamp(event.ts, dt.UTC).isoformat()
        chunk = {
            "step": event.step if step is None else step,
            "timestamp": stamp,
            "type": kind,
            "payload": payload,
        }
        return self._out("debug", chunk)

    def _task(self, event: Event, kind: str, payload: dict[str, Any]) -> list[Any]:
        out = []
        if "tasks" in self.modes:
            out.append(self._out("tasks", payload))
        if "debug" in self.modes:
            out.append(self._debug(event, kind, payload))
        return out

    async def shape(self, event: Event) -> list[Any]:
        out: list[Any] = []
        kind = event.type
        if self.held:  # the messages made before this event
            out += self._release(event.step, include=kind not in _WITHIN_STEP)
        self.step, self.inside = event.step, kind in _WITHIN_STEP
        if self.pending is not None:
            ids = None
            if kind == STEP_STARTED and isinstance(event, StepStarted):
                ids = [t["id"] for t in event.tasks]
            out += self._flush(ids)
        if kind == VALUES and isinstance(event, Values):
            self.values = self.info.ordered(event.values)
            if "values" in self.modes:
                out.append(self._out("values", self._keys(self.values)))
        elif kind == TASK_STARTED and isinstance(event, TaskStarted):
            start = {
                "id": event.task_id,
                "name": event.node,
                "input": self.values,
                "triggers": (f"branch:to:{event.node}",),
            }
            out += self._task(event, "task", start)
        elif kind == TASK_FINISHED and isinstance(event, TaskFinished):
            if "updates" in self.modes:
                update: dict[str, Any] = {event.node: event.update or None}
                if event.cached:  # LangGraph marks a result that came from the node cache
                    update["__metadata__"] = {"cached": True}
                out.append(self._out("updates", update))
            result: dict[str, Any] = {
                "id": event.task_id,
                "name": event.node,
                "error": None,
                "result": dict(event.update),
                "interrupts": [],
            }
            out += self._task(event, "task_result", result)
        elif kind == TASK_FAILED and isinstance(event, TaskFailed):
            failed = {
                "id": event.task_id,
                "name": event.node,
                "error": _exception(event.error_type, event.error),
                "result": {},
                "interrupts": [],
            }
            out += self._task(event, "task_result", failed)
        elif kind == CUSTOM and isinstance(event, Custom):
            if "custom" in self.modes:
                out.append(self._out("custom", event.data))
        elif kind == CHECKPOINT_SAVED and isinstance(event, CheckpointSaved):
            if self.modes & {"checkpoints", "debug"}:
                out += await self._checkpoint(event)
        elif kind == INTERRUPT and isinstance(event, InterruptEvent):
            out += self._interrupts(event)
        return out

    async def _checkpoint(self, event: CheckpointSaved) -> list[Any]:
        snap = await self.read(event.thread_id, event.checkpoint_id)
        if snap is None:
            return []
        payload = {
            "config": snap.config,
            "parent_config": snap.parent_config,
            "values": snap.values,
            "metadata": snap.metadata,
            "next": list(snap.next),
            # saved before its next tasks run: none of them has paused yet
            "tasks": [
                {"id": t.id, "name": t.name, "interrupts": (), "state": None} for t in snap.tasks
            ],
        }
        self.pending = (event, payload, (snap.metadata or {}).get("step", event.step))
        return []

    def _flush(self, ids: list[str] | None) -> list[Any]:
        """The waiting checkpoint's chunks, with its tasks' ids where the step that runs
        them has started."""
        assert self.pending is not None
        event, payload, step = self.pending
        self.pending = None
        if ids is not None and len(ids) == len(payload["tasks"]):
            payload["tasks"] = [{**t, "id": i} for t, i in zip(payload["tasks"], ids, strict=True)]
        out = []
        if "checkpoints" in self.modes:
            out.append(self._out("checkpoints", payload))
        if "debug" in self.modes:
            out.append(self._debug(event, "checkpoint", payload, step))
        return out

    def finish(self) -> list[Any]:
        """Chunks still held when the run's events end."""
        out = self._flush(None) if self.pending is not None else []
        out += [self._out("messages", item) for item in self.held]
        self.held = []
        return out

    def _interrupts(self, event: InterruptEvent) -> list[Any]:
        out: list[Any] = []
        interrupts = _state.interrupts_of(event.interrupts)
        by_task: dict[str, tuple[str, list[Any]]] = {}
        for native, shown in zip(event.interrupts, interrupts, strict=True):
            task = by_task.setdefault(str(native.get("task_id")), (str(native.get("node")), []))
            task[1].append(shown)
        if "updates" in self.modes:
            for _, group in by_task.values():
                out.append(self._out("updates", {INTERRUPT_KEY: tuple(group)}))
        if "values" in self.modes:
            shown_values = {**self._keys(self.values), INTERRUPT_KEY: tuple(interrupts)}
            out.append(self._out("values", shown_values))
        if self.modes & {"tasks", "debug"}:
            for task_id, (node, group) in by_task.items():
                result: dict[str, Any] = {
                    "id": task_id,
                    "name": node,
                    "error": None,
                    "result": {},
                    "interrupts": [
                        {"value": i.value, "id": i.id, "response_schema": None} for i in group
                    ],
                }
                out += self._task(event, "task_result", result)
        return out

    def _keys(self, values: dict[str, Any]) -> Any:
        keys = self.output_keys
        if keys is None:
            return values
        if isinstance(keys, str):
            return values.get(keys)
        return {k: v for k, v in values.items() if k in keys}


def _exception(error_type: str, message: str) -> Exception:
    """A failed task's error, as an exception of its class where that is a built-in one
    (the event carries the class's name and the message, not the object)."""
    cls = getattr(builtins, error_type, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except Exception:  # a built-in whose constructor wants more
            pass
    return RuntimeError(f"{error_type}: {message}")


async def _no_snapshot(thread_id: str, checkpoint_id: str) -> StateSnapshot | None:
    return None


class Namespaced:
    """``stream(subgraphs=True)``: a ``Shaper`` per namespace (the parent's is ``()``;
    a subgraph's is its thread below the run's, ``("node:task-id", ...)``), each chunk
    with its namespace first, as LangGraph gives them."""

    def __init__(
        self,
        modes: tuple[str, ...],
        single: bool,
        output_keys: str | Sequence[str] | None,
        info: GraphInfo,
        read: ReadSnapshot,
        thread_id: str,
    ) -> None:
        self.modes = modes
        self.single = single
        self.top = thread_id
        self.shapers: dict[tuple[str, ...], Shaper] = {
            (): Shaper(modes, False, output_keys, info, read)
        }

    def _namespace(self, event: Event) -> tuple[str, ...]:
        thread = event.thread_id
        if not thread.startswith(f"{self.top}/"):
            return ()
        return tuple(thread[len(self.top) + 1 :].split("/"))

    def _wrap(self, ns: tuple[str, ...], chunks: list[Any]) -> list[Any]:
        return [(ns, chunk) if self.single else (ns, mode, chunk) for mode, chunk in chunks]

    async def shape(self, event: Event) -> list[Any]:
        ns = self._namespace(event)
        shaper = self.shapers.get(ns)
        if shaper is None:  # a subgraph's first event: its keys are shown as they come
            shaper = Shaper(self.modes, False, None, GraphInfo(()), _no_snapshot)
            self.shapers[ns] = shaper
        return self._wrap(ns, await shaper.shape(event))

    def hold(self, item: tuple[Any, dict[str, Any]]) -> None:
        self.shapers[()].hold(item)

    def live(self) -> list[Any]:
        return self._wrap((), self.shapers[()].live())

    def finish(self) -> list[Any]:
        out: list[Any] = []
        for ns, shaper in self.shapers.items():
            out += self._wrap(ns, shaper.finish())
        return out
