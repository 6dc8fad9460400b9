"""``orca tasks submit|stream|cancel|show``: LLM tasks of an ``orca serve`` (admitted,
queued and run there; see docs/server.md), through ``orca.client``. They need a server:
``--server URL`` or ``ORCA_SERVER``."""

from __future__ import annotations

import json
import sys
import uuid
from typing import TYPE_CHECKING, Any

import typer

from orca.cli._common import (
    FAILED,
    JSON_OPTION,
    USAGE,
    commands,
    emit_json,
    err,
    esc,
    fail,
    handles_errors,
    out,
    report,
    usd,
)
from orca.cli._remote import server_client

if TYPE_CHECKING:
    from orca.client import Client

app = commands("LLM tasks on a server: submit them, stream their tokens, cancel them.")


def _client() -> Client:
    return server_client("orca tasks", "tasks are admitted, queued and run by orca serve")


@app.command("submit")
@handles_errors
def submit(
    prompt: str = typer.Argument(..., help="The prompt, or @file to read it from."),
    model: str = typer.Option(..., "--model", help="The model_ref (GET /v1/capabilities)."),
    session: str | None = typer.Option(None, "--session", help="The session it belongs to."),
    priority: str = typer.Option("interactive", "--priority", help="interactive or batch."),
    max_tokens: int | None = typer.Option(None, "--max-tokens", min=1),
    seed: int | None = typer.Option(None, "--seed", min=0),
    deadline_ms: int | None = typer.Option(None, "--deadline-ms", min=1),
    task_id: str | None = typer.Option(
        None,
        "--task-id",
        help="Its id (default: a new one; the same id and body again is the same task).",
    ),
    stream: bool = typer.Option(False, "--stream", help="Then stream it, as orca tasks stream."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Submit an LLM task: where it waits in the queue, and when it should start."""
    if priority not in ("interactive", "batch"):
        fail(f"--priority {priority!r} is not interactive or batch", USAGE,
             fix="--priority batch")  # fmt: skip
    if prompt.startswith("@"):
        from pathlib import Path

        try:
            prompt = Path(prompt[1:]).read_text()
        except OSError as exc:
            fail(f"cannot read {prompt[1:]} ({exc.strerror})", USAGE,
                 fix="give a readable file: @prompt.txt")  # fmt: skip
    client = _client()
    accepted = client.submit_task(
        task_id=task_id or f"task-{uuid.uuid4().hex[:16]}",
        session_id=session,
        model_ref=model,
        priority=priority,
        prompt=prompt,
        max_tokens=max_tokens,
        seed=seed,
        deadline_ms=deadline_ms,
    )
    if stream:
        if not as_json:
            _accepted(accepted.raw)
        raise typer.Exit(_follow(client, accepted.task_id, as_json))
    if as_json:
        emit_json(accepted.raw)
    else:
        _accepted(accepted.raw)


def _accepted(raw: dict[str, Any]) -> None:
    position, start = raw.get("queue_position"), raw.get("predicted_start_ms")
    out.print(
        f"task [bold]{esc(raw['task_id'])}[/] {esc(raw.get('status', 'queued'))}"
        + (f": queue position {position}" if position is not None else "")
        + (f", predicted start in {start} ms" if start is not None else "")
    )


@app.command("stream")
@handles_errors
def stream(
    task_id: str = typer.Argument(..., help="The task (orca tasks submit)."),
    after: str | None = typer.Option(None, "--after", help="Only events after this id."),
    as_json: bool = JSON_OPTION,
) -> None:
    """A task's events: its tokens as they come, then how it ended (with --json, one JSON
    object per line: event, id, data). A dropped connection is resumed where it broke."""
    raise typer.Exit(_follow(_client(), task_id, as_json, after))


def _follow(client: Client, task_id: str, as_json: bool, after: str | None = None) -> int:
    code = 0
    for e in client.stream_task(task_id, last_event_id=after):
        if as_json:
            sys.stdout.write(json.dumps({"event": e.event, "id": e.id, "data": e.data}) + "\n")
            sys.stdout.flush()
        data = e.data if isinstance(e.data, dict) else {}
        if e.event == "error":
            code = FAILED
            if not as_json:
                report(f"task {task_id}: {data.get('code', 'ERROR')}: {data.get('message', '')}")
        elif as_json:
            continue
        elif e.event == "token":
            out.print(esc(data.get("t", "")), end="")
        elif e.event == "started":
            err.print(f"[dim]started (waited at position {data.get('queue_position')})[/]")
        elif e.event == "end":
            cost = data.get("cost_nano_usd")
            out.print(
                f"\n[dim]end: {data.get('tokens_out', 0)} tokens in {data.get('decode_ms', 0)} ms"
                + (f", {usd(cost)}" if isinstance(cost, int) else "")
                + "[/]"
            )
    return code


@app.command("cancel")
@handles_errors
def cancel(task_id: str, as_json: bool = JSON_OPTION) -> None:
    """Cancel a task: once this answers, no more of its tokens are streamed."""
    found = _client().cancel_task(task_id)
    if as_json:
        emit_json(found)
    else:
        done = found.get("cancelled", True)
        out.print(f"task [bold]{esc(task_id)}[/] " + ("cancelled" if done else "had already ended"))


@app.command("show")
@handles_errors
def show(task_id: str, as_json: bool = JSON_OPTION) -> None:
    """A task's record."""
    found = _client().get_task(task_id)
    if as_json:
        emit_json(found)
    else:
        for key in sorted(found):
            out.print(f"{key}: {esc(json.dumps(found[key]))}")
