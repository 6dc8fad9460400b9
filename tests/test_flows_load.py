"""Loading a workflow source into a compiled graph, as the CLI and the server do: every
way a source can be wrong is a ``WorkflowLoadError`` that says what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from orca.errors import WorkflowLoadError
from orca.flows import load_workflow
from orca.store import SqliteCheckpointer

GOOD = """
from typing import TypedDict
from orca import END, START, StateGraph
from orca.tools import tool


class S(TypedDict, total=False):
    n: int


@tool
def double(x: int) -> int:
    \"\"\"Twice x.\"\"\"
    return 2 * x


graph = StateGraph(S)
graph.add_node("a", lambda s: {"n": s.get("n", 0) + 1})
graph.add_edge(START, "a")
graph.add_edge("a", END)
tools = [double]
"""


def write(tmp_path: Path, text: str, name: str = "flow.py") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_a_good_source_loads_onto_the_checkpointer_with_its_tools(tmp_path: Path) -> None:
    source = write(tmp_path, GOOD, "good_flow.py")
    with SqliteCheckpointer(tmp_path / "cp.db") as store:
        workflow = load_workflow(f"{source}:graph", store)
        assert workflow.graph.checkpointer is store
        assert workflow.graph.invoke({"n": 1}, thread_id="t")["n"] == 2
    assert [t.name for t in workflow.tools or []] == ["double"]
    assert load_workflow(source).source == source  # one graph: no name needed


@pytest.mark.parametrize(
    ("text", "suffix", "says", "fix"),
    [
        ("x = 1\n", "", "holds 0 graphs", "name one"),
        (GOOD, ":missing", "has no 'missing'", "graph"),
        (GOOD + "other = graph\n", "", "holds 2 graphs", ":NAME"),
        (GOOD + "def make():\n    raise RuntimeError('boom')\n", ":make", "boom", "builds"),
        (GOOD.replace("tools = [double]", "tools = double"), "", "tools is a", "list"),
        ("raise ValueError('bad import')\n", "", "bad import", "imports"),
        ("graph = 5\n", ":graph", "not a graph", "StateGraph"),
        (
            GOOD.replace('graph.add_edge("a", END)', 'graph.add_edge("a", "nowhere")'),
            "",
            "nowhere",
            "",
        ),
    ],
)
def test_every_bad_source_says_what_to_fix(
    tmp_path: Path, text: str, suffix: str, says: str, fix: str
) -> None:
    source = write(tmp_path, text, f"bad_{abs(hash(text)) % 10**8}.py") + suffix
    with pytest.raises(WorkflowLoadError) as caught:
        load_workflow(source)
    assert says in caught.value.message
    assert fix in caught.value.fix
    assert str(caught.value).endswith(f"Fix: {caught.value.fix}")


def test_a_missing_file_or_module_is_named(tmp_path: Path) -> None:
    with pytest.raises(WorkflowLoadError, match="does not exist"):
        load_workflow(str(tmp_path / "nope.py"))
    with pytest.raises(WorkflowLoadError, match="no workflow file or module"):
        load_workflow("no_such_package_here.flows:graph")
