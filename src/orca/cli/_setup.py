"""``orca init`` and ``orca doctor``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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
    in_unit,
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
# level = "info"              # default: warning on a terminal (the live display), else info
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
    key = os.environ.get(env) if env else None
    if env:
        checks.append(
            (
                f"{name} key",
                "ok" if key else "fail",
                f"{env} is set" if key else f"{env} is not set: export {env}=...",
            )
        )
    try:
        model = spec.build()
    except OrcaError as exc:
        return [*checks, (name, "fail", str(exc))]
    if env and not key:
        return checks  # a hosted API without its key: nothing to ask it
    return [*checks, _check_provider(name, spec.provider, model, key)]


def _check_provider(name: str, provider: str, model: Any, key: str | None) -> tuple[str, str, str]:
    """One HTTP request to the provider's model list (``_probe``): ok only when it
    answers as that provider would."""
    from orca.cli._probe import probe

    answered, detail = probe(provider, getattr(model, "base_url", None), key)
    return (f"{name} reachable", "ok" if answered else "fail", detail)


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


def _store_check() -> list[tuple[str, str, str]]:
    """With one store for everything (``--store``, ``ORCA_STORE``, ``[store] url``): that
    it answers, and each schema component's version against this Orca's; none without
    (the SQLite files are checked instead)."""
    from orca.errors import OrcaError
    from orca.store import SqliteStore, configured_url, open_store, parse_url

    url = configured_url()
    if url is None:
        return []
    shown = str(parse_url(url))
    try:
        with open_store(url) as store:
            if isinstance(store, SqliteStore):  # one SQLite file: its pages and rows
                problems = store.damage(rows=True)
                state = "fail" if problems else "ok"
                return [("store", state, f"{shown}: " + ("; ".join(problems[:3]) or "sound"))]
            versions = store.schema()
    except OrcaError as exc:
        return [("store", "fail", str(exc))]
    newer = [f"{c} {f} > {s}" for c, (f, s) in versions.items() if f > s]
    if newer:
        return [("store", "fail", f"{shown}: written by a newer Orca ({', '.join(newer)}): "
                 "upgrade Orca (pip install -U orca)")]  # fmt: skip
    behind = [c for c, (f, s) in versions.items() if 0 < f < s]
    missing = [c for c, (f, _) in versions.items() if f == 0]
    detail = "schema current" if not behind else f"migrated on first use: {', '.join(behind)}"
    if missing:
        detail += f"; not created yet: {', '.join(missing)}"
    return [("store", "ok", f"{shown}: {detail}")]


def _integrity_checks() -> list[tuple[str, str, str]]:
    """SQLite's page check of the user and project databases, and a decode of the
    project's recent rows: a damaged database fails the doctor."""
    from orca.store import SqliteStore, project_db_path, user_db_path

    checks = []
    for what, path, rows in (
        ("user db integrity", user_db_path(), False),
        ("project db integrity", project_db_path(State.project), True),
    ):
        if not path.exists():
            continue
        with SqliteStore(path) as store:
            problems = store.damage(rows=rows)
        detail = (
            "; ".join(problems[:3])
            if problems
            else "quick_check ok" + (", recent rows decode" if rows else "")
        )
        checks.append((what, "fail" if problems else "ok", detail))
    return checks


def _workers_check(cfg: Any) -> list[tuple[str, str, str]]:
    """With ``[server] workers = "external"``: the ``orca worker`` processes the project's
    run queue has seen lately, and what waits in it."""
    import datetime as dt

    from orca.store import configured_url, project_db_path, project_store

    if cfg is None or cfg.server.workers != "external":
        return []
    if configured_url() is None and not project_db_path(State.project).exists():
        return []  # not a project: doctor creates nothing
    with project_store(State.project) as store:
        seen, counts = store.queue.workers(), store.queue.counts()
    recent = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=3 * cfg.worker.lease_s)
    live = [
        w for w in seen
        if w.stopped_at is None and dt.datetime.fromisoformat(w.last_seen_at) >= recent
    ]  # fmt: skip
    waiting = sum(c.count for c in counts if c.status == "queued")
    running = sum(c.count for c in counts if c.status == "running")
    if not live:
        return [("workers", "warn", f"no orca worker seen lately ({waiting} runs queued): "
                 "start one with orca worker")]  # fmt: skip
    names = ", ".join(f"{w.host}:{w.pid}" for w in live[:5])
    return [("workers", "ok", f"{len(live)} live ({names}); {running} runs running, "
             f"{waiting} queued")]  # fmt: skip


def _pools_check(cfg: Any) -> list[tuple[str, str, str]]:
    """Each ``[pools.NAME]``: its model's trust, its engine's needs (package, binary, the
    NVIDIA driver in GPU mode) and its placement on this machine's GPUs."""
    from orca.errors import OrcaError

    if cfg is None or not cfg.pools:
        return []
    try:
        from orca.pools import PoolManager, open_catalog, pool_configs

        configs = pool_configs(cfg.pools)
        catalog = open_catalog(State.project)
    except OrcaError as exc:
        return [("pools", "fail", str(exc))]
    try:
        manager = PoolManager(catalog, policy=cfg.catalog.trust)
        checks = [("gpus", "ok", manager.inventory().describe())]
        for config in configs:
            checks += manager.preflight(config)
        return checks
    finally:
        catalog.close()


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
    shared = _store_check()
    checks += shared
    for what in () if shared else ("user db", "project db"):
        try:
            if what == "user db":
                user_store().close()
                where = user_db_path()
            else:
                where = project_db_path(State.project)
                if not where.parent.is_dir():  # not a project: doctor creates nothing
                    checks.append((what, "warn", f"no {where.parent}: orca init makes one"))
                    continue
                project_store(State.project).close()
            checks.append((what, "ok", str(where)))
        except OrcaError as exc:
            checks.append((what, "fail", str(exc)))
    if not shared:
        checks += _integrity_checks()
    try:
        checks += _workers_check(cfg)
    except OrcaError as exc:
        checks.append(("workers", "fail", str(exc)))
    checks += _pools_check(cfg)
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
                        f"{active.name}: {in_unit(active, s.remaining)} left of "
                        f"{in_unit(active, s.limit)} ({active.enforcement})",
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
