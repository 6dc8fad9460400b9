"""``orca init`` and ``orca doctor``."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import typer
from rich.text import Text

from orca.cli._common import (
    FAILED,
    JSON_OPTION,
    OK,
    State,
    emit_json,
    esc,
    handles_errors,
    out,
    table,
)

TEMPLATE = """\
# Orca project settings. This file wins over ~/.orca/orca.toml; flags win over both.
# Numbers are exact (money is never a float). Keys are named, never written:
# api_key = "${ANTHROPIC_API_KEY}".

[llm]
# profile = "fast"            # a stored profile (orca profile list) or one below
# provider = "anthropic"      # or: one model for planner and worker
# model = "claude-sonnet-4-5"
# api_key = "${ANTHROPIC_API_KEY}"
max_tokens = 1024             # the answer cap under a block budget when a call sets none

[execution]
max_steps = 100
durability = "sync"           # sync | async | exit

[budget]
# name = "project"
# amount = 5.00               # creates this budget on first run if it does not exist
# enforcement = "block"       # block | warn
on_exceeded = "fail"          # fail | pause (resume after orca budget raise)

[workflow]
# default = "flows/research.py:graph"

[logging]
level = "info"
format = "human"
"""


@handles_errors
def init(
    force: bool = typer.Option(False, "--force", help="Rewrite .orca/orca.toml if it exists."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Make this directory an Orca project: .orca/orca.toml, .orca/project.db, and the
    user database in ORCA_HOME."""
    from orca.store import project_store, user_db_path, user_store

    root = Path(State.project or Path.cwd()).resolve()
    if not root.is_dir():
        from orca.cli._common import CONFIG, fail

        fail(f"project directory {root} does not exist", CONFIG, fix="create it first")
    folder = root / ".orca"
    folder.mkdir(exist_ok=True)
    toml = folder / "orca.toml"
    wrote = force or not toml.exists()
    if wrote:
        toml.write_text(TEMPLATE)
    project_store(root).close()
    user_store().close()
    gitignore = folder / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text("project.db*\n")
    data = {
        "project": str(root),
        "config": str(toml),
        "config_written": wrote,
        "project_db": str(folder / "project.db"),
        "user_db": str(user_db_path()),
    }
    if as_json:
        emit_json(data)
        return
    out.print(f"Orca project ready in [bold]{esc(root)}[/]")
    out.print(f"  config     {toml}" + ("" if wrote else " (kept; --force to rewrite)"))
    out.print(f"  project db {folder / 'project.db'}")
    out.print(f"  user db    {user_db_path()}")
    out.print(
        "next: orca profile create NAME --planner P:M --worker P:M; "
        "orca budget create NAME --amount 5.00; orca run flow.py"
    )


def _reachable(url: str, timeout: float = 2.0) -> str | None:
    """None if a TCP connection to ``url``'s host and port opens, else why not."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return f"{host}:{port} unreachable ({exc.strerror or exc})"


def _check_model(role: str, spec: Any) -> list[tuple[str, str, str]]:
    from orca.errors import OrcaError
    from orca.llm.providers.openai import PRESETS

    name = f"{role} {spec.provider}:{spec.model}"
    if spec.provider == "llamacpp":
        if not Path(spec.model).is_file():
            return [(name, "fail", f"model file {spec.model} not found")]
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            return [(name, "fail", "llama-cpp-python missing: pip install 'orca[local]'")]
        return [(name, "ok", "local model file present")]
    checks = []
    env = spec.params.get("api_key_env") or (
        "ANTHROPIC_API_KEY" if spec.provider == "anthropic" else PRESETS[spec.provider].key_env
    )
    if env:
        present = bool(os.environ.get(env))
        checks.append(
            (
                f"{name} key",
                "ok" if present else "fail",
                f"{env} is set" if present else f"{env} is not set: export {env}=...",
            )
        )
    try:
        model = spec.build()
    except OrcaError as exc:
        return [*checks, (name, "fail", str(exc))]
    url = getattr(model, "base_url", None) or (
        "https://api.anthropic.com" if spec.provider == "anthropic" else None
    )
    if url:
        problem = _reachable(str(url))
        checks.append((f"{name} reachable", "fail" if problem else "ok", problem or str(url)))
    return checks


def _check_sandbox(cfg: Any) -> tuple[str, str, str]:
    """Whether the shell and python tools can run in their bubblewrap sandbox here."""
    from orca.tools import sandbox_status
    from orca.tools._sandbox import INSTALL_FIX

    status = sandbox_status()
    if status.available:
        return ("sandbox", "ok", f"{status.version or 'bubblewrap'} ({status.bwrap})")
    if cfg is not None and cfg.tools.allow_unsandboxed_shell:
        return (
            "sandbox",
            "warn",
            f"{status.problem}: shell and python tools run on the host, unisolated "
            "([tools] allow_unsandboxed_shell = true)",
        )
    return (
        "sandbox",
        "fail",
        f"{status.problem}: shell and python tools refuse to run; {INSTALL_FIX}",
    )


@handles_errors
def doctor(as_json: bool = JSON_OPTION) -> None:
    """Check the configuration, the databases, the profile's providers (reachable, keys
    present) and the active budget."""
    from orca.config import load_config
    from orca.errors import OrcaError
    from orca.store import project_db_path, project_store, user_db_path, user_store

    checks: list[tuple[str, str, str]] = []
    cfg = None
    try:
        cfg = load_config(State.project)
        checks.append(("config", "ok", ", ".join(cfg.sources) or "defaults (no orca.toml found)"))
    except OrcaError as exc:
        checks.append(("config", "fail", str(exc)))
    checks.append(_check_sandbox(cfg))
    for what in ("user db", "project db"):
        try:
            if what == "user db":
                user_store().close()
                where = user_db_path()
            else:
                project_store(State.project).close()
                where = project_db_path(State.project)
            checks.append((what, "ok", str(where)))
        except OrcaError as exc:
            checks.append((what, "fail", str(exc)))
    profile = None
    if cfg is not None:
        try:
            profile = cfg.profile()
            if profile is None:
                from orca.llm import Profiles

                with user_store() as store:
                    profile = Profiles(store.profiles).active()
        except OrcaError as exc:
            checks.append(("profile", "fail", str(exc)))
    if profile is None:
        checks.append(
            ("profile", "warn", "no profile: orca profile create NAME --planner P:M --worker P:M")
        )
    else:
        checks.append(("profile", "ok", profile.name))
        seen = set()
        for role, spec in (("planner", profile.planner), ("worker", profile.worker)):
            key = (spec.provider, spec.model, str(sorted(spec.params.items())))
            if key not in seen:
                seen.add(key)
                checks += _check_model(role, spec)
    try:
        with user_store() as store:
            active = store.ledger.budgets.active()
            if active is None:
                checks.append(
                    ("budget", "warn", "no active budget: calls are metered but not limited")
                )
            else:
                s = store.ledger.budgets.status(active.name)
                checks.append(
                    (
                        "budget",
                        "ok",
                        f"{active.name}: {active.show(s.remaining)} left of "
                        f"{active.show(s.limit)} ({active.enforcement})",
                    )
                )
    except OrcaError as exc:
        checks.append(("budget", "fail", str(exc)))
    failed = any(status == "fail" for _, status, _ in checks)
    if as_json:
        emit_json(
            {
                "ok": not failed,
                "checks": [{"check": c, "status": s, "detail": d} for c, s, d in checks],
            }
        )
    else:
        t = table("orca doctor", "check", "status", "detail")
        colour = {"ok": "green", "warn": "yellow", "fail": "red"}
        for check, status, detail in checks:
            t.add_row(check, Text(status, style=colour[status]), detail)
        out.print(t)
    raise typer.Exit(FAILED if failed else OK)
