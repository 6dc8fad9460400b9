"""``orca runs replay RUN [--graph PATH.py[:name]] [--json]``: a run of the project replayed
with its workflow's code as it is now; "identical" and exit 0, or the first divergence and
exit 1.

The workflows here call no model: their randomness comes from a tool in the module's
``tools`` list, which the replay answers from the run's log (so a replayed value equal to
the recorded one shows it was not rolled again)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from orca import SqliteCheckpointer
from orca.cli import app

OK, FAILED, USAGE, CONFIG, INTERRUPTED = 0, 1, 2, 3, 5

runner = CliRunner()

FLOW = '''\
import random
from typing import TypedDict

from orca import END, START, StateGraph


class S(TypedDict, total=False):
    x: int
    roll: float
    label: str


def dice(sides: int) -> float:
    """Roll a die with this many sides."""
    return random.random() * sides


tools = [dice]


async def roll(s, ctx):
    return {"roll": await ctx.tools.acall("dice", sides=s["x"])}


def label(s):
    if s["roll"] > 100:
        raise ValueError(f"too big: {s['roll']}")
    return {"label": LABEL}


graph = StateGraph(S, name="dice")
graph.add_node("roll", roll)
graph.add_node("label", label)
graph.add_edge(START, "roll")
graph.add_edge("roll", "label")
graph.add_edge("label", END)
'''

LABEL = "f\"{s['roll']:.3f}\""
CHANGED_LABEL = "f\"{s['roll']:.3f}!\""  # another length, so no stale bytecode is reused

REVIEW = '''\
import random
from typing import TypedDict

from orca import END, START, StateGraph


class S(TypedDict, total=False):
    x: int
    roll: float
    answer: str


def dice(sides: int) -> float:
    """Roll a die with this many sides."""
    return random.random() * sides


tools = [dice]


async def roll(s, ctx):
    rolled = await ctx.tools.acall("dice", sides=s["x"])
    ok = ctx.interrupt({"roll": rolled})
    return {"roll": rolled, "answer": f"{ok}"}


def done(s):
    return {"answer": s["answer"] + "!"}


graph = StateGraph(S, name="review")
graph.add_node("roll", roll)
graph.add_node("done", done)
graph.add_edge(START, "roll")
graph.add_edge("roll", "done")
graph.add_edge("done", END)
'''


# -- helpers ------------------------------------------------------------------------------------


def orca(project: Path, *args: Any, code: int | None = None) -> Result:
    """``orca -C project ARGS``; checks the exit code when given, and that nothing crashed."""
    result = runner.invoke(app, ["-C", str(project), *map(str, args)])
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    assert not crashed, f"crashed: {result.exception!r}\n{result.output}"
    assert "Traceback" not in result.output
    if code is not None:
        assert result.exit_code == code, (
            f"exit {result.exit_code}, wanted {code}\nstdout: {result.stdout}\n"
            f"stderr: {result.stderr}"
        )
    return result


def data(result: Result) -> Any:
    return json.loads(result.stdout)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    orca(root, "init", code=OK)
    return root


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    path = tmp_path / "dice_flow.py"
    path.write_text(FLOW.replace("LABEL", LABEL))
    return path


def run_flow(project: Path, flow: Path) -> dict[str, Any]:
    return data(orca(project, "run", f"{flow}:graph", "--input", '{"x": 6}', "--json", code=OK))


# -- tests --------------------------------------------------------------------------------------


def test_a_run_of_the_project_replays_identical(project: Path, flow: Path) -> None:
    run = run_flow(project, flow)
    assert run["status"] == "done"

    result = orca(project, "runs", "replay", run["run_id"], code=OK)

    assert "identical" in result.stdout
    assert run["run_id"] in result.stdout
    assert "diverged" not in result.stdout
    # a unique prefix of the id is enough
    assert "identical" in orca(project, "runs", "replay", run["run_id"][:10], code=OK).stdout


def test_the_json_report_of_an_identical_replay(project: Path, flow: Path) -> None:
    run = run_flow(project, flow)
    report = data(orca(project, "runs", "replay", run["run_id"], "--json", code=OK))
    assert report == {
        "run_id": run["run_id"],
        "identical": True,
        "divergence": None,
        "steps": 2,
        "llm_calls": 0,
        "tool_calls": 1,
    }


def test_an_edited_workflow_diverges_and_names_the_node_and_field(
    project: Path, flow: Path
) -> None:
    run = run_flow(project, flow)
    recorded = run["values"]["label"]
    assert recorded == f"{run['values']['roll']:.3f}"
    flow.write_text(FLOW.replace("LABEL", CHANGED_LABEL))

    result = orca(project, "runs", "replay", run["run_id"], code=FAILED)

    assert "diverged" in result.stdout
    assert "identical" not in result.stdout
    assert "label" in result.stdout
    assert "state.label" in result.stdout
    report = data(orca(project, "runs", "replay", run["run_id"], "--json", code=FAILED))
    assert report["identical"] is False
    # the roll is the recorded one: the tool was answered from the log
    assert report["divergence"] == {
        "step": 2,
        "node": "label",
        "field": "state.label",
        "recorded": recorded,
        "now": recorded + "!",
    }


def test_a_failed_run_replays_identical(project: Path, flow: Path) -> None:
    path = flow.with_name("failing_flow.py")
    path.write_text(FLOW.replace("LABEL", LABEL).replace("> 100", "> -1"))
    result = orca(project, "run", f"{path}:graph", "--input", '{"x": 6}', "--json", code=FAILED)
    run = data(result)
    assert run["status"] == "failed"
    assert run["error"]["type"] == "NodeError"
    assert "too big" in run["error"]["message"]
    report = data(orca(project, "runs", "replay", run["run_id"], "--json", code=OK))
    assert (report["identical"], report["steps"], report["tool_calls"]) == (True, 1, 1)


def test_an_interrupted_run_and_its_resume_replay_identical(project: Path, tmp_path: Path) -> None:
    path = tmp_path / "review_flow.py"
    path.write_text(REVIEW)
    paused = data(
        orca(project, "run", f"{path}:graph", "--input", '{"x": 6}', "--json", code=INTERRUPTED)
    )
    assert paused["status"] == "interrupted"
    resumed = data(orca(project, "runs", "resume", paused["run_id"], "--value", '"yes"', "--json"))
    assert resumed["status"] == "done"
    assert resumed["values"]["answer"] == "yes!"
    assert resumed["run_id"] != paused["run_id"]

    for run_id in (paused["run_id"], resumed["run_id"]):
        report = data(orca(project, "runs", "replay", run_id, "--json", code=OK))
        assert report["identical"] is True, report


def test_a_run_resumed_at_a_later_step_replays_identical(project: Path, tmp_path: Path) -> None:
    path = tmp_path / "late_review.py"
    late = FLOW.replace("LABEL", "f\"{ctx.interrupt('ok?')} {s['roll']}\"")
    path.write_text(late.replace("def label(s):", "def label(s, ctx):"))
    paused = data(
        orca(project, "run", f"{path}:graph", "--input", '{"x": 6}', "--json", code=INTERRUPTED)
    )
    resumed = data(orca(project, "runs", "resume", paused["run_id"], "--value", '"ok"', "--json"))
    assert resumed["status"] == "done"
    orca(project, "runs", "replay", resumed["run_id"], code=OK)


def test_an_unknown_run_is_refused_with_a_message(project: Path, flow: Path) -> None:
    result = orca(project, "runs", "replay", "run-nosuch")
    assert result.exit_code not in (OK, FAILED)
    assert result.exit_code == CONFIG
    assert "run 'run-nosuch' has no workflow on record" in result.stderr
    assert "--graph" in result.stderr
    named = orca(project, "runs", "replay", "run-nosuch", "--graph", f"{flow}:graph")
    assert named.exit_code == CONFIG
    assert "no events logged for run 'run-nosuch'" in named.stderr
    assert "orca runs list" in named.stderr


def test_a_library_run_in_the_project_db_replays_with_graph(project: Path, flow: Path) -> None:
    spec = importlib.util.spec_from_file_location("replay_cli_library_flow", flow)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    store = SqliteCheckpointer(project / ".orca" / "project.db")
    try:
        compiled = module.graph.compile(checkpointer=store)
        out = compiled.invoke({"x": 20}, thread_id="lib", tools=module.tools)
        run_id = compiled.get_history("lib")[0].metadata["run_id"]
    finally:
        store.close()
    sys.modules.pop("replay_cli_library_flow", None)

    # no workflow on record for a run made by library code: --graph names it
    unnamed = orca(project, "runs", "replay", run_id, code=CONFIG)
    assert "has no workflow on record" in unnamed.stderr
    report = data(
        orca(project, "runs", "replay", run_id, "--graph", f"{flow}:graph", "--json", code=OK)
    )
    assert (report["run_id"], report["identical"], report["tool_calls"]) == (run_id, True, 1)
    human = orca(project, "runs", "replay", run_id, "--graph", f"{flow}:graph", code=OK)
    assert "identical" in human.stdout

    flow.write_text(FLOW.replace("LABEL", CHANGED_LABEL))
    changed = data(
        orca(project, "runs", "replay", run_id, "--graph", f"{flow}:graph", "--json", code=FAILED)
    )
    assert changed["divergence"]["now"] == out["label"] + "!"


def test_graph_naming_another_graph_is_refused(project: Path, flow: Path, tmp_path: Path) -> None:
    run = run_flow(project, flow)
    other = tmp_path / "other_flow.py"
    other.write_text(FLOW.replace("LABEL", LABEL).replace('name="dice"', 'name="other"'))
    result = orca(project, "runs", "replay", run["run_id"], "--graph", f"{other}:graph")
    assert result.exit_code not in (OK, FAILED)
    assert "ran graph 'dice', not 'other'" in result.stderr
    missing = orca(project, "runs", "replay", run["run_id"], "--graph", tmp_path / "nope.py")
    assert missing.exit_code == USAGE
    assert "does not exist" in missing.stderr
