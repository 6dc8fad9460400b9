"""Determinism: the same graph, inputs and seed give the same bytes, in any process.

``tests/programs/determinism_graph.py`` runs a graph with parallel sync and async nodes,
Sends, append and merge channels, a set value, ``ctx.random``, a retry and a failure
followed by a resume; it dumps every stored row (checkpoint bodies, blobs, pending writes,
ids) and every event. Two processes with different ``PYTHONHASHSEED`` values (which also
shuffle the order in which parallel tasks finish) must produce identical bytes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROGRAM = Path(__file__).parent / "programs" / "determinism_graph.py"
SRC = Path(__file__).resolve().parents[1] / "src"
OUTPUTS = ("store.jsonl", "events.jsonl", "state.json")


def run_program(workdir: Path, *, seed: int, hashseed: str) -> dict[str, bytes]:
    workdir.mkdir(parents=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONHASHSEED"] = hashseed
    proc = subprocess.run(
        [
            sys.executable,
            str(PROGRAM),
            str(workdir / "run.sqlite"),
            str(workdir / "out"),
            str(seed),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return {name: (workdir / "out" / name).read_bytes() for name in OUTPUTS}


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, bytes]]:
    base = tmp_path_factory.mktemp("determinism")
    return {
        "seed7-a": run_program(base / "a", seed=7, hashseed="1"),
        "seed7-b": run_program(base / "b", seed=7, hashseed="4242"),
        "seed8": run_program(base / "c", seed=8, hashseed="1"),
    }


def rows(dump: bytes, table: str) -> list[list[Any]]:
    out = [json.loads(line) for line in dump.decode().splitlines()]
    return [r[1:] for r in out if r[0] == table]


def events(dump: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in dump.decode().splitlines() if line.startswith("{")]


def test_the_run_exercises_failure_resume_retry_sends_and_append_deltas(
    runs: dict[str, dict[str, bytes]],
) -> None:
    out = runs["seed7-a"]
    kinds = [e["type"] for e in events(out["events.jsonl"])]
    assert {"task.failed", "task.retry", "error", "checkpoint.saved", "values"} <= set(kinds)
    assert kinds.count("run.started") == 2
    pending = rows(out["store.jsonl"], "checkpoint_writes")
    assert len(pending) == 5  # left, right and three of the four Sends finished
    blobs = rows(out["store.jsonl"], "checkpoint_blobs")
    assert any(pos > 0 for _thread, channel, _base, pos, _data in blobs if channel == "picks")
    checkpoints = rows(out["store.jsonl"], "checkpoints")
    assert [c[4] for c in checkpoints] == list(range(len(checkpoints)))
    state = json.loads(out["state.json"])
    assert state["rounds"] == 8
    assert len(state["results"]) == 4


@pytest.mark.parametrize("name", OUTPUTS)
def test_two_processes_with_the_same_seed_produce_identical_bytes(
    runs: dict[str, dict[str, bytes]], name: str
) -> None:
    a, b = runs["seed7-a"][name], runs["seed7-b"][name]
    assert a, f"{name} is empty"
    assert a == b


def test_a_different_seed_changes_the_random_dependent_state(
    runs: dict[str, dict[str, bytes]],
) -> None:
    seven = json.loads(runs["seed7-a"]["state.json"])
    eight = json.loads(runs["seed8"]["state.json"])
    assert seven["picks"] != eight["picks"]
    assert seven["scores"] != eight["scores"]
    assert seven["topic"] == eight["topic"]
    assert len(seven["picks"]) == len(eight["picks"])
    assert runs["seed7-a"]["store.jsonl"] != runs["seed8"]["store.jsonl"]


def test_event_sequence_numbers_count_up_from_zero_in_each_run(
    runs: dict[str, dict[str, bytes]],
) -> None:
    evs = events(runs["seed7-a"]["events.jsonl"])
    by_run: dict[str, list[int]] = {}
    for e in evs:
        by_run.setdefault(e["run_id"], []).append(e["seq"])
        assert "ts" not in e
        assert "duration_ms" not in e
    assert len(by_run) == 2
    for seqs in by_run.values():
        assert seqs == list(range(len(seqs)))


def test_checkpoint_ids_chain_through_parents(runs: dict[str, dict[str, bytes]]) -> None:
    checkpoints = rows(runs["seed7-a"]["store.jsonl"], "checkpoints")
    parents = [c[3] for c in checkpoints]
    ids = [c[1] for c in checkpoints]
    assert parents == [None, *ids[:-1]]
    saved = [
        e["checkpoint_id"]
        for e in events(runs["seed7-a"]["events.jsonl"])
        if e["type"] == "checkpoint.saved"
    ]
    assert saved == ids
