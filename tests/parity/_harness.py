"""The differential harness: one graph, written once in LangGraph's API, run on LangGraph
and on Orca's compatibility layer, the two observations compared.

A case is a function ``case(lg) -> observation``. ``lg`` is the library under test: a
namespace whose names (``StateGraph``, ``Send``, ``Command``, ``interrupt``,
``InMemorySaver``, ``GraphRecursionError``...) come from ``langgraph.<module>`` or from
``orca.compat.langgraph.<module>``, the same relative module for both. The observation is
plain JSON-able data, normalised by :func:`norm` (no timestamps, checkpoint ids or uuids),
so two engines that behave alike give equal observations.

A name the library under test lacks resolves to nothing: using it raises
:class:`MissingName`, so the case's observation on that library is that error, and the
case counts as a mismatch until the name exists.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

LIBRARIES = {"langgraph": "langgraph", "orca": "orca.compat.langgraph"}

# namespace name -> (module relative to the library's root, attribute)
NAMES: dict[str, tuple[str, str]] = {
    "StateGraph": ("graph", "StateGraph"),
    "START": ("graph", "START"),
    "END": ("graph", "END"),
    "MessagesState": ("graph", "MessagesState"),
    "add_messages": ("graph", "add_messages"),
    "REMOVE_ALL_MESSAGES": ("graph.message", "REMOVE_ALL_MESSAGES"),
    "Send": ("types", "Send"),
    "Command": ("types", "Command"),
    "interrupt": ("types", "interrupt"),
    "Interrupt": ("types", "Interrupt"),
    "RetryPolicy": ("types", "RetryPolicy"),
    "CachePolicy": ("types", "CachePolicy"),
    "Overwrite": ("types", "Overwrite"),
    "StateUpdate": ("types", "StateUpdate"),
    "StreamWriter": ("types", "StreamWriter"),
    "InMemorySaver": ("checkpoint.memory", "InMemorySaver"),
    "MemorySaver": ("checkpoint.memory", "MemorySaver"),
    "SqliteSaver": ("checkpoint.sqlite", "SqliteSaver"),
    "InMemoryCache": ("cache.memory", "InMemoryCache"),
    "GraphRecursionError": ("errors", "GraphRecursionError"),
    "InvalidUpdateError": ("errors", "InvalidUpdateError"),
    "EmptyInputError": ("errors", "EmptyInputError"),
    "GraphInterrupt": ("errors", "GraphInterrupt"),
    "get_stream_writer": ("config", "get_stream_writer"),
    "get_config": ("config", "get_config"),
    "entrypoint": ("func", "entrypoint"),
    "task": ("func", "task"),
    "RemainingSteps": ("managed", "RemainingSteps"),
    "IsLastStep": ("managed", "IsLastStep"),
    "Runtime": ("runtime", "Runtime"),
    "get_runtime": ("runtime", "get_runtime"),
}


class MissingName(Exception):
    """The library under test has no such name (a feature its layer lacks)."""


class _Missing:
    """Stands for a name the library lacks; any use raises :class:`MissingName`."""

    def __init__(self, where: str) -> None:
        self._where = where

    def _fail(self, *args: Any, **kwargs: Any) -> Any:
        raise MissingName(self._where)

    __call__ = _fail
    __getitem__ = _fail
    __getattr__ = _fail  # type: ignore[assignment]
    __iter__ = _fail


class Library:
    """The names of one library, looked up lazily by their LangGraph module paths."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.root = LIBRARIES[name]
        self._exported: dict[int, str] | None = None

    def __getattr__(self, attr: str) -> Any:
        if attr not in NAMES:
            raise AttributeError(attr)
        module, name = NAMES[attr]
        where = f"{self.root}.{module}.{name}"
        try:
            value = getattr(importlib.import_module(f"{self.root}.{module}"), name)
        except (ImportError, AttributeError) as exc:
            value = _Missing(f"{where} ({type(exc).__name__}: {exc})")
        setattr(self, attr, value)
        return value

    # helpers every case uses
    def saver(self) -> Any:
        return self.InMemorySaver()

    def error_name(self, exc: BaseException) -> str:
        """The name a LangGraph program can catch ``exc`` by: the first class of its MRO
        that this library's ``errors`` module exports (by that name), or that is not
        Orca's own (a built-in, pydantic's, the program's). An Orca error that subclasses
        ``ValueError`` and is not exported reads as ``ValueError``."""
        if self._exported is None:
            try:
                module = importlib.import_module(f"{self.root}.errors")
                self._exported = {id(v): k for k, v in vars(module).items() if isinstance(v, type)}
            except ImportError:
                self._exported = {}
        for cls in type(exc).__mro__:
            if id(cls) in self._exported:
                return self._exported[id(cls)]
            if not cls.__module__.startswith("orca"):
                return cls.__name__
        return type(exc).__name__


# ---------------------------------------------------------------- cases


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    fn: Callable[[Library], Any]
    doc: str


CASES: dict[str, Case] = {}


class Cases:
    """The cases of one test file, under one area prefix (``order``, ``reducers``...)."""

    def __init__(self, area: str) -> None:
        self.area = area
        self.ids: list[str] = []

    def __call__(self, fn: Callable[[Library], Any]) -> Callable[[Library], Any]:
        case_id = f"{self.area}.{fn.__name__}"
        if case_id in CASES:
            raise ValueError(f"duplicate parity case {case_id}")
        CASES[case_id] = Case(case_id, fn, (fn.__doc__ or "").strip())
        self.ids.append(case_id)
        return fn

    def test(self) -> Callable[[str], None]:
        """The pytest function for this file: one test per case."""
        import pytest

        @pytest.mark.parametrize("case_id", self.ids)
        def test_parity(case_id: str) -> None:
            check(case_id)

        return test_parity


_current: list[Library] = []  # the library a case runs on (cases run one at a time)


def observe(case_id: str, library: str) -> Any:
    """Run one case on one library: its normalised observation, or the class of the
    exception it let out."""
    lg = Library(library)
    _current[:] = [lg]
    try:
        return {"ok": norm(CASES[case_id].fn(lg))}
    except MissingName as exc:
        return {"raised": "MissingName", "name": str(exc)}
    except Exception as exc:
        if os.environ.get("PARITY_DEBUG"):  # for triage: what the case let out, in full
            return {"raised": _error_name(exc), "detail": f"{type(exc).__name__}: {exc}"}
        return {"raised": _error_name(exc)}
    finally:
        _current.clear()


def _error_name(exc: BaseException) -> str:
    return _current[0].error_name(exc) if _current else type(exc).__name__


def check(case_id: str) -> None:
    """The pytest verdict of one case: the two libraries agree, or the case is listed in
    ``differences.py`` (and then it must still differ)."""
    from .differences import DIFFERENCES

    reference = observe(case_id, "langgraph")
    assert "raised" not in reference, (
        f"{case_id} does not run on LangGraph itself: {reference}; fix the case"
    )
    got = observe(case_id, "orca")
    listed = DIFFERENCES.get(case_id)
    if reference == got:
        assert listed is None, (
            f"{case_id} now matches LangGraph: remove it from tests/parity/differences.py"
        )
        return
    assert listed is not None, (
        f"{case_id} differs from LangGraph and is not in tests/parity/differences.py\n"
        f"langgraph: {_key(reference)}\norca:      {_key(got)}"
    )


# ---------------------------------------------------------------- normalising

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


def norm(value: Any) -> Any:
    """Plain, comparable data: tuples become lists, objects the fields that matter."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return _UUID.sub("<uuid>", value)
    if isinstance(value, dict):
        return {str(norm(k)): norm(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        if type(value).__name__ == "StateSnapshot":
            return snapshot(value)
        if type(value).__name__ == "RetryPolicy" and hasattr(value, "_asdict"):
            return {"RetryPolicy": norm({k: v for k, v in value._asdict().items()})}
        return [norm(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((norm(v) for v in value), key=repr)
    if isinstance(value, BaseException):
        return {"exception": _error_name(value)}
    kind = type(value).__name__
    if kind == "Interrupt":
        return {"Interrupt": norm(value.value)}
    if kind == "Send":
        return {"Send": [value.node, norm(value.arg)]}
    if kind == "Command":
        fields = ("graph", "update", "resume", "goto")
        return {"Command": {f: norm(getattr(value, f, None)) for f in fields}}
    if kind == "Overwrite":
        return {"Overwrite": norm(value.value)}
    if hasattr(value, "content") and hasattr(value, "type") and hasattr(value, "id"):
        return message(value)
    if hasattr(value, "model_dump"):
        return {kind: norm(value.model_dump())}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {kind: norm({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})}
    if callable(value):
        return {"callable": getattr(value, "__name__", kind)}
    return {"object": kind}


def message(msg: Any) -> dict[str, Any]:
    """A LangChain message: its type, content, name and id (uuids masked)."""
    out: dict[str, Any] = {"type": msg.type, "content": norm(msg.content)}
    if getattr(msg, "name", None):
        out["name"] = msg.name
    out["id"] = norm(msg.id)
    if getattr(msg, "tool_calls", None):
        out["tool_calls"] = [{"name": c["name"], "args": norm(c["args"])} for c in msg.tool_calls]
    if getattr(msg, "tool_call_id", None):
        out["tool_call_id"] = msg.tool_call_id
    return out


def snapshot(state: Any) -> dict[str, Any]:
    """A ``StateSnapshot``: values, next, the step and source of its metadata, and each
    pending task's name and interrupt values."""
    metadata = state.metadata or {}
    return {
        "values": norm(state.values),
        "next": list(state.next),
        "step": metadata.get("step"),
        "source": metadata.get("source"),
        "tasks": [
            {"name": t.name, "interrupts": [norm(i.value) for i in t.interrupts]}
            for t in state.tasks
        ],
        "interrupts": [norm(i.value) for i in getattr(state, "interrupts", ())],
    }


# ---------------------------------------------------------------- helpers for cases


def cfg(thread: str = "t", **extra: Any) -> dict[str, Any]:
    """A run config on one thread (LangGraph's dict shape)."""
    return {"configurable": {"thread_id": thread}, **extra}


def attempt(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """``{"ok": result}`` or ``{"error": exception class name}``."""
    try:
        return {"ok": norm(fn(*args, **kwargs))}
    except MissingName:
        raise
    except Exception as exc:
        return {"error": _error_name(exc)}


def chunks(stream: Iterable[Any]) -> list[Any]:
    """A stream's chunks, normalised; an exception ends the list with its class name."""
    out: list[Any] = []
    try:
        for chunk in stream:
            out.append(norm(chunk))
    except MissingName:
        raise
    except Exception as exc:
        out.append({"error": _error_name(exc)})
    return out


def namespaced(stream: Iterable[Any]) -> list[Any]:
    """Chunks of a ``subgraphs=True`` stream with their namespaces reduced to node names
    (a namespace element is ``node:task-id``; the task id is the engine's own)."""
    out: list[Any] = []
    for chunk in chunks(stream):
        if isinstance(chunk, list) and len(chunk) >= 2 and isinstance(chunk[0], list):
            ns = [str(part).split(":")[0] for part in chunk[0]]
            out.append([ns, *chunk[1:]])
        else:
            out.append(chunk)
    return out


def by_step(stream: Iterable[Any]) -> list[Any]:
    """An ``["updates", "values"]`` stream grouped into steps: each step's updates
    sorted (parallel tasks finish in any order), then the step's values. The caller
    streams with ``stream_mode=["updates", "values"]``."""
    steps: list[Any] = []
    pending: list[Any] = []
    for chunk in chunks(stream):
        if isinstance(chunk, dict) and "error" in chunk:
            steps.append({"updates": sorted(pending, key=_key), "error": chunk["error"]})
            return steps
        mode, data = chunk
        if mode == "updates":
            pending.append(data)
        else:
            steps.append({"updates": sorted(pending, key=_key), "values": data})
            pending = []
    if pending:
        steps.append({"updates": sorted(pending, key=_key)})
    return steps


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def history(app: Any, config: dict[str, Any]) -> list[dict[str, Any]]:
    """``get_state_history``, newest first: values, next, step and source of each."""
    return [
        {k: v for k, v in snapshot(s).items() if k in ("values", "next", "step", "source")}
        for s in app.get_state_history(config)
    ]


def state(app: Any, config: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return snapshot(app.get_state(config, **kwargs))


def interrupt_ids(app: Any, config: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(interrupt id, value) of each pending interrupt, in task order."""
    for task in app.get_state(config).tasks:
        for intr in task.interrupts:
            yield intr.id, intr.value


def run_async(coro: Any) -> Any:
    return asyncio.run(coro)
