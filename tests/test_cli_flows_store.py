"""``orca flows save|list|versions|show|diff`` in process against a project's store, and
against a real ``orca serve`` with ``--server``: the same answers both ways."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

import _served
from orca.cli import app

OK, USAGE, CONFIG = 0, 2, 3
runner = CliRunner()

FLOW = """\
format: orca.flow/v1
name: demo
state: [{key: q, type: string}, {key: a, type: any}]
nodes:
  - {id: ask, kind: human, prompt: "PROMPT", output: a, position: {x: 1, y: 2}}
edges: [{from: __start__, to: ask}, {from: ask, to: __end__}]
"""

GRAPHS = """
from typing import TypedDict
from orca import END, START, StateGraph


class S(TypedDict, total=False):
    n: int


def step(state):
    return {"n": 1}


g = StateGraph(S, name="g")
g.add_node("step", step)
g.add_edge(START, "step")
g.add_edge("step", END)
"""


def orca(*args: Any, code: int) -> Result:
    result = runner.invoke(app, [*map(str, args)])
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    assert not crashed, f"crashed: {result.exception!r}\n{result.output}"
    assert result.exit_code == code, f"exit {result.exit_code}\n{result.output}"
    return result


def _file(where: Path, prompt: str) -> Path:
    path = where / "demo.yaml"
    path.write_text(FLOW.replace("PROMPT", prompt))
    return path


def _session(where: Path, *target: str) -> list[Any]:
    """Save, save again, change, list, show, diff: what each says (JSON)."""
    seen = []
    first = json.loads(orca(*target, "flows", "save", _file(where, "Q {{q}}?"),
                            "-m", "first", "--json", code=OK).stdout)  # fmt: skip
    seen.append({k: v for k, v in first.items() if k != "created_at"})
    again = json.loads(orca(*target, "flows", "save", _file(where, "Q {{q}}?"), "--json",
                            code=OK).stdout)  # fmt: skip
    seen.append((again["version"], again["created"]))
    orca(*target, "flows", "save", _file(where, "Sure {{q}}?"), "--version", "1.0.0", code=OK)
    listed = json.loads(orca(*target, "flows", "list", "--json", code=OK).stdout)
    seen.append([(f["name"], f["latest"]["version"], f["versions"]) for f in listed])
    shown = json.loads(orca(*target, "flows", "show", "demo@0.1.0", "--json", code=OK).stdout)
    seen.append(shown["flow"]["nodes"][0]["prompt"])
    diff = json.loads(orca(*target, "flows", "diff", "demo", "0.1.0", "--json", code=OK).stdout)
    seen.append(diff)
    text = orca(*target, "flows", "diff", "demo", "0.1.0", "1.0.0", code=OK).stdout
    seen.append(text)
    refused = orca(*target, "flows", "save", _file(where, "Other"), "--version", "1.0.0",
                   code=CONFIG)  # fmt: skip
    seen.append("saved with other content" in refused.output)
    return seen


def test_the_commands_work_locally_and_against_a_server_alike(tmp_path: Path) -> None:
    local = tmp_path / "local"
    (local / ".orca").mkdir(parents=True)
    here = _session(local, "-C", local)
    assert here[0]["version"] == "0.1.0"
    assert here[0]["created"] is True
    assert here[0]["message"] == "first"
    assert here[1] == ("0.1.0", False)
    assert here[2] == [("demo", "1.0.0", 2)]
    assert here[3] == "Q {{q}}?"
    assert here[4]["nodes"]["changed"] == [
        {"name": "ask", "fields": [{"field": "prompt", "from": "Q {{q}}?", "to": "Sure {{q}}?"}]}
    ]
    assert 'prompt: "Q {{q}}?" -> "Sure {{q}}?"' in here[5]
    assert here[6] is True
    remote = tmp_path / "remote"
    remote.mkdir()
    _served.init_project(remote, GRAPHS)
    with _served.served(remote, ["g"]) as url:
        there = _session(remote, "--server", url)
    assert there == here


def test_an_invalid_flow_is_not_saved_and_each_problem_is_shown(tmp_path: Path) -> None:
    (tmp_path / ".orca").mkdir()
    bad = tmp_path / "bad.yaml"
    bad.write_text(FLOW.replace("output: a", "output: nowhere!").replace("PROMPT", "x"))
    result = orca("-C", tmp_path, "flows", "save", bad, code=USAGE)
    assert "nodes.0.output" in result.output
    assert "fix:" in result.output
    orca("-C", tmp_path, "flows", "versions", "demo", code=CONFIG)
    orca("-C", tmp_path, "flows", "save", tmp_path / "missing.yaml", code=USAGE)
    orca("-C", tmp_path, "flows", "show", "../etc@1.0.0", code=USAGE)
