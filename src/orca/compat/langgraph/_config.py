"""LangGraph's config dict: checked, turned into Orca's run options, and shown to nodes.

A call's config (``{"configurable": {"thread_id": ...}, "recursion_limit": N, ...}``)
is held in a context variable while the run goes on; the engine runs every node in a
copy of the caller's context (in threads too), so a node's wrapper reads it there and
builds the node's own config from it and the task's ``ctx``.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from orca.errors import InvalidInputError

DEFAULT_RECURSION_LIMIT = 25
# the keys of a LangChain RunnableConfig; any other top-level key is configurable
KNOWN_KEYS = frozenset(
    {
        "configurable",
        "recursion_limit",
        "metadata",
        "tags",
        "callbacks",
        "run_name",
        "run_id",
        "max_concurrency",
    }
)


@dataclass(frozen=True, slots=True)
class CallConfig:
    """One call's config, checked."""

    configurable: dict[str, Any] = field(default_factory=dict)
    recursion_limit: int = DEFAULT_RECURSION_LIMIT
    metadata: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    callbacks: Any = None
    max_concurrency: int | None = None
    context: Any = None  # the call's context= (Orca's context option: runtime.context)
    store: Any = None
    messages: Any = None  # the run's MessageSink while it streams "messages"

    @property
    def thread_id(self) -> str | None:
        value = self.configurable.get("thread_id")
        return None if value is None else str(value)

    @property
    def checkpoint_id(self) -> str | None:
        value = self.configurable.get("checkpoint_id")
        return None if value is None else str(value)


def _fail(where: str, got: Any, fix: str) -> InvalidInputError:
    return InvalidInputError(f"config{where} is {got!r}. Fix: {fix}")


def parse(config: Any) -> CallConfig:
    """Check a LangGraph config dict (None means ``{}``).

    Raises:
        InvalidInputError: naming the field at fault (``config['configurable']``,
            ``config['recursion_limit']``, ...) and the fix.
    """
    if config is None:
        return CallConfig()
    if not isinstance(config, Mapping):
        raise InvalidInputError(
            f"config is a {type(config).__name__}, not a dict. Fix: pass "
            "config={'configurable': {'thread_id': '1'}}"
        )
    configurable = config.get("configurable") or {}
    if not isinstance(configurable, Mapping) or not all(isinstance(k, str) for k in configurable):
        raise _fail(
            "['configurable']",
            configurable,
            "pass a dict with string keys, e.g. {'configurable': {'thread_id': '1'}}",
        )
    # as in LangGraph, other top-level keys ({"thread_id": "1"}) count as configurable
    extra = {k: v for k, v in config.items() if k not in KNOWN_KEYS and isinstance(k, str)}
    configurable = {**extra, **configurable}
    thread_id = configurable.get("thread_id")
    if thread_id is not None and (
        isinstance(thread_id, bool) or not isinstance(thread_id, str | int) or thread_id == ""
    ):
        raise _fail(
            "['configurable']['thread_id']",
            thread_id,
            "pass a non-empty string (or an int), e.g. {'configurable': {'thread_id': '1'}}",
        )
    checkpoint_id = configurable.get("checkpoint_id")
    if checkpoint_id is not None and (not isinstance(checkpoint_id, str) or not checkpoint_id):
        raise _fail(
            "['configurable']['checkpoint_id']",
            checkpoint_id,
            "pass the checkpoint_id of a config that get_state or get_state_history returned",
        )
    limit = config.get("recursion_limit", DEFAULT_RECURSION_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise _fail("['recursion_limit']", limit, "pass a positive int (LangGraph's default: 25)")
    metadata = config.get("metadata") or {}
    if not isinstance(metadata, Mapping) or not all(isinstance(k, str) for k in metadata):
        raise _fail("['metadata']", metadata, "pass a dict with string keys")
    tags = config.get("tags") or ()
    if isinstance(tags, str) or not all(isinstance(t, str) for t in tags):
        raise _fail("['tags']", tags, "pass a list of strings")
    concurrency = config.get("max_concurrency")
    if concurrency is not None and (
        isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
    ):
        raise _fail("['max_concurrency']", concurrency, "pass a positive int, or leave it out")
    return CallConfig(
        configurable=dict(configurable),
        recursion_limit=limit,
        metadata=dict(metadata),
        tags=tuple(tags),
        callbacks=config.get("callbacks"),
        max_concurrency=concurrency,
    )


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``: its keys win; ``configurable`` and ``metadata`` merge
    key by key, ``tags`` and ``callbacks`` lists join."""
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        if (
            key in ("configurable", "metadata")
            and isinstance(old, Mapping)
            and isinstance(value, Mapping)
        ):
            out[key] = {**old, **value}
        elif key in ("tags", "callbacks") and isinstance(old, list) and isinstance(value, list):
            out[key] = [*old, *value]
        else:
            out[key] = value
    return out


def thread_config(thread_id: str, checkpoint_id: str | None) -> dict[str, Any]:
    """The config that names one checkpoint of a thread, as LangGraph returns it."""
    inner: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
    if checkpoint_id is not None:
        inner["checkpoint_id"] = checkpoint_id
    return {"configurable": inner}


current: ContextVar[CallConfig | None] = ContextVar("orca_langgraph_config", default=None)


def node_config(call: CallConfig | None, ctx: Any, handler: Any = None) -> dict[str, Any]:
    """The config a node (or router) of the running task sees, as LangGraph builds it;
    ``handler`` joins the caller's callbacks."""
    call = call or CallConfig()
    thread_id = call.thread_id
    configurable: dict[str, Any] = {**call.configurable, "checkpoint_ns": ""}
    if thread_id is not None:
        configurable["thread_id"] = thread_id
    metadata: dict[str, Any] = {**call.metadata}
    if thread_id is not None:
        metadata["thread_id"] = thread_id
    metadata.update(
        langgraph_step=ctx.step,
        langgraph_node=ctx.node,
        langgraph_triggers=(f"branch:to:{ctx.node}",),
        langgraph_path=("__pregel_pull", ctx.node),
        langgraph_checkpoint_ns=f"{ctx.node}:{ctx.task_id}",
    )
    return {
        "configurable": configurable,
        "metadata": metadata,
        "callbacks": call.callbacks,
    }


def with_handler(callbacks: Any, handler: Any) -> Any:
    """A config's ``callbacks`` with ``handler`` joined to them."""
    if callbacks is None:
        return [handler]
    if isinstance(callbacks, list | tuple):
        return [*callbacks, handler]
    manager = callbacks.copy()  # a LangChain callback manager
    manager.add_handler(handler, inherit=True)
    return manager
