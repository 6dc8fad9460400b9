"""``orca profile create|list|show|use|update|delete``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

from orca.cli._common import (
    JSON_OPTION,
    commands,
    delete_named,
    emit_json,
    esc,
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
    from orca.manage import profiles

    return profiles.model_spec(
        text, profiles.parse_params(params, f"{option}-param"), option, f"{option}-param"
    )


def _as_dict(p: Profile) -> dict[str, Any]:
    from orca.manage import profiles

    return profiles.as_dict(p)


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
    from orca.llm import Profile
    from orca.manage import profiles

    profile = Profile(
        name,
        _spec(planner, planner_param, "--planner"),
        _spec(worker, worker_param, "--worker"),
        description,
    )
    with user_db() as store:
        made = profiles.create(store, profile, activate=activate)
    if as_json:
        emit_json(_as_dict(made))
    else:
        out.print(f"created profile [bold]{made.name}[/]" + (" (active)" if made.active else ""))


@app.command("list")
@handles_errors
def list_(as_json: bool = JSON_OPTION) -> None:
    """Every profile (* = active)."""
    from orca.manage import profiles

    with user_db() as store:
        found = profiles.all_(store)
    if as_json:
        emit_json([_as_dict(p) for p in found])
    elif not found:
        out.print("no profiles yet: orca profile create NAME --planner P:M --worker P:M")
    else:
        _print(found, "Profiles")


@app.command("show")
@handles_errors
def show(name: str, as_json: bool = JSON_OPTION) -> None:
    """One profile with its parameters."""
    from orca.manage import profiles

    with user_db() as store:
        p = profiles.get(store, name)
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
    from orca.manage import profiles

    with user_db() as store:
        p = profiles.use(store, name)
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
    from orca.manage import profiles

    with user_db() as store:
        new = profiles.update(
            store,
            name,
            planner=(
                planner,
                profiles.parse_params(planner_param, "--planner-param"),
                "--planner",
                "--planner-param",
            ),
            worker=(
                worker,
                profiles.parse_params(worker_param, "--worker-param"),
                "--worker",
                "--worker-param",
            ),
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
