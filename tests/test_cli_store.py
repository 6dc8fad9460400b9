"""Which store the CLI uses: ``--store URL``, ``ORCA_STORE``, ``[store] url`` (in that
order), else the two SQLite files; one PostgreSQL database then holds the user's budgets
and the project's runs. Real ``orca`` processes against a real PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from orca.store import open_store

ORCA = Path(sys.executable).parent / "orca"  # the script of the interpreter running the tests

GRAPH = """
from typing import TypedDict
from orca import END, START, StateGraph

class S(TypedDict):
    n: int

def inc(s: S) -> dict:
    return {"n": s["n"] + 1}

g = StateGraph(S, name="counter")
g.add_node("inc", inc)
g.add_edge(START, "inc")
g.add_conditional_edges("inc", lambda s: END if s["n"] >= 3 else "inc")
"""


def orca(project: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    done = subprocess.run(
        [str(ORCA), "-C", str(project), *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".orca").mkdir()
    (tmp_path / "g.py").write_text(GRAPH)
    return tmp_path


def budgets(project: Path, *args: str, env: dict[str, str] | None = None) -> list[str]:
    done = orca(project, *args, "budget", "list", "--json", env=env)
    assert done.returncode == 0, done.stderr
    return [b["name"] for b in json.loads(done.stdout)]


def test_store_flag_puts_budgets_and_runs_in_postgres(project: Path, pg_url: str) -> None:
    done = orca(project, "--store", pg_url, "budget", "create", "team", "--amount", "5")
    assert done.returncode == 0, done.stderr
    done = orca(
        project,
        "--store",
        pg_url,
        "run",
        str(project / "g.py"),
        "--input",
        '{"n": 0}',
        "--thread",
        "t1",
    )
    assert done.returncode == 0, done.stderr
    assert budgets(project, "--store", pg_url) == ["team"]
    assert budgets(project) == []  # the SQLite files know nothing of it
    assert not (project / ".orca" / "project.db").exists()
    with open_store(pg_url) as store:
        (run,) = store.checkpoints.list_runs()
        assert (run.thread_id, run.status, run.graph) == ("t1", "done", "counter")
        assert store.checkpoints.get("t1") is not None


def test_orca_store_variable_and_config_choose_the_store(project: Path, pg_url: str) -> None:
    orca(project, "--store", pg_url, "budget", "create", "team", "--amount", "5")
    assert budgets(project, env={"ORCA_STORE": pg_url}) == ["team"]
    user, _, rest = pg_url.partition("://")[2].partition("@")
    # [store] url, its password (none here) from a variable as the docs advise
    (project / ".orca" / "orca.toml").write_text(
        '[store]\nurl = "postgresql://${DB_USER}@' + rest + '"\n'
    )
    assert budgets(project, env={"DB_USER": user}) == ["team"]
    # the flag wins over the file
    other = project / "other.db"
    assert budgets(project, "--store", f"sqlite:///{other}", env={"DB_USER": user}) == []


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("mysql://root:hunter2@db/orca", "no backend serves"),
        ("postgresql://root:hunter2@db:5432", "names no database"),
    ],
)
def test_a_bad_store_url_is_refused_naming_the_fix_never_the_password(
    project: Path, url: str, words: str
) -> None:
    done = orca(project, "--store", url, "budget", "list")
    assert done.returncode == 2
    assert words in done.stderr
    assert "fix:" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout


def test_a_bad_store_url_in_config_names_the_key_not_the_password(project: Path) -> None:
    (project / ".orca" / "orca.toml").write_text(
        '[store]\nurl = "postgresql://root:hunter2@db:5432"\n'
    )
    done = orca(project, "run", str(project / "g.py"), "--input", '{"n": 0}')
    assert done.returncode == 3, done.stderr
    assert "store.url" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout


def test_a_store_that_does_not_answer_is_a_clear_error(project: Path) -> None:
    done = orca(project, "--store", "postgresql://orca:hunter2@127.0.0.1:1/orca", "budget", "list")
    assert done.returncode != 0
    assert "unavailable" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout


def test_serve_with_a_postgres_store_keeps_its_runs_there(project: Path, pg_url: str) -> None:
    import httpx

    from _served import served

    source = f"{project / 'g.py'}:g"
    with served(project, [source], args=("--store", pg_url)) as url:
        started = httpx.post(
            f"{url}/v1/threads/served/runs",
            json={"workflow": "counter", "input": {"n": 0}},
            timeout=60,
        )
        assert started.status_code in (200, 201, 202), started.text
        run_id = started.json()["run_id"]
        done = httpx.get(f"{url}/v1/runs/{run_id}/wait", timeout=60)
        assert done.status_code == 200, done.text
        assert done.json()["values"]["n"] == 3
        listed = httpx.get(f"{url}/v1/runs", timeout=30).json()
    assert [r["thread_id"] for r in listed] == ["served"]
    assert not (project / ".orca" / "project.db").exists()
    with open_store(pg_url) as store:
        (run,) = store.checkpoints.list_runs()
        assert (run.thread_id, run.status) == ("served", "done")
