"""The ``orca`` command line (typer + rich): ``orca <noun> <verb>``, ``--json`` on every
command, and documented exit codes (see ``docs/cli.md``)."""

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
) -> None:
    """Orca's command line."""
    State.project = project


def main() -> None:
    """Entry point of the ``orca`` script."""
    app()
