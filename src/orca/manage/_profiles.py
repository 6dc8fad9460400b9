"""LLM profiles as ``orca profile`` and ``/v1/profiles`` manage them: a planner and a
worker model (``PROVIDER:MODEL`` with parameters each provider checks), one active."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orca.errors import InvalidFieldError
from orca.llm import ModelSpec, Profile, Profiles

if TYPE_CHECKING:
    from orca.store import UserStore


def check_name(name: str, field: str = "name") -> None:
    """Raise ``InvalidFieldError`` unless ``name`` is a valid profile name (the store's
    own check, naming ``field``)."""
    from orca.errors import ConfigError
    from orca.store import check_profile_name

    try:
        check_profile_name(name)
    except ConfigError as exc:
        message, _, fix = str(exc).partition(". Fix: ")
        raise InvalidFieldError(message, field=field, fix=fix or exc.fix) from None


def checked_params(provider: str, params: Mapping[str, Any], field: str) -> dict[str, Any]:
    """``params`` if each is one ``provider`` takes, with a valid value.

    Raises:
        UnknownProviderError: no provider ``provider`` (naming the closest).
        InvalidFieldError: a key the provider does not take, or a bad value (``field``
            names where the parameters came from, e.g. ``--planner-param``).
    """
    from orca.llm._params import param_problem
    from orca.llm._registry import check_provider

    check_provider(provider)
    for key, value in params.items():
        problem = param_problem(provider, key, value, field)
        if problem is not None:
            raise InvalidFieldError(f"{field}: {problem[0]}", field=field, fix=problem[1])
    return dict(params)


def model_spec(text: str, params: Mapping[str, Any], field: str, params_field: str) -> ModelSpec:
    """``PROVIDER:MODEL`` and its parameters as a checked ``ModelSpec``.

    Raises:
        InvalidFieldError: ``text`` is not ``PROVIDER:MODEL``, or a parameter is bad.
        UnknownProviderError: no such provider.
    """
    provider, sep, model = text.partition(":")
    if not sep or not provider or not model:
        raise InvalidFieldError(
            f"{field} {text!r} is not PROVIDER:MODEL",
            field=field,
            fix=f"write {field} openai:gpt-4o",
        )
    return ModelSpec(provider, model, checked_params(provider, params, params_field))


def parse_params(items: list[str], field: str) -> dict[str, Any]:
    """``KEY=VALUE`` items (values JSON where they parse, else text) as a dict.

    Raises:
        InvalidFieldError: an item is not ``KEY=VALUE``.
    """
    found: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise InvalidFieldError(
                f"{field} {item!r} is not KEY=VALUE",
                field=field,
                fix=f"write {field} temperature=0.2",
            )
        try:
            found[key] = json.loads(raw)
        except json.JSONDecodeError:
            found[key] = raw
    return found


def as_dict(p: Profile) -> dict[str, Any]:
    """A profile as every face shows it (``orca profile show --json``)."""

    def spec(s: ModelSpec) -> dict[str, Any]:
        return {"provider": s.provider, "model": s.model, "params": dict(s.params)}

    return {
        "name": p.name,
        "description": p.description,
        "active": p.active,
        "planner": spec(p.planner),
        "worker": spec(p.worker),
    }


def create(store: UserStore, profile: Profile, *, activate: bool = False) -> Profile:
    """Store ``profile`` (the first one becomes active)."""
    return Profiles(store.profiles).create(profile, activate=activate)


def all_(store: UserStore) -> list[Profile]:
    """Every profile."""
    return Profiles(store.profiles).all()


def get(store: UserStore, name: str) -> Profile:
    """Profile ``name``.

    Raises:
        UnknownProfileError: no profile ``name`` (naming the closest).
    """
    return Profiles(store.profiles).get(name)


def use(store: UserStore, name: str) -> Profile:
    """Make profile ``name`` the active one."""
    return Profiles(store.profiles).use(name)


def update(
    store: UserStore,
    name: str,
    *,
    planner: tuple[str | None, Mapping[str, Any], str, str] = (None, {}, "planner", "planner"),
    worker: tuple[str | None, Mapping[str, Any], str, str] = (None, {}, "worker", "worker"),
    description: str | None = None,
) -> Profile:
    """Change profile ``name``: each of ``planner`` and ``worker`` is (a new
    ``PROVIDER:MODEL`` or None, parameters added to the old ones, the field naming the
    model, the field naming the parameters).

    Raises:
        UnknownProfileError: no profile ``name``.
        InvalidFieldError: a bad model or parameter.
    """
    profiles = Profiles(store.profiles)
    old = profiles.get(name)

    def changed(
        given: tuple[str | None, Mapping[str, Any], str, str], spec: ModelSpec
    ) -> ModelSpec | None:
        text, params, field, params_field = given
        if text is None and not params:
            return None
        base = model_spec(text, {}, field, params_field) if text else spec
        added = checked_params(base.provider, params, params_field)
        return ModelSpec(base.provider, base.model, {**spec.params, **added})

    return profiles.update(
        name,
        planner=changed(planner, old.planner),
        worker=changed(worker, old.worker),
        description=description,
    )


def delete(store: UserStore, name: str) -> None:
    """Delete profile ``name``.

    Raises:
        UnknownProfileError: no profile ``name``.
    """
    profiles = Profiles(store.profiles)
    profiles.get(name)
    profiles.delete(name)
