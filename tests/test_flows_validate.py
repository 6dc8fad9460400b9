"""Validating flow documents: every problem is reported at once, each naming its path,
node, field and fix; hostile documents are refused with an issue, never followed."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from orca.errors import FlowError
from orca.flows import FlowIssue, content_hash, parse_flow, validate_flow


def triage() -> dict[str, Any]:
    return {
        "format": "orca.flow/v1",
        "name": "triage",
        "description": "classify a ticket, ask a human, answer",
        "state": [
            {"key": "ticket", "type": "string"},
            {"key": "category", "type": "string"},
            {"key": "approved", "type": "any"},
            {"key": "reply", "type": "string"},
        ],
        "nodes": [
            {
                "id": "classify",
                "kind": "llm",
                "role": "worker",
                "prompt": "Classify: {{ticket}}",
                "output": "category",
                "max_tokens": 8,
                "position": {"x": 0, "y": 0},
            },
            {
                "id": "approve",
                "kind": "human",
                "prompt": "Send {{category}}?",
                "output": "approved",
            },
            {
                "id": "route",
                "kind": "router",
                "routes": [{"when": {"key": "approved", "op": "truthy"}, "to": "answer"}],
                "default": "__end__",
            },
            {
                "id": "answer",
                "kind": "llm",
                "role": "planner",
                "prompt": "Answer {{ticket}} ({{category}})",
                "output": "reply",
            },
        ],
        "edges": [
            {"from": "__start__", "to": "classify"},
            {"from": "classify", "to": "approve"},
            {"from": "approve", "to": "route"},
            {"from": "answer", "to": "__end__"},
        ],
    }


def by_path(issues: list[FlowIssue]) -> dict[str, FlowIssue]:
    return {i.path: i for i in issues}


def test_a_good_flow_has_no_issues_and_parses() -> None:
    assert validate_flow(triage()) == []
    flow = parse_flow(json.dumps(triage()))
    assert [n.id for n in flow.nodes] == ["classify", "approve", "route", "answer"]


def test_yaml_text_and_files_parse_like_json(tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "triage.yaml"
    path.write_text(yaml.safe_dump(triage()))
    assert parse_flow(path) == parse_flow(triage())
    assert parse_flow(path.read_text()) == parse_flow(triage())
    other = tmp_path / "triage.flow"  # another suffix: JSON or YAML, by its first character
    other.write_text(path.read_text())
    assert parse_flow(other) == parse_flow(triage())
    other.write_text(json.dumps(triage()))
    assert parse_flow(other) == parse_flow(triage())


def test_every_problem_is_reported_with_path_node_field_and_fix() -> None:
    doc = triage()
    doc["nodes"][0]["prompt"] = "Classify {{tickt}}"  # not a state key
    doc["nodes"][1]["kind"] = "humane"  # unknown kind
    doc["nodes"][2]["routes"][0]["to"] = "anser"  # unknown target
    doc["nodes"][3]["id"] = "classify"  # duplicate id
    doc["edges"].append({"from": "ghost", "to": "__end__"})
    issues = by_path(validate_flow(doc))
    prompt = issues["nodes.0.prompt"]
    assert (prompt.node, prompt.field) == ("classify", "prompt")
    assert "tickt" in prompt.message
    assert "did you mean 'ticket'" in prompt.message
    assert "declare 'tickt'" in prompt.fix
    kind = issues["nodes.1.kind"]
    assert "did you mean 'human'" in kind.message
    assert "llm, agent" in kind.fix
    assert issues["nodes.2.routes.0.to"].node == "route"
    assert "used twice" in issues["nodes.3.id"].message
    assert "'ghost'" in issues["edges.4.from"].message
    with pytest.raises(FlowError) as err:
        parse_flow(doc)
    assert len(err.value.issues) == len(issues)
    assert "Fix:" in str(err.value)


def test_the_hash_ignores_positions_and_descriptions_but_not_prompts() -> None:
    doc = triage()
    moved = copy.deepcopy(doc)
    moved["nodes"][0]["position"] = {"x": 500, "y": -3.5}
    moved["description"] = "another text"
    moved["nodes"].reverse()
    assert content_hash(doc) == content_hash(moved)
    assert content_hash(doc).startswith("sha256:")
    changed = copy.deepcopy(doc)
    changed["nodes"][0]["prompt"] = "Classify this: {{ticket}}"
    assert content_hash(changed) != content_hash(doc)


def node(doc: dict[str, Any], node_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(n for n in doc["nodes"] if n["id"] == node_id)
    return found


def add_key(doc: dict[str, Any], key: str, kind: str = "any", reducer: str = "overwrite") -> None:
    doc["state"].append({"key": key, "type": kind, "reducer": reducer})


def unreachable(doc: dict[str, Any]) -> None:
    doc["nodes"].append({"id": "orphan", "kind": "llm", "prompt": "x", "output": "reply"})
    doc["edges"].append({"from": "orphan", "to": "__end__"})


def dead_end(doc: dict[str, Any]) -> None:
    doc["edges"] = [e for e in doc["edges"] if e["from"] != "answer"]


def map_over(doc: dict[str, Any], over: str) -> None:
    doc["nodes"].append({"id": "fan", "kind": "map", "over": over, "to": "answer", "as": "x"})
    doc["edges"][0]["to"] = "fan"
    doc["edges"].append({"from": "__start__", "to": "classify"})


def set_ref(doc: dict[str, Any], ref: str) -> None:
    doc["nodes"].append({"id": "py", "kind": "python", "ref": ref})
    doc["edges"] += [{"from": "__start__", "to": "py"}, {"from": "py", "to": "__end__"}]


def set_flow(doc: dict[str, Any], ref: str) -> None:
    doc["nodes"].append({"id": "sub", "kind": "subflow", "flow": ref})
    doc["edges"] += [{"from": "__start__", "to": "sub"}, {"from": "sub", "to": "__end__"}]


CASES = [
    ("no format", lambda d: d.pop("format"), "format", "has no format"),
    ("a later format", lambda d: d.update(format="orca.flow/v9"), "format", "is not"),
    ("a bad name", lambda d: d.update(name="a b/c"), "name", "should match pattern"),
    ("an unknown top field", lambda d: d.update(nodez=[]), "nodez", "did you mean 'nodes'"),
    ("no nodes", lambda d: d.update(nodes=[], edges=[]), "nodes", "no nodes"),
    ("a node that is a list", lambda d: d["nodes"].append([1]), "nodes.4", "not an object"),
    ("no kind", lambda d: node(d, "classify").pop("kind"), "nodes.0.kind", "has no kind"),
    ("a bad id", lambda d: node(d, "classify").update(id="__start__"), "nodes.0.id", "pattern"),
    ("a missing prompt", lambda d: node(d, "classify").pop("prompt"), "nodes.0.prompt", "required"),
    (
        "a bad max_tokens",
        lambda d: node(d, "classify").update(max_tokens=0),
        "nodes.0.max_tokens",
        "greater than or equal to 1",
    ),
    (
        "a role and a model",
        lambda d: node(d, "classify").update(model="openai/gpt-4o"),
        "nodes.0.model",
        "both a role and a model",
    ),
    (
        "an unknown provider",
        lambda d: node(d, "answer").update(role=None, model="opnai/gpt-4o"),
        "nodes.3.model",
        "did you mean 'openai'",
    ),
    (
        "a duplicate state key",
        lambda d: add_key(d, "ticket"),
        "state.4.key",
        "declared twice",
    ),
    (
        "an append on a string",
        lambda d: add_key(d, "log", "string", "append"),
        "state.4.reducer",
        "its reducer is append",
    ),
    (
        "a default of the wrong type",
        lambda d: d["state"].append({"key": "n", "type": "integer", "default": "3"}),
        "state.4.default",
        "not a integer",
    ),
    (
        "an output that is not a state key",
        lambda d: node(d, "classify").update(output="categry"),
        "nodes.0.output",
        "did you mean 'category'",
    ),
    (
        "an unclosed variable",
        lambda d: node(d, "classify").update(prompt="{{ticket"),
        "nodes.0.prompt",
        "not closed",
    ),
    (
        "an expression in a template",
        lambda d: node(d, "classify").update(prompt="{{ ticket | upper }}"),
        "nodes.0.prompt",
        "is not a state variable",
    ),
    (
        "a dunder in a template",
        lambda d: node(d, "classify").update(prompt="{{ticket.__class__.__mro__}}"),
        "nodes.0.prompt",
        "is not a state variable",
    ),
    (
        "a router target that is not a node",
        lambda d: node(d, "route").update(default="ansewr"),
        "nodes.2.default",
        "did you mean 'answer'",
    ),
    (
        "a router without routes",
        lambda d: node(d, "route").update(routes=[]),
        "nodes.2.routes",
        "no routes",
    ),
    (
        "a condition on an unknown key",
        lambda d: node(d, "route")["routes"][0]["when"].update(key="aproved"),
        "nodes.2.routes.0.when.key",
        "did you mean 'approved'",
    ),
    (
        "an unknown operator",
        lambda d: node(d, "route")["routes"][0]["when"].update(op="~="),
        "nodes.2.routes.0.when.op",
        "Input should be",
    ),
    (
        "in without a list",
        lambda d: node(d, "route")["routes"][0]["when"].update(op="in", value="x"),
        "nodes.2.routes.0.when.value",
        "does not take value",
    ),
    (
        "an edge out of a router",
        lambda d: d["edges"].append({"from": "route", "to": "answer"}),
        "edges.4",
        "goes where its routes and default say",
    ),
    (
        "an edge into __start__",
        lambda d: d["edges"].append({"from": "answer", "to": "__start__"}),
        "edges.4.to",
        "into __start__",
    ),
    (
        "an edge out of __end__",
        lambda d: d["edges"].append({"from": "__end__", "to": "answer"}),
        "edges.4.from",
        "leaves __end__",
    ),
    ("no entry", lambda d: d["edges"].pop(0), "edges", "no edge leaves __start__"),
    ("an unreachable node", unreachable, "nodes.4", "unreachable"),
    ("a dead end", dead_end, "nodes.3", "no way to __end__"),
    ("a map over a string", lambda d: map_over(d, "ticket"), "nodes.4.over", "not a list"),
    ("a map over nothing", lambda d: map_over(d, "tickets"), "nodes.4.over", "not a state key"),
    (
        "a map whose writes collide",
        lambda d: (add_key(d, "items", "list"), map_over(d, "items")),
        "nodes.4.to",
        "the writes would collide",
    ),
    (
        "a bad schema",
        lambda d: node(d, "classify").update(schema={"type": "objekt", "required": "x"}),
        "nodes.0.schema.type",
        "not a JSON type",
    ),
    (
        "a schema that is not an object",
        lambda d: node(d, "classify").update(schema={"type": "string"}),
        "nodes.0.schema.type",
        '"type": "object" at the top',
    ),
    ("a ref without a function", lambda d: set_ref(d, "json"), "nodes.4.ref", "module:function"),
    ("a dunder ref", lambda d: set_ref(d, "builtins:__import__"), "nodes.4.ref", "dunder"),
    ("a call in a ref", lambda d: set_ref(d, "__import__('os'):system"), "nodes.4.ref", "form"),
    (
        "a ref to a builtin",
        lambda d: set_ref(d, "os:system"),
        "nodes.4.ref",
        "not a Python function",
    ),
    (
        "a ref to a class",
        lambda d: set_ref(d, "json:JSONDecoder"),
        "nodes.4.ref",
        "not a Python function",
    ),
    ("a ref to nothing", lambda d: set_ref(d, "json:nothing"), "nodes.4.ref", "has no 'nothing'"),
    (
        "a ref to a missing module",
        lambda d: set_ref(d, "no_such_module_here:fn"),
        "nodes.4.ref",
        "cannot import",
    ),
]


@pytest.mark.parametrize(
    ("change", "path", "says"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_bad_flow_gets_an_issue_at_its_path(change: Any, path: str, says: str) -> None:
    doc = triage()
    change(doc)
    issues = validate_flow(doc)
    at = [i for i in issues if i.path == path]
    assert at, f"no issue at {path}: {issues}"
    assert any(says in i.message for i in at), at
    assert all(i.fix for i in issues)
    with pytest.raises(FlowError):
        parse_flow(doc) if "ref" not in path else validate_and_raise(doc)


def validate_and_raise(doc: dict[str, Any]) -> None:
    issues = validate_flow(doc)
    if issues:
        raise FlowError(issues)


def test_unknown_tools_are_issues_when_the_registry_is_given() -> None:
    doc = triage()
    doc["nodes"].append(
        {"id": "t", "kind": "tool", "tool": "http_fetc", "args": {"url": "{{ticket}}"}}
    )
    doc["nodes"].append(
        {
            "id": "a",
            "kind": "agent",
            "prompt": "x",
            "tools": ["files_read", "rm"],
            "output": "reply",
        }
    )
    doc["edges"] += [
        {"from": "__start__", "to": "t"},
        {"from": "t", "to": "a"},
        {"from": "a", "to": "__end__"},
    ]
    from orca.tools import builtin_tools

    assert validate_flow(doc) == []  # no registry: tool names are not judged
    issues = by_path(validate_flow(doc, tools=builtin_tools()))
    assert set(issues) == {"nodes.4.tool", "nodes.5.tools.1"}
    assert "did you mean 'http_fetch'" in issues["nodes.4.tool"].message
    assert validate_flow(doc, tools=["http_fetc", "files_read", "rm"]) == []


def test_python_refs_outside_the_allowlist_are_never_imported(tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    (tmp_path / "sneaky_flow_module.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\ndef fn(state):\n    return {{}}\n"
    )
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        doc = triage()
        set_ref(doc, "sneaky_flow_module:fn")
        issues = by_path(validate_flow(doc, python_modules=["mypkg", "other.nodes"]))
        assert "not on the allowlist" in issues["nodes.4.ref"].message
        assert "allowed: mypkg, other.nodes" in issues["nodes.4.ref"].message
        assert not marker.exists()  # refused before any import
        assert "nodes.4.ref" in by_path(validate_flow(doc, python_modules=[]))
        assert not marker.exists()
        assert validate_flow(doc, python_modules=["sneaky_flow_module"]) == []
        assert marker.exists()  # listed: imported and checked
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("sneaky_flow_module", None)


def test_subflows_are_resolved_checked_and_cycles_stop(tmp_path: Path) -> None:
    from orca.flows import file_resolver

    doc = triage()
    set_flow(doc, "child.json")
    resolve = file_resolver(tmp_path)
    assert validate_flow(doc) == []  # no resolver: not followed
    issues = by_path(validate_flow(doc, resolve_flow=resolve))
    assert "cannot be found" in issues["nodes.4.flow"].message
    (tmp_path / "child.json").write_text(json.dumps({"format": "orca.flow/v1", "name": "c"}))
    issues = by_path(validate_flow(doc, resolve_flow=resolve))
    assert "is invalid: the flow has no nodes" in issues["nodes.4.flow"].message
    (tmp_path / "child.json").write_text(json.dumps(doc))  # a flow that includes itself
    issues = by_path(validate_flow(doc, resolve_flow=resolve))
    assert "more than 8 deep" in issues["nodes.4.flow"].message
    set_flow(doc, "other@1.0.0")
    doc["nodes"][-1]["id"] = "sub2"
    doc["edges"][-2:] = [{"from": "__start__", "to": "sub2"}, {"from": "sub2", "to": "__end__"}]
    issues = by_path(validate_flow(doc, resolve_flow=resolve))
    assert "run on a server" in issues["nodes.5.flow"].message


# -- hostile documents --------------------------------------------------------------------------


def only_issue(data: Any) -> FlowIssue:
    issues = validate_flow(data)
    assert len(issues) == 1, issues
    return issues[0]


def test_a_huge_document_is_refused_unread(tmp_path: Path) -> None:
    text = json.dumps({**triage(), "description": "x" * (2 << 20)})
    assert "bytes, more than" in only_issue(text).message
    path = tmp_path / "big.json"
    path.write_text(text)
    assert "bytes, more than" in only_issue(path).message
    many = {**triage(), "notes": ["n"] * 200_000}
    assert "more than 100000 values" in only_issue(many).message


def test_deep_nesting_is_refused() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    assert "nests deeper" in only_issue('{"format": "orca.flow/v1", "x": ' + deep + "}").message
    nested: Any = "leaf"
    for _ in range(100):
        nested = {"a": nested}
    assert "nests deeper" in only_issue({**triage(), "description": nested}).message


def test_a_yaml_alias_bomb_is_refused_without_expanding_it() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    for i, name in enumerate("bcdefghij"):
        prev = "abcdefghij"[i]
        bomb += f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]\n"
    assert "more than 100000 values" in only_issue(bomb).message


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"format": "orca.flow/v1", "name": NaN}', "not valid JSON"),
        ("[1, 2]", "got a list"),
        ("just text", "got a str"),
        ("format: orca.flow/v1\nname: x\nwhen: 2024-01-01\n", "date"),
        ("format: orca.flow/v1\n1: x\n", "key '1' is not a string"),
        ("format: [unclosed\n", "not valid YAML"),
        ("!!python/object/apply:os.system ['echo hi']", "not valid YAML"),
        (b"\xff\xfe{", "not UTF-8"),
    ],
)
def test_text_that_is_not_a_flow_gets_one_clear_issue(text: Any, says: str) -> None:
    assert says in only_issue(text).message


def test_templates_never_reach_attributes() -> None:
    from orca.flows._template import render, render_value

    values = {"ticket": "x", "items": [1, {"a": 2}]}
    assert render("{{ticket.__class__}}|{{ticket.upper}}|{{items.1.a}}|{{items.9}}", values) == (
        "||2|"
    )
    assert render_value({"n": "{{items}}", "s": "{{ticket}}!"}, values) == {
        "n": [1, {"a": 2}],
        "s": "x!",
    }


def test_the_flows_package_exports_exactly_its_api() -> None:
    import orca.flows

    assert sorted(orca.flows.__all__) == [
        "FORMAT",
        "Flow",
        "FlowIssue",
        "Workflow",
        "compile_flow",
        "content_hash",
        "export_graph",
        "file_resolver",
        "load_workflow",
        "parse_flow",
        "validate_flow",
    ]
    for name in orca.flows.__all__:
        assert hasattr(orca.flows, name)
