"""Exporting graphs as flow documents: a flow compiled and exported gives itself back
(same content hash); a Python graph gives python nodes referencing its functions, its
branches as conditional edges, and notes for what a flow cannot express. A Python graph
with importable functions and static edges round-trips: exported, compiled, it runs the
same."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
import yaml

from orca import END, START, StateGraph, reducers
from orca.flows import Flow, compile_flow, content_hash, export_graph, parse_flow, validate_flow

ROOT = Path(__file__).resolve().parents[1]
TRIAGE = ROOT / "examples" / "flows" / "triage.yaml"

MODULE = '''
from typing import Annotated, TypedDict

from orca import END, START, StateGraph, reducers


class S(TypedDict, total=False):
    """Counting words."""

    text: str
    words: Annotated[int, reducers.sum]
    seen: Annotated[list[str], reducers.append]


def count(state):
    """Count the words."""
    return {"words": len(state["text"].split()), "seen": ["count"]}


def again(state, ctx):
    return {"words": 1, "seen": [ctx.node]}


graph = StateGraph(S, name="words")
graph.add_node("count", count)
graph.add_node("again", again)
graph.add_edge(START, "count")
graph.add_edge("count", "again")
graph.add_edge("again", END)
'''


def test_a_compiled_flow_exports_as_itself() -> None:
    flow = parse_flow(TRIAGE)
    for graph in (compile_flow(flow), compile_flow(flow).compile()):
        doc = export_graph(graph)
        assert content_hash(doc) == content_hash(flow)
        assert doc["nodes"][0]["position"] == {"x": 0.0, "y": 0.0}  # the builder's layout kept
        assert parse_flow(doc) == flow


def test_a_python_graph_round_trips_through_its_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"wordsflow_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = __import__(name)
    doc = export_graph(module.graph)
    assert doc["name"] == "words"
    assert doc["description"] == "Counting words."
    assert doc["state"] == [
        {"key": "text", "type": "string", "reducer": "overwrite"},
        {"key": "words", "type": "integer", "reducer": "sum"},
        {"key": "seen", "type": "list", "reducer": "append"},
    ]
    assert doc["nodes"][0] == {
        "id": "count",
        "kind": "python",
        "ref": f"{name}:count",
        "description": "Count the words.",
        "position": {"x": 240, "y": 0},
    }
    assert doc["notes"] == []
    assert validate_flow(doc) == []
    # the export is a flow of its own: compiled, it runs the very functions
    original = module.graph.compile().invoke({"text": "a b c"})
    exported = compile_flow(yaml.safe_dump(doc)).compile().invoke({"text": "a b c"})
    assert exported == original == {"text": "a b c", "words": 4, "seen": ["count", "again"]}


class Branchy(TypedDict, total=False):
    n: int
    log: Annotated[list[str], reducers.append]
    best: Annotated[int, max]


def step(state: Branchy) -> dict[str, Any]:
    return {"n": 1}


def pick(state: Branchy) -> str:
    return "left" if state.get("n") else "right"


def test_a_python_graph_exports_branches_joins_lambdas_and_custom_reducers() -> None:
    g = StateGraph(Branchy, name="branchy")
    g.add_node("step", step)
    g.add_node("left", lambda s: {"log": ["l"]})
    g.add_node("right", step)
    g.add_node("join", step)
    g.add_edge(START, "step")
    g.add_conditional_edges("step", pick, {"a": "left", "b": "right"})
    g.add_edge(["left", "right"], "join")
    g.add_edge("join", END)
    doc = export_graph(g)
    refs = {n["id"]: n["ref"] for n in doc["nodes"]}
    assert refs == {
        "step": f"{__name__}:step",
        "left": None,
        "right": f"{__name__}:step",
        "join": f"{__name__}:step",
    }
    assert {"from": "step", "to": "left", "conditional": True} in doc["edges"]
    assert {"from": "step", "to": "right", "conditional": True} in doc["edges"]
    assert {"from": "left", "to": "join"} in doc["edges"]
    assert {"key": "best", "type": "integer", "reducer": "overwrite"} in doc["state"]
    notes = " | ".join(doc["notes"])
    assert "'left' is a lambda" in notes
    assert "custom reducer 'custom:max'" in notes
    assert "'join' waits for all of 'left', 'right'" in notes
    # it follows the format, but a lambda has no ref and a conditional edge is Python
    # code: validation says why it cannot run
    Flow.model_validate(doc)
    issues = validate_flow(doc)
    conditional = [
        f"edges.{i}.conditional" for i, e in enumerate(doc["edges"]) if "conditional" in e
    ]
    assert {i.path for i in issues} == {"nodes.1.ref", *conditional}


def test_export_refuses_what_is_not_a_graph() -> None:
    with pytest.raises(TypeError, match="takes a StateGraph"):
        export_graph({"nodes": []})
