"""The installed ``orca`` script as real processes: what a user's shell or a CI job sees
(exit codes, JSON on stdout, one-line errors on stderr, never a traceback, never a key)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from _providers import Loopback
from orca._version import __version__

ORCA = Path(sys.executable).parent / "orca"
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "research.py"
OK, FAILED, USAGE, CONFIG, BUDGET, INTERRUPTED, DATABASE = 0, 1, 2, 3, 4, 5, 6

pytestmark = pytest.mark.skipif(not ORCA.is_file(), reason=f"no orca script at {ORCA}")


def orca(
    project: Path | None, *args: Any, code: int | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``orca [-C project] ARGS`` in a process of its own (ORCA_HOME is the test's own)."""
    argv = [str(ORCA), *(["-C", str(project)] if project else []), *map(str, args)]
    done = subprocess.run(
        argv,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    if code is not None:
        assert done.returncode == code, (
            f"{argv}: exit {done.returncode}, wanted {code}\n{done.stdout}\n{done.stderr}"
        )
    return done


def data(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(done.stdout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("llama_cpp")
    pytest.importorskip("gguf")
    from orca.llm.tiny import ensure_tiny_model

    return ensure_tiny_model(seed=0, path=tmp_path_factory.mktemp("model") / "tiny.gguf")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / ".orca").mkdir(parents=True)  # a project (only orca init makes one)
    return root


def test_version() -> None:
    done = orca(None, "--version", code=OK)
    assert done.stdout.strip() == f"orca {__version__}"


def test_no_arguments_shows_the_help() -> None:
    done = orca(None)
    assert done.returncode in (OK, USAGE)  # click >= 8.2 exits 2 after the help
    assert "Usage: orca" in done.stdout
    for command in ("init", "doctor", "run", "runs", "budget", "profile", "pricing", "usage"):
        assert command in done.stdout


def test_init(project: Path) -> None:
    made = data(orca(project, "init", "--json", code=OK))
    assert made["project"] == str(project.resolve())
    assert made["config_written"] is True
    assert (project / ".orca" / "orca.toml").is_file()
    assert (project / ".orca" / "project.db").is_file()
    assert Path(made["user_db"]) == Path(os.environ["ORCA_HOME"]) / "orca.db"
    assert data(orca(project, "init", "--json", code=OK))["config_written"] is False


def test_a_whole_session_from_the_shell(project: Path, model: Path) -> None:
    orca(project, "init", code=OK)
    made = data(orca(project, "budget", "create", "wallet", "--amount", "5", "--json", code=OK))
    assert (made["name"], made["limit"], made["active"]) == ("wallet", 5_000_000_000, True)
    [listed] = data(orca(project, "budget", "list", "--json", code=OK))
    assert listed["name"] == "wallet"
    spec = f"llamacpp:{model}"
    created = orca(
        project, "profile", "create", "tiny", "--planner", spec, "--worker", spec, code=OK
    )
    assert "created profile tiny (active)" in created.stdout
    orca(
        project,
        "pricing",
        "set",
        "llamacpp",
        model.name,
        "--input",
        "50",
        "--output",
        "200",
        code=OK,
    )

    first = data(
        orca(
            project,
            "run",
            EXAMPLE,
            "--input",
            '{"topic": "x"}',
            "--json",
            code=INTERRUPTED,
        )
    )
    assert first["status"] == "interrupted"
    assert first["cost_nano_usd"] > 0
    assert first["interrupts"][0]["node"] == "review"
    assert {(r["node"], r["role"]) for r in first["by"]} >= {
        ("plan", "planner"),
        ("worker", "worker"),
    }
    done = data(
        orca(project, "runs", "resume", first["run_id"], "--value", "true", "--json", code=OK)
    )
    assert done["status"] == "done"
    assert done["values"]["verdict"] == "approved"

    runs = data(orca(project, "runs", "list", "--json", code=OK))
    assert {r["run_id"] for r in runs} == {first["run_id"], done["run_id"]}
    run_total = sum(r["cost_nano_usd"] for r in runs)
    assert run_total == first["cost_nano_usd"] + done["cost_nano_usd"]
    by_node = data(orca(project, "usage", "report", "--by", "node", "--json", code=OK))
    assert {r["key"] for r in by_node} == {"plan", "worker", "review"}
    assert sum(r["cost_nano_usd"] for r in by_node) == run_total
    assert sum(r["llm_calls"] for r in by_node) == first["llm_calls"] + done["llm_calls"]
    wallet = data(orca(project, "budget", "status", "--json", code=OK))
    assert (wallet["spent"], wallet["reserved"]) == (run_total, 0)

    # the human output of the same commands
    table = orca(project, "usage", "report", "--by", "node", code=OK).stdout
    assert "total" in table
    assert first["run_id"] in orca(project, "runs", "list", code=OK).stdout


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["budget", "create", "x", "--amount", "abc"], USAGE, "--amount 'abc' is not a number"),
        (["budget", "create"], USAGE, "Missing argument"),
        (["no-such-command"], USAGE, "No such command"),
        (["run", EXAMPLE, "--input", "{bad"], USAGE, "--input is not valid JSON"),
        (["profile", "create", "p", "--planner", "gpt4", "--worker", "openai:x"], USAGE, "gpt4"),
        (["budget", "show", "nosuch"], CONFIG, "unknown budget 'nosuch'"),
        (["runs", "show", "run-nosuch"], CONFIG, "no run 'run-nosuch'"),
    ],
)
def test_bad_arguments_give_one_message_on_stderr(
    project: Path, args: list[Any], code: int, needle: str
) -> None:
    done = orca(project, *args, code=code)
    assert needle in done.stderr
    assert done.stdout == ""


def test_a_corrupt_user_database_is_named(project: Path) -> None:
    db = Path(os.environ["ORCA_HOME"]) / "orca.db"
    db.write_bytes(b"garbage " * 512)
    done = orca(project, "budget", "list", code=DATABASE)
    assert str(db) in done.stderr
    assert "damaged" in done.stderr


def test_an_api_key_in_the_environment_is_never_printed(project: Path) -> None:
    secret = "sk-secret-test"
    env = {"OPENAI_API_KEY": secret}
    port = free_port()  # nothing listens there: a run fails fast, with no network
    url = f"base_url=http://127.0.0.1:{port}/v1"
    server = Loopback("models")  # an OpenAI-compatible model list
    good = f"base_url=http://127.0.0.1:{server.port}/v1"
    try:
        outputs = [
            orca(
                project,
                "profile",
                "create",
                "cloud",
                "--planner",
                "openai:gpt-4o",
                "--worker",
                "openai:gpt-4o-mini",
                "--planner-param",
                "api_key_env=OPENAI_API_KEY",
                "--planner-param",
                good,
                "--worker-param",
                good,
                env=env,
                code=OK,
            ),
            orca(project, "profile", "show", "cloud", "--json", env=env, code=OK),
            orca(project, "doctor", env=env, code=OK),
            orca(project, "doctor", "--json", env=env, code=OK),
        ]
    finally:
        server.close()
    assert data(outputs[-1])["ok"] is True
    orca(
        project,
        "profile",
        "update",
        "cloud",
        "--planner-param",
        url,
        "--worker-param",
        url,
        "--planner-param",
        "max_retries=0",
        "--worker-param",
        "max_retries=0",
        env=env,
        code=OK,
    )
    outputs.append(orca(project, "doctor", "--json", env=env, code=FAILED))  # unreachable
    failed = orca(project, "run", EXAMPLE, "--input", '{"topic": "x"}', "--json", env=env)
    assert failed.returncode == FAILED
    assert data(failed)["error"]["type"] == "ProviderUnreachableError"
    outputs.append(failed)
    outputs.append(orca(project, "run", EXAMPLE, "--input", '{"topic": "x"}', env=env))
    for done in outputs:
        assert secret not in done.stdout + done.stderr
