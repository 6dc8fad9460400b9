"""The ``orca`` command line (typer). This release offers ``orca --version``."""

from __future__ import annotations

import typer

from orca._version import __version__

app = typer.Typer(
    name="orca",
    help="Run AI-agent workflows as Pregel graphs, with durable checkpoints and cost control.",
    no_args_is_help=True,
    add_completion=False,
)


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
) -> None:
    """Orca's command line."""


def main() -> None:
    """Entry point of the ``orca`` script."""
    app()
