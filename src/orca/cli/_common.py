"""What every command shares: exit codes, output (rich for people, ``--json`` for
programs), error reporting, and opening the databases and the configuration."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from decimal import Decimal
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from orca.errors import (
    BudgetExceeded,
    CheckpointError,
    CheckpointNotFoundError,
    ConfigError,
    InvalidFieldError,
    InvalidInputError,
    OrcaError,
    ServerAuthError,
    ServerError,
    ThreadBusyError,
)
from orca.manage._plain import count as count  # the commands import these from here
from orca.manage._plain import dumps, parse_time
from orca.manage._plain import in_unit as in_unit
from orca.manage._plain import llm_calls as llm_calls
from orca.manage._plain import per_mtok as per_mtok
from orca.manage._plain import usd as usd

if TYPE_CHECKING:
    from orca.store import Store, StoreCheckpointer

# Exit codes (docs/cli.md): scripts can tell these apart.
OK = 0
FAILED = 1  # the run failed, or a check of `orca doctor` failed
USAGE = 2  # bad arguments (typer's own code for usage errors)
CONFIG = 3  # bad configuration or an unknown name (budget, profile, run)
BUDGET = 4  # a block budget refused a call
INTERRUPTED = 5  # the run paused at an interrupt: resume it with `orca runs resume`
DATABASE = 6  # a database is locked, damaged or from a newer Orca; the thread is busy
CANCELLED = 130  # Ctrl-C or SIGTERM: the run was cancelled

# piped output (logs, CI) gets a wide page rather than rich's 80 columns, so ids and
# amounts are never cut
_WIDTH = None if sys.stdout.isatty() else 200
out = Console(highlight=False, soft_wrap=True, width=_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True, width=_WIDTH)

JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON.")

P = ParamSpec("P")
R = TypeVar("R")


class State:
    """Options of the root command, for the subcommands."""

    project: Path | None = None
    log_level: str | None = None
    log_format: str | None = None
    server: str | None = None  # --server / ORCA_SERVER: the commands work against it


def use_store(url: str) -> None:
    """Keep everything in the store at ``url`` (``--store``), for this process and the
    processes it starts: ``ORCA_STORE``, which ``orca.store`` reads. A URL no backend
    serves exits with the fix (the password never shown)."""
    import os

    from orca.errors import ConfigError
    from orca.store import STORE_ENV, parse_url

    try:
        parse_url(url)
    except ConfigError as exc:
        fail(str(exc).split(". Fix: ")[0], USAGE, fix=exc.fix)
    os.environ[STORE_ENV] = url


def on_this_machine() -> None:
    """For commands that are this machine's by nature (``orca serve``, ``orca init``):
    ``ORCA_SERVER`` in the environment does not apply to them."""
    State.server = None


def remote_only_for(what: str | None = None) -> None:
    """Fail when a command that only works on this machine's databases is given a
    server (``--server`` or ``ORCA_SERVER``). ``project_root`` and ``user_db`` check
    it, so every command that reads them refuses a server in one place."""
    if State.server is not None:
        if what is None:
            from typer._click.globals import get_current_context

            context = get_current_context(silent=True)
            what = context.command_path if context is not None else "this command"
        fail(
            f"{what} works on this machine's files only, not against a server ({State.server})",
            USAGE,
            fix="run it without --server (and unset ORCA_SERVER)",
        )


def start_observing() -> str:
    """Before a command runs a graph: logs as ``[logging]`` (or ``--log-level`` /
    ``--log-format``) says, to standard error (at ``warning`` on a terminal unless a level
    is set, ``info`` otherwise); OTLP span export when the ``OTEL_*``
    variables name an endpoint. Returns the correlation id of the command's runs
    (``ORCA_CORRELATION_ID``, else a fresh one)."""
    import os
    import uuid

    from orca.observe import configure_logging, configure_otlp

    settings = config().logging
    level = State.log_level or settings.level
    if State.log_level is None and "level" not in settings.model_fields_set and err.is_terminal:
        level = "warning"  # on a terminal, INFO lines would break up the live display
    configure_logging(
        level,
        State.log_format or settings.format,
        colored=settings.colored and err.is_terminal,
        timestamps=settings.timestamps,
    )
    configure_otlp()
    return os.environ.get("ORCA_CORRELATION_ID") or f"cli-{uuid.uuid4().hex[:16]}"


def commands(help: str) -> typer.Typer:
    """A typer app for a group of commands: help printed as written (``[llm]`` stays
    literal: no rich markup), errors in Orca's format (see ``_app.OrcaGroup``)."""
    return typer.Typer(help=help, rich_markup_mode=None)


# "... what went wrong. Fix: how to fix it", the shape of Orca's error messages
_FIX = re.compile(r"[.;]?\s+Fix:\s*")
GENERIC_FIX = "see docs/errors.md; orca --log-level debug COMMAND shows the full traceback"


def split_fix(message: str) -> tuple[str, str | None]:
    """An error message as (what went wrong, how to fix it), the fix being the text after
    its ``Fix:`` (None when it names none)."""
    parts = _FIX.split(message, maxsplit=1)
    return (parts[0], parts[1]) if len(parts) == 2 else (message, None)


def report(message: str, fix: str | None = None) -> None:
    """The one error format: ``error: WHAT`` then ``fix: HOW`` on standard error."""
    what, said = split_fix(message)
    how = fix or said or GENERIC_FIX
    err.print(f"[bold red]error:[/] {esc(what)}\n[dim]fix:[/] {esc(how)}")


def fail(message: str, code: int = CONFIG, *, fix: str | None = None) -> NoReturn:
    """Report an error (``error:`` then ``fix:``) and exit with ``code``."""
    report(message, fix)
    raise typer.Exit(code)


def code_for(exc: BaseException) -> int:
    from orca.errors import WorkflowLoadError

    if isinstance(exc, WorkflowLoadError):  # as every command that loads one reports it
        return USAGE
    if isinstance(exc, ServerError):  # an answer of orca serve: as the same error here
        if exc.details.get("field") in ("budget", "profile"):  # an unknown name
            return CONFIG
        return _SERVER_CODES.get(exc.code) or (CONFIG if exc.status in (401, 403, 404) else FAILED)
    if isinstance(exc, BudgetExceeded):
        return BUDGET
    if isinstance(exc, InvalidFieldError):  # a bad option's value
        return USAGE
    if isinstance(exc, CheckpointNotFoundError | ConfigError | InvalidInputError):
        return CONFIG
    if isinstance(exc, CheckpointError | ThreadBusyError):
        return DATABASE
    return FAILED


# orca serve's error codes as the exit codes of the local errors they stand for
_SERVER_CODES = {
    "INVALID_REQUEST": USAGE,
    "WORKFLOW_INVALID": USAGE,
    "INVALID_INPUT": CONFIG,
    "CONFIG_INVALID": CONFIG,
    "BUDGET_EXCEEDED": BUDGET,
    "THREAD_BUSY": DATABASE,
    "STORE_DAMAGED": DATABASE,
    "MODEL_FILE_INVALID": CONFIG,
    "CATALOG_CONFLICT": CONFIG,
    "INVALID_TRANSITION": CONFIG,
}


def fix_for(exc: BaseException, run: str | None = None) -> str:
    """How to fix ``exc`` from the command line: the fix its message names, else one for
    its kind (``run``: the run it ended, for ``orca runs resume``)."""
    from orca.errors import NodeError, RunCancelledError, RunTimeoutError

    resume = f"orca runs resume {run or 'RUN'}"
    if isinstance(exc, NodeError):
        return f"correct the node's code, then re-run only what failed: {resume}"
    if isinstance(exc, BudgetExceeded):
        budget = getattr(exc, "budget", "NAME")
        return f"raise the budget, then: {resume} (orca budget raise {budget} --by AMOUNT)"
    if isinstance(exc, RunCancelledError):
        return f"what it finished is kept; continue it: {resume}"
    if isinstance(exc, RunTimeoutError):
        return f"continue it: {resume} (with a larger --time-limit on a new run)"
    if isinstance(exc, ServerAuthError):  # the CLI sends ORCA_TOKEN
        told = split_fix(str(exc))[1]
        return "set ORCA_TOKEN to a token the server takes" + (f" ({told})" if told else "")
    return split_fix(str(exc))[1] or GENERIC_FIX


def handles_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Orca's errors become ``error: WHAT`` and ``fix: HOW`` on stderr and an exit code
    (docs/cli.md); with ``--log-level debug`` the traceback too. Nothing else is
    swallowed."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except CheckpointError as exc:  # a damaged, locked or newer database
            message, _, fix = str(exc).partition(". Fix: ")
            fail(message, code_for(exc), fix=fix or None)
        except OrcaError as exc:
            show_traceback(exc)
            fail(str(exc), code_for(exc), fix=fix_for(exc))
        except KeyboardInterrupt:
            fail("interrupted (Ctrl-C)", CANCELLED, fix="run the command again")

    return wrapper


def debugging() -> bool:
    """Whether this command logs at debug level (``--log-level``, else ``[logging]``)."""
    if State.log_level is not None:
        return State.log_level == "debug"
    try:
        return bool(config().logging.level == "debug")
    except OrcaError:
        return False


def show_traceback(exc: BaseException) -> None:
    """With ``--log-level debug``: the full traceback of ``exc`` (and of what caused it)
    on standard error, before its one-line error."""
    if not debugging():
        return
    from orca.errors import format_traceback

    err.print(esc(getattr(exc, "traceback", None) or format_traceback(exc)))


def delete_named(kind: str, name: str, store: Any, *, yes: bool, as_json: bool) -> None:
    """``orca <kind> delete NAME``: check it exists, ask unless ``yes``, delete, report.
    ``store`` is the budget repository or the ``Profiles`` holding it."""
    store.get(name)  # an unknown name fails here, naming the closest
    if not yes and not typer.confirm(f"delete {kind} {name}?", default=False):
        raise typer.Exit(FAILED)
    store.delete(name)
    if as_json:
        emit_json({"deleted": name})
    else:
        out.print(f"deleted {kind} [bold]{esc(name)}[/]")


def emit_json(data: Any) -> None:
    """One JSON document on stdout (Decimals as strings, datetimes as ISO)."""
    sys.stdout.write(dumps(data, indent=2) + "\n")


def esc(value: Any) -> str:
    """``value`` as text rich prints literally (``[workflow]`` is not a style)."""
    return escape(str(value))


class PlainTable(Table):
    """A table whose string cells are printed as they are, never read as markup."""

    def add_row(self, *cells: Any, **options: Any) -> None:
        super().add_row(*(Text(c) if isinstance(c, str) else c for c in cells), **options)


def table(title: str | None, *columns: str) -> Table:
    t = PlainTable(title=title, title_justify="left", header_style="bold")
    for c in columns:
        t.add_column(c, justify="right" if c.lower() in _NUMERIC else "left")
    return t


_NUMERIC = {"calls", "in", "out", "tokens", "cost", "limit", "spent", "reserved", "left", "used"}


@contextmanager
def user_db() -> Iterator[Store]:
    """The user database's store for one command, closed after it."""
    from orca.store import user_store

    remote_only_for()
    with user_store() as store:
        yield store


def project_root() -> Path:
    """The project's directory (``-C DIR``, else the nearest holding ``.orca``). Only
    ``orca init`` makes a directory a project: without a ``.orca`` folder this is an
    error (exit 3), and nothing is created."""
    from orca.store import find_project

    remote_only_for()
    root = find_project(State.project)
    if not (root / ".orca").is_dir():
        where = "" if State.project is None else f"-C {State.project} "
        fail(
            f"{root} is not an Orca project (it has no .orca folder)",
            CONFIG,
            fix=f"make it one with orca {where}init, or point at one with orca -C DIR",
        )
    return root


@contextmanager
def project_db(tenant: str | None = None) -> Iterator[Store]:
    """The project's store (``.orca/project.db``, created and migrated first): of
    ``tenant``, else of ``--tenant`` (``ORCA_TENANT``), else the default tenant's."""
    from orca.store import project_store

    store = project_store(project_root(), tenant=tenant)
    try:
        yield store
    finally:
        store.close()


def registry_db() -> AbstractContextManager[Store]:
    """The default tenant's project store, which keeps the registry of tenants and every
    tenant's tokens (whatever ``--tenant`` says)."""
    from orca.store import DEFAULT_TENANT

    return project_db(DEFAULT_TENANT)


def config(**overrides: Any) -> Any:
    from orca.config import load_config

    return load_config(State.project, overrides=overrides)


def money(text: str, option: str, *, zero: bool = False) -> Decimal:
    """A dollar amount from the command line: a decimal number above zero (or zero too,
    with ``zero``), a leading ``$`` allowed (``orca.cost``'s ``parse_usd``)."""
    from orca.cost._money import parse_usd

    try:
        return parse_usd(text, option, zero=zero)
    except InvalidFieldError as exc:
        fail(exc.message, USAGE, fix=exc.fix)


@contextmanager
def project_store() -> Iterator[StoreCheckpointer]:
    """The project's checkpointer, which also keeps its run records (``project_db``'s
    ``checkpoints``)."""
    with project_db() as store:
        yield store.checkpoints


def json_arg(text: str | None, option: str) -> Any:
    """``--input`` and friends: a JSON text, or ``@path`` to read it from a file."""
    if text is None:
        return None
    source = text
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            source = path.read_text()
        except OSError as exc:
            fail(
                f"{option}: cannot read {path} ({exc.strerror})",
                USAGE,
                fix=f"give the path of a readable JSON file: {option} @input.json",
            )
    try:
        return json.loads(source)
    except json.JSONDecodeError as exc:
        fail(
            f"{option} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})",
            USAGE,
            fix=f"quote it for the shell: {option} '{{\"key\": 1}}', or {option} @file.json",
        )


def since(text: str | None, option: str = "--since") -> dt.datetime | None:
    """``7d``, ``12h``, ``2w`` ago, or an ISO date/time (UTC unless it says)."""
    try:
        return parse_time(text, option)
    except InvalidFieldError as exc:
        fail(exc.message, USAGE, fix=exc.fix)
