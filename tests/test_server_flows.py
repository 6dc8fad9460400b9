"""Declarative flows over HTTP against a real ``orca serve`` on loopback: validate, save
(idempotent by content, never overwriting a version), list, read, diff and delete saved
versions; hostile input refused with errors naming the field; a saved flow run by
``NAME@VERSION`` (and by ``NAME``) end to end, its record keeping the exact version; a
served Python graph exported as a flow."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

import _served

ROOT = Path(__file__).resolve().parents[1]

GRAPHS = """
from typing import TypedDict
from orca import END, START, StateGraph


class S(TypedDict, total=False):
    n: int


def step(state):
    return {"n": state.get("n", 0) + 1}


counter = StateGraph(S, name="counter")
counter.add_node("step", step)
counter.add_edge(START, "step")
counter.add_edge("step", END)
"""

NODES = """
def shout(state):
    return {"answer": state["question"].upper() + "!"}
"""


def _flow(name: str = "triage", suffix: str = "") -> dict[str, Any]:
    return {
        "format": "orca.flow/v1",
        "name": name,
        "state": [
            {"key": "question", "type": "string"},
            {"key": "answer", "type": "string"},
            {"key": "approved", "type": "any"},
        ],
        "nodes": [
            {"id": "shout", "kind": "python", "ref": "flownodes:shout",
             "position": {"x": 0, "y": 0}},
            {"id": "approve", "kind": "human", "prompt": "Approve {{answer}}?" + suffix,
             "output": "approved"},
        ],
        "edges": [
            {"from": "__start__", "to": "shout"},
            {"from": "shout", "to": "approve"},
            {"from": "approve", "to": "__end__"},
        ],
    }  # fmt: skip


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("flows")


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[str]:
    _served.init_project(project, GRAPHS, "max_body_bytes = 200000")
    (project / "flownodes.py").write_text(NODES)
    with (project / ".orca" / "orca.toml").open("a") as f:
        f.write('\n[flows]\npython_modules = ["flownodes"]\n')
    env = {"PYTHONPATH": os.pathsep.join([str(project), os.environ.get("PYTHONPATH", "")])}
    with _served.served(project, ["counter"], env={**os.environ, **env}) as url:
        yield url


def test_validate_answers_every_problem_naming_node_and_field(server: str) -> None:
    ok = httpx.post(f"{server}/v1/flows/validate", json={"flow": _flow()})
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["ok"] is True
    assert body["errors"] == []
    assert [n["name"] for n in body["graph"]["nodes"]] == ["shout", "approve"]
    bad = _flow()
    bad["nodes"][1]["output"] = "not a key!"
    bad["nodes"].append({"id": "sys", "kind": "python", "ref": "os:system"})
    answer = httpx.post(f"{server}/v1/flows/validate", json={"flow": bad}).json()
    assert answer["ok"] is False
    assert answer["graph"] is None
    by_node = {e["node"]: e for e in answer["errors"]}
    assert by_node["approve"]["field"] == "output"
    assert by_node["approve"]["path"] == "nodes.1.output"
    [refused] = [e for e in answer["errors"] if e["node"] == "sys" and e["field"] == "ref"]
    assert "allowlist" in refused["message"]
    assert "python_modules" in refused["fix"]


def test_save_list_read_and_version_rules(server: str) -> None:
    first = httpx.post(f"{server}/v1/flows", json={"flow": _flow("saving"), "message": "one"})
    assert first.status_code == 201, first.text
    info = first.json()
    assert info["name"] == "saving"
    assert info["version"] == "0.1.0"
    assert info["message"] == "one"
    assert info["hash"].startswith("sha256:")
    # the same content (a canvas move is no change of content): the same version, 200
    moved = _flow("saving")
    moved["nodes"][0]["position"] = {"x": 300, "y": 10}
    again = httpx.post(f"{server}/v1/flows", json={"flow": moved})
    assert again.status_code == 200
    assert again.json() == info
    second = httpx.post(f"{server}/v1/flows", json={"flow": _flow("saving", " Sure?")})
    assert second.status_code == 201
    assert second.json()["version"] == "0.1.1"
    taken = httpx.post(
        f"{server}/v1/flows", json={"flow": _flow("saving", " Other"), "version": "0.1.0"}
    )
    body = _served.assert_envelope(taken, 409, "VERSION_EXISTS")
    assert "another version" in body["details"]["fix"]
    tagged = httpx.post(
        f"{server}/v1/flows", json={"flow": _flow("saving", " Rc"), "version": "1.0.0-rc.1"}
    )
    assert tagged.status_code == 201
    versions = httpx.get(f"{server}/v1/flows/saving/versions").json()
    assert [v["version"] for v in versions] == ["1.0.0-rc.1", "0.1.1", "0.1.0"]
    listed = {f["name"]: f for f in httpx.get(f"{server}/v1/flows").json()}
    assert listed["saving"]["versions"] == 3
    assert listed["saving"]["latest"]["version"] == "1.0.0-rc.1"
    got = httpx.get(f"{server}/v1/flows/saving/versions/0.1.0").json()
    assert got["info"] == info
    assert got["flow"] == _flow("saving")  # kept as saved, canvas position included
    latest = httpx.get(f"{server}/v1/flows/saving/versions/latest").json()
    assert latest["info"]["version"] == "1.0.0-rc.1"
    _served.assert_envelope(httpx.get(f"{server}/v1/flows/saving/versions/9.9.9"), 404, "NOT_FOUND")
    _served.assert_envelope(httpx.get(f"{server}/v1/flows/nothing/versions"), 404, "NOT_FOUND")


def test_an_invalid_flow_is_not_saved_and_the_422_names_node_and_field(server: str) -> None:
    bad = _flow("broken")
    bad["nodes"][1]["prompt"] = "Approve {{nowhere}}?"
    answer = httpx.post(f"{server}/v1/flows", json={"flow": bad})
    body = _served.assert_envelope(answer, 422, "FLOW_INVALID")
    [error] = body["details"]["errors"]
    assert (error["node"], error["field"]) == ("approve", "prompt")
    assert error["fix"]
    assert httpx.get(f"{server}/v1/flows/broken/versions").status_code == 404


def test_diff_between_versions(server: str) -> None:
    old = _flow("diffing")
    new = copy.deepcopy(old)
    new["nodes"][1]["prompt"] = "Really approve {{answer}}?"
    new["nodes"][0]["position"] = {"x": 50, "y": 50}
    new["state"].append({"key": "notes", "type": "list", "reducer": "append"})
    for flow in (old, new):
        assert httpx.post(f"{server}/v1/flows", json={"flow": flow}).status_code == 201
    diff = httpx.get(f"{server}/v1/flows/diffing/diff", params={"from": "0.1.0", "to": "0.1.1"})
    assert diff.status_code == 200, diff.text
    d = diff.json()
    assert (d["from"], d["to"]) == ("0.1.0", "0.1.1")
    assert d["state"]["added"] == ["notes"]
    assert d["nodes"]["changed"] == [
        {"name": "approve", "fields": [
            {"field": "prompt", "from": "Approve {{answer}}?", "to": "Really approve {{answer}}?"}
        ]}
    ]  # fmt: skip
    assert d["nodes"]["moved"] == ["shout"]
    assert d["edges"] == {"added": [], "removed": []}
    latest = httpx.get(f"{server}/v1/flows/diffing/diff", params={"from": "0.1.0"}).json()
    assert latest["to"] == "0.1.1"
    missing = httpx.get(f"{server}/v1/flows/diffing/diff", params={"from": "3.0.0"})
    _served.assert_envelope(missing, 404, "NOT_FOUND")


def test_delete_a_version(server: str) -> None:
    for suffix in ("", " 2"):
        httpx.post(f"{server}/v1/flows", json={"flow": _flow("deleting", suffix)})
    assert httpx.delete(f"{server}/v1/flows/deleting/versions/0.1.1").status_code == 204
    _served.assert_envelope(
        httpx.delete(f"{server}/v1/flows/deleting/versions/0.1.1"), 404, "NOT_FOUND"
    )
    versions = httpx.get(f"{server}/v1/flows/deleting/versions").json()
    assert [v["version"] for v in versions] == ["0.1.0"]


@pytest.mark.parametrize(
    ("call", "status", "code", "field"),
    [
        (lambda s: httpx.post(f"{s}/v1/flows", json={"flow": _flow(), "version": "1.0"}),
         422, "INVALID_REQUEST", "version"),
        (lambda s: httpx.post(f"{s}/v1/flows", json={"flow": _flow(), "version": "1.0.0+b"}),
         422, "INVALID_REQUEST", "version"),
        (lambda s: httpx.get(f"{s}/v1/flows/triage/versions/01.0.0"),
         422, "INVALID_REQUEST", "version"),
        (lambda s: httpx.post(f"{s}/v1/flows", json={"flow": _flow(), "extra": 1}),
         422, "INVALID_REQUEST", None),
        (lambda s: httpx.post(f"{s}/v1/flows", json={"flow": "not an object"}),
         422, "INVALID_REQUEST", None),
        (lambda s: httpx.post(f"{s}/v1/flows", json={"flow": _flow(), "message": "m" * 3000}),
         422, "INVALID_REQUEST", None),
    ],
)  # fmt: skip
def test_hostile_bodies_are_refused_naming_the_field(
    server: str, call: Any, status: int, code: str, field: str | None
) -> None:
    body = _served.assert_envelope(call(server), status, code)
    if field is not None:
        assert body["details"]["field"] == field


def test_names_that_are_paths_or_too_big_bodies_are_refused(server: str) -> None:
    for name in ("../etc", "..%2F..%2Fetc", "a%00b", "x" * 300):
        answer = httpx.get(f"{server}/v1/flows/{name}/versions")
        assert answer.status_code in (404, 422), (name, answer.text)
    traversal = _flow("../../etc/passwd")
    refused = httpx.post(f"{server}/v1/flows", json={"flow": traversal})
    body = _served.assert_envelope(refused, 422, "FLOW_INVALID")
    assert body["details"]["errors"][0]["field"] == "name"
    huge = _flow("huge")
    huge["description"] = "x" * 300_000
    _served.assert_envelope(httpx.post(f"{server}/v1/flows", json={"flow": huge}), 413,
                            "PAYLOAD_TOO_LARGE")  # fmt: skip
    deep: Any = "leaf"
    for _ in range(200):
        deep = {"a": deep}
    nested = _flow("deep")
    nested["nodes"][1]["choices"] = deep
    answer = httpx.post(f"{server}/v1/flows", json={"flow": nested})
    assert answer.status_code == 422, answer.text


def test_a_python_ref_off_the_allowlist_is_never_saved(server: str) -> None:
    hostile = _flow("hostile")
    hostile["nodes"][0]["ref"] = "os:system"
    body = _served.assert_envelope(httpx.post(f"{server}/v1/flows", json={"flow": hostile}),
                                   422, "FLOW_INVALID")  # fmt: skip
    [error] = body["details"]["errors"]
    assert (error["node"], error["field"]) == ("shout", "ref")
    assert "os" in error["message"]
    assert httpx.get(f"{server}/v1/flows/hostile/versions").status_code == 404


def test_a_saved_flow_runs_by_name_and_version_and_its_record_keeps_it(server: str) -> None:
    first = httpx.post(f"{server}/v1/flows", json={"flow": _flow("runme")}).json()
    httpx.post(f"{server}/v1/flows", json={"flow": _flow("runme", " Now?")})
    listed = {w["name"]: w for w in httpx.get(f"{server}/v1/workflows").json()}
    assert listed["counter"]["kind"] == "served"
    assert listed["runme"]["kind"] == "flow"
    assert listed["runme"]["version"] == "0.1.1"
    shown = httpx.get(f"{server}/v1/workflows/runme@0.1.0").json()
    assert (shown["kind"], shown["version"]) == ("flow", "0.1.0")
    started = httpx.post(
        f"{server}/v1/runs/wait",
        params={"thread_id": "t-flow-1"},
        json={"workflow": "runme@0.1.0", "input": {"question": "ship it"}},
        timeout=60,
    )
    assert started.status_code == 200, started.text
    run = started.json()
    assert run["status"] == "interrupted"
    assert run["graph"] == "runme@0.1.0"
    assert run["values"]["answer"] == "SHIP IT!"
    assert run["interrupts"][0]["value"]["prompt"] == "Approve SHIP IT!?"
    assert run["metadata"]["request"]["workflow"] == "runme@0.1.0"
    assert run["metadata"]["source"] == f"flow:runme@{first['version']}"
    resumed = httpx.post(
        f"{server}/v1/runs/wait",
        params={"thread_id": "t-flow-1"},
        json={"workflow": "runme@0.1.0", "resume": "yes"},
        timeout=60,
    ).json()
    assert resumed["status"] == "done"
    assert resumed["values"]["approved"] == "yes"
    # by NAME alone: the latest version, and the record names it exactly
    latest = httpx.post(
        f"{server}/v1/runs/wait",
        json={"workflow": "runme", "input": {"question": "again"}},
        timeout=60,
    ).json()
    assert latest["graph"] == "runme@0.1.1"
    assert latest["metadata"]["request"]["workflow"] == "runme@0.1.1"
    records = httpx.get(f"{server}/v1/runs", params={"workflow": "runme@0.1.0"}).json()
    assert {r["run_id"] for r in records} >= {run["run_id"], resumed["run_id"]}
    state = httpx.get(f"{server}/v1/threads/t-flow-1/state").json()
    assert state["values"]["approved"] == "yes"
    unknown = httpx.post(f"{server}/v1/runs", json={"workflow": "runme@7.0.0", "input": {}})
    _served.assert_envelope(unknown, 404, "NOT_FOUND")


def test_a_saved_flows_node_figures_are_served_before_its_first_run_ends(server: str) -> None:
    """The run monitor asks for the node figures of its run's workflow (NAME@VERSION for a
    saved flow) while the run is going: an empty list, not a 404."""
    saved = httpx.post(f"{server}/v1/flows", json={"flow": _flow("figures")}).json()
    ref = f"figures@{saved['version']}"
    answer = httpx.get(f"{server}/v1/workflows/{ref}/stats")
    assert answer.status_code == 200, answer.text
    assert answer.json() == []
    for unknown in ("figures@9.9.9", "nothing-saved@0.1.0", "nothing-served"):
        missing = httpx.get(f"{server}/v1/workflows/{unknown}/stats")
        _served.assert_envelope(missing, 404, "NOT_FOUND")


def test_a_saved_flow_off_the_allowlist_never_runs(server: str, project: Path) -> None:
    # written straight into the store (another client, or an allowlist since narrowed)
    from orca.store import SqliteStore

    planted = _flow("planted")
    planted["nodes"][0]["ref"] = "os:system"
    with SqliteStore(project / ".orca" / "project.db") as store:
        store.flows.put("planted", planted, "sha256:planted")
    body = {"workflow": "planted@0.1.0", "input": {"question": "rm -rf /"}}
    refused = httpx.post(f"{server}/v1/runs", json=body)
    envelope = _served.assert_envelope(refused, 422, "FLOW_INVALID")
    [error] = envelope["details"]["errors"]
    assert (error["node"], error["field"]) == ("shout", "ref")
    described = httpx.get(f"{server}/v1/workflows/planted")
    _served.assert_envelope(described, 422, "FLOW_INVALID")
    assert httpx.get(f"{server}/v1/runs", params={"workflow": "planted@0.1.0"}).json() == []


def test_a_served_workflow_wins_over_a_saved_flow_of_its_name(server: str) -> None:
    shadow = _flow("counter")
    assert httpx.post(f"{server}/v1/flows", json={"flow": shadow}).status_code == 201
    listed = [w for w in httpx.get(f"{server}/v1/workflows").json() if w["name"] == "counter"]
    assert [w["kind"] for w in listed] == ["served"]
    run = httpx.post(f"{server}/v1/runs/wait", json={"workflow": "counter", "input": {}}).json()
    assert run["graph"] == "counter"
    assert run["values"] == {"n": 1}
    # the saved one is still reachable by its exact version
    exact = httpx.get(f"{server}/v1/workflows/counter@0.1.0").json()
    assert exact["kind"] == "flow"


def test_a_served_python_graph_exports_as_a_flow(server: str) -> None:
    doc = httpx.get(f"{server}/v1/workflows/counter/flow").json()
    assert doc["format"] == "orca.flow/v1"
    [node] = doc["nodes"]
    assert node["id"] == "step"
    assert node["kind"] == "python"
    assert node["ref"].endswith(":step")
    httpx.post(f"{server}/v1/flows", json={"flow": _flow("exported")})
    assert httpx.get(f"{server}/v1/workflows/exported/flow").json() == _flow("exported")
    _served.assert_envelope(httpx.get(f"{server}/v1/workflows/nothing/flow"), 404, "NOT_FOUND")


def test_a_subflow_resolves_saved_flows_only(server: str) -> None:
    assert httpx.post(f"{server}/v1/flows", json={"flow": _flow("inner")}).status_code == 201
    outer: dict[str, Any] = {
        "format": "orca.flow/v1",
        "name": "outer",
        "state": [{"key": "question", "type": "string"}, {"key": "answer", "type": "string"}],
        "nodes": [{"id": "sub", "kind": "subflow", "flow": "inner@0.1.0",
                   "input": {"question": "{{question}}"}, "output": {"answer": "answer"}}],
        "edges": [{"from": "__start__", "to": "sub"}, {"from": "sub", "to": "__end__"}],
    }  # fmt: skip
    ok = httpx.post(f"{server}/v1/flows/validate", json={"flow": outer}).json()
    assert ok["ok"], ok["errors"]
    # a saved subflow runs inside a saved flow's run
    shouter = _flow("shouter")
    del shouter["nodes"][1]
    shouter["edges"] = [{"from": "__start__", "to": "shout"}, {"from": "shout", "to": "__end__"}]
    assert httpx.post(f"{server}/v1/flows", json={"flow": shouter}).status_code == 201
    outer["nodes"][0]["flow"] = "shouter@0.1.0"
    assert httpx.post(f"{server}/v1/flows", json={"flow": outer}).status_code == 201
    body = {"workflow": "outer", "input": {"question": "nested"}}
    ran = httpx.post(f"{server}/v1/runs/wait", json=body, timeout=60).json()
    assert ran["status"] == "done", ran
    assert ran["values"]["answer"] == "NESTED!"
    for ref in ("/etc/passwd.yaml", "../flows.yaml", "inner@9.0.0"):
        outer["nodes"][0]["flow"] = ref
        answer = httpx.post(f"{server}/v1/flows/validate", json={"flow": outer}).json()
        assert answer["ok"] is False, ref
        assert answer["errors"][0]["node"] == "sub"


def test_http_path_length_guard(server: str) -> None:
    long = httpx.get(f"{server}/v1/flows/{'a' * 201}/versions")
    _served.assert_envelope(long, 422, "INVALID_REQUEST")


def test_scopes_reading_is_read_validating_and_saving_run_deleting_admin() -> None:
    from orca.server._auth import needed_scope

    assert needed_scope("POST", "/v1/flows/validate") == "run"
    assert needed_scope("GET", "/v1/flows/triage/diff") == "read"
    assert needed_scope("POST", "/v1/flows") == "run"
    assert needed_scope("DELETE", "/v1/flows/triage/versions/1.0.0") == "admin"
    assert needed_scope("GET", "/v1/workflows/counter/flow") == "read"


def _token(project: Path, name: str, scope: str) -> str:
    made = _served.orca(project, "token", "create", name, "--scope", scope, "--json",
                        stdout=subprocess.PIPE)  # fmt: skip
    out, _ = made.communicate(timeout=60)
    assert made.returncode == 0
    return str(json.loads(out)["token"])


def test_with_auth_reading_reads_running_validates_and_saves_only_admin_deletes(
    tmp_path: Path,
) -> None:
    _served.init_project(tmp_path, GRAPHS)
    tokens = {scope: _token(tmp_path, f"t-{scope}", scope) for scope in ("read", "run", "admin")}

    def as_(scope: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[scope]}"}

    doc = _flow("guarded")
    doc["nodes"][0] = {"id": "shout", "kind": "human", "prompt": "Say?", "output": "answer"}
    with _served.served(tmp_path, ["counter"]) as url:
        assert httpx.post(f"{url}/v1/flows/validate", json={"flow": doc}).status_code == 401
        check = f"{url}/v1/flows/validate"
        refused = httpx.post(check, json={"flow": doc}, headers=as_("read"))
        _served.assert_envelope(refused, 403, "FORBIDDEN")
        checked = httpx.post(check, json={"flow": doc}, headers=as_("run"))
        assert checked.status_code == 200, checked.text
        assert checked.json()["ok"] is True
        refused = httpx.post(f"{url}/v1/flows", json={"flow": doc}, headers=as_("read"))
        _served.assert_envelope(refused, 403, "FORBIDDEN")
        saved = httpx.post(f"{url}/v1/flows", json={"flow": doc}, headers=as_("run"))
        assert saved.status_code == 201, saved.text
        path = f"{url}/v1/flows/guarded/versions/0.1.0"
        _served.assert_envelope(httpx.delete(path, headers=as_("run")), 403, "FORBIDDEN")
        assert httpx.get(path, headers=as_("read")).status_code == 200
        assert httpx.delete(path, headers=as_("admin")).status_code == 204


def test_a_saved_flow_runs_on_the_tiny_model_with_its_usage_recorded(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    from orca.llm.tiny import ensure_tiny_model

    model = ensure_tiny_model(seed=0, path=tmp_path / "tiny.gguf")
    _served.init_project(tmp_path, GRAPHS)
    spec = f"llamacpp:{model}"
    made = _served.orca(tmp_path, "profile", "create", "tiny", "--planner", spec, "--worker", spec)
    assert made.wait(timeout=60) == 0
    triage = (ROOT / "examples" / "flows" / "triage.yaml").read_text()
    with _served.served(tmp_path, ["counter"]) as url, httpx.Client(base_url=url, timeout=120) as c:
        # the builder posts JSON: the YAML example as the UI would send it
        saved = c.post("/v1/flows", json={"flow": yaml.safe_load(triage), "message": "v1"})
        assert saved.status_code == 201, saved.text
        body = {"workflow": "triage@0.1.0", "input": {"ticket": "The printer is on fire"}}
        paused = c.post("/v1/runs/wait", params={"thread_id": "t-tiny"}, json=body).json()
        assert paused["status"] == "interrupted", paused
        assert paused["graph"] == "triage@0.1.0"
        assert paused["values"]["category"]  # the model's answer
        assert paused["llm_calls"] == 1
        assert paused["input_tokens"] > 0
        assert isinstance(paused["cost_nano_usd"], int)
        (pause,) = paused["interrupts"]
        assert pause["node"] == "approve"
        done = c.post("/v1/runs/wait", params={"thread_id": "t-tiny"},
                      json={"workflow": "triage@0.1.0", "resume": True}).json()  # fmt: skip
        assert done["status"] == "done", done
        assert done["values"]["reply"]
        events = c.get(f"/v1/runs/{paused['run_id']}/events").json()
        assert sum(e["type"] == "llm.response" for e in events) == 1


SLOW = """
import time
from typing import TypedDict
from orca import END, START, StateGraph


class S(TypedDict, total=False):
    n: int


def nap(state):
    time.sleep(1.5)
    return {"n": 1}


sleeper = StateGraph(S, name="sleeper")
sleeper.add_node("nap", nap)
sleeper.add_edge(START, "nap")
sleeper.add_edge("nap", END)
"""


def test_a_queued_saved_flow_run_is_taken_up_on_its_version_after_kill_9(tmp_path: Path) -> None:
    import signal

    from orca.flows import content_hash
    from orca.store import SqliteStore

    _served.init_project(tmp_path, SLOW, "max_running_runs = 1\nmax_queued_runs = 10")
    (tmp_path / "flownodes.py").write_text(NODES)
    with (tmp_path / ".orca" / "orca.toml").open("a") as f:
        f.write('\n[flows]\npython_modules = ["flownodes"]\n')
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get(
        "PYTHONPATH", "")])}  # fmt: skip
    proc, url = _served.start(tmp_path, ["sleeper"], env=env)
    try:
        with httpx.Client(base_url=url, timeout=60) as c:
            assert c.post("/v1/flows", json={"flow": _flow("later")}).status_code == 201
            busy = c.post("/v1/threads/s1/runs", json={"workflow": "sleeper", "input": {}})
            assert busy.json()["status"] == "running"
            body = {"workflow": "later", "input": {"question": "wait"}}
            queued = c.post("/v1/threads/f1/runs", json=body).json()
            assert queued["status"] == "queued"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    newer = _flow("later", " (v2)")
    with SqliteStore(tmp_path / ".orca" / "project.db") as store:
        store.flows.put("later", newer, content_hash(newer))  # 0.1.1 saved meanwhile
    proc, url = _served.start(tmp_path, ["sleeper"], env=env)
    try:
        with httpx.Client(base_url=url, timeout=60) as c:
            ran = c.get(f"/v1/runs/{queued['run_id']}/wait").json()
            assert ran["status"] == "interrupted", ran
            assert ran["graph"] == "later@0.1.0"
            assert ran["interrupts"][0]["value"]["prompt"] == "Approve WAIT!?"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_tools_a_flow_may_call_are_listed_with_their_arguments(server: str) -> None:
    tools = httpx.get(f"{server}/v1/tools").json()
    names = [t["name"] for t in tools]
    assert names == sorted(names)
    assert {"files_read", "files_write", "http_fetch"} <= set(names)
    [read] = [t for t in tools if t["name"] == "files_read"]
    assert read["description"]
    assert read["parameters"]["type"] == "object"
    assert "path" in read["parameters"]["properties"]
    # what the list names, a flow's tool node may call: it validates
    flow = {
        "format": "orca.flow/v1",
        "name": "reader",
        "state": [{"key": "text", "type": "string"}],
        "nodes": [{"id": "read", "kind": "tool", "tool": names[0], "args": {}, "output": "text"}],
        "edges": [{"from": "__start__", "to": "read"}, {"from": "read", "to": "__end__"}],
    }
    checked = httpx.post(f"{server}/v1/flows/validate", json={"flow": flow}).json()
    assert all(e["field"] != "tool" for e in checked["errors"]), checked
