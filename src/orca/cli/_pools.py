"""``orca pool create|list|show|drain|reload|health|stop``: the local engine pools of an
``orca serve`` (their engines run there; see docs/pools.md). They need a server:
``--server URL`` or ``ORCA_SERVER``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import typer

from orca.cli._common import (
    JSON_OPTION,
    commands,
    emit_json,
    esc,
    handles_errors,
    out,
    table,
)
from orca.cli._remote import server_client

if TYPE_CHECKING:
    from orca.client import Client

app = commands("Local engine pools on a server: start, drain, reload, and their health.")


def _client() -> Client:
    return server_client("orca pool", "the pools' engines are supervised by orca serve")


def _path(name: str, tail: str = "") -> str:
    return f"/v1/pools/{quote(name, safe='')}{tail}"


@app.command("create")
@handles_errors
def create(
    name: str = typer.Argument(..., help="The pool's name."),
    model: str = typer.Option(..., "--model", help="A catalogued model (orca model list)."),
    engine: str = typer.Option("llamacpp", "--engine", help="llamacpp, llama-server or vllm."),
    provision: str = typer.Option(
        "package", "--provision", help="package, binary (with --binary) or external (--url)."
    ),
    mode: str = typer.Option("gpu", "--mode", help="gpu, or cpu for development."),
    replicas: int = typer.Option(1, "--replicas", min=1),
    slots: int = typer.Option(1, "--slots", min=1, help="Sequences one replica decodes at once."),
    n_ctx: int = typer.Option(2048, "--n-ctx", min=16, help="Context per slot, in tokens."),
    queue: int = typer.Option(64, "--queue", min=0, help="Tasks that may wait."),
    binary: str | None = typer.Option(None, "--binary", help="The engine's executable."),
    url: list[str] = typer.Option([], "--url", help="An external replica's URL (repeat)."),
    seed: int | None = typer.Option(None, "--seed", min=0),
    as_json: bool = JSON_OPTION,
) -> None:
    """Start a pool on the server: answers once a replica answered its probe."""
    body: dict[str, Any] = {
        "name": name,
        "model": model,
        "engine": engine,
        "provision": provision,
        "mode": mode,
        "replicas": replicas,
        "slots": slots,
        "n_ctx": n_ctx,
        "queue": queue,
        "urls": list(url),
    }
    if binary is not None:
        body["binary"] = binary
    if seed is not None:
        body["seed"] = seed
    shown = _client().request("POST", "/v1/pools", body=body, wait=True)
    if as_json:
        emit_json(shown)
    else:
        _describe(shown)


@app.command("list")
@handles_errors
def list_pools(as_json: bool = JSON_OPTION) -> None:
    """The server's pools: state, model, ready capacity."""
    found = _client().request("GET", "/v1/pools")
    if as_json:
        emit_json(found)
        return
    if not found:
        out.print("no pools (orca pool create NAME --model M, or [pools.NAME] in orca.toml)")
        return
    t = table(None, "pool", "state", "engine", "model", "replicas", "capacity")
    for p in found:
        t.add_row(
            esc(p["name"]), esc(p["state"]), esc(p["engine"]), esc(p["model"]["name"]),
            str(p["replicas"]), str(p["capacity"]),
        )  # fmt: skip
    out.print(t)


def _describe(p: dict[str, Any]) -> None:
    out.print(
        f"pool [bold]{esc(p['name'])}[/] {esc(p['state'])}: {esc(p['model']['name'])} "
        f"({esc(p['model']['digest'][:19])}) on {esc(p['engine'])}, {p['replicas']} "
        f"replica(s) x {p['slots']} slot(s), {p['capacity']} ready, mode {esc(p['mode'])}"
    )
    if p.get("error"):
        out.print(f"[red]{esc(p['error'])}[/]")


@app.command("show")
@handles_errors
def show(name: str, as_json: bool = JSON_OPTION) -> None:
    """A pool's definition, state and queue."""
    found = _client().request("GET", _path(name))
    if as_json:
        emit_json(found)
    else:
        _describe(found)


@app.command("health")
@handles_errors
def health(name: str, as_json: bool = JSON_OPTION) -> None:
    """A pool's health: live, ready, draining, and each replica."""
    found = _client().request("GET", _path(name, "/health"))
    if as_json:
        emit_json(found)
        return
    out.print(
        f"pool [bold]{esc(name)}[/]: live {found['live']}, ready {found['ready']}, "
        f"draining {found['draining']}, capacity {found['capacity']}"
    )
    t = table(None, "replica", "state", "pid", "in flight", "slots", "restarts")
    for r in found.get("replicas", []):
        t.add_row(
            str(r.get("index")), esc(r.get("state")), str(r.get("pid")),
            str(r.get("in_flight")), str(r.get("slots")), str(r.get("restarts")),
        )  # fmt: skip
    out.print(t)


@app.command("drain")
@handles_errors
def drain(
    name: str,
    deadline_ms: int = typer.Option(30_000, "--deadline-ms", min=0,
                                    help="How long work in flight may finish."),
    as_json: bool = JSON_OPTION,
) -> None:  # fmt: skip
    """Take no new work, let the work in flight finish, then stop the replicas."""
    found = _client().request(
        "POST", _path(name, "/drain"), body={"deadline_ms": deadline_ms}, wait=True
    )
    if as_json:
        emit_json(found)
    else:
        out.print(f"pool [bold]{esc(name)}[/] drained and stopped")


@app.command("reload")
@handles_errors
def reload(
    name: str,
    model: str = typer.Option(..., "--model", help="The catalogued model to serve now."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Serve another model, atomically (on failure the pool keeps its model)."""
    found = _client().request("POST", _path(name, "/reload"), body={"model": model}, wait=True)
    if as_json:
        emit_json(found)
    else:
        _describe(found)


@app.command("stop")
@handles_errors
def stop(name: str, as_json: bool = JSON_OPTION) -> None:
    """Stop a pool now (work in flight ends WORKER_RESET; drain lets it finish)."""
    found = _client().request("DELETE", _path(name))
    if as_json:
        emit_json(found)
    else:
        out.print(f"pool [bold]{esc(name)}[/] stopped")
