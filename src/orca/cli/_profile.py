"""``orca profile create|list|show|use|update|delete``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

from orca.cli._common import (
    JSON_OPTION,
    USAGE,
    commands,
    delete_named,
    emit_json,
    esc,
    fail,
    handles_errors,
    out,
    table,
    user_db,
)

if TYPE_CHECKING:
    from orca.llm import ModelSpec, Profile


app = commands("LLM profiles: a planner and a worker model, one profile active.")

PLANNER = "PROVIDER:MODEL of the planner (e.g. anthropic:claude-sonnet-4-5)."
WORKER = "PROVIDER:MODEL of the worker (e.g. openai:gpt-4o-mini)."
PARAM = "KEY=VALUE request default or client option (repeatable; JSON values allowed)."


def _spec(text: str, params: list[str], option: str) -> ModelSpec:
    from orca.llm import ModelSpec

    provider, sep, model = text.partition(":")
    if not sep or not provider or not model:
        fail(f"{option} {text!r} is not PROVIDER:MODEL", USAGE, fix=f"write {option} openai:gpt-4o")
    return ModelSpec(
        provider, model, _checked(provider, _params(params, f"{option}-param"), option)
    )


def _checked(provider: str, params: dict[str, Any], option: str) -> dict[str, Any]:
    """``params`` if each is one ``provider`` takes, with a valid value; else an error
    naming the flag, the key and what it must be (exit 2)."""
    from orca.llm._params import param_problem
    from orca.llm._registry import check_provider

    check_provider(provider)  # an unknown provider names the closest (exit 3)
    for key, value in params.items():
        problem = param_problem(provider, key, value, f"{option}-param")
        if problem is not None:
            fail(f"{option}-param: {problem[0]}", USAGE, fix=problem[1])
    return params


def _params(items: list[str], option: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            fail(
                f"{option} {item!r} is not KEY=VALUE", USAGE, fix=f"write {option} temperature=0.2"
            )
        try:
            found[key] = json.loads(raw)
        except json.JSONDecodeError:
            found[key] = raw
    return found


def _as_dict(p: Profile) -> dict[str, Any]:
    def spec(s: ModelSpec) -> dict[str, Any]:
        return {"provider": s.provider, "model": s.model, "params": dict(s.params)}

    return {
        "name": p.name,
        "description": p.description,
        "active": p.active,
        "planner": spec(p.planner),
        "worker": spec(p.worker),
    }


def _print(profiles: list[Profile], title: str) -> None:
    t = table(title, "profile", "planner", "worker", "description")
    for p in profiles:
        t.add_row(
            ("* " if p.active else "  ") + p.name,
            f"{p.planner.provider}:{p.planner.model}",
            f"{p.worker.provider}:{p.worker.model}",
            p.description,
        )
    out.print(t)


@app.command("create")
@handles_errors
def create(
    name: str,
    planner: str = typer.Option(..., "--planner", help=PLANNER),
    worker: str = typer.Option(..., "--worker", help=WORKER),
    planner_param: list[str] = typer.Option([], "--planner-param", help=PARAM),
    worker_param: list[str] = typer.Option([], "--worker-param", help=PARAM),
    description: str = typer.Option("", "--description", help="What the profile is for."),
    activate: bool = typer.Option(False, "--activate", help="Make it the active profile."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a profile (the first one becomes active)."""
    from orca.llm import Profile, Profiles

    profile = Profile(
        name,
        _spec(planner, planner_param, "--planner"),
        _spec(worker, worker_param, "--worker"),
        description,
    )
    with user_db() as store:
        made = Profiles(store.profiles).create(profile, activate=activate)
    if as_json:
        emit_json(_as_dict(made))
    else:
        out.print(f"created profile [bold]{made.name}[/]" + (" (active)" if made.active else ""))


@app.command("list")
@handles_errors
def list_(as_json: bool = JSON_OPTION) -> None:
    """Every profile (* = active)."""
    from orca.llm import Profiles

    with user_db() as store:
        profiles = Profiles(store.profiles).all()
    if as_json:
        emit_json([_as_dict(p) for p in profiles])
    elif not profiles:
        out.print("no profiles yet: orca profile create NAME --planner P:M --worker P:M")
    else:
        _print(profiles, "Profiles")


@app.command("show")
@handles_errors
def show(name: str, as_json: bool = JSON_OPTION) -> None:
    """One profile with its parameters."""
    from orca.llm import Profiles

    with user_db() as store:
        p = Profiles(store.profiles).get(name)
    if as_json:
        emit_json(_as_dict(p))
        return
    _print([p], f"Profile {p.name}")
    for role, spec in (("planner", p.planner), ("worker", p.worker)):
        if spec.params:
            out.print(f"{role} params: {esc(json.dumps(dict(spec.params), sort_keys=True))}")


@app.command("use")
@handles_errors
def use(name: str, as_json: bool = JSON_OPTION) -> None:
    """Make NAME the active profile."""
    from orca.llm import Profiles

    with user_db() as store:
        p = Profiles(store.profiles).use(name)
    if as_json:
        emit_json({"active": p.name})
    else:
        out.print(f"active profile: [bold]{p.name}[/]")


@app.command("update")
@handles_errors
def update(
    name: str,
    planner: str | None = typer.Option(None, "--planner", help=PLANNER),
    worker: str | None = typer.Option(None, "--worker", help=WORKER),
    planner_param: list[str] = typer.Option([], "--planner-param", help=PARAM),
    worker_param: list[str] = typer.Option([], "--worker-param", help=PARAM),
    description: str | None = typer.Option(None, "--description"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Change a profile's planner, worker or description (parameters add to the old)."""
    from orca.llm import ModelSpec, Profiles

    with user_db() as store:
        profiles = Profiles(store.profiles)
        old = profiles.get(name)

        def changed(
            text: str | None, params: list[str], spec: ModelSpec, option: str
        ) -> ModelSpec | None:
            if text is None and not params:
                return None
            base = _spec(text, [], option) if text else spec
            added = _checked(base.provider, _params(params, f"{option}-param"), option)
            return ModelSpec(base.provider, base.model, {**spec.params, **added})

        new = profiles.update(
            name,
            planner=changed(planner, planner_param, old.planner, "--planner"),
            worker=changed(worker, worker_param, old.worker, "--worker"),
            description=description,
        )
    if as_json:
        emit_json(_as_dict(new))
    else:
        out.print(f"updated profile [bold]{name}[/]")


@app.command("delete")
@handles_errors
def delete(
    name: str,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Delete a profile."""
    from orca.llm import Profiles

    with user_db() as store:
        delete_named("profile", name, Profiles(store.profiles), yes=yes, as_json=as_json)
