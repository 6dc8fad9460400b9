"""``orca model add|list|show|verify|state``: the installation's model catalog
(docs/pools.md), in the project's store here or on an ``orca serve`` with ``--server``
(where a model's PATH is a file of the server's host)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import typer

from orca.cli._common import (
    FAILED,
    JSON_OPTION,
    USAGE,
    State,
    commands,
    emit_json,
    esc,
    fail,
    handles_errors,
    out,
    registry_db,
    table,
)

if TYPE_CHECKING:
    from orca.pools import Catalog

app = commands(
    "The model catalog: model files by sha256 digest, their GGUF metadata, tags, "
    "lifecycle state (draft, active, canary, deprecated, retired) and trust."
)

STATE_HELP = "draft, active or canary (default: draft)."


@contextmanager
def _catalog() -> Iterator[Catalog]:
    """The installation's catalog: in the default tenant's project store, whatever
    ``--tenant`` says."""
    from orca.pools import Catalog

    with registry_db() as store:
        yield Catalog(store.catalog)


def _remote(method: str, path: str, body: Any = None, params: Any = None) -> Any:
    from orca.cli._remote import connect

    assert State.server is not None
    with connect(State.server) as client:
        return client.request(method, path, body=body, params=params)


def _ref(ref: str) -> str:
    return quote(ref, safe="")


def _show(model: dict[str, Any], as_json: bool, said: str | None = None) -> None:
    if as_json:
        emit_json(model)
        return
    if said:
        out.print(said)
    meta = model.get("metadata") or {}
    rows = [
        ("id", model["id"]),
        ("name", model["name"]),
        ("path", model["path"]),
        ("digest", model["digest"]),
        ("size", f"{model['size_bytes']} bytes"),
        ("state", model["state"]),
        ("trust", model["trust"]),
        ("verified at", model["verified_at"] or "never"),
        ("tags", ", ".join(model["tags"]) or "-"),
        ("architecture", meta.get("architecture")),
        ("parameters", meta.get("parameter_count")),
        ("quantization", meta.get("quantization")),
        ("context length", meta.get("context_length")),
        ("layers", meta.get("block_count")),
        ("added", model["created_at"]),
    ]
    for label, value in rows:
        out.print(f"{label + ':':<16}{esc(value if value is not None else '-')}")


@app.command("add")
@handles_errors
def add(
    path: str = typer.Argument(
        ..., help="The GGUF file (with --server: its absolute path on the server's host)."
    ),
    name: str | None = typer.Option(None, "--name", help="Its name (default: the file's stem)."),
    tag: list[str] = typer.Option([], "--tag", help="A tag (repeat for more)."),
    state: str = typer.Option("draft", "--state", help=STATE_HELP),
    as_json: bool = JSON_OPTION,
) -> None:
    """Catalogue a GGUF model file: its sha256 digest, size and header, unverified."""
    from orca.store._catalog import INITIAL_STATES, check_state

    check_state(state, INITIAL_STATES, field="--state")
    if State.server is not None:
        if not Path(path).is_absolute():
            fail(
                f"{path!r} is relative; with --server the path is a file of the server's host",
                USAGE,
                fix="give its absolute path on the server's host",
            )
        body = {"path": path, "name": name, "tags": tag, "state": state}
        model = _remote("POST", "/v1/catalog/models", body)
    else:
        with _catalog() as catalog:
            model = catalog.add(path, name=name, tags=tag, state=state).to_dict()
    _show(model, as_json, f"added model [bold]{esc(model['name'])}[/] ({model['id']})")


@app.command("list")
@handles_errors
def list_models(
    state: str | None = typer.Option(None, "--state", help="Only models in this state."),
    tag: str | None = typer.Option(None, "--tag", help="Only models with this tag."),
    trust: str | None = typer.Option(
        None, "--trust", help="Only models of this trust: unverified, verified, untrusted."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """The catalogued models, by name."""
    from orca.store._catalog import TRUST, check_state

    if state is not None:
        check_state(state, field="--state")
    if trust is not None:
        check_state(trust, TRUST, field="--trust")
    if State.server is not None:
        params = {k: v for k, v in (("state", state), ("tag", tag), ("trust", trust)) if v}
        models = _remote("GET", "/v1/catalog/models", params=params)
    else:
        with _catalog() as catalog:
            models = [m.to_dict() for m in catalog.list(state=state, tag=tag, trust=trust)]
    if as_json:
        emit_json(models)
        return
    if not models:
        out.print("no models (orca model add PATH catalogues one)")
        return
    t = table(None, "name", "id", "state", "trust", "arch", "quant", "params", "size", "tags")
    for m in models:
        meta = m.get("metadata") or {}
        t.add_row(
            m["name"],
            m["id"],
            m["state"],
            m["trust"],
            str(meta.get("architecture", "-")),
            str(meta.get("quantization", "-")),
            str(meta.get("parameter_count", "-")),
            str(m["size_bytes"]),
            ", ".join(m["tags"]) or "-",
        )
    out.print(t)


@app.command("show")
@handles_errors
def show(
    ref: str = typer.Argument(..., help="The model's id or name."), as_json: bool = JSON_OPTION
) -> None:
    """A catalogued model: its file, digest, state, trust and metadata."""
    if State.server is not None:
        model = _remote("GET", f"/v1/catalog/models/{_ref(ref)}")
    else:
        with _catalog() as catalog:
            model = catalog.get(ref).to_dict()
    _show(model, as_json)


@app.command("verify")
@handles_errors
def verify(
    ref: str = typer.Argument(..., help="The model's id or name."), as_json: bool = JSON_OPTION
) -> None:
    """Hash the model's file again: verified when it matches its digest, else untrusted
    (every use of it then fails). Exits 1 when it is untrusted."""
    if State.server is not None:
        model = _remote("POST", f"/v1/catalog/models/{_ref(ref)}/verify")
    else:
        with _catalog() as catalog:
            model = catalog.verify(ref).to_dict()
    if as_json:
        emit_json(model)
    elif model["trust"] == "verified":
        out.print(f"model [bold]{esc(model['name'])}[/] verified: {model['digest']}")
    if model["trust"] != "verified":
        fail(
            f"model {model['name']!r} is untrusted: its file {model['path']} does not match "
            f"{model['digest']} (or is gone)",
            FAILED,
            fix="put the catalogued file back and verify again, or add the new file as a "
            "model of its own",
        )


@app.command("state")
@handles_errors
def set_state(
    ref: str = typer.Argument(..., help="The model's id or name."),
    state: str = typer.Argument(..., help="draft, active, canary, deprecated or retired (final)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Move a model through its lifecycle (retired is final)."""
    from orca.store._catalog import check_state

    check_state(state, field="STATE")
    if State.server is not None:
        model = _remote("POST", f"/v1/catalog/models/{_ref(ref)}/state", {"state": state})
    else:
        with _catalog() as catalog:
            model = catalog.set_state(ref, state).to_dict()
    if as_json:
        emit_json(model)
    else:
        out.print(f"model [bold]{esc(model['name'])}[/] is {model['state']}")
