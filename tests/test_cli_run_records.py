"""What ``orca run`` records in the project's store (the run, its tasks with their real
outcomes, its thread's lease) and what ``orca runs`` and ``orca tools log`` read back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from orca.checkpoint import Lease, RunRecord, lease_owner
from orca.cli import app
from orca.store import ToolExecution, project_store

OK, FAILED, DATABASE = 0, 1, 6

SPLIT = """\
from pathlib import Path
from typing import Annotated, TypedDict

from orca import END, START, StateGraph, reducers


class S(TypedDict):
    log: Annotated[list[str], reducers.append]


def plan(s: S) -> dict:
    Path(__file__).with_name("ran.txt").write_text("a node ran")
    return {"log": ["plan"]}


def good(s: S) -> dict:
    return {"log": ["good"]}


def bad(s: S) -> dict:
    raise ValueError("boom")


split = StateGraph(S, name="split")
split.add_node("plan", plan)
split.add_node("good", good)
split.add_node("bad", bad)
split.add_edge(START, "plan")
split.add_edge("plan", "good")
split.add_edge("plan", "bad")
split.add_edge("good", END)
split.add_edge("bad", END)
"""

WAITER = """\
import time
from pathlib import Path
from typing import TypedDict

from orca import END, START, StateGraph

HERE = Path(__file__).parent


class S(TypedDict):
    n: int


def wait(s: S) -> dict:
    (HERE / "started").write_text("")
    deadline = time.monotonic() + 60
    while not (HERE / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return {"n": s["n"] + 1}


g = StateGraph(S, name="waiter")
g.add_node("wait", wait)
g.add_edge(START, "wait")
g.add_edge("wait", END)
"""

ORCA = Path(sys.executable).parent / "orca"

runner = CliRunner()


def wait_until_started(process: subprocess.Popen[Any], folder: Path) -> None:
    """Until the waiter's node runs in ``process`` (it writes ``started``)."""
    deadline = time.monotonic() + 60
    while not (folder / "started").exists():
        assert process.poll() is None
        assert time.monotonic() < deadline
        time.sleep(0.02)


def orca(project: Path, *args: Any, code: int) -> Result:
    result = runner.invoke(app, ["-C", str(project), *map(str, args)])
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    assert not crashed, f"crashed: {result.exception!r}\n{result.output}"
    assert result.exit_code == code, f"exit {result.exit_code}\n{result.output}"
    return result


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / ".orca").mkdir(parents=True)  # a project (only orca init makes one)
    return root


@pytest.fixture
def split(tmp_path: Path) -> Path:
    path = tmp_path / "split.py"
    path.write_text(SPLIT)
    return path


def test_a_task_that_finished_in_a_step_that_failed_is_recorded_done(
    project: Path, split: Path
) -> None:
    out = json.loads(orca(project, "run", f"{split}:split", "--json", code=FAILED).stdout)
    assert out["status"] == "failed"
    shown = json.loads(orca(project, "runs", "show", out["run_id"], "--json", code=OK).stdout)
    assert (shown["status"], shown["workflow"], shown["source"]) == (
        "failed",
        "split",
        f"{split}:split",
    )
    assert "boom" in shown["error"]
    # as run.finished says: one step completed (plan); the failed one committed nothing
    assert (shown["steps"], shown["llm_calls"], shown["cost_nano_usd"]) == (1, 0, 0)
    assert shown["session_id"].startswith("s-")
    by_node = {t["node"]: t for t in shown["tasks"]}
    assert shown["tasks"][0]["node"] == "plan"  # step 0 comes first
    assert {n: t["status"] for n, t in by_node.items()} == {
        "plan": "done",
        "good": "done",  # its writes were kept: a resume does not run it again
        "bad": "failed",
    }
    assert "boom" in by_node["bad"]["error"]
    with project_store(project) as store:
        [record] = store.checkpoints.list_runs()
        assert record.run_id == out["run_id"]
        assert all(t.ended_at for t in store.checkpoints.run_tasks(record.run_id))
        # the run gave its thread back
        nxt = RunRecord("next", out["thread_id"], "g", "running", "2026")
        mine = Lease(out["thread_id"], "next", "elsewhere:1:x", time.time() + 60)
        assert store.checkpoints.begin_run(nxt, mine, time.time()) == mine


def test_a_run_on_a_busy_thread_stops_before_any_node_and_writes_nothing(
    project: Path, split: Path
) -> None:
    holder = RunRecord("run-holder", "t-busy", "other", "running", "2026-01-01T00:00:00")
    held = Lease("t-busy", "run-holder", lease_owner(), time.time() + 600)
    with project_store(project) as store:
        assert store.checkpoints.begin_run(holder, held, time.time()) == held
    result = orca(project, "run", f"{split}:split", "--thread", "t-busy", "--json", code=DATABASE)
    out = json.loads(result.stdout)
    assert out["status"] == "failed"
    assert "thread 't-busy' is busy: run 'run-holder' holds it" in out["error"]["message"]
    assert not (split.parent / "ran.txt").exists()  # no node ran
    listed = json.loads(orca(project, "runs", "list", "--json", code=OK).stdout)
    assert [r["run_id"] for r in listed] == ["run-holder"]
    with project_store(project) as store:
        assert store.checkpoints.get("t-busy") is None  # nor was its input stored
        store.checkpoints.end_run(RunRecord("run-holder", "t-busy", "other", "done", "x"), [])
    orca(project, "run", f"{split}:split", "--thread", "t-busy", code=FAILED)  # its own failure
    assert (split.parent / "ran.txt").exists()


def test_runs_list_filters_by_every_status_and_refuses_others(project: Path) -> None:
    with project_store(project) as store:
        for i, status in enumerate(("queued", "cancelled", "done")):
            r = RunRecord(f"run-{i}", f"t{i}", "g", status, f"2026-01-01T00:00:0{i}")  # type: ignore[arg-type]
            store.checkpoints.begin_run(r, Lease(r.thread_id, r.run_id, "h:1:x", 0), 1.0)
    for status in ("queued", "cancelled"):
        listed = json.loads(
            orca(project, "runs", "list", "--status", status, "--json", code=OK).stdout
        )
        assert [r["status"] for r in listed] == [status]
    listed = json.loads(orca(project, "runs", "list", "--json", code=OK).stdout)
    assert [r["run_id"] for r in listed] == ["run-2", "run-1", "run-0"]
    assert "cost_nano_usd" in listed[0]
    bad = orca(project, "runs", "list", "--status", "paused", code=2)
    assert "--status 'paused'" in bad.stderr
    shown = json.loads(orca(project, "runs", "show", "run-1", "--json", code=OK).stdout)
    assert (shown["run_id"], shown["status"], shown["tasks"]) == ("run-1", "cancelled", [])
    orca(project, "runs", "show", "run-", code=2)  # a prefix of three runs is ambiguous


def test_tools_log_reads_the_audit_newest_first_with_filters(project: Path) -> None:
    with project_store(project) as store:
        for i, (tool, status) in enumerate(
            (("shell", "ok"), ("http", "denied"), ("shell", "error"))
        ):
            store.audit.record(
                ToolExecution(
                    tool,
                    json.dumps({"i": i}),
                    f"result {i}",
                    status,
                    1.0 + i,
                    f"2026-01-01T00:00:0{i}",
                    run_id="run-a" if i < 2 else "run-b",
                )
            )
    log = json.loads(orca(project, "tools", "log", "--json", code=OK).stdout)
    assert [(e["tool"], e["arguments"]) for e in log] == [
        ("shell", {"i": 2}),
        ("http", {"i": 1}),
        ("shell", {"i": 0}),
    ]
    assert log[0]["result"] == "result 2"
    only = json.loads(
        orca(project, "tools", "log", "--tool", "shell", "--run", "run-a", "--json", code=OK).stdout
    )
    assert [e["arguments"] for e in only] == [{"i": 0}]
    denied = json.loads(
        orca(project, "tools", "log", "--status", "denied", "--json", code=OK).stdout
    )
    assert [e["tool"] for e in denied] == ["http"]
    assert (
        len(json.loads(orca(project, "tools", "log", "--limit", "1", "--json", code=OK).stdout))
        == 1
    )


@pytest.mark.skipif(not ORCA.is_file(), reason=f"no orca script at {ORCA}")
def test_two_orca_runs_on_one_thread_then_the_holder_is_killed_and_resumed(
    project: Path, tmp_path: Path
) -> None:
    waiter = tmp_path / "waiter.py"
    waiter.write_text(WAITER)
    argv = [str(ORCA), "-C", str(project)]
    holder = subprocess.Popen(
        [*argv, "run", f"{waiter}:g", "--input", '{"n": 0}', "--thread", "t", "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ),
    )
    try:
        wait_until_started(holder, tmp_path)
        second = subprocess.run(
            [*argv, "run", f"{waiter}:g", "--input", '{"n": 5}', "--thread", "t"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert second.returncode == DATABASE, second.stderr
        assert "thread 't' is busy" in second.stderr
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    [killed] = json.loads(orca(project, "runs", "list", "--json", code=OK).stdout)
    assert killed["status"] == "running"  # it died: no one wrote its end
    (tmp_path / "go").write_text("")
    # the dead holder's lease (an hour's worth or not) gives the thread up at once
    resumed = subprocess.run(
        [*argv, "runs", "resume", killed["run_id"], "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert resumed.returncode == OK, resumed.stderr
    out = json.loads(resumed.stdout)
    assert (out["status"], out["values"]) == ("done", {"n": 1})
    shown = json.loads(orca(project, "runs", "show", out["run_id"], "--json", code=OK).stdout)
    assert (shown["status"], shown["parent_run_id"]) == ("done", killed["run_id"])
    # the run that took the thread over recorded the dead one as failed
    dead = json.loads(orca(project, "runs", "show", killed["run_id"], "--json", code=OK).stdout)
    assert dead["status"] == "failed"
    assert "its process stopped before the run ended" in dead["error"]


def test_sigterm_cancels_an_orca_run_and_its_record_says_so(project: Path, tmp_path: Path) -> None:
    waiter = tmp_path / "waiter.py"
    waiter.write_text(WAITER)
    argv = [str(ORCA), "-C", str(project)]
    run = subprocess.Popen(
        [*argv, "run", f"{waiter}:g", "--input", '{"n": 0}', "--thread", "t", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    try:
        wait_until_started(run, tmp_path)
        run.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while True:  # the record says cancelled while the node's thread still runs
            with project_store(project) as store:
                [record] = store.checkpoints.list_runs()
            if record.status != "running":
                break
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert record.status == "cancelled"
        (tmp_path / "go").write_text("")  # let the node's thread end, and the process
        stdout, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 130, stderr
    out = json.loads(stdout)
    assert out["status"] == "cancelled", stderr
    assert out["run_id"] == record.run_id
    events = json.loads(orca(project, "runs", "events", record.run_id, "--json", code=OK).stdout)
    assert [e["status"] for e in events if e["type"] == "run.finished"] == ["cancelled"]
