"""Profiles: a named planner/worker pair of models, stored in the user database."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from orca.errors import ConfigError, UnknownProfileError
from orca.llm._base import ChatModel
from orca.llm._registry import check_provider, make_model
from orca.store.sqlite._db import transaction

ROLES = ("planner", "worker")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


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
                fix="export the provider's key variable (e.g. OPENAI_API_KEY) instead",
            )

    def build(self) -> ChatModel:
        """The ``ChatModel`` this spec names."""
        return make_model(self.provider, self.model, self.params)

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
        _check_name(self.name)

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


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigError(
            f"profile name {name!r} is not valid",
            key="name",
            fix="use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit",
        )


class Profiles:
    """Profile CRUD over the user database (``orca.store.open_user_db()``)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def create(self, profile: Profile, *, activate: bool = False) -> Profile:
        """Store a new profile (the first one becomes active).

        Raises:
            ConfigError: a profile with this name exists.
        """
        now = _now()
        with transaction(self._conn):
            if self._row(profile.name) is not None:
                raise ConfigError(
                    f"profile {profile.name!r} already exists",
                    key="name",
                    fix="pick another name, or change it with update",
                )
            first = self._conn.execute("SELECT COUNT(*) FROM llm_profiles").fetchone()[0] == 0
            self._conn.execute(
                "INSERT INTO llm_profiles (id, name, description, planner_provider, "
                "planner_model, planner_params, worker_provider, worker_model, worker_params, "
                "active, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,0,?,?)",
                (str(uuid.uuid4()), profile.name, profile.description, *_cols(profile), now, now),
            )
            if activate or first:
                self._activate(profile.name)
        return self.get(profile.name)

    def get(self, name: str) -> Profile:
        """Raises ``UnknownProfileError`` (naming the closest) if there is none."""
        row = self._row(name)
        if row is None:
            raise UnknownProfileError(name, self.names())
        return _profile(row)

    def all(self) -> list[Profile]:
        rows = self._conn.execute(f"SELECT {_COLUMNS} FROM llm_profiles ORDER BY name")
        return [_profile(r) for r in rows]

    def names(self) -> list[str]:
        return [r[0] for r in self._conn.execute("SELECT name FROM llm_profiles ORDER BY name")]

    def active(self) -> Profile | None:
        row = self._conn.execute(f"SELECT {_COLUMNS} FROM llm_profiles WHERE active = 1").fetchone()
        return _profile(row) if row else None

    def use(self, name: str) -> Profile:
        """Make ``name`` the one active profile."""
        with transaction(self._conn):
            self.get(name)
            self._activate(name)
        return self.get(name)

    def update(
        self,
        name: str,
        *,
        planner: ModelSpec | None = None,
        worker: ModelSpec | None = None,
        description: str | None = None,
    ) -> Profile:
        with transaction(self._conn):
            old = self.get(name)
            new = replace(
                old,
                planner=planner or old.planner,
                worker=worker or old.worker,
                description=old.description if description is None else description,
            )
            self._conn.execute(
                "UPDATE llm_profiles SET description=?, planner_provider=?, planner_model=?, "
                "planner_params=?, worker_provider=?, worker_model=?, worker_params=?, "
                "updated_at=? WHERE name=?",
                (new.description, *_cols(new), _now(), name),
            )
        return self.get(name)

    def delete(self, name: str) -> None:
        with transaction(self._conn):
            self.get(name)
            self._conn.execute("DELETE FROM llm_profiles WHERE name = ?", (name,))

    def _activate(self, name: str) -> None:
        self._conn.execute("UPDATE llm_profiles SET active = 0 WHERE active = 1")
        self._conn.execute("UPDATE llm_profiles SET active = 1 WHERE name = ?", (name,))

    def _row(self, name: str) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._conn.execute(
            f"SELECT {_COLUMNS} FROM llm_profiles WHERE name = ?", (name,)
        ).fetchone()
        return row


_COLUMNS = (
    "name, description, planner_provider, planner_model, planner_params, "
    "worker_provider, worker_model, worker_params, active"
)


def _cols(p: Profile) -> tuple[str, ...]:
    return (
        p.planner.provider,
        p.planner.model,
        json.dumps(dict(p.planner.params), sort_keys=True),
        p.worker.provider,
        p.worker.model,
        json.dumps(dict(p.worker.params), sort_keys=True),
    )


def _profile(row: tuple[Any, ...]) -> Profile:
    name, description, pp, pm, pparams, wp, wm, wparams, active = row
    return Profile(
        name,
        ModelSpec(pp, pm, json.loads(pparams)),
        ModelSpec(wp, wm, json.loads(wparams)),
        description,
        bool(active),
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()
