"""Profiles: a named planner/worker pair of models, kept by the user database's profile
repository (``orca.store``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orca.errors import ConfigError
from orca.llm._base import ChatModel
from orca.llm._registry import KeyLookup, check_provider, make_model
from orca.store import ModelRecord, ProfileRecord, ProfileRepository, check_profile_name

ROLES = ("planner", "worker")


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """Which model to call and how: ``provider``, ``model`` and ``params`` (request
    defaults such as ``temperature``, plus client options such as ``base_url``)."""

    provider: str
    model: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_provider(self.provider)
        if not self.model or not isinstance(self.model, str):
            raise ConfigError(
                f"provider {self.provider!r} needs a model name", key="model", fix="set model"
            )
        if "api_key" in self.params:
            raise ConfigError(
                "API keys are never stored in a profile",
                key="params.api_key",
                fix="export the provider's key variable (e.g. OPENAI_API_KEY), or store it "
                "sealed: orca secret set OPENAI_API_KEY",
            )

    def build(self, keys: KeyLookup | None = None) -> ChatModel:
        """The ``ChatModel`` this spec names; its API key looked up in ``keys`` (a
        tenant's stored secrets) before the environment (see ``make_model``)."""
        return make_model(self.provider, self.model, self.params, keys=keys)

    @staticmethod
    def from_dict(data: Mapping[str, Any], *, where: str = "model") -> ModelSpec:
        """Parse ``{"provider": ..., "model": ..., <params>}`` (a config table)."""
        missing = [k for k in ("provider", "model") if not data.get(k)]
        if missing:
            raise ConfigError(
                f"{where} lacks {' and '.join(missing)}",
                key=f"{where}.{missing[0]}",
                fix=f'set {where}.provider and {where}.model, e.g. provider = "openai"',
            )
        params = {k: v for k, v in data.items() if k not in ("provider", "model")}
        return ModelSpec(str(data["provider"]), str(data["model"]), params)


@dataclass(frozen=True, slots=True)
class Profile:
    """A named planner/worker pair. Nodes reach them as ``ctx.planner`` and ``ctx.worker``."""

    name: str
    planner: ModelSpec
    worker: ModelSpec
    description: str = ""
    active: bool = False

    def __post_init__(self) -> None:
        check_profile_name(self.name)

    def spec(self, role: str) -> ModelSpec:
        return self.planner if role == "planner" else self.worker

    @staticmethod
    def from_dict(name: str, data: Mapping[str, Any]) -> Profile:
        """Parse a config table: ``{"description": ..., "planner": {...}, "worker": {...}}``."""
        unknown = sorted(set(data) - {"description", "planner", "worker"})
        if unknown:
            raise ConfigError(
                f"profile {name!r} has unknown key {unknown[0]!r}",
                key=f"profiles.{name}.{unknown[0]}",
                fix="a profile has only description, planner and worker",
            )
        specs = {}
        for role in ROLES:
            table = data.get(role)
            if not isinstance(table, Mapping):
                raise ConfigError(
                    f"profile {name!r} has no {role} table",
                    key=f"profiles.{name}.{role}",
                    fix=f'add [profiles.{name}.{role}] with provider = "..." and model = "..."',
                )
            specs[role] = ModelSpec.from_dict(table, where=f"profiles.{name}.{role}")
        return Profile(name, specs["planner"], specs["worker"], str(data.get("description", "")))


class Profiles:
    """Profile CRUD over a profile repository (``user_store().profiles``), in terms of
    ``Profile`` and ``ModelSpec``: the specs are checked (known provider, no API key)
    before anything is stored."""

    def __init__(self, repository: ProfileRepository) -> None:
        self._repo = repository

    def create(self, profile: Profile, *, activate: bool = False) -> Profile:
        """Store a new profile (the first one becomes active).

        Raises:
            ConfigError: a profile with this name exists.
        """
        return _profile(self._repo.create(_record(profile), activate=activate))

    def get(self, name: str) -> Profile:
        """Raises ``UnknownProfileError`` (naming the closest) if there is none."""
        return _profile(self._repo.get(name))

    def all(self) -> list[Profile]:
        return [_profile(r) for r in self._repo.all()]

    def names(self) -> list[str]:
        return self._repo.names()

    def active(self) -> Profile | None:
        found = self._repo.active()
        return _profile(found) if found is not None else None

    def use(self, name: str) -> Profile:
        """Make ``name`` the one active profile."""
        return _profile(self._repo.use(name))

    def update(
        self,
        name: str,
        *,
        planner: ModelSpec | None = None,
        worker: ModelSpec | None = None,
        description: str | None = None,
    ) -> Profile:
        return _profile(
            self._repo.update(
                name,
                planner=_model(planner) if planner is not None else None,
                worker=_model(worker) if worker is not None else None,
                description=description,
            )
        )

    def delete(self, name: str) -> None:
        self._repo.delete(name)


def _model(spec: ModelSpec) -> ModelRecord:
    return ModelRecord(spec.provider, spec.model, dict(spec.params))


def _record(p: Profile) -> ProfileRecord:
    return ProfileRecord(p.name, _model(p.planner), _model(p.worker), p.description, p.active)


def _profile(r: ProfileRecord) -> Profile:
    return Profile(
        r.name,
        ModelSpec(r.planner.provider, r.planner.model, dict(r.planner.params)),
        ModelSpec(r.worker.provider, r.worker.model, dict(r.worker.params)),
        r.description,
        r.active,
    )
