"""LangGraph's ``langgraph.func``: the functional API (``@entrypoint``, ``@task``) over
Orca's own (``orca.func``), with LangGraph's config dict and output shapes.

A workflow offers ``invoke``/``ainvoke`` and ``get_state``; streaming a functional
workflow is not supported by the layer yet (use ``invoke``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from orca import func as native_func
from orca.compat.langgraph import _config, _state
from orca.compat.langgraph._builder import native_retry
from orca.compat.langgraph._compiled import _translate
from orca.compat.langgraph._nodes import GraphInfo
from orca.compat.langgraph._stream import INTERRUPT_KEY
from orca.compat.langgraph.types import StateSnapshot
from orca.errors import CheckpointNotFoundError, GraphError, InvalidInputError

__all__ = ["entrypoint", "task"]


def task(
    __func_or_none__: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    retry_policy: Any = None,
    cache_policy: Any = None,
) -> Any:
    """``@task`` or ``@task(name=..., retry_policy=...)``: a step whose result is kept,
    so a workflow run again on its thread does not run it again (``orca.func.task``)."""
    if cache_policy is not None:
        raise GraphError(
            "task(cache_policy=...) is not supported by Orca's LangGraph layer yet",
            fix="leave cache_policy out (a task's result is kept per thread anyway)",
        )

    def make(fn: Callable[..., Any]) -> Any:
        retry = native_retry(retry_policy, str(name or getattr(fn, "__name__", "task")))
        return native_func.task(fn, name=name, retry_policy=retry)

    return make if __func_or_none__ is None else make(__func_or_none__)


class entrypoint:
    """``@entrypoint(checkpointer=InMemorySaver())``: a function run as a workflow,
    called with LangGraph's config dict."""

    final = native_func.final

    def __init__(
        self,
        checkpointer: Any = None,
        store: Any = None,
        cache: Any = None,
        context_schema: Any = None,
        cache_policy: Any = None,
        retry_policy: Any = None,
    ) -> None:
        for label, value in (
            ("store", store),
            ("cache", cache),
            ("context_schema", context_schema),
            ("cache_policy", cache_policy),
            ("retry_policy", retry_policy),
        ):
            if value is not None:
                raise GraphError(
                    f"entrypoint({label}=...) is not supported by Orca's LangGraph layer yet",
                    fix=f"leave {label} out",
                )
        self.checkpointer = checkpointer

    def __call__(self, fn: Callable[..., Any]) -> Workflow:
        return Workflow(native_func.entrypoint(checkpointer=self.checkpointer)(fn))


class Workflow:
    """An ``@entrypoint`` function: ``invoke(input, config)`` returns what it returned
    (``{"__interrupt__": [...]}`` added while it waits for a resume)."""

    def __init__(self, native: native_func.Entrypoint) -> None:
        self.native = native
        self.name = native.name
        self.checkpointer = native.graph.checkpointer

    def __repr__(self) -> str:
        return f"<entrypoint {self.name!r} on Orca>"

    def _options(self, config: Any) -> tuple[_config.CallConfig, dict[str, Any]]:
        call = _config.parse(config)
        options: dict[str, Any] = {}
        if self.checkpointer is not None:
            if call.thread_id is None:
                raise InvalidInputError(
                    "a workflow with a checkpointer needs config['configurable']"
                    "['thread_id']. Fix: pass config={'configurable': {'thread_id': '1'}}"
                )
            options["thread_id"] = call.thread_id
            if call.checkpoint_id is not None:
                options["checkpoint_id"] = call.checkpoint_id
        return call, options

    @staticmethod
    def _output(result: Any) -> Any:
        if isinstance(result, dict) and INTERRUPT_KEY in result:
            pending = result.pop(INTERRUPT_KEY)
            result[INTERRUPT_KEY] = _state.interrupts_of(pending)
        return result

    def invoke(self, input: Any, config: Any = None, **kwargs: Any) -> Any:
        """Run the function on ``input`` (``None`` continues, ``Command(resume=...)``
        answers a pause) and return what it returned."""
        self._no_options(kwargs)
        call, options = self._options(config)
        try:
            result = self.native.invoke(input, **options)
        except Exception as exc:
            error = _translate(exc, call)
        else:
            return self._output(result)
        raise error

    async def ainvoke(self, input: Any, config: Any = None, **kwargs: Any) -> Any:
        """Async ``invoke``."""
        self._no_options(kwargs)
        call, options = self._options(config)
        try:
            result = await self.native.ainvoke(input, **options)
        except Exception as exc:
            error = _translate(exc, call)
        else:
            return self._output(result)
        raise error

    def get_state(self, config: Any) -> StateSnapshot:
        """The thread's snapshot; ``values`` is what the function last returned."""
        call, options = self._options(config)
        try:
            snap = self.native.get_state(options["thread_id"], call.checkpoint_id)
        except CheckpointNotFoundError:
            return _state.empty_snapshot(options["thread_id"])
        shown = _state.snapshot_of(snap, GraphInfo(tuple(snap.values)))
        return shown._replace(values=snap.values.get("value"))

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        raise InvalidInputError(
            "streaming a functional workflow is not supported by Orca's LangGraph layer "
            "yet. Fix: call invoke(), or stream the Orca workflow's events with "
            "workflow.native.stream(input, thread_id=...)"
        )

    astream = stream

    @staticmethod
    def _no_options(kwargs: dict[str, Any]) -> None:
        if kwargs:
            raise InvalidInputError(
                f"unexpected keyword argument {sorted(kwargs)[0]!r} for a functional "
                "workflow's invoke. Fix: pass the input and config only"
            )
