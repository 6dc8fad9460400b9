"""The ``orca`` typer application: its commands and root options."""

from __future__ import annotations

from pathlib import Path

import typer

from orca._version import __version__
from orca.cli import _budget, _pricing, _profile, _runs, _setup, _tools
from orca.cli._common import State

app = typer.Typer(
    name="orca",
    help="Run AI-agent workflows as Pregel graphs, with durable checkpoints and cost control.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("init")(_setup.init)
app.command("doctor")(_setup.doctor)
app.command("run")(_runs.run_command)
app.add_typer(_runs.app, name="runs")
app.add_typer(_budget.app, name="budget")
app.add_typer(_profile.app, name="profile")
app.add_typer(_pricing.app, name="pricing")
app.add_typer(_pricing.usage_app, name="usage")
app.add_typer(_tools.app, name="tools")


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"orca {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_show_version,
        is_eager=True,
        help="Print Orca's version and exit.",
    ),
    project: Path | None = typer.Option(
        None,
        "--project",
        "-C",
        help="The project directory (default: the nearest with a .orca folder, else here).",
    ),
    log_level: str | None = typer.Option(
        None, "--log-level", help="debug, info, warning or error (default: [logging] level)."
    ),
    log_format: str | None = typer.Option(
        None, "--log-format", help="json or human (default: [logging] format)."
    ),
) -> None:
    """Orca's command line."""
    from orca.cli._common import USAGE, fail

    if log_level is not None and log_level not in ("debug", "info", "warning", "error"):
        fail(f"--log-level {log_level!r} is not debug, info, warning or error", USAGE,
             fix="--log-level info")  # fmt: skip
    if log_format is not None and log_format not in ("json", "human"):
        fail(f"--log-format {log_format!r} is not json or human", USAGE, fix="--log-format json")
    State.project = project
    State.log_level = log_level
    State.log_format = log_format
