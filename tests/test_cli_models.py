"""``orca model add|list|show|verify|state`` in process (typer's CliRunner) against the
project's store, and against a real ``orca serve`` with ``--server``: the same answers
and exit codes both ways; bad input says what and how to fix it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import _served
from orca.cli import app
from orca.llm.tiny import write_tiny_model
from orca.store.postgres import PostgresStore

OK, FAILED, USAGE, CONFIG = 0, 1, 2, 3
runner = CliRunner()

FLOW = """
from typing import TypedDict
from orca import END, START, StateGraph


class S(TypedDict, total=False):
    n: int


g = StateGraph(S, name="g")
g.add_node("step", lambda state: {"n": 1})
g.add_edge(START, "step")
g.add_edge("step", END)
"""


def orca(*args: Any, code: int) -> Result:
    result = runner.invoke(app, [*map(str, args)])
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    assert not crashed, f"crashed: {result.exception!r}\n{result.output}"
    assert result.exit_code == code, f"exit {result.exit_code}\n{result.output}"
    return result


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".orca").mkdir()
    (tmp_path / "models").mkdir()
    return tmp_path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    root = tmp_path_factory.mktemp("served-models")
    _served.init_project(root, FLOW)
    (root / "models").mkdir()
    with _served.served(root, ["g"]) as url:
        yield root, url


def session(where: Path, *target: str) -> list[Any]:
    """Add, list, show, verify, move, break, verify again: what each says (JSON, less
    the times and paths, which differ between the two places)."""
    first = write_tiny_model(where / "models" / "alpha.gguf", seed=21)
    second = write_tiny_model(where / "models" / "beta.gguf", seed=22)
    seen: list[Any] = []

    def plain(model: dict[str, Any]) -> dict[str, Any]:
        return {
            k: v
            for k, v in model.items()
            if k not in ("created_at", "updated_at", "verified_at", "path")
        }

    added = json.loads(
        orca(
            *target, "model", "add", first, "--tag", "chat", "--tag", "tiny", "--json", code=OK
        ).stdout
    )
    seen.append(plain(added))
    orca(*target, "model", "add", second, "--name", "b", "--state", "canary", code=OK)
    listed = json.loads(orca(*target, "model", "list", "--json", code=OK).stdout)
    seen.append([plain(m) for m in listed])
    tagged = json.loads(orca(*target, "model", "list", "--tag", "chat", "--json", code=OK).stdout)
    seen.append([m["name"] for m in tagged])
    shown = json.loads(orca(*target, "model", "show", "alpha", "--json", code=OK).stdout)
    seen.append(plain(shown) == plain(added))
    verified = json.loads(orca(*target, "model", "verify", added["id"], "--json", code=OK).stdout)
    seen.append((verified["trust"], verified["verified_at"] is not None))
    moved = json.loads(orca(*target, "model", "state", "alpha", "active", "--json", code=OK).stdout)
    seen.append(moved["state"])
    refused = orca(*target, "model", "state", "alpha", "draft", code=CONFIG)
    seen.append(refused.stderr.splitlines())
    again = orca(*target, "model", "add", first, "--name", "again", code=CONFIG)
    seen.append("catalogued already" in again.stderr)
    unknown = orca(*target, "model", "show", "alpah", code=CONFIG)
    seen.append("did you mean 'alpha'" in unknown.stderr)
    first.write_bytes(first.read_bytes()[:-1] + b"\x01")
    broken = orca(*target, "model", "verify", "alpha", code=FAILED)
    seen.append(broken.stderr.splitlines()[0].split(": its file")[0])
    untrusted = json.loads(
        orca(*target, "model", "list", "--trust", "untrusted", "--json", code=OK).stdout
    )
    seen.append([m["name"] for m in untrusted])
    text = orca(*target, "model", "list", code=OK).stdout
    seen.append([line.split()[0] for line in text.splitlines()[2:] if line.strip()])
    return seen


def test_the_commands_answer_the_same_here_and_on_a_server(
    project: Path, server: tuple[Path, str]
) -> None:
    here = session(project, "-C", project)
    root, url = server
    there = session(root, "--server", url)
    assert here == there
    assert here[0]["metadata"]["architecture"] == "llama"
    assert here[0]["tags"] == ["chat", "tiny"]
    assert here[2] == ["alpha"]
    assert here[4] == ("verified", True)
    assert here[6][0] == "error: model 'alpha' is active; it cannot become draft"
    assert here[6][1] == "fix: move it to one of: deprecated, retired"
    assert here[7:9] == [True, True]
    assert here[9] == "error: model 'alpha' is untrusted"
    assert here[10] == ["alpha"]


def test_show_prints_the_model_for_people(project: Path) -> None:
    path = write_tiny_model(project / "models" / "people.gguf", seed=5)
    orca("-C", project, "model", "add", path, code=OK)
    text = orca("-C", project, "model", "show", "people", code=OK).stdout
    assert "architecture:   llama" in text
    assert "layers:         2" in text
    assert "trust:          unverified" in text
    assert f"path:           {path.resolve()}" in text


def test_bad_input_says_what_and_how_to_fix_it(project: Path) -> None:
    path = write_tiny_model(project / "models" / "bad.gguf", seed=6)
    cases = [
        (("model", "add", path, "--state", "retired"), USAGE, "--state"),
        (("model", "add", path, "--tag", "no spaces"), USAGE, "tag 'no spaces'"),
        (("model", "add", path, "--name", "../x"), USAGE, "model name '../x'"),
        (("model", "add", project / "models"), CONFIG, "is a directory"),
        (("model", "add", project / "nothing.gguf"), CONFIG, "cannot be found"),
        (("model", "list", "--state", "live"), USAGE, "--state"),
        (("model", "list", "--trust", "sure"), USAGE, "--trust"),
        (("model", "state", "bad", "live"), USAGE, "STATE"),
    ]
    for args, code, said in cases:
        result = orca("-C", project, *args, code=code)
        assert result.stderr.startswith("error: "), result.stderr
        assert said in result.stderr, (args, result.stderr)
        assert "\nfix: " in result.stderr


def test_a_relative_path_is_refused_with_a_server(server: tuple[Path, str]) -> None:
    _, url = server
    result = orca("--server", url, "model", "add", "models/x.gguf", code=USAGE)
    assert "server's host" in result.stderr


def test_the_catalog_lives_in_a_postgresql_store_too(project: Path, pg_url: str) -> None:
    path = write_tiny_model(project / "models" / "pg.gguf", seed=31)
    added = json.loads(
        orca("--store", pg_url, "-C", project, "model", "add", path, "--json", code=OK).stdout
    )
    listed = json.loads(
        orca("--store", pg_url, "-C", project, "model", "list", "--json", code=OK).stdout
    )
    assert [m["id"] for m in listed] == [added["id"]]
    with PostgresStore(pg_url) as store:  # the store named holds it
        assert store.catalog.get("pg") is not None
    moved = orca("--store", pg_url, "-C", project, "model", "state", "pg", "canary", code=OK)
    assert "is canary" in moved.stdout
