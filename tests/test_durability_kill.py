"""Kill-and-resume: a process SIGKILLed at any point resumes without redoing committed work.

Each case runs ``tests/programs/kill_graph.py`` as a real process that kills itself
(SIGKILL, no cleanup) at one point: inside a node before or after its side effect, or
before, during or after the commit of a step's checkpoint. A second process then resumes
the thread to completion. The final state must equal an uninterrupted run's, and the side
effect log must show that no node of a committed step ran again: a node may repeat only
if its step had not been committed when the process died. Every case runs on a SQLite
file and on a PostgreSQL database (``db``).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from orca import SqliteCheckpointer
from orca.checkpoint import Checkpointer
from orca.store.postgres import PgCheckpointer

PROGRAM = Path(__file__).parent / "programs" / "kill_graph.py"
SRC = Path(__file__).resolve().parents[1] / "src"
THREAD = "kill-thread"


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str


def store_location(workdir: Path, db: str | None) -> str:
    """The store a program run uses: ``db`` (a PostgreSQL URL) or the workdir's file."""
    return db or str(workdir / "graph.sqlite")


def open_store(where: str) -> Checkpointer:
    if where.startswith("postgresql://"):
        return PgCheckpointer(where)
    return SqliteCheckpointer(where)


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest) -> str | None:
    """The store the kill tests run on: None for a SQLite file in their workdir, or the
    URL of a new PostgreSQL database."""
    return str(request.getfixturevalue("pg_url")) if request.param == "postgres" else None


def run_program(
    workdir: Path, *, kill: str | None = None, durability: str = "sync", db: str | None = None
) -> Outcome:
    env = {k: v for k, v in os.environ.items() if k != "ORCA_KILL"}
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    if kill is not None:
        env["ORCA_KILL"] = kill
    try:
        proc = subprocess.run(
            [
                sys.executable,
                str(PROGRAM),
                store_location(workdir, db),
                str(workdir / "effects.log"),
                THREAD,
                durability,
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=50,  # two runs fit in the test's 120 s
            check=False,
        )
    except subprocess.TimeoutExpired as exc:  # where it hung: the program's stack dump
        raise AssertionError(f"the program hung (kill={kill}); its stderr:\n{exc.stderr}") from exc
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def effect_lines(workdir: Path) -> list[tuple[str, int]]:
    path = workdir / "effects.log"
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        node, step = line.split()
        out.append((node, int(step)))
    return out


def committed_steps(workdir: Path, db: str | None = None) -> dict[int, Counter[str]]:
    """The thread's committed checkpoints: step -> the nodes whose writes it holds."""
    if db is None and not (workdir / "graph.sqlite").exists():
        return {}
    store = open_store(store_location(workdir, db))
    try:
        return {
            info.step: Counter(info.metadata["nodes"] if info.metadata["source"] == "loop" else ())
            for info in store.history(THREAD)
        }
    finally:
        store.close()


def by_step(lines: list[tuple[str, int]]) -> dict[int, Counter[str]]:
    out: dict[int, Counter[str]] = {}
    for node, step in lines:
        out.setdefault(step, Counter())[node] += 1
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], list[Any]]:
    """The final state and side effects of an uninterrupted run."""
    workdir = tmp_path_factory.mktemp("reference")
    outcome = run_program(workdir)
    assert outcome.returncode == 0, outcome.stderr
    return json.loads(outcome.stdout), effect_lines(workdir)


def test_uninterrupted_run_performs_each_side_effect_once(
    reference: tuple[dict[str, Any], list[Any]],
) -> None:
    state, lines = reference
    assert by_step(lines) == {
        1: Counter({"first": 1}),
        2: Counter({"second": 1}),
        3: Counter({"p1": 1, "p2": 1, "p3": 1}),
        4: Counter({"join": 1}),
        5: Counter({"item": 2}),
        6: Counter({"last": 1}),
    }
    assert state["total"] == 1 + 2 + 10 + 20 + 30 + 100 + 3 + 6 + 1000
    assert sorted(state["log"]) == sorted(f"{node}@{step}" for node, step in lines)


KILL_POINTS = [
    # (ORCA_KILL, durability)
    ("before_commit:0", "sync"),
    ("during_commit:0", "sync"),
    ("after_commit:0", "sync"),
    ("before_effect:first", "sync"),
    ("after_effect:first", "sync"),
    ("after_commit:1", "sync"),
    ("after_effect:second", "sync"),
    ("during_commit:2", "sync"),
    ("before_effect:p2", "sync"),
    ("after_effect:p2", "sync"),
    ("after_effect:p3", "sync"),
    ("before_commit:3", "sync"),
    ("during_commit:3", "sync"),
    ("after_commit:3", "sync"),
    ("after_effect:join", "sync"),
    ("before_effect:item", "sync"),
    ("after_effect:item", "sync"),
    ("during_commit:5", "sync"),
    ("after_effect:last", "sync"),
    ("before_commit:6", "sync"),
    ("during_commit:6", "sync"),
    ("after_commit:6", "sync"),
    ("after_effect:p2", "async"),
    ("during_commit:3", "async"),
    ("after_commit:4", "async"),
    ("after_effect:last", "async"),
    ("after_effect:join", "exit"),
    ("during_commit:6", "exit"),
]


@pytest.mark.parametrize(
    ("kill", "durability"), KILL_POINTS, ids=[f"{k}-{d}" for k, d in KILL_POINTS]
)
def test_killed_run_resumes_to_the_same_state_without_redoing_committed_steps(
    tmp_path: Path,
    reference: tuple[dict[str, Any], list[Any]],
    kill: str,
    durability: str,
    db: str | None,
) -> None:
    ref_state, ref_lines = reference
    ref_by_step = by_step(ref_lines)

    killed = run_program(tmp_path, kill=kill, durability=durability, db=db)
    assert killed.returncode == -signal.SIGKILL, (
        f"the run was not killed at {kill}: rc={killed.returncode}\n{killed.stderr}"
    )
    assert killed.stdout == ""
    first_lines = effect_lines(tmp_path)
    committed = committed_steps(tmp_path, db)
    last_committed = max(committed, default=-1)

    resumed = run_program(tmp_path, durability=durability, db=db)
    assert resumed.returncode == 0, resumed.stderr
    all_lines = effect_lines(tmp_path)
    assert all_lines[: len(first_lines)] == first_lines
    resume_lines = all_lines[len(first_lines) :]

    # the same end state as a run that was never interrupted
    assert json.loads(resumed.stdout) == ref_state

    # the resumed process redid exactly the work of the steps that were not committed
    assert all(step > last_committed for _, step in resume_lines), (
        f"committed up to step {last_committed}, but the resume ran {resume_lines}"
    )
    assert by_step(resume_lines) == {s: c for s, c in ref_by_step.items() if s > last_committed}

    # every committed step holds the writes of exactly the nodes that ran once in it
    everything = by_step(all_lines)
    for step, nodes in committed.items():
        if step == 0:
            continue
        assert nodes == ref_by_step[step]
        assert everything[step] == ref_by_step[step], f"step {step} ran again after its commit"

    # before the kill, nothing ran that the reference run does not run
    for step, nodes in by_step(first_lines).items():
        assert not nodes - ref_by_step[step]


@pytest.mark.parametrize("kill", ["during_commit:3", "after_effect:p2"])
def test_kill_during_a_step_leaves_the_database_at_the_previous_commit(
    tmp_path: Path, kill: str, db: str | None
) -> None:
    killed = run_program(tmp_path, kill=kill, db=db)
    assert killed.returncode == -signal.SIGKILL
    where = store_location(tmp_path, db)
    # a plain connection reads the database as any other tool would after the crash
    if db is None:
        with sqlite3.connect(where) as conn:
            steps = [r[0] for r in conn.execute("SELECT step FROM checkpoints ORDER BY seq")]
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    else:
        with psycopg.connect(db) as pg:
            steps = [r[0] for r in pg.execute("SELECT step FROM checkpoints ORDER BY seq")]
            # the killed process's transaction left nothing behind: no half-written step
            orphans = pg.execute(
                "SELECT count(*) FROM checkpoint_blobs AS b WHERE NOT EXISTS (SELECT 1 "
                "FROM checkpoints AS c WHERE c.thread_id = b.thread_id "
                "AND c.checkpoint_id = b.base)"
            ).fetchone()
            assert orphans == (0,)
    assert steps == [0, 1, 2]
    store = open_store(where)
    try:
        head = store.get(THREAD)
        assert head is not None
        assert head.values["log"] == ["first@1", "second@2"]
        assert [t["node"] for t in head.next] == ["p1", "p2", "p3"]
    finally:
        store.close()


def test_repeated_kills_at_every_step_still_finish_with_the_reference_state(
    tmp_path: Path, reference: tuple[dict[str, Any], list[Any]], db: str | None
) -> None:
    ref_state, ref_lines = reference
    # die during the commit of each step in turn, resuming in a new process each time
    for step in range(7):
        killed = run_program(tmp_path, kill=f"during_commit:{step}", db=db)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert max(committed_steps(tmp_path, db), default=-1) == step - 1
    done = run_program(tmp_path, db=db)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == ref_state
    # each step's nodes ran once per attempt to commit it: twice, never more
    lines = by_step(effect_lines(tmp_path))
    for step, nodes in by_step(ref_lines).items():
        assert lines[step] == Counter({n: 2 * c for n, c in nodes.items()})
