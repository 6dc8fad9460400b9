"""``orca secret set|list|rm|rotate-key``: provider keys kept sealed in the project's
store (docs/secrets.md). A value is read from a hidden prompt or from stdin, never from
the command line (which ``ps`` and shell history show), and is never printed."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from orca.cli._common import (
    JSON_OPTION,
    USAGE,
    commands,
    config,
    emit_json,
    err,
    esc,
    fail,
    handles_errors,
    out,
    project_root,
    table,
)

if TYPE_CHECKING:
    from orca.store import SecretRepository

app = commands(
    "Provider API keys kept sealed (AES-256-GCM) in the project's store; runs use them "
    "before the environment. Values are never shown."
)


@contextmanager
def _secrets() -> Iterator[SecretRepository]:
    """The project store's secrets, under the configured master key."""
    from orca.store import project_store

    keys = config().secret_keys()
    store = project_store(project_root())
    try:
        store.secret_keys = keys
        yield store.secrets
    finally:
        store.close()


def _read_value(name: str) -> str:
    """The value: typed at a hidden prompt (twice) on a terminal, else all of stdin (one
    trailing newline dropped)."""
    if sys.stdin.isatty():
        value: str = typer.prompt(f"{name}", hide_input=True, confirmation_prompt=True)
        return value
    data = sys.stdin.read()
    if data.endswith("\n"):
        data = data[:-1]
        if data.endswith("\r"):
            data = data[:-1]
    return data


@app.command("set")
@handles_errors
def set_secret(
    name: str = typer.Argument(
        ..., help="The variable it stands for, in capitals, e.g. OPENAI_API_KEY."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Store a key (replacing any of that name): typed at a hidden prompt, or piped on
    stdin (`orca secret set OPENAI_API_KEY < key.txt`). Never give it as an argument."""
    from orca.store._secrets import check_secret_name

    check_secret_name(name)  # before asking for the value
    with _secrets() as secrets:  # a bad config or --server is said before it, too
        record = secrets.put(name, _read_value(name)).to_dict()
    if as_json:
        emit_json(record)
    else:
        out.print(f"stored secret [bold]{esc(name)}[/] (fingerprint {record['fingerprint']})")


@app.command("list")
@handles_errors
def list_secrets(as_json: bool = JSON_OPTION) -> None:
    """The stored secrets: name, fingerprint, when stored (never their values)."""
    with _secrets() as secrets:
        records = [r.to_dict() for r in secrets.list()]
    if as_json:
        emit_json(records)
        return
    if not records:
        out.print("no secrets (orca secret set OPENAI_API_KEY stores one)")
        return
    t = table(None, "name", "fingerprint", "created", "updated")
    for r in records:
        t.add_row(esc(r["name"]), r["fingerprint"], r["created_at"], r["updated_at"])
    out.print(t)


@app.command("rm")
@handles_errors
def remove(
    name: str = typer.Argument(..., help="The secret's name."), as_json: bool = JSON_OPTION
) -> None:
    """Forget a stored secret (runs fall back to the environment's variable)."""
    from orca.errors import closest

    with _secrets() as secrets:
        if not secrets.delete(name):
            names = [r.name for r in secrets.list()]
            fail(
                f"no secret is named {name!r}{closest(name, names)} (stored: "
                f"{', '.join(names) or 'none'})",
                fix="orca secret list shows them",
            )
    if as_json:
        emit_json({"name": name, "deleted": True})
    else:
        out.print(f"removed secret [bold]{esc(name)}[/]")


@app.command("rotate-key")
@handles_errors
def rotate_key(
    new_key_file: Path = typer.Option(
        ...,
        "--new-key-file",
        help="The new master key (base64 of 32 bytes); made 0600 with a new random key "
        "if it does not exist.",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Seal every secret of the project's store again under a new master key, in one
    transaction. Then make the new key the one Orca reads ([secrets] key_file or
    ORCA_SECRET_KEY) and restart servers and workers."""
    from orca.store._sealing import parse_key, write_key_file

    path = new_key_file.expanduser().resolve()
    made = write_key_file(path)
    try:
        new = parse_key(path.read_text(encoding="ascii"), str(path))
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {path} ({exc})", USAGE, fix=f"make {path} a readable key file")
    with _secrets() as secrets:
        current = config().secret_keys()
        old = current.key()
        if old.key_id == new.key_id:
            fail(
                f"{path} holds the master key already in use ({current.describe()})",
                USAGE,
                fix="give a new key file (a path that does not exist gets a new key)",
            )
        count = secrets.rekey(old, new)
    if as_json:
        emit_json({"resealed": count, "key_file": str(path), "key_id": new.key_id})
        return
    if made:
        err.print(f"made a new master key in {esc(str(path))} (mode 0600)")
    out.print(f"sealed {count} secret(s) again under the key in {esc(str(path))} ({new.key_id})")
    err.print(
        f"now make it the key Orca reads: [secrets] key_file = {esc(repr(str(path)))} (or "
        "ORCA_SECRET_KEY), then restart servers and workers; keep the old key until then"
    )
