"""Races between processes over one project's data, on each backend: of several
clients saving one flow version, registering one artifact or storing one task id at
once, exactly one makes it and the others see what it made; saves without a version
all land, each under a version of its own."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from orca.store.postgres import PostgresStore

from ._project import Opener, Store, open_project_fixture  # noqa: F401 - a fixture

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "tests" / "project_worker.py"
WORKERS = 4
ROUNDS = 25


def race(store: Store, mode: str, *extra: str) -> list[dict[str, Any]]:
    """Run ``WORKERS`` processes of ``project_worker.py mode`` over ``store``'s data,
    started together; their results, by worker."""
    url = store.url if isinstance(store, PostgresStore) else store.path
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), mode, url, f"w{i}", str(ROUNDS), *extra],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(WORKERS)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outs = [proc.communicate(timeout=120)[0] for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert [proc.returncode for proc in procs] == [0] * WORKERS
    return [json.loads(out.strip().splitlines()[-1]) for out in outs]


def test_one_version_saved_at_once_by_many_processes_has_one_winner(open_project: Opener) -> None:
    store = open_project()
    store.flows.versions("warm-up")  # the tables exist before the race
    results = race(store, "flow", "1.0.0")
    for r in range(ROUNDS):
        key = f"race-{r}"
        made = [w for w, res in enumerate(results) if res[key][0] == "made"]
        assert len(made) == 1, (key, [res[key] for res in results])
        winner = f"sha256:w{made[0]}"
        for w, res in enumerate(results):
            if w != made[0]:
                assert res[key] == ["exists", winner]
        saved = store.flows.get(key, "1.0.0")
        assert saved is not None
        assert (saved.info.hash, saved.flow["by"]) == (winner, f"w{made[0]}")
        assert len(store.flows.versions(key)) == 1


def test_saves_without_a_version_at_once_each_land_under_their_own(open_project: Opener) -> None:
    store = open_project()
    store.flows.versions("warm-up")
    results = race(store, "flow", "-")
    for r in range(ROUNDS):
        key = f"race-{r}"
        got = sorted(res[key][1] for res in results)
        assert all(res[key][0] == "made" for res in results)
        assert got == [f"0.1.{i}" for i in range(WORKERS)]
        saved = {i.version: i.hash for i in store.flows.versions(key)}
        assert saved == {res[key][1]: f"sha256:w{w}" for w, res in enumerate(results)}


def test_one_task_id_stored_at_once_by_many_processes_is_stored_once(
    open_project: Opener,
) -> None:
    store = open_project()
    store.tasks.get("warm-up")
    results = race(store, "task")
    for r in range(ROUNDS):
        key = f"race-{r}"
        made = [w for w, res in enumerate(results) if res[key]]
        assert len(made) == 1, key
        stored = store.tasks.get(key)
        assert stored is not None
        assert stored.digest == f"w{made[0]}"
        session = store.tasks.session(f"s-{r}")
        assert session is not None
        assert session.turns == 1  # only the stored task counted a turn


def test_one_content_registered_at_once_by_many_processes_is_new_once(
    open_project: Opener,
) -> None:
    store = open_project()
    store.artifacts.get("warm-up")
    results = race(store, "artifact")
    for r in range(ROUNDS):
        key = f"race-{r}"
        assert sum(1 for res in results if res[key]) == 1, key
        found = store.artifacts.find(tag="w0")
        assert len(found) == ROUNDS
        artifact = store.artifacts.get(found[0].artifact_id)
        assert artifact is not None
        assert artifact.tags == tuple(f"w{i}" for i in range(WORKERS))  # every put's tag
