"""``orca run flow.yaml``, ``orca flows validate`` and ``orca flows export``: the example
triage flow runs on the tiny llama.cpp model, pauses for a person and finishes on the
answer; a bad flow exits 2 with an ``error:`` and a ``fix:`` line for each problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner, Result

from orca.cli import app
from orca.flows import parse_flow, validate_flow

OK, USAGE, INTERRUPTED = 0, 2, 5
ROOT = Path(__file__).resolve().parents[1]
TRIAGE = ROOT / "examples" / "flows" / "triage.yaml"
runner = CliRunner()


def orca(project: Path, *args: Any, code: int) -> Result:
    result = runner.invoke(app, ["-C", str(project), *map(str, args)])
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    assert not crashed, f"crashed: {result.exception!r}\n{result.output}"
    assert "Traceback" not in result.output
    assert result.exit_code == code, f"exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / ".orca").mkdir(parents=True)
    return root


@pytest.fixture
def tiny(project: Path, tmp_path: Path) -> Path:
    pytest.importorskip("llama_cpp")
    from orca.llm.tiny import ensure_tiny_model

    model = ensure_tiny_model(seed=0, path=tmp_path / "tiny.gguf")
    orca(project, "init", code=OK)
    spec = f"llamacpp:{model}"
    orca(project, "profile", "create", "tiny", "--planner", spec, "--worker", spec, code=OK)
    return project


def test_the_triage_example_runs_pauses_and_finishes_on_the_answer(tiny: Path) -> None:
    ticket = json.dumps({"ticket": "The printer is on fire"})
    started = json.loads(
        orca(tiny, "run", TRIAGE, "--input", ticket, "--json", code=INTERRUPTED).stdout
    )
    (pause,) = started["interrupts"]
    assert pause["node"] == "approve"
    category = started["values"]["category"]
    assert pause["value"]["prompt"] == (f"Reply to the {category} ticket 'The printer is on fire'?")
    done = json.loads(
        orca(tiny, "runs", "resume", started["run_id"], "--value", "true", "--json", code=OK).stdout
    )
    assert done["status"] == "done"
    assert done["values"]["approved"] is True
    assert isinstance(done["values"]["reply"], str)
    assert done["values"]["reply"]  # the planner's draft, by the tiny model
    shown = json.loads(orca(tiny, "runs", "show", done["run_id"], "--json", code=OK).stdout)
    assert shown["workflow"] == "triage"


def test_a_declined_ticket_ends_without_a_reply(tiny: Path) -> None:
    ticket = json.dumps({"ticket": "refund please"})
    started = json.loads(
        orca(tiny, "run", TRIAGE, "--input", ticket, "--json", code=INTERRUPTED).stdout
    )
    done = json.loads(
        orca(
            tiny, "runs", "resume", started["run_id"], "--value", "false", "--json", code=OK
        ).stdout
    )
    assert "reply" not in done["values"]


def test_the_study_example_fans_out_over_its_topics(tiny: Path) -> None:
    study = ROOT / "examples" / "flows" / "study.yaml"
    given = json.dumps({"topics": ["owls", "bats", "moths"]})
    done = json.loads(orca(tiny, "run", study, "--input", given, "--json", code=OK).stdout)
    assert done["status"] == "done"
    assert len(done["values"]["notes"]) == 3
    assert isinstance(done["values"]["summary"], str)
    shown = json.loads(orca(tiny, "runs", "show", done["run_id"], "--json", code=OK).stdout)
    studied = [u for u in shown["usage"] if u["node"] == "study"]
    assert {u["role"] for u in studied} == {"worker"}
    tasks = [t for t in shown["tasks"] if t["node"] == "study"]
    assert len(tasks) == 3


def test_validate_accepts_the_example_and_prints_its_hash(project: Path) -> None:
    result = orca(project, "flows", "validate", TRIAGE, code=OK)
    assert "is a valid flow (sha256:" in result.stdout
    out = json.loads(orca(project, "flows", "validate", TRIAGE, "--json", code=OK).stdout)
    assert out["ok"] is True
    assert out["errors"] == []
    assert out["hash"].startswith("sha256:")


def test_validate_lists_every_problem_with_its_fix_and_exits_2(
    project: Path, tmp_path: Path
) -> None:
    doc = yaml.safe_load(TRIAGE.read_text())
    doc["nodes"][0]["prompt"] = "{{tikcet}}"
    doc["nodes"][3]["tools"] = ["x"]  # an llm node takes no tools
    doc["edges"].append({"from": "reply", "to": "nowhere"})
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc))
    result = orca(project, "flows", "validate", bad, code=USAGE)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    fixes = [line for line in result.stderr.splitlines() if line.startswith("fix:")]
    assert len(errors) == len(fixes) == 3
    assert any("nodes.0.prompt" in e and "tikcet" in e for e in errors)
    assert any("nodes.3.tools" in e for e in errors)
    assert any("edges.4.to" in e and "nowhere" in e for e in errors)
    out = json.loads(orca(project, "flows", "validate", bad, "--json", code=USAGE).stdout)
    assert sorted(e["path"] for e in out["errors"]) == [
        "edges.4.to",
        "nodes.0.prompt",
        "nodes.3.tools",
    ]
    assert all(e["fix"] for e in out["errors"])


def test_run_of_a_bad_flow_is_a_usage_error_naming_each_problem(
    project: Path, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "orca.flow/v1", "name": "x", "nodes": []}))
    result = orca(project, "run", bad, code=USAGE)
    assert "the flow has no nodes" in result.stderr
    assert "orca flows validate" in result.stderr
    missing = orca(project, "run", tmp_path / "missing.yaml", code=USAGE)
    assert "does not exist" in missing.stderr


def test_validate_with_the_allowlist_refuses_modules_it_does_not_list(
    project: Path, tmp_path: Path
) -> None:
    doc = {
        "format": "orca.flow/v1",
        "name": "py",
        "nodes": [{"id": "a", "kind": "python", "ref": "json:dumps"}],
        "edges": [{"from": "__start__", "to": "a"}, {"from": "a", "to": "__end__"}],
    }
    path = tmp_path / "py.json"
    path.write_text(json.dumps(doc))
    orca(project, "flows", "validate", path, code=OK)  # a file you run: any module
    orca(project, "init", code=OK)
    result = orca(project, "flows", "validate", path, "--allowlist", code=USAGE)
    assert "not on the allowlist" in result.stderr
    assert "[flows] python_modules" in result.stderr
    config = project / ".orca" / "orca.toml"
    config.write_text(config.read_text() + '\n[flows]\npython_modules = ["json"]\n')
    orca(project, "flows", "validate", path, "--allowlist", code=OK)


def test_export_prints_a_python_graph_as_a_flow_document(project: Path) -> None:
    result = orca(project, "flows", "export", ROOT / "examples" / "research.py", code=OK)
    doc = json.loads(result.stdout)
    assert doc["format"] == "orca.flow/v1"
    assert [(n["id"], n["kind"], n["ref"]) for n in doc["nodes"]] == [
        ("plan", "python", "research:plan"),
        ("worker", "python", "research:worker"),
        ("review", "python", "research:review"),
    ]
    assert {"key": "findings", "type": "list", "reducer": "append"} in doc["state"]
    assert any("research:fan_out" in note for note in doc["notes"])
    as_yaml = orca(project, "flows", "export", TRIAGE, "--yaml", code=OK).stdout
    assert parse_flow(as_yaml) == parse_flow(TRIAGE)  # a flow exports as itself
    assert validate_flow(as_yaml) == []
