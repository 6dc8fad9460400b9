"""``orca flows save|list|versions|show|diff``: saved versions of flows, in this project's
store, or on an ``orca serve`` with ``--server`` (docs/workflows.md#saved-versions).
``register`` adds them to the ``orca flows`` group."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from orca.cli._common import (
    JSON_OPTION,
    USAGE,
    State,
    config,
    emit_json,
    err,
    esc,
    fail,
    handles_errors,
    out,
    project_db,
    table,
)

Info = dict[str, Any]


class _Local:
    """Saved flows in this project's store, checked as a server checks them: the
    built-in tools, ``[flows] python_modules``, subflows among the saved flows."""

    def __init__(self, store: Any) -> None:
        self.repo = store.flows

    def save(
        self, doc: Any, version: str | None, message: str | None
    ) -> tuple[dict[str, Any], bool]:
        from orca.flows._versions import save_flow, store_resolver
        from orca.tools import builtin_tools

        info, made = save_flow(
            self.repo,
            doc,
            version=version,
            message=message,
            tools=builtin_tools(),
            python_modules=list(config().flows.python_modules),
            resolve_flow=store_resolver(self.repo),
        )
        return info.to_dict(), made

    def flows(self) -> list[dict[str, Any]]:
        return [f.to_dict() for f in self.repo.flows()]

    def versions(self, name: str) -> list[dict[str, Any]]:
        return [i.to_dict() for i in self.repo.versions(name)]

    def get(self, name: str, version: str) -> dict[str, Any] | None:
        found = self.repo.get(name, version)
        return None if found is None else {"info": found.info.to_dict(), "flow": found.flow}


class _Remote:
    """The same over ``/v1/flows`` of a server."""

    def __init__(self, url: str) -> None:
        from orca.cli._remote import connect

        self.client = connect(url)

    def save(
        self, doc: Any, version: str | None, message: str | None
    ) -> tuple[dict[str, Any], bool]:
        from orca.errors import (
            FlowError,
            InvalidInputError,
            ServerConflictError,
            ServerRequestError,
        )
        from orca.flows._read import read_doc

        data, issues = read_doc(doc)
        if issues:
            raise FlowError(issues)
        before = {i["version"] for i in self._versions_or_none(str(data.get("name", "")))}
        body = {"flow": data, "version": version, "message": message}
        try:
            info = self.client.request("POST", "/v1/flows", body=body)
        except ServerConflictError as exc:  # reported (and exits) as the local refusal
            fix = exc.details.get("fix", "save under another version")
            raise InvalidInputError(f"{exc.message}. Fix: {fix}") from None
        except ServerRequestError as exc:
            if exc.code == "FLOW_INVALID":
                raise FlowError([_issue(e) for e in exc.details.get("errors", [])]) from None
            raise
        return info, info["version"] not in before

    def _versions_or_none(self, name: str) -> list[dict[str, Any]]:
        from orca.errors import ServerNotFoundError

        try:
            return self.versions(name)
        except ServerNotFoundError:
            return []

    def flows(self) -> list[dict[str, Any]]:
        return list(self.client.request("GET", "/v1/flows"))

    def versions(self, name: str) -> list[dict[str, Any]]:
        return list(self.client.request("GET", f"/v1/flows/{_p(name)}/versions"))

    def get(self, name: str, version: str) -> dict[str, Any] | None:
        from orca.errors import ServerNotFoundError

        try:
            found = self.client.request("GET", f"/v1/flows/{_p(name)}/versions/{_p(version)}")
        except ServerNotFoundError:
            return None
        return dict(found)


def _issue(error: dict[str, Any]) -> Any:
    from orca.flows import FlowIssue

    return FlowIssue(error.get("path", ""), error.get("node"), error.get("field"),
                     error.get("message", ""), error.get("fix", ""))  # fmt: skip


def _p(part: str) -> str:
    from urllib.parse import quote

    return quote(part, safe="")


@contextmanager
def _flows() -> Iterator[Any]:
    if State.server is not None:
        remote = _Remote(State.server)
        try:
            yield remote
        finally:
            remote.client.close()
        return
    with project_db() as store:
        yield _Local(store)


def _ref(ref: str) -> tuple[str, str]:
    from orca.flows._versions import split_ref

    return split_ref(ref)


def _show_issues(exc: Any) -> None:
    for found in exc.issues:
        where = found.path or "the document"
        err.print(f"[bold red]error:[/] {esc(where)}: {esc(found.message)}")
        err.print(f"[dim]fix:[/] {esc(found.fix)}")


@handles_errors
def save(
    file: Path = typer.Argument(..., help="The flow file (.json, .yaml or .yml)."),
    version: str | None = typer.Option(
        None, "--version", help="MAJOR.MINOR.PATCH[-PRE] (default: the latest's next patch)."
    ),
    message: str | None = typer.Option(None, "--message", "-m", help="What changed."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Check a flow and save it as a version of its name (the same content as the latest
    version saves nothing and names that version)."""
    from orca.errors import FlowError

    if not file.is_file():
        fail(f"flow file {file} does not exist", USAGE, fix="give the path of a .json/.yaml flow")
    try:
        with _flows() as flows:
            info, made = flows.save(file, version, message)
    except FlowError as exc:
        _show_issues(exc)
        raise typer.Exit(USAGE) from None
    if as_json:
        emit_json({**info, "created": made})
    elif made:
        out.print(f"saved [bold]{esc(info['name'])}@{esc(info['version'])}[/] ({info['hash']})")
    else:
        out.print(
            f"unchanged: [bold]{esc(info['name'])}@{esc(info['version'])}[/] holds this content"
        )


@handles_errors
def list_flows(as_json: bool = JSON_OPTION) -> None:
    """The saved flows: each with its latest version and how many it has."""
    with _flows() as flows:
        found = flows.flows()
    if as_json:
        emit_json(found)
        return
    if not found:
        out.print("no saved flows (orca flows save FILE saves one)")
        return
    t = table(None, "name", "latest", "versions", "saved", "message")
    for f in found:
        latest = f["latest"]
        t.add_row(esc(f["name"]), latest["version"], str(f["versions"]),
                  latest["created_at"], esc(latest["message"] or ""))  # fmt: skip
    out.print(t)


@handles_errors
def versions(
    name: str = typer.Argument(..., help="The flow's name."), as_json: bool = JSON_OPTION
) -> None:
    """The flow's versions, highest first."""
    with _flows() as flows:
        found = flows.versions(name)
    if not found:
        fail(f"no saved flow {name!r}", fix="orca flows list shows the saved flows")
    if as_json:
        emit_json(found)
        return
    t = table(None, "version", "hash", "saved", "message")
    for i in found:
        t.add_row(i["version"], i["hash"][:19], i["created_at"], esc(i["message"] or ""))
    out.print(t)


@handles_errors
def show(
    ref: str = typer.Argument(..., help="NAME or NAME@VERSION (default: the latest)."),
    as_yaml: bool = typer.Option(False, "--yaml", help="Print YAML instead of JSON."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Print a saved version's document (with --json: its info and document)."""
    name, version = _ref(ref)
    with _flows() as flows:
        found = flows.get(name, version)
    if found is None:
        fail(f"no saved flow {ref!r}", fix=f"orca flows versions {name} lists its versions")
    if as_json:
        emit_json(found)
    elif as_yaml:
        import yaml

        sys.stdout.write(yaml.safe_dump(found["flow"], sort_keys=False, allow_unicode=True))
    else:
        sys.stdout.write(json.dumps(found["flow"], indent=2, ensure_ascii=False) + "\n")


@handles_errors
def diff(
    name: str = typer.Argument(..., help="The flow's name."),
    old: str = typer.Argument(..., help="The version to compare from."),
    new: str = typer.Argument("latest", help="The version to compare to (default: latest)."),
    moves: bool = typer.Option(False, "--moves", help="Show nodes moved on the canvas too."),
    as_json: bool = JSON_OPTION,
) -> None:
    """What changed between two versions: state keys, nodes field by field, edges."""
    from orca.flows._diff import diff_flows, render_diff

    with _flows() as flows:
        before, after = flows.get(name, old), flows.get(name, new)
    for version, found in ((old, before), (new, after)):
        if found is None:
            fail(f"no version {version} of flow {name!r}",
                 fix=f"orca flows versions {name} lists its versions")  # fmt: skip
    assert before is not None
    assert after is not None
    result = {
        "from": before["info"]["version"],
        "to": after["info"]["version"],
        **diff_flows(before["flow"], after["flow"]),
    }
    if as_json:
        emit_json(result)
        return
    out.print(f"{name} {result['from']} -> {result['to']}", markup=False)
    out.print(render_diff(result, moves=moves), markup=False)


COMMANDS: dict[str, Callable[..., None]] = {
    "save": save,
    "list": list_flows,
    "versions": versions,
    "show": show,
    "diff": diff,
}


def register(app: typer.Typer) -> None:
    """Add the commands to the ``orca flows`` group."""
    for name, command in COMMANDS.items():
        app.command(name)(command)
