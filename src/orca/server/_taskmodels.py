"""Which model an LLM task's ``model_ref`` names, on which engine.

A ``model_ref`` is, in this order:

1. the name of a model in ``[server.models.NAME]`` (``provider``, ``model``, params, and
   ``max_context``): the only way to a local engine (``llamacpp``), whose GGUF files the
   operator names, never a client;
2. ``planner`` or ``worker``: that role of the active profile (``orca profile use``);
3. ``pool:NAME`` (or ``NAME`` alone): a local engine pool of this server (``[pools.NAME]``
   or ``orca pool create``), whose replicas serve it;
4. ``PROVIDER:MODEL`` for a cloud provider (``openai:gpt-4o-mini``,
   ``anthropic:claude-sonnet-4-5``), with the provider's key from the environment.

``engine``, when a task gives it, must be the provider the reference resolves to (for a
pool: its engine, or ``pool``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orca.errors import ConfigError, InvalidInputError
from orca.llm import ChatModel, Models, ModelSpec, provider_names

LOCAL_ENGINES = frozenset({"llamacpp"})
"""Engines that load a file the operator names (``[server.models]`` only); a pool's
engines are local too (``TaskModel.local``)."""
LLAMACPP_CONTEXT = 2048  # llama.cpp's n_ctx when a model's params give none
ROLES = ("planner", "worker")
CLOUD_TTL_S = 60.0
"""How long a cloud model built for a tenant's tasks is reused before it is built again
(with the key the tenant stores now)."""


@dataclass(frozen=True, slots=True)
class TaskModel:
    """A resolved ``model_ref``: the engine (provider), the model, and its context."""

    ref: str
    engine: str
    model: ChatModel
    max_context: int | None
    pool: str | None = None
    """The local engine pool that serves it (its replicas, its admission), or None."""

    @property
    def local(self) -> bool:
        return self.engine in LOCAL_ENGINES or self.pool is not None

    @property
    def name(self) -> str:
        return self.model.model


class TaskModels:
    """The models tasks may call: those of ``[server.models]`` (built now, so that a
    wrong table stops the start), the active profile's roles, and cloud models by
    ``PROVIDER:MODEL``.

    Raises:
        ConfigError: a ``[server.models]`` table names no provider or model, an unknown
            provider, or a GGUF file that does not exist.
    """

    def __init__(self, tables: Mapping[str, Mapping[str, Any]], project: Path) -> None:
        self._named: dict[str, TaskModel] = {}
        self.pools: Any = None
        """The server's ``PoolManager`` (pool references resolve through it), or None."""
        self._cloud: dict[tuple[str | None, str], tuple[TaskModel, float]] = {}
        for name, table in sorted(tables.items()):
            where = f"server.models.{name}"
            if not isinstance(table, Mapping):
                raise ConfigError(
                    f"{where} is not a table",
                    key=where,
                    fix=f'write [{where}] with provider = "..." and model = "..."',
                )
            data = dict(table)
            limit = data.pop("max_context", None)
            if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
                raise ConfigError(
                    f"{where}.max_context is {limit!r}",
                    key=f"{where}.max_context",
                    fix="give the model's context length in tokens, e.g. max_context = 8192",
                )
            spec = ModelSpec.from_dict(data, where=where)
            if spec.provider in LOCAL_ENGINES:
                path = Path(spec.model).expanduser()
                if not path.is_absolute():
                    path = project / path
                spec = ModelSpec(spec.provider, str(path), spec.params)
                n_ctx = spec.params.get("n_ctx", LLAMACPP_CONTEXT)
                limit = min(limit, n_ctx) if limit is not None else n_ctx
            self._named[name] = TaskModel(name, spec.provider, spec.build(), limit)

    @property
    def named(self) -> dict[str, TaskModel]:
        return dict(self._named)

    @property
    def local_count(self) -> int:
        return sum(1 for m in self._named.values() if m.local)

    def resolve(
        self, ref: str, engine: str | None, tenant: str | None = None, keys: Any = None
    ) -> TaskModel:
        """The model ``ref`` names (blocking: a role reads ``tenant``'s active profile). A
        role's or a cloud ``PROVIDER:MODEL``'s key comes from ``keys`` (the tenant's stored
        secrets) before the environment; ``[server.models]`` are the installation's, with
        its keys.

        Raises:
            InvalidInputError: no such model, a local engine asked by path, or an
                ``engine`` other than the one ``ref`` runs on.
        """
        found = self._named.get(ref)
        if found is None and ref in ROLES:
            try:
                model = Models(tenant=tenant, keys=_lookup(keys)).get(ref)
            except ConfigError as exc:
                raise InvalidInputError(
                    f"model_ref {ref!r} names the active profile's {ref}, and there is none "
                    f"({exc}). Fix: orca profile use NAME, or name a model of [server.models]"
                ) from None
            found = TaskModel(ref, model.provider, model, None)
        if found is None:
            found = self._pool(ref)
        if found is None:
            found = self._by_provider(ref, tenant, keys)
        if found.pool is not None and engine == "pool":
            return found
        if engine is not None and engine != found.engine:
            raise InvalidInputError(
                f"engine is {engine!r}, but model_ref {ref!r} runs on {found.engine!r}. Fix: "
                f"send engine {found.engine!r}, or leave engine out"
            )
        return found

    def _pool(self, ref: str) -> TaskModel | None:
        """The pool ``ref`` names (``pool:NAME``, or a pool's name), or None."""
        name = ref.removeprefix("pool:")
        if self.pools is None or (name == ref and name not in self.pools.pools):
            return None
        pool = self.pools.get(name)  # PoolUnavailableError: no such pool runs
        return TaskModel(ref, pool.config.engine, self.pools.model(name), pool.config.n_ctx, name)

    def _by_provider(self, ref: str, tenant: str | None, keys: Any) -> TaskModel:
        provider, sep, model = ref.partition(":")
        if not sep or provider not in provider_names() or not model:
            named = ", ".join(sorted(self._named)) or "none"
            raise InvalidInputError(
                f"model_ref {ref!r} names no model of this server. Fix: use a name of "
                f"[server.models] ({named}), planner or worker, or PROVIDER:MODEL with a "
                f"cloud provider ({', '.join(p for p in provider_names() if p != 'llamacpp')})"
            )
        if provider in LOCAL_ENGINES:
            raise InvalidInputError(
                f"model_ref {ref!r} asks a local engine for a file. Fix: local models are "
                "served by name: add it to [server.models] and send that name"
            )
        # each tenant's, with its own key; built again now and then, so that a key the
        # tenant stores anew is used within CLOUD_TTL_S
        kept = self._cloud.get((tenant, ref))
        if kept is None or time.monotonic() - kept[1] > CLOUD_TTL_S:
            built = ModelSpec(provider, model).build(_lookup(keys))
            kept = self._cloud[(tenant, ref)] = (
                TaskModel(ref, provider, built, None),
                time.monotonic(),
            )
        return kept[0]

    def describe(self) -> list[dict[str, Any]]:
        """The named models, for ``/v1/capabilities``."""
        return [
            {
                "model_ref": name,
                "engine": m.engine,
                "model": m.name,
                "max_context": m.max_context,
                "local": m.local,
            }
            for name, m in sorted(self._named.items())
        ]


def _lookup(keys: Any) -> Any:
    """A key lookup (name -> key or None) from stored secrets, or None."""
    reveal = getattr(keys, "reveal", None)
    return reveal if callable(reveal) else None
