"""The ``orca`` typer application: its commands and root options."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import typer
from typer._click import exceptions as click
from typer.core import TyperGroup

from orca._version import __version__
from orca.cli import (
    _budget,
    _flows,
    _flows_store,
    _models,
    _pools,
    _pricing,
    _profile,
    _runs,
    _secrets,
    _serve,
    _setup,
    _tasks,
    _tenant,
    _token,
    _tools,
    _worker,
)
from orca.cli._common import State


class OrcaGroup(TyperGroup):
    """The root command: click's own errors (an unknown option or command, a bad value)
    in Orca's format, ``error: WHAT`` then ``fix: HOW``, exit 2; never a box."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        from orca.cli._common import FAILED, USAGE, report

        try:
            code = super().main(
                args=args,
                prog_name=prog_name,
                complete_var=complete_var,
                standalone_mode=False,
                **extra,
            )
        except click.NoArgsIsHelpError as exc:  # `orca` alone: the help
            typer.echo(exc.ctx.get_help() if exc.ctx is not None else exc.format_message())
            code = exc.exit_code
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "orca"
            message = exc.format_message()
            report(message, f"{where} --help lists what it takes")
            code = USAGE
        except click.ClickException as exc:
            report(exc.format_message())
            code = exc.exit_code
        except typer.Abort:
            report("aborted", "run the command again, and answer its question")
            code = FAILED
        code = code if isinstance(code, int) else 0
        if standalone_mode:
            sys.exit(code)
        return code


app = typer.Typer(
    name="orca",
    cls=OrcaGroup,
    rich_markup_mode=None,
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
app.add_typer(_flows.app, name="flows")
_flows_store.register(_flows.app)  # save, list, versions, show, diff
app.add_typer(_tasks.app, name="tasks")
app.add_typer(_pools.app, name="pool")
app.command("serve")(_serve.serve)
app.command("worker")(_worker.worker)
app.add_typer(_token.app, name="token")
app.add_typer(_tenant.app, name="tenant")
app.add_typer(_secrets.app, name="secret")
app.add_typer(_models.app, name="model")


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"orca {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
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
    server: str | None = typer.Option(
        None,
        "--server",
        envvar="ORCA_SERVER",
        help="Work against this orca serve (http://HOST:PORT) instead of this machine's "
        "files: run, runs, budget, usage, tasks and model. The token is ORCA_TOKEN.",
    ),
    store: str | None = typer.Option(
        None,
        "--store",
        envvar="ORCA_STORE",
        help="Keep everything in this store: postgresql://USER:PASSWORD@HOST:PORT/DB or "
        "sqlite:///PATH (default [store] url, else $ORCA_HOME/orca.db and .orca/project.db).",
    ),
    tenant: str | None = typer.Option(
        None,
        "--tenant",
        envvar="ORCA_TENANT",
        help="Act for this tenant: its runs, budgets, prices, profiles and usage (default: "
        "the default tenant). orca tenant list shows them.",
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
    if server is not None and not server.startswith(("http://", "https://")):
        fail(f"--server {server!r} is not an http(s) URL", USAGE,
             fix="--server http://127.0.0.1:8700")  # fmt: skip
    State.server = server or None
    _choose_store(store)
    # the registry is asked unless the command makes it (init) or keeps it (tenant)
    asks = server is None and ctx.invoked_subcommand not in ("tenant", "init")
    _choose_tenant(tenant, registered=asks)


def _choose_tenant(name: str | None, *, registered: bool) -> None:
    """``--tenant`` (or ``ORCA_TENANT``): put it in ``ORCA_TENANT``, which ``orca.store``
    reads, for this process and the processes it starts; with ``registered``, only a
    tenant the project's registry holds (a typo would start a new, empty namespace)."""
    import os

    from orca.cli._common import USAGE, fail, registry_db
    from orca.errors import InvalidInputError
    from orca.store import DEFAULT_TENANT, TENANT_ENV, check_tenant

    if not name:
        os.environ.pop(TENANT_ENV, None)
        return
    try:
        os.environ[TENANT_ENV] = check_tenant(name, field="--tenant")
    except InvalidInputError as exc:
        message, _, fix = str(exc).partition(". Fix: ")
        fail(message, USAGE, fix=fix)
    if registered and name != DEFAULT_TENANT:
        with registry_db() as store:
            found = store.tenants.get(name)
        if found is None:
            fail(f"--tenant {name!r} is not registered in this project", USAGE,
                 fix=f"orca tenant create {name} (orca tenant list shows them)")  # fmt: skip


def _choose_store(url: str | None) -> None:
    """``--store`` (or ``ORCA_STORE``), else ``[store] url``: put it in ``ORCA_STORE``,
    which ``orca.store`` reads, for this process and the processes it starts."""
    import os

    from orca.cli._common import State, use_store
    from orca.store import STORE_ENV

    if url is None:
        url = _configured_store(State.project)
    if not url:
        os.environ.pop(STORE_ENV, None)
        return
    use_store(url)


def _has(path: Path, table: Any) -> bool:
    try:
        return path.is_file() and table.search(path.read_bytes()) is not None
    except OSError:
        return False


def _configured_store(project: Path | None) -> str | None:
    """``[store] url`` of the configuration, read only when a file has a ``[store]``
    table (every command pays for this check: reading the configuration is not free);
    a configuration that does not load is left to the command to report."""
    import re

    from orca.errors import ConfigError
    from orca.store import find_project, orca_home

    try:
        files = [orca_home() / "orca.toml", find_project(project) / ".orca" / "orca.toml"]
    except ConfigError:
        return None
    table = re.compile(rb"^\s*\[\s*store\s*\]", re.MULTILINE)
    if not any(_has(path, table) for path in files):
        return None
    from orca.config import load_config

    try:
        return load_config(project).store.url
    except ConfigError:
        return None
