"""The command line tells the truth, seen from a shell: Ctrl-C exits 130 and the record
says cancelled, a failing node names its file and line, exit codes are the documented
ones, every error is ``error: WHAT`` then ``fix: HOW``, and help text keeps its
``[sections]``. Each test runs the installed ``orca`` script as a real process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from _providers import Loopback
from orca.store import project_store

ORCA = Path(sys.executable).parent / "orca"
OK, FAILED, USAGE, CONFIG = 0, 1, 2, 3
LOG_LINE = re.compile(r"\d{4}-\d\d-\d\dT\S+ (DEBUG|INFO|WARNING|ERROR) ")

pytestmark = pytest.mark.skipif(not ORCA.is_file(), reason=f"no orca script at {ORCA}")

# a sync node that runs until a file appears (or ten minutes pass): far longer than any
# test waits for the process
STUCK = """\
import time
from pathlib import Path
from typing import TypedDict

from orca import END, START, StateGraph

HERE = Path(__file__).parent


class S(TypedDict):
    n: int


def wait(s: S) -> dict:
    (HERE / "started").write_text("")
    deadline = time.monotonic() + 600
    while not (HERE / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return {"n": s["n"] + 1}


g = StateGraph(S, name="stuck")
g.add_node("wait", wait)
g.add_edge(START, "wait")
g.add_edge("wait", END)
"""

BUGGY = """\
from typing import TypedDict

from orca import END, START, StateGraph


class S(TypedDict):
    n: int


def lookup(table):
    return table["missing"]


def boom(s: S) -> dict:
    return {"n": lookup({})}


g = StateGraph(S, name="buggy")
g.add_node("boom", boom)
g.add_edge(START, "boom")
g.add_edge("boom", END)
"""


def orca(
    project: Path | None, *args: Any, code: int | None = None
) -> subprocess.CompletedProcess[str]:
    argv = [str(ORCA), *(["-C", str(project)] if project else []), *map(str, args)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    if code is not None:
        assert done.returncode == code, (
            f"{argv}: exit {done.returncode}, wanted {code}\n{done.stdout}\n{done.stderr}"
        )
    return done


def one_error(stderr: str) -> tuple[str, str]:
    """The ``error:`` and ``fix:`` lines of ``stderr``, checked to be the whole of it
    but log lines (no box, no traceback)."""
    lines = [line for line in stderr.splitlines() if line.strip() and not LOG_LINE.match(line)]
    assert len(lines) == 2, stderr
    assert lines[0].startswith("error: "), stderr
    assert lines[1].startswith("fix: "), stderr
    assert len(lines[1]) > len("fix: "), stderr
    assert "Traceback" not in stderr
    assert "╭" not in stderr
    return lines[0], lines[1]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    orca(root, "init", code=OK)
    return root


def interrupted_run(project: Path, tmp_path: Path, *more: str) -> tuple[str, str]:
    """``orca run`` of the stuck workflow, sent SIGINT once its node has started; its
    output, after checking that it exited 130 (the node's thread is left to run)."""
    flow = tmp_path / "stuck.py"
    flow.write_text(STUCK)
    argv = [str(ORCA), "-C", str(project), "run", f"{flow}:g", "--input", '{"n": 0}', *more]
    run = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "started").exists():
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.02)
        run.send_signal(signal.SIGINT)
        stdout, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
        (tmp_path / "go").write_text("")
    assert run.returncode == 130, stderr
    return stdout, stderr


def test_ctrl_c_cancels_the_run_records_it_and_exits_130_without_waiting_for_the_node(
    project: Path, tmp_path: Path
) -> None:
    # the node's thread runs on for ten minutes: the process must not wait for it
    stdout, stderr = interrupted_run(project, tmp_path, "--json")
    out = json.loads(stdout)
    assert out["status"] == "cancelled"
    assert out["exit_code"] == 130
    assert "run cancelled" in stderr  # the log says so too
    assert "Traceback" not in stderr
    with project_store(project) as store:
        [record] = store.checkpoints.list_runs()
        ends = store.checkpoints.read_events(record.run_id, types=["run.finished"])
    assert record.status == "cancelled"
    assert [e["status"] for e in ends] == ["cancelled"]


def test_ctrl_c_on_a_human_run_says_how_to_continue(project: Path, tmp_path: Path) -> None:
    stdout, stderr = interrupted_run(project, tmp_path)
    assert "cancelled" in stdout
    errors = [line for line in stderr.splitlines() if line.startswith(("error:", "fix:"))]
    assert errors[0].startswith("error: run run-")
    assert errors[0].endswith("was cancelled")
    assert errors[1].startswith("fix: ")
    assert "orca runs resume run-" in errors[1]


def test_a_failing_node_names_its_file_line_and_code(project: Path, tmp_path: Path) -> None:
    flow = tmp_path / "buggy.py"
    flow.write_text(BUGGY)
    done = orca(project, "--log-level", "error", "run", flow, "--input", '{"n": 0}', code=FAILED)
    error, fix = one_error(done.stderr)
    assert "node 'boom' failed after 1 attempt: KeyError: 'missing'" in error
    assert 'buggy.py:11 in lookup: return table["missing"]' in error
    assert "orca runs resume run-" in fix

    debug = orca(project, "--log-level", "debug", "run", flow, "--input", '{"n": 0}')
    assert debug.returncode == FAILED
    assert "Traceback (most recent call last)" in debug.stderr
    assert 'line 15, in boom\n    return {"n": lookup({})}' in debug.stderr
    assert 'line 11, in lookup\n    return table["missing"]' in debug.stderr

    [first, *_] = json.loads(orca(project, "runs", "list", "--json", code=OK).stdout)
    shown = orca(project, "runs", "show", first["run_id"], code=OK).stdout
    assert 'line 11, in lookup\n    return table["missing"]' in shown
    as_json = json.loads(orca(project, "runs", "show", first["run_id"], "--json", code=OK).stdout)
    [task] = as_json["tasks"]
    assert "KeyError: 'missing'" in task["traceback"]
    [failed] = json.loads(
        orca(project, "runs", "events", first["run_id"], "--type", "task.failed", "--json").stdout
    )
    assert failed["error_type"] == "KeyError"
    assert 'line 11, in lookup\n    return table["missing"]' in failed["traceback"]


def test_usage_errors_are_one_error_and_one_fix_and_exit_2(project: Path) -> None:
    for args, says in [
        (["run", "x.py", "--bogus"], "No such option: --bogus"),
        (["runs", "bogus"], "No such command 'bogus'"),
        (["run", "x.py", "--token-limit", "0"], "--token-limit"),
        (["budget", "create"], "Missing argument"),
        (["--log-level", "loud", "runs", "list"], "--log-level 'loud'"),
    ]:
        error, _ = one_error(orca(project, *args, code=USAGE).stderr)
        assert says in error, error


def test_on_budget_exceeded_names_the_flag(project: Path, tmp_path: Path) -> None:
    flow = tmp_path / "buggy.py"
    flow.write_text(BUGGY)
    error, fix = one_error(
        orca(project, "run", flow, "--on-budget-exceeded", "maybe", code=USAGE).stderr
    )
    assert "--on-budget-exceeded 'maybe'" in error
    assert "budget.on_exceeded" not in error
    assert "--on-budget-exceeded pause" in fix


def test_unknown_input_key_exits_2_and_records_no_run(project: Path, tmp_path: Path) -> None:
    flow = tmp_path / "buggy.py"
    flow.write_text(BUGGY)
    error, fix = one_error(orca(project, "run", flow, "--input", '{"nope": 1}', code=USAGE).stderr)
    assert "unknown state key 'nope'" in error
    assert "(n)" in fix
    assert json.loads(orca(project, "runs", "list", "--json", code=OK).stdout) == []


def test_a_workflow_that_cannot_be_loaded_exits_2(project: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("import json\n\njson.loads('{')\n")
    error, _fix = one_error(orca(project, "run", broken, code=USAGE).stderr)
    assert "JSONDecodeError" in error
    assert "broken.py:3 in <module>" in error
    one_error(orca(project, "run", tmp_path / "absent.py", code=USAGE).stderr)


def test_orca_errors_have_a_fix_line(project: Path) -> None:
    for args, code in [
        (["runs", "show", "run-nosuch"], CONFIG),
        (["budget", "show", "nosuch"], CONFIG),
        (["budget", "create", "b", "--amount", "abc"], USAGE),
        (["run", "x.py", "--input", "{bad"], USAGE),
    ]:
        one_error(orca(project, *args, code=code).stderr)


def test_help_keeps_the_config_sections_literal() -> None:
    top = orca(None, "--help", code=OK).stdout
    assert "[logging]" in top
    run = orca(None, "run", "--help", code=OK).stdout
    for section in ("[llm]", "[budget]", "[workflow]"):
        assert section in run, run
    assert "╭" not in run


TWO_STEPS = """\
from typing import Annotated, TypedDict

from orca import END, START, StateGraph, reducers


class S(TypedDict):
    log: Annotated[list[str], reducers.append]


g = StateGraph(S, name="two")
g.add_node("a", lambda s: {"log": ["a"]})
g.add_node("b", lambda s: {"log": ["b"]})
g.add_edge(START, "a")
g.add_edge("a", "b")
g.add_edge("b", END)
"""


def shortest_unique_prefix(wanted: str, ids: list[str]) -> str:
    for n in range(1, len(wanted) + 1):
        if [i for i in ids if i.startswith(wanted[:n])] == [wanted]:
            return wanted[:n]
    raise AssertionError(f"{wanted} is no unique id")


def test_run_and_checkpoint_ids_accept_unique_prefixes(project: Path, tmp_path: Path) -> None:
    flow = tmp_path / "two.py"
    flow.write_text(TWO_STEPS)
    first = json.loads(orca(project, "run", f"{flow}:g", "--json", code=OK).stdout)
    second = json.loads(orca(project, "run", f"{flow}:g", "--json", code=OK).stdout)
    ids = [first["run_id"], second["run_id"]]
    # unique now, and (8 hex digits past the shortest) still unique after the forks below
    # make runs of their own, whose random ids could otherwise share a short prefix
    short = ids[0][: len(shortest_unique_prefix(ids[0], ids)) + 8]
    assert short != ids[0]

    error, fix = one_error(orca(project, "runs", "show", "run-", code=USAGE).stderr)
    assert "run 'run-' is ambiguous: 2 runs start with it" in error
    assert ids[0] in error
    assert ids[1] in error
    assert "give more" in fix
    one_error(orca(project, "runs", "inspect", "run-zzz", code=CONFIG).stderr)
    for command in (["runs", "show"], ["runs", "inspect"]):
        done = orca(project, *command, short, "--json", code=OK)
        assert ids[0] in done.stdout
    [event, *_] = json.loads(orca(project, "runs", "events", short, "--json", code=OK).stdout)
    assert event["run_id"] == ids[0]
    # reprice looks the run up by its prefix too (it has no usage: no LLM calls)
    error, _ = one_error(
        orca(project, "pricing", "reprice", short, "--as", "openai/gpt-4o", code=CONFIG).stderr
    )
    assert f"run {ids[0]!r} has no recorded usage" in error

    history = json.loads(orca(project, "runs", "history", short, "--json", code=OK).stdout)
    after_a = next(h for h in history if h["next"] == ["b"])
    checkpoint = shortest_unique_prefix(
        after_a["checkpoint_id"], [h["checkpoint_id"] for h in history]
    )
    plain = json.loads(
        orca(project, "runs", "fork", short, "--checkpoint", checkpoint, "--json", code=OK).stdout
    )
    assert plain["values"] == {"log": ["a", "b"]}  # b ran again on the branch
    as_b = json.loads(
        orca(
            project,
            "runs",
            "fork",
            short,
            "--checkpoint",
            checkpoint,
            "--as-node",
            "b",
            "--update",
            '{"log": ["x"]}',
            "--json",
            code=OK,
        ).stdout
    )
    assert as_b["values"] == {"log": ["a", "x"]}  # as if b wrote x: nothing follows b
    error, _ = one_error(
        orca(
            project, "runs", "fork", short, "--checkpoint", checkpoint, "--as-node", "bb",
            code=USAGE,
        ).stderr
    )  # fmt: skip
    assert "--as-node 'bb' is not a node of two (did you mean 'b'?)" in error
    error, _ = one_error(
        orca(project, "runs", "fork", short, "--checkpoint", "0", code=USAGE).stderr
    )
    assert "checkpoint '0' is ambiguous" in error


def test_a_directory_without_orca_is_never_made_a_project_but_by_init(tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    flow = tmp_path / "two.py"
    flow.write_text(TWO_STEPS)
    for args in (["runs", "list"], ["run", f"{flow}:g"], ["tools", "log"]):
        error, fix = one_error(orca(bare, *args, code=CONFIG).stderr)
        assert "is not an Orca project (it has no .orca folder)" in error
        assert f"orca -C {bare} init" in fix
    orca(bare, "doctor")
    assert not (bare / ".orca").exists()
    orca(bare, "init", code=OK)
    assert (bare / ".orca" / "project.db").is_file()
    orca(bare, "run", f"{flow}:g", code=OK)


def test_budget_raise_to_below_what_is_spent_is_refused(project: Path, tmp_path: Path) -> None:
    from orca.cost import Charge
    from orca.store import user_store

    orca(project, "budget", "create", "b", "--amount", "5", code=OK)
    with user_store() as store:  # $3 spent, as a finished call leaves it
        ledger = store.ledger
        b = ledger.budgets.get("b")
        hold = ledger.reserve([b], {"usd": 3_000_000_000})
        ledger.settle(hold, Charge("openai", "gpt-4o", cost_nano_usd=3_000_000_000))
    error, fix = one_error(orca(project, "budget", "raise", "b", "--to", "2", code=USAGE).stderr)
    assert "--to $2.00 is below what budget 'b' has used: $3.00 spent" in error
    assert "at least $3.00" in fix
    raised = json.loads(orca(project, "budget", "raise", "b", "--to", "4", "--json").stdout)
    assert (raised["limit"], raised["spent"]) == (4_000_000_000, 3_000_000_000)


def test_profile_parameters_are_checked_when_written(project: Path) -> None:
    models = ["--planner", "openai:gpt-4o", "--worker", "openai:gpt-4o-mini"]
    for param, says, fix in [
        ("temperature=hot", "temperature='hot' must be a number from 0 to 2", "temperature=0.2"),
        ("max_tokens=-5", "max_tokens=-5 must be a whole number of 1 or more", "max_tokens="),
        ("tempreature=0.2", "'tempreature' is not a parameter of openai (did you mean", "use"),
    ]:
        error, said = one_error(
            orca(project, "profile", "create", "p", *models, "--planner-param", param).stderr
        )
        assert says in error
        assert fix in said
    local = ["--planner", "llamacpp:m.gguf", "--worker", "llamacpp:m.gguf"]
    error, _ = one_error(
        orca(project, "profile", "create", "l", *local, "--worker-param", "base_url=http://x",
             code=USAGE).stderr
    )  # fmt: skip
    assert "'base_url' is not a parameter of llamacpp" in error
    orca(project, "profile", "create", "p", *models, "--planner-param", "temperature=0.2", code=OK)
    error, _ = one_error(
        orca(project, "profile", "update", "p", "--worker-param", "top_p=2", code=USAGE).stderr
    )
    assert "top_p=2 must be a number from 0 to 1" in error


def test_pricing_show_names_the_nearest_model_and_what_local_runs_are_charged(
    project: Path,
) -> None:
    error, fix = one_error(
        orca(project, "pricing", "show", "openai", "gpt-4oo", code=CONFIG).stderr
    )
    assert "(did you mean 'gpt-4o'?)" in error
    assert "orca pricing set openai gpt-4oo" in fix
    orca(project, "pricing", "set", "llamacpp", "tiny.gguf", "--input", "0.1", "--output", "0.4")
    # a profile names the file by its path; runs are charged by its name
    shown = orca(project, "pricing", "show", "llamacpp", "/models/tiny.gguf", code=OK).stdout
    assert "llamacpp/tiny.gguf (from your override)" in shown
    assert "input $0.10" in shown
    assert "output $0.40" in shown
    as_json = json.loads(
        orca(project, "pricing", "show", "llamacpp", "/models/tiny.gguf", "--json").stdout
    )
    assert (as_json["source"], as_json["input"]) == ("user", "0.1")


def test_amounts_are_shown_in_a_precision_that_fits_them() -> None:
    from decimal import Decimal

    from orca.cli._common import count, per_mtok, usd

    assert [usd(n) for n in (0, 12, 1_500_000, 123_456_789, 5_000_000_000)] == [
        "$0.00",
        "$0.000000012",
        "$0.0015",
        "$0.123",
        "$5.00",
    ]
    assert usd(1_234_567_890_123) == "$1,234.57"
    assert [per_mtok(Decimal(p)) for p in ("2.5", "10", "0.075")] == ["$2.50", "$10.00", "$0.075"]
    assert (count(1, "call"), count(2, "call"), count(0, "step")) == (
        "1 call",
        "2 calls",
        "0 steps",
    )


# -- providers that answer, answer garbage, or never answer ---------------------------------


@pytest.fixture
def servers() -> Any:
    made: list[Loopback] = []

    def start(mode: str) -> Loopback:
        made.append(Loopback(mode))
        return made[-1]

    yield start
    for server in made:
        server.close()


def doctor_checks(project: Path, env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    done = subprocess.run(
        [str(ORCA), "-C", str(project), "doctor", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )
    return done.returncode, {c["check"]: c for c in json.loads(done.stdout)["checks"]}


def local_profile(project: Path, name: str, port: int, *params: str) -> None:
    url = f"base_url=http://127.0.0.1:{port}/v1"
    extra = [arg for p in (url, *params) for flag in ("--planner", "--worker")
             for arg in (f"{flag}-param", p)]  # fmt: skip
    orca(project, "profile", "create", name, "--planner", "vllm:m", "--worker", "vllm:m", *extra,
         code=OK)  # fmt: skip


def test_doctor_passes_only_a_server_that_answers_as_its_provider_would(
    project: Path, servers: Any
) -> None:
    good, garbage, silent = servers("models"), servers("garbage"), servers("silent")
    local_profile(project, "good", good.port)
    code, checks = doctor_checks(project)
    assert code == OK, checks
    assert checks["planner vllm:m reachable"]["status"] == "ok"
    assert "lists 1 model" in checks["planner vllm:m reachable"]["detail"]
    assert good.requests[0].startswith("GET /v1/models HTTP/1.1")

    for server, says in [
        (garbage, "did not answer as HTTP"),
        (silent, "accepted but gave no answer within 3s"),
    ]:
        orca(project, "profile", "delete", "good", "--yes")
        local_profile(project, "good", server.port)
        code, checks = doctor_checks(project)
        assert code == FAILED
        reach = checks["planner vllm:m reachable"]
        assert reach["status"] == "fail"
        assert says in reach["detail"]


def test_doctor_asks_anthropic_with_its_headers(project: Path, servers: Any) -> None:
    server = servers("models")
    url = f"base_url=http://127.0.0.1:{server.port}"
    model = "anthropic:claude-sonnet-4-5"
    orca(
        project, "profile", "create", "a", "--planner", model, "--worker", model,
        "--planner-param", url, "--worker-param", url, code=OK,
    )  # fmt: skip
    code, checks = doctor_checks(project, {"ANTHROPIC_API_KEY": "sk-ant-test"})
    assert code == OK, checks
    assert checks[f"planner {model} reachable"]["status"] == "ok"
    code, checks = doctor_checks(project, {"ANTHROPIC_API_KEY": "sk-ant-wrong"})
    assert code == FAILED
    assert "refused the key (HTTP 401)" in checks[f"planner {model} reachable"]["detail"]
    assert "sk-ant-wrong" not in json.dumps(checks)


ASKS = """\
from typing import TypedDict

from orca import END, START, RunContext, StateGraph


class S(TypedDict):
    answer: str


async def ask(s: S, ctx: RunContext) -> dict:
    reply = await ctx.worker.acomplete("hello?", max_tokens=8)
    return {"answer": reply.text}


g = StateGraph(S, name="asks")
g.add_node("ask", ask)
g.add_edge(START, "ask")
g.add_edge("ask", END)
"""


def test_a_call_that_gets_no_answer_says_it_waits_then_the_run_fails(
    project: Path, tmp_path: Path, servers: Any
) -> None:
    silent = servers("silent")
    local_profile(project, "mute", silent.port, "max_retries=0")
    (project / ".orca" / "orca.toml").write_text("[llm]\nrequest_timeout_s = 2\n")
    flow = tmp_path / "asks.py"
    flow.write_text(ASKS)
    done = orca(project, "run", flow, "--json", code=FAILED)
    out = json.loads(done.stdout)
    assert out["status"] == "failed"
    assert out["error"]["type"] == "LLMTimeoutError"
    assert "no answer within 2s" in out["error"]["message"]
    assert "waiting for vllm/m: no answer after 1s (attempt 1 of 1; each gives up after 2s)" in (
        done.stderr
    )
    [record] = json.loads(orca(project, "runs", "list", "--json", code=OK).stdout)
    assert record["status"] == "failed"


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("llama_cpp")
    pytest.importorskip("gguf")
    from orca.llm.tiny import ensure_tiny_model

    return ensure_tiny_model(seed=0, path=tmp_path_factory.mktemp("model") / "tiny.gguf")


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "research.py"


@pytest.mark.parametrize(("policy", "code"), [("fail", 4), ("pause", 5)])
def test_replay_of_a_budget_stopped_run_is_identical(
    project: Path, tiny_model: Path, policy: str, code: int
) -> None:
    spec = f"llamacpp:{tiny_model}"
    orca(project, "profile", "create", "tiny", "--planner", spec, "--worker", spec, code=OK)
    orca(project, "pricing", "set", "llamacpp", tiny_model.name, "--input", "50", "--output",
         "200", code=OK)  # fmt: skip
    orca(project, "budget", "create", "tight", "--amount", "0.010", code=OK)
    done = orca(project, "run", EXAMPLE, "--input", '{"topic": "x"}', "--budget", "tight",
                "--on-budget-exceeded", policy, "--json", code=code)  # fmt: skip
    run_id = json.loads(done.stdout)["run_id"]
    replayed = orca(project, "runs", "replay", run_id, code=OK).stdout
    assert replayed.startswith(f"identical: run {run_id} replayed")
    report = json.loads(orca(project, "runs", "replay", run_id, "--json", code=OK).stdout)
    assert report["identical"] is True


def on_a_terminal(argv: list[str]) -> tuple[int, str]:
    """``argv`` with a pseudo-terminal as its stdin, stdout and stderr: what a person
    sees (exit code, and everything printed)."""
    import pty

    main, side = pty.openpty()
    process = subprocess.Popen(argv, stdin=side, stdout=side, stderr=side, close_fds=True)
    os.close(side)
    seen = b""
    try:
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(main)
        process.wait(timeout=60)
    return process.returncode, seen.decode(errors="replace")


def test_on_a_terminal_info_lines_stay_out_of_the_live_display(
    project: Path, tmp_path: Path
) -> None:
    flow = tmp_path / "two.py"
    flow.write_text(TWO_STEPS)
    argv = [str(ORCA), "-C", str(project), "run", f"{flow}:g"]
    code, seen = on_a_terminal(argv)
    assert code == OK, seen
    assert "done in" in seen
    assert " INFO " not in seen
    assert "run started" not in seen
    piped = orca(project, "run", f"{flow}:g", code=OK)  # piped: INFO as configured
    assert " INFO " in piped.stderr
    assert "run started: two" in piped.stderr
    # a level named anywhere wins on a terminal too
    code, seen = on_a_terminal([*argv[:3], "--log-level", "info", *argv[3:]])
    assert "run started: two" in seen


def test_a_budget_refusing_parallel_workers_is_reported_once(
    project: Path, tiny_model: Path
) -> None:
    spec = f"llamacpp:{tiny_model}"
    orca(project, "profile", "create", "tiny", "--planner", spec, "--worker", spec, code=OK)
    orca(project, "pricing", "set", "llamacpp", tiny_model.name, "--input", "50", "--output",
         "200", code=OK)  # fmt: skip
    orca(project, "budget", "create", "tight", "--amount", "0.028", code=OK)
    done = orca(project, "--log-level", "info", "run", EXAMPLE, "--input", '{"topic": "x"}',
                "--budget", "tight", code=4)  # fmt: skip
    assert done.stdout.count("step 2: worker, worker, worker, worker") == 1
    assert done.stdout.count("refused by the budget") == 1
    assert done.stdout.count("worker failed") == 1
    assert "the budget refused 4 calls in step 2" in done.stderr
    assert done.stderr.count("task worker failed") == 1  # the log says it once too
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "budget 'tight' cannot afford this call" in errors[0]


def test_json_names_a_thing_one_way_in_every_command(project: Path, tmp_path: Path) -> None:
    flow = tmp_path / "two.py"
    flow.write_text(TWO_STEPS)
    ran = json.loads(orca(project, "run", f"{flow}:g", "--json", code=OK).stdout)
    run_id = ran["run_id"]
    [listed] = json.loads(orca(project, "runs", "list", "--json", code=OK).stdout)
    shown = json.loads(orca(project, "runs", "show", run_id, "--json", code=OK).stdout)
    seen = json.loads(orca(project, "runs", "inspect", run_id, "--json", code=OK).stdout)
    replayed = json.loads(orca(project, "runs", "replay", run_id, "--json", code=OK).stdout)
    for document in (ran, listed, shown, seen, replayed):
        assert document["run_id"] == run_id
        assert not {"id", "run", "calls", "graph"} & set(document), sorted(document)
    for document in (ran, listed, shown, seen):
        assert document["workflow"] == "two"
    for document in (ran, shown, seen, replayed):
        assert document["llm_calls"] == 0
    for document in (ran, listed, shown, seen):
        assert document["cost_nano_usd"] == 0
