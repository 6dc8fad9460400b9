"""The ``orca`` command line, in process (typer's CliRunner): every command, its ``--json``
output, its documented exit codes (0 ok, 1 failed, 2 usage, 3 config, 4 budget,
5 interrupted, 6 database) and its answers to bad arguments.

Runs use the tiny random-weight GGUF model on the in-process llama.cpp engine, priced with
a user price so that every call costs something; nothing touches the network."""

from __future__ import annotations

import json
import os
import socket
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from _providers import Loopback
from orca.cli import app

# the documented exit codes, written out so that a change to them is caught
OK, FAILED, USAGE, CONFIG, BUDGET, INTERRUPTED, DATABASE = 0, 1, 2, 3, 4, 5, 6

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "research.py"
TOPIC = json.dumps({"topic": "x"})
runner = CliRunner()

TWO_GRAPHS = """\
from typing import TypedDict

from orca import END, START, StateGraph


class S(TypedDict):
    x: int


def inc(s: S) -> dict:
    return {"x": s["x"] + 1}


a = StateGraph(S, name="a")
a.add_node("inc", inc)
a.add_edge(START, "inc")
a.add_edge("inc", END)

b = StateGraph(S, name="b")
b.add_node("inc", inc)
b.add_edge(START, "inc")
b.add_edge("inc", END)
"""


# -- helpers ------------------------------------------------------------------------------------


def orca(project: Path, *args: Any, code: int | None = None, input: str | None = None) -> Result:
    """``orca -C project ARGS``; checks the exit code when given, and that nothing crashed
    (an exception other than the exit itself is a traceback for the user)."""
    result = runner.invoke(app, ["-C", str(project), *map(str, args)], input=input)
    crashed = result.exception is not None and not isinstance(result.exception, SystemExit)
    assert not crashed, f"crashed: {result.exception!r}\n{result.output}"
    assert "Traceback" not in result.output
    if code is not None:
        assert result.exit_code == code, (
            f"exit {result.exit_code}, wanted {code}\nstdout: {result.stdout}\n"
            f"stderr: {result.stderr}"
        )
    return result


def data(result: Result) -> Any:
    return json.loads(result.stdout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def checks(result: Result) -> dict[str, dict[str, str]]:
    return {c["check"]: c for c in data(result)["checks"]}


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny GGUF model for the module (seeded: the same file every time)."""
    pytest.importorskip("llama_cpp")
    pytest.importorskip("gguf")
    from orca.llm.tiny import ensure_tiny_model

    return ensure_tiny_model(seed=0, path=tmp_path_factory.mktemp("model") / "tiny.gguf")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / ".orca").mkdir(parents=True)  # a project (only orca init makes one)
    return root


@pytest.fixture
def home() -> Path:
    return Path(os.environ["ORCA_HOME"])


@pytest.fixture
def tiny(project: Path, model: Path) -> Path:
    """An Orca project with the tiny model as the active profile, priced at $50 / $200
    per 1M tokens so that every call costs something."""
    orca(project, "init", code=OK)
    spec = f"llamacpp:{model}"
    orca(project, "profile", "create", "tiny", "--planner", spec, "--worker", spec, code=OK)
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
    return project


@pytest.fixture
def two_graphs(tmp_path: Path) -> Path:
    path = tmp_path / "two.py"
    path.write_text(TWO_GRAPHS)
    return path


def start_research(project: Path, *more: Any, code: int = INTERRUPTED) -> dict[str, Any]:
    result = orca(project, "run", EXAMPLE, "--input", TOPIC, "--json", *more, code=code)
    out: dict[str, Any] = data(result)
    assert out["exit_code"] == code
    return out


# -- orca init ----------------------------------------------------------------------------------


def test_init_creates_the_config_the_project_db_and_a_gitignore(project: Path, home: Path) -> None:
    out = data(orca(project, "init", "--json", code=OK))
    folder = project / ".orca"
    assert out["project"] == str(project.resolve())
    assert out["config_written"] is True
    assert Path(out["config"]) == folder / "orca.toml"
    assert Path(out["project_db"]) == folder / "project.db"
    assert Path(out["user_db"]) == home / "orca.db"
    assert "[budget]" in (folder / "orca.toml").read_text()
    assert (folder / "project.db").is_file()
    assert (home / "orca.db").is_file()
    assert "project.db" in (folder / ".gitignore").read_text()


def test_init_again_keeps_the_config_unless_forced(project: Path) -> None:
    orca(project, "init", code=OK)
    toml = project / ".orca" / "orca.toml"
    toml.write_text("# mine\n")
    again = orca(project, "init", code=OK)
    assert "kept" in again.stdout
    assert data(orca(project, "init", "--json", code=OK))["config_written"] is False
    assert toml.read_text() == "# mine\n"
    assert data(orca(project, "init", "--force", "--json", code=OK))["config_written"] is True
    assert "[execution]" in toml.read_text()


def test_init_without_a_project_option_uses_the_current_directory(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    result = runner.invoke(app, ["init", "--json"])
    assert result.exit_code == OK, result.output
    assert data(result)["project"] == str(project.resolve())
    assert (project / ".orca" / "orca.toml").is_file()


def test_init_in_a_missing_directory_is_a_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = orca(missing, "init", code=CONFIG)
    assert "does not exist" in result.stderr
    assert not missing.exists()


# -- orca doctor --------------------------------------------------------------------------------


def test_doctor_on_a_fresh_project_warns_but_passes(project: Path) -> None:
    orca(project, "init", code=OK)
    out = data(orca(project, "doctor", "--json", code=OK))
    found = {c["check"]: c for c in out["checks"]}
    assert out["ok"] is True
    assert found["config"]["status"] == "ok"
    assert found["user db"]["status"] == "ok"
    assert found["project db"]["status"] == "ok"
    assert found["profile"]["status"] == "warn"
    assert found["budget"]["status"] == "warn"


def test_doctor_passes_with_a_local_model_file_and_a_budget(tiny: Path, model: Path) -> None:
    orca(tiny, "budget", "create", "wallet", "--amount", "5", code=OK)
    result = orca(tiny, "doctor", "--json", code=OK)
    found = checks(result)
    assert data(result)["ok"] is True
    assert found["profile"] == {"check": "profile", "status": "ok", "detail": "tiny"}
    assert found[f"planner llamacpp:{model}"]["status"] == "ok"
    assert found["budget"]["status"] == "ok"
    assert found["budget"]["detail"].startswith("wallet:")
    human = orca(tiny, "doctor", code=OK)
    assert "orca doctor" in human.stdout
    assert "local model file present" in human.stdout


def test_doctor_fails_when_the_model_file_is_missing(project: Path, tmp_path: Path) -> None:
    gone = tmp_path / "gone.gguf"
    spec = f"llamacpp:{gone}"
    orca(project, "profile", "create", "gone", "--planner", spec, "--worker", spec, code=OK)
    result = orca(project, "doctor", "--json", code=FAILED)
    assert data(result)["ok"] is False
    check = checks(result)[f"planner llamacpp:{gone}"]
    assert check["status"] == "fail"
    assert str(gone) in check["detail"]
    assert "not found" in check["detail"]


def test_doctor_names_the_missing_api_key_variable(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    orca(
        project,
        "profile",
        "create",
        "cloud",
        "--planner",
        "openai:gpt-4o",
        "--worker",
        "openai:gpt-4o-mini",
        code=OK,
    )
    result = orca(project, "doctor", "--json", code=FAILED)
    key = checks(result)["planner openai:gpt-4o key"]
    assert key["status"] == "fail"
    assert "OPENAI_API_KEY" in key["detail"]


def test_doctor_with_the_key_set_passes_and_never_prints_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-test")
    server = Loopback("models")  # answers as an OpenAI-compatible server would
    url = f"base_url=http://127.0.0.1:{server.port}/v1"
    try:
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
            url,
            "--worker-param",
            url,
            code=OK,
        )
        result = orca(project, "doctor", "--json", code=OK)
        human = orca(project, "doctor", code=OK)
    finally:
        server.close()
    assert checks(result)["planner openai:gpt-4o key"]["status"] == "ok"
    assert checks(result)["planner openai:gpt-4o reachable"]["status"] == "ok"
    assert "Bearer sk-secret-test" in server.requests[0]  # sent, never printed
    for r in (result, human):
        assert "sk-secret-test" not in r.output


def test_doctor_reports_a_local_server_that_is_not_listening(project: Path) -> None:
    port = free_port()
    url = f"base_url=http://127.0.0.1:{port}/v1"
    orca(
        project,
        "profile",
        "create",
        "local",
        "--planner",
        "ollama:llama3",
        "--worker",
        "ollama:llama3",
        "--planner-param",
        url,
        "--worker-param",
        url,
        code=OK,
    )
    result = orca(project, "doctor", "--json", code=FAILED)
    reach = checks(result)["planner ollama:llama3 reachable"]
    assert reach["status"] == "fail"
    assert f"127.0.0.1:{port}" in reach["detail"]
    assert "unreachable" in reach["detail"]
    assert "planner ollama:llama3 key" not in checks(result)  # local servers need no key


def test_doctor_fails_on_a_bad_config_file(project: Path) -> None:
    (project / ".orca").mkdir(exist_ok=True)
    (project / ".orca" / "orca.toml").write_text("[llm]\nbogus_key = 1\n")
    result = orca(project, "doctor", "--json", code=FAILED)
    config = checks(result)["config"]
    assert config["status"] == "fail"
    assert "bogus_key" in config["detail"]


# -- orca budget --------------------------------------------------------------------------------


def test_budget_create_list_show_in_json(project: Path) -> None:
    made = data(orca(project, "budget", "create", "monthly", "--amount", "5", "--json", code=OK))
    assert made["name"] == "monthly"
    assert made["limit"] == 5_000_000_000  # nano-USD
    assert made["spent"] == made["reserved"] == 0
    assert made["remaining"] == 5_000_000_000
    assert made["unit"] == "usd"
    assert made["kind"] == "credit"
    assert made["enforcement"] == "block"
    assert made["scope"] == "global"
    assert made["active"] is True  # the first global budget becomes active
    [listed] = data(orca(project, "budget", "list", "--json", code=OK))
    assert listed == made
    shown = data(orca(project, "budget", "show", "monthly", "--json", code=OK))
    assert shown["thresholds"] == [80, 100]
    assert shown["timezone"] == "UTC"
    assert shown["limit"] == 5_000_000_000
    human = orca(project, "budget", "show", "monthly", code=OK)
    assert "thresholds: 80%, 100%" in human.stdout
    assert "$5.00" in human.stdout
    assert "monthly" in orca(project, "budget", "list", code=OK).stdout


def test_an_overdrawn_budget_says_so_until_it_is_raised(project: Path) -> None:
    from orca.cost import Charge
    from orca.store import user_store

    orca(project, "budget", "create", "team", "--amount", "0.001", code=OK)
    with user_store() as store:  # a call whose usage came in far above its hold
        team = store.ledger.budgets.get("team")
        hold = store.ledger.reserve([team], {"usd": 500_000})
        store.ledger.settle(hold, Charge("openai", "m", 1, 1, cost_nano_usd=1_200_000))
    shown = data(orca(project, "budget", "show", "team", "--json", code=OK))
    assert (shown["overdrawn"], shown["overdraft"]) == (True, 200_000)
    human = orca(project, "budget", "show", "team", code=OK).stdout
    assert "overdrawn by $0.0002" in human
    assert "orca budget raise team --to" in human
    assert "overdrawn" in orca(project, "budget", "list", code=OK).stdout

    orca(project, "budget", "raise", "team", "--to", "0.002", code=OK)
    shown = data(orca(project, "budget", "show", "team", "--json", code=OK))
    assert (shown["overdrawn"], shown["overdraft"]) == (False, 200_000)
    assert "overdrawn by" not in orca(project, "budget", "show", "team", code=OK).stdout


def test_budget_list_when_there_are_none(project: Path) -> None:
    assert data(orca(project, "budget", "list", "--json", code=OK)) == []
    assert "no budgets yet" in orca(project, "budget", "list", code=OK).stdout


def test_a_recurring_budget_has_a_period(project: Path) -> None:
    made = data(
        orca(
            project,
            "budget",
            "create",
            "daily",
            "--amount",
            "2.50",
            "--type",
            "recurring",
            "--period",
            "daily",
            "--timezone",
            "Europe/Paris",
            "--threshold",
            "50",
            "--threshold",
            "90",
            "--enforcement",
            "warn",
            "--json",
            code=OK,
        )
    )
    assert made["kind"] == "recurring"
    assert made["period"] == "daily"
    assert made["enforcement"] == "warn"
    assert made["limit"] == 2_500_000_000
    assert made["period_start"] is not None
    assert made["period_end"] > made["period_start"]
    shown = data(orca(project, "budget", "show", "daily", "--json", code=OK))
    assert shown["thresholds"] == [50, 90]
    assert shown["timezone"] == "Europe/Paris"


def test_a_token_budget_counts_whole_tokens(project: Path) -> None:
    made = data(
        orca(project, "budget", "create", "t", "--amount", "100", "--unit", "tokens", "--json")
    )
    assert (made["unit"], made["limit"]) == ("tokens", 100)
    half = orca(project, "budget", "create", "u", "--amount", "1.5", "--unit", "tokens", code=USAGE)
    assert "whole number of tokens" in half.stderr
    raised = orca(project, "budget", "raise", "t", "--by", "0.5", code=USAGE)
    assert "whole number" in raised.stderr


def test_a_scoped_budget_is_never_the_active_one(project: Path) -> None:
    made = data(
        orca(
            project,
            "budget",
            "create",
            "flow",
            "--amount",
            "1",
            "--workflow",
            "research",
            "--json",
            code=OK,
        )
    )
    assert (made["scope"], made["scope_ref"], made["active"]) == ("workflow", "research", False)
    orca(project, "budget", "status", code=CONFIG)  # still no active budget


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--amount", "0"], USAGE, "above zero"),
        (["--amount", "-5"], USAGE, "above zero"),
        (["--amount", "abc"], USAGE, "'abc' is not a number"),
        (["--amount", "nan"], USAGE, "above zero"),
        (["--amount", "5", "--unit", "euros"], USAGE, "'euros' is not usd or tokens"),
        (["--amount", "5", "--type", "recurring"], CONFIG, "needs a period"),
        (["--amount", "5", "--type", "recurring", "--period", "yearly"], CONFIG, "'yearly'"),
        (["--amount", "5", "--type", "bogus"], CONFIG, "'bogus'"),
        (["--amount", "5", "--enforcement", "bogus"], CONFIG, "'bogus'"),
        (["--amount", "5", "--threshold", "0"], CONFIG, "thresholds"),
        (["--amount", "5", "--threshold", "150"], CONFIG, "thresholds"),
        (["--amount", "5", "--timezone", "Mars/Olympus"], CONFIG, "Mars/Olympus"),
        (["--amount", "5", "--workflow", "w", "--run", "r"], USAGE, "at most one"),
        (["--amount", "5", "--session", "s", "--workflow", "w"], USAGE, "at most one"),
        (["--amount", "5", "--workflow", "w", "--activate"], CONFIG, "cannot be the active"),
        (["--amount", "0.0000000001"], USAGE, "less than a nano-dollar"),  # rounds to 0 nano-USD
        ([], USAGE, "--amount"),
    ],
)
def test_budget_create_refuses_bad_input(
    project: Path, args: list[str], code: int, needle: str
) -> None:
    result = orca(project, "budget", "create", "b1", *args, code=code)
    assert needle in result.stderr
    assert data(orca(project, "budget", "list", "--json", code=OK)) == []


def test_budget_create_refuses_a_bad_name(project: Path) -> None:
    result = orca(project, "budget", "create", "we ird", "--amount", "1", code=CONFIG)
    assert "'we ird' is not valid" in result.stderr


@pytest.mark.parametrize("amount", ["1e30", "100000000000"])
def test_budget_create_refuses_an_amount_too_big_to_store(project: Path, amount: str) -> None:
    result = orca(project, "budget", "create", "huge", "--amount", amount, code=USAGE)
    assert "--amount" in result.stderr


def test_budget_raise_refuses_an_amount_too_big_to_store(project: Path) -> None:
    orca(project, "budget", "create", "monthly", "--amount", "5", code=OK)
    orca(project, "budget", "raise", "monthly", "--by", "1e30", code=USAGE)


def test_budget_create_refuses_a_duplicate_name(project: Path) -> None:
    orca(project, "budget", "create", "monthly", "--amount", "5", code=OK)
    result = orca(project, "budget", "create", "monthly", "--amount", "9", code=CONFIG)
    assert "already exists" in result.stderr
    [only] = data(orca(project, "budget", "list", "--json"))
    assert only["limit"] == 5_000_000_000


@pytest.mark.parametrize(
    "command",
    [
        ["show", "montly"],
        ["use", "montly"],
        ["raise", "montly", "--by", "1"],
        ["delete", "montly", "--yes"],
        ["status", "montly"],
    ],
)
def test_an_unknown_budget_name_suggests_the_closest(project: Path, command: list[str]) -> None:
    orca(project, "budget", "create", "monthly", "--amount", "5", code=OK)
    result = orca(project, "budget", *command, code=CONFIG)
    assert "unknown budget 'montly'" in result.stderr
    assert "did you mean 'monthly'" in result.stderr


def test_budget_raise_by_or_to(project: Path) -> None:
    orca(project, "budget", "create", "monthly", "--amount", "5", code=OK)
    by = data(orca(project, "budget", "raise", "monthly", "--by", "1.5", "--json", code=OK))
    assert by["limit"] == 6_500_000_000
    to = data(orca(project, "budget", "raise", "monthly", "--to", "$10", "--json", code=OK))
    assert to["limit"] == to["remaining"] == 10_000_000_000
    human = orca(project, "budget", "raise", "monthly", "--by", "1", code=OK)
    assert "$11.00" in human.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ([], "exactly one of --by and --to"),
        (["--by", "1", "--to", "3"], "exactly one of --by and --to"),
        (["--to", "0"], "--to must be above zero"),
        (["--by", "-2"], "--by must be above zero"),
        (["--by", "abc"], "--by 'abc' is not a number"),
    ],
)
def test_budget_raise_refuses_bad_input(project: Path, args: list[str], needle: str) -> None:
    orca(project, "budget", "create", "monthly", "--amount", "5", code=OK)
    result = orca(project, "budget", "raise", "monthly", *args, code=USAGE)
    assert needle in result.stderr
    shown = data(orca(project, "budget", "show", "monthly", "--json"))
    assert shown["limit"] == 5_000_000_000


def test_budget_delete_asks_first(project: Path) -> None:
    orca(project, "budget", "create", "monthly", "--amount", "5", code=OK)
    no = orca(project, "budget", "delete", "monthly", input="n\n", code=FAILED)
    assert "delete budget monthly?" in no.output
    assert [b["name"] for b in data(orca(project, "budget", "list", "--json"))] == ["monthly"]
    orca(project, "budget", "delete", "monthly", input="y\n", code=OK)
    assert data(orca(project, "budget", "list", "--json")) == []
    orca(project, "budget", "create", "other", "--amount", "1", code=OK)
    gone = data(orca(project, "budget", "delete", "other", "--yes", "--json", code=OK))
    assert gone == {"deleted": "other"}
    orca(project, "budget", "show", "other", code=CONFIG)


def test_budget_use_switches_the_active_one(project: Path) -> None:
    orca(project, "budget", "create", "first", "--amount", "5", code=OK)
    second = data(orca(project, "budget", "create", "second", "--amount", "2", "--json"))
    assert second["active"] is False
    assert data(orca(project, "budget", "use", "second", "--json", code=OK)) == {"active": "second"}
    listed = data(orca(project, "budget", "list", "--json", code=OK))
    assert [b["name"] for b in listed if b["active"]] == ["second"]
    assert data(orca(project, "budget", "status", "--json", code=OK))["name"] == "second"
    assert "active budget: second" in orca(project, "budget", "use", "second").stdout
    third = data(
        orca(project, "budget", "create", "third", "--amount", "1", "--activate", "--json")
    )
    assert third["active"] is True
    listed = data(orca(project, "budget", "list", "--json", code=OK))
    assert [b["name"] for b in listed if b["active"]] == ["third"]


def test_budget_status(project: Path) -> None:
    result = orca(project, "budget", "status", code=CONFIG)
    assert "no active budget" in result.stderr
    orca(project, "budget", "create", "monthly", "--amount", "5", code=OK)
    status = data(orca(project, "budget", "status", "--json", code=OK))
    assert (status["name"], status["limit"], status["spent"]) == ("monthly", 5_000_000_000, 0)
    assert "monthly" in orca(project, "budget", "status", code=OK).stdout
    orca(project, "budget", "create", "other", "--amount", "1", code=OK)
    named = data(orca(project, "budget", "status", "other", "--json", code=OK))
    assert named["name"] == "other"


# -- orca profile -------------------------------------------------------------------------------


def test_profile_create_list_show_use(project: Path) -> None:
    made = data(
        orca(
            project,
            "profile",
            "create",
            "fast",
            "--planner",
            "anthropic:claude-sonnet-4-5",
            "--worker",
            "openai:gpt-4o-mini",
            "--planner-param",
            "temperature=0.2",
            "--worker-param",
            'stop=["END"]',
            "--worker-param",
            "user=me",
            "--description",
            "the quick one",
            "--json",
            code=OK,
        )
    )
    assert made == {
        "name": "fast",
        "description": "the quick one",
        "active": True,  # the first profile becomes active
        "planner": {
            "provider": "anthropic",
            "model": "claude-sonnet-4-5",
            "params": {"temperature": 0.2},
        },
        "worker": {
            "provider": "openai",
            "model": "gpt-4o-mini",
            "params": {"stop": ["END"], "user": "me"},  # JSON values, else the text
        },
    }
    orca(
        project,
        "profile",
        "create",
        "slow",
        "--planner",
        "openai:gpt-4o",
        "--worker",
        "openai:gpt-4o",
        code=OK,
    )
    listed = data(orca(project, "profile", "list", "--json", code=OK))
    assert [(p["name"], p["active"]) for p in listed] == [("fast", True), ("slow", False)]
    assert data(orca(project, "profile", "show", "fast", "--json", code=OK)) == made
    human = orca(project, "profile", "show", "fast", code=OK)
    assert "anthropic:claude-sonnet-4-5" in human.stdout
    assert 'planner params: {"temperature": 0.2}' in human.stdout
    assert data(orca(project, "profile", "use", "slow", "--json", code=OK)) == {"active": "slow"}
    listed = data(orca(project, "profile", "list", "--json", code=OK))
    assert [p["name"] for p in listed if p["active"]] == ["slow"]
    table = orca(project, "profile", "list", code=OK).stdout
    assert "* slow" in table
    assert "openai:gpt-4o-mini" in table


def test_profile_list_when_there_are_none(project: Path) -> None:
    assert data(orca(project, "profile", "list", "--json", code=OK)) == []
    assert "no profiles yet" in orca(project, "profile", "list", code=OK).stdout


def test_profile_update_merges_params(project: Path) -> None:
    orca(
        project,
        "profile",
        "create",
        "p",
        "--planner",
        "openai:gpt-4o",
        "--worker",
        "openai:gpt-4o-mini",
        "--planner-param",
        "max_tokens=100",
        code=OK,
    )
    new = data(
        orca(project, "profile", "update", "p", "--planner-param", "temperature=0.2", "--json")
    )
    assert new["planner"] == {
        "provider": "openai",
        "model": "gpt-4o",
        "params": {"max_tokens": 100, "temperature": 0.2},
    }
    assert new["worker"]["params"] == {}
    moved = data(
        orca(
            project,
            "profile",
            "update",
            "p",
            "--planner",
            "openrouter:meta/llama",
            "--description",
            "moved",
            "--json",
            code=OK,
        )
    )
    assert moved["planner"]["provider"] == "openrouter"
    assert moved["planner"]["model"] == "meta/llama"
    assert moved["planner"]["params"] == {"max_tokens": 100, "temperature": 0.2}
    assert moved["description"] == "moved"
    assert data(orca(project, "profile", "show", "p", "--json")) == moved
    assert (
        "updated profile p" in orca(project, "profile", "update", "p", "--description", "x").stdout
    )


P = ["--planner", "openai:gpt-4o"]
W = ["--worker", "openai:gpt-4o-mini"]


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--planner", "gpt4", *W], USAGE, "--planner 'gpt4' is not PROVIDER:MODEL"),
        ([*P, "--worker", ":gpt-4o"], USAGE, "--worker ':gpt-4o' is not PROVIDER:MODEL"),
        (["--planner", "opnai:gpt-4o", *W], CONFIG, "did you mean 'openai'"),
        ([*P, *W, "--planner-param", "nokey"], USAGE, "--planner-param 'nokey' is not KEY=VALUE"),
        ([*P, *W, "--worker-param", "=1"], USAGE, "--worker-param '=1' is not KEY=VALUE"),
        ([*P, *W, "--planner-param", "api_key=sk-123"], CONFIG, "never stored"),
        ([*P, *W, "--worker-param", "api_key=sk-123"], CONFIG, "never stored"),
        ([*P], USAGE, "--worker"),
    ],
)
def test_profile_create_refuses_bad_input(
    project: Path, args: list[str], code: int, needle: str
) -> None:
    result = orca(project, "profile", "create", "p", *args, code=code)
    assert needle in result.stderr
    assert "sk-123" not in result.output
    assert data(orca(project, "profile", "list", "--json", code=OK)) == []


def test_profile_create_refuses_a_duplicate_name(project: Path) -> None:
    spec = ["--planner", "openai:gpt-4o", "--worker", "openai:gpt-4o"]
    orca(project, "profile", "create", "p", *spec, code=OK)
    result = orca(project, "profile", "create", "p", *spec, code=CONFIG)
    assert "already exists" in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["show", "tinny"],
        ["use", "tinny"],
        ["update", "tinny", "--description", "x"],
        ["delete", "tinny", "--yes"],
    ],
)
def test_an_unknown_profile_name_suggests_the_closest(project: Path, command: list[str]) -> None:
    orca(
        project,
        "profile",
        "create",
        "tiny",
        "--planner",
        "openai:gpt-4o",
        "--worker",
        "openai:gpt-4o",
        code=OK,
    )
    result = orca(project, "profile", *command, code=CONFIG)
    assert "unknown LLM profile 'tinny'" in result.stderr
    assert "did you mean 'tiny'" in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--planner", "gpt4"], USAGE, "not PROVIDER:MODEL"),
        (["--planner", "opnai:x"], CONFIG, "did you mean 'openai'"),
        (["--planner-param", "api_key=sk-123"], CONFIG, "never stored"),
        (["--worker-param", "nokey"], USAGE, "not KEY=VALUE"),
    ],
)
def test_profile_update_refuses_bad_input(
    project: Path, args: list[str], code: int, needle: str
) -> None:
    made = data(
        orca(
            project,
            "profile",
            "create",
            "p",
            "--planner",
            "openai:gpt-4o",
            "--worker",
            "openai:gpt-4o",
            "--json",
            code=OK,
        )
    )
    result = orca(project, "profile", "update", "p", *args, code=code)
    assert needle in result.stderr
    assert data(orca(project, "profile", "show", "p", "--json")) == made


def test_profile_delete_asks_first(project: Path) -> None:
    spec = ["--planner", "openai:gpt-4o", "--worker", "openai:gpt-4o"]
    orca(project, "profile", "create", "p", *spec, code=OK)
    orca(project, "profile", "delete", "p", input="n\n", code=FAILED)
    assert [p["name"] for p in data(orca(project, "profile", "list", "--json"))] == ["p"]
    assert data(orca(project, "profile", "delete", "p", "--yes", "--json", code=OK)) == {
        "deleted": "p"
    }
    assert data(orca(project, "profile", "list", "--json")) == []


# -- orca pricing and orca usage ----------------------------------------------------------------


def test_pricing_set_show_list_unset(project: Path) -> None:
    set_ = data(
        orca(
            project,
            "pricing",
            "set",
            "openai",
            "my-model",
            "--input",
            "1.25",
            "--output",
            "$5",
            "--cached-input",
            "0.5",
            "--json",
            code=OK,
        )
    )
    assert (set_["source"], set_["priced"]) == ("user", True)
    assert (set_["input"], set_["output"], set_["cached_input"]) == ("1.25", "5", "0.5")
    shown = data(orca(project, "pricing", "show", "openai", "my-model", "--json", code=OK))
    assert (shown["source"], shown["priced"]) == ("user", True)
    assert Decimal(shown["input"]) == Decimal("1.25")
    assert Decimal(shown["output"]) == Decimal(5)
    assert "your override" in orca(project, "pricing", "show", "openai", "my-model").stdout
    [listed] = data(orca(project, "pricing", "list", "--json", code=OK))
    assert (listed["provider"], listed["model"], listed["source"]) == ("openai", "my-model", "user")
    assert "my-model" in orca(project, "pricing", "list", code=OK).stdout
    gone = data(orca(project, "pricing", "unset", "openai", "my-model", "--json", code=OK))
    assert gone == {"provider": "openai", "model": "my-model", "removed": 1}
    assert data(orca(project, "pricing", "list", "--json", code=OK)) == []
    assert "no price overrides" in orca(project, "pricing", "list", code=OK).stdout
    # without the override the model has no price: an error, not a silent $0
    after = orca(project, "pricing", "show", "openai", "my-model", "--json", code=CONFIG)
    assert "no price known for openai/my-model" in after.stderr


def test_pricing_show_a_catalog_model_a_local_one_and_an_unknown_one(project: Path) -> None:
    catalog = data(orca(project, "pricing", "show", "openai", "gpt-4o", "--json", code=OK))
    assert (catalog["source"], catalog["priced"]) == ("catalog", True)
    assert Decimal(catalog["input"]) > 0
    assert Decimal(catalog["output"]) > Decimal(catalog["input"])
    assert "genai-prices catalog" in orca(project, "pricing", "show", "openai", "gpt-4o").stdout
    local = data(orca(project, "pricing", "show", "llamacpp", "m.gguf", "--json", code=OK))
    assert (local["source"], local["priced"]) == ("local", True)
    unknown = orca(project, "pricing", "show", "openai", "gpt-4oo", "--json", code=CONFIG)
    assert "no price known for openai/gpt-4oo (did you mean 'gpt-4o'?)" in unknown.stderr
    assert "orca pricing set openai gpt-4oo" in unknown.stderr
    provider = orca(project, "pricing", "show", "opneai", "gpt-4o", code=CONFIG)
    assert "unknown LLM provider 'opneai' (did you mean 'openai'?)" in provider.stderr


def test_a_user_price_wins_over_the_catalog(project: Path) -> None:
    orca(project, "pricing", "set", "openai", "gpt-4o", "--input", "7", "--output", "9", code=OK)
    shown = data(orca(project, "pricing", "show", "openai", "gpt-4o", "--json", code=OK))
    assert (shown["source"], Decimal(shown["input"])) == ("user", Decimal(7))
    orca(project, "pricing", "unset", "openai", "gpt-4o", code=OK)
    assert data(orca(project, "pricing", "show", "openai", "gpt-4o", "--json"))["source"] == (
        "catalog"
    )


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["openai", "m", "--input", "-1", "--output", "1"], USAGE, "--input must be zero or more"),
        (["openai", "m", "--input", "abc", "--output", "1"], USAGE, "--input 'abc' is not a num"),
        (["openai", "m", "--input", "1", "--output", "x"], USAGE, "--output 'x' is not a number"),
        (["openai", "m", "--input", "1", "--output", "1", "--reasoning", "-3"], USAGE, "zero or"),
        (["opnai", "m", "--input", "1", "--output", "1"], CONFIG, "did you mean 'openai'"),
        (
            ["openai", "m", "--input", "1", "--output", "1", "--effective-from", "soon"],
            USAGE,
            "--effective-from 'soon' is not a time",
        ),
        (["openai", "m", "--input", "1"], USAGE, "--output"),
    ],
)
def test_pricing_set_refuses_bad_input(
    project: Path, args: list[str], code: int, needle: str
) -> None:
    result = orca(project, "pricing", "set", *args, code=code)
    assert needle in result.stderr
    assert data(orca(project, "pricing", "list", "--json", code=OK)) == []


def test_pricing_unset_of_nothing_is_a_config_error(project: Path) -> None:
    result = orca(project, "pricing", "unset", "openai", "nothing", code=CONFIG)
    assert "no price override for openai/nothing" in result.stderr


def test_a_price_without_a_start_date_reads_back_as_always(project: Path) -> None:
    made = data(
        orca(
            project,
            "pricing",
            "set",
            "openai",
            "m",
            "--input",
            "1",
            "--output",
            "2",
            "--json",
            code=OK,
        )
    )
    assert made["effective_from"] is None
    [listed] = data(orca(project, "pricing", "list", "--json", code=OK))
    assert listed["effective_from"] is None
    assert "1-01-01" not in orca(project, "pricing", "list", code=OK).stdout


def test_pricing_set_with_a_start_date(project: Path) -> None:
    made = data(
        orca(
            project,
            "pricing",
            "set",
            "openai",
            "m",
            "--input",
            "1",
            "--output",
            "2",
            "--effective-from",
            "2020-01-01",
            "--json",
            code=OK,
        )
    )
    assert made["effective_from"].startswith("2020-01-01")
    assert "2020-01-01" in orca(project, "pricing", "list", code=OK).stdout


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["RUN", "--as", "badformat"], USAGE, "--as 'badformat' is not PROVIDER/MODEL"),
        (["RUN", "--as", "openai/"], USAGE, "not PROVIDER/MODEL"),
        (["no-such-run", "--as", "openai/gpt-4o"], CONFIG, "run 'no-such-run' has no recorded"),
        (["RUN"], USAGE, "--as"),
    ],
)
def test_pricing_reprice_refuses_bad_input(
    project: Path, args: list[str], code: int, needle: str
) -> None:
    result = orca(project, "pricing", "reprice", *args, code=code)
    assert needle in result.stderr


def test_usage_report_on_an_empty_ledger(project: Path) -> None:
    for by in ("model", "node", "role", "day", "run", "workflow", "session"):
        assert data(orca(project, "usage", "report", "--by", by, "--json", code=OK)) == []
    human = orca(project, "usage", "report", code=OK)
    assert "Usage by model" in human.stdout
    assert "total" in human.stdout


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--by", "planet"], CONFIG, "cannot group usage by 'planet'"),
        (["--since", "yesterday"], USAGE, "--since 'yesterday' is not a time"),
        (["--since", "7x"], USAGE, "--since '7x' is not a time"),
        (["--until", "later"], USAGE, "--until 'later' is not a time"),
    ],
)
def test_usage_report_refuses_bad_input(
    project: Path, args: list[str], code: int, needle: str
) -> None:
    result = orca(project, "usage", "report", *args, code=code)
    assert needle in result.stderr
    if "--by" in args:
        for choice in ("model", "node", "role", "day", "run"):
            assert choice in result.stderr


# -- orca run and orca runs: bad input (no model needed) ----------------------------------------


def test_run_bad_input_json(project: Path) -> None:
    result = orca(project, "run", EXAMPLE, "--input", "{bad", code=USAGE)
    assert "--input is not valid JSON" in result.stderr


def test_run_input_from_a_missing_file(project: Path, tmp_path: Path) -> None:
    missing = tmp_path / "missing.json"
    result = orca(project, "run", EXAMPLE, "--input", f"@{missing}", code=USAGE)
    assert "cannot read" in result.stderr
    assert "missing.json" in result.stderr


def test_run_input_must_be_an_object(project: Path) -> None:
    result = orca(project, "run", EXAMPLE, "--input", "[1,2]", code=USAGE)
    assert "--input must be a JSON object" in result.stderr


def test_run_a_missing_workflow_file(project: Path, tmp_path: Path) -> None:
    result = orca(project, "run", tmp_path / "nope.py", code=USAGE)
    assert "does not exist" in result.stderr
    assert "nope.py" in result.stderr


def test_run_a_missing_module(project: Path) -> None:
    result = orca(project, "run", "no_such_pkg.flows", code=USAGE)
    assert "no workflow file or module 'no_such_pkg.flows'" in result.stderr


def test_run_a_file_with_two_graphs_needs_a_name(project: Path, two_graphs: Path) -> None:
    result = orca(project, "run", two_graphs, code=USAGE)
    assert "holds 2 graphs (a, b)" in result.stderr
    nosuch = orca(project, "run", f"{two_graphs}:nosuch", code=USAGE)
    assert "has no 'nosuch'" in nosuch.stderr
    assert "a, b" in nosuch.stderr


def test_run_names_one_graph_of_a_file(project: Path, two_graphs: Path, tmp_path: Path) -> None:
    out = data(orca(project, "run", f"{two_graphs}:b", "--input", '{"x": 1}', "--json", code=OK))
    assert (out["workflow"], out["status"], out["values"], out["llm_calls"]) == (
        "b",
        "done",
        {"x": 2},
        0,
    )
    assert out["cost_nano_usd"] == 0
    assert out["error"] is None
    given = tmp_path / "in.json"
    given.write_text('{"x": 41}')
    from_file = data(orca(project, "run", f"{two_graphs}:a", "--input", f"@{given}", "--json"))
    assert from_file["values"] == {"x": 42}


def test_run_something_that_is_not_a_graph(project: Path, tmp_path: Path) -> None:
    path = tmp_path / "notg.py"
    path.write_text("def graph():\n    return 42\n")
    result = orca(project, "run", f"{path}:graph", code=USAGE)
    assert "is a int, not a graph" in result.stderr


def test_a_workflow_that_cannot_be_loaded_exits_2_naming_where(
    project: Path, tmp_path: Path
) -> None:
    path = tmp_path / "boom.py"
    path.write_text("x = 1\nraise RuntimeError('boom')\n")
    result = orca(project, "run", path, code=USAGE)
    assert "RuntimeError: boom" in result.stderr
    assert "boom.py:2 in <module>: raise RuntimeError('boom')" in result.stderr
    assert result.stderr.splitlines()[1].startswith("fix: ")
    broken = tmp_path / "broken.py"
    broken.write_text("def f(:\n")
    assert "SyntaxError" in orca(project, "run", broken, code=USAGE).stderr
    invalid = tmp_path / "invalid.py"  # a graph that does not compile
    invalid.write_text(
        "from typing import TypedDict\nfrom orca import StateGraph\n"
        "class S(TypedDict):\n    n: int\n"
        "g = StateGraph(S)\ng.add_node('a', lambda s: {})\n"
    )
    assert "error: " in orca(project, "run", invalid, code=USAGE).stderr
    assert data(orca(project, "runs", "list", "--json", code=OK)) == []


def test_run_with_an_unknown_state_key_in_the_input(project: Path, two_graphs: Path) -> None:
    # a usage error before any run starts: exit 2, nothing recorded
    result = orca(project, "run", f"{two_graphs}:a", "--input", '{"nosuch": 1}', code=USAGE)
    assert "'nosuch'" in result.stderr
    assert result.stderr.splitlines()[0].startswith("error: --input: the input wrote unknown")
    assert result.stderr.splitlines()[1].startswith("fix: write only keys")
    assert data(orca(project, "runs", "list", "--json", code=OK)) == []


def test_run_with_an_unknown_profile_or_budget(project: Path, two_graphs: Path) -> None:
    graph = f"{two_graphs}:a"
    result = orca(project, "run", graph, "--profile", "nosuch", code=CONFIG)
    assert "unknown LLM profile 'nosuch'" in result.stderr
    result = orca(project, "run", graph, "--budget", "nosuch", code=CONFIG)
    assert "unknown budget 'nosuch'" in result.stderr


def test_run_with_a_bad_on_budget_exceeded(project: Path, two_graphs: Path) -> None:
    result = orca(project, "run", f"{two_graphs}:a", "--on-budget-exceeded", "explode")
    assert result.exit_code in (USAGE, CONFIG)
    assert "'explode'" in result.stderr


def test_run_without_a_workflow(project: Path) -> None:
    result = orca(project, "run", code=USAGE)
    assert "no workflow given" in result.stderr


def test_run_without_a_workflow_names_the_config_section(project: Path) -> None:
    result = orca(project, "run", code=USAGE)
    assert "[workflow] default" in result.stderr


def test_run_uses_the_configured_default_workflow(project: Path, two_graphs: Path) -> None:
    (project / ".orca").mkdir(exist_ok=True)
    (project / ".orca" / "orca.toml").write_text(f'[workflow]\ndefault = "{two_graphs}:a"\n')
    out = data(orca(project, "run", "--input", '{"x": 0}', "--json", code=OK))
    assert (out["workflow"], out["values"]) == ("a", {"x": 1})


def test_a_bad_config_file_stops_the_run(project: Path, two_graphs: Path) -> None:
    (project / ".orca").mkdir(exist_ok=True)
    toml = project / ".orca" / "orca.toml"
    toml.write_text("[llm]\nmax_tokens = 100\nbogus_key = 1\n")
    result = orca(project, "run", f"{two_graphs}:a", "--input", '{"x": 0}', code=CONFIG)
    assert str(toml) in result.stderr
    assert "bogus_key" in result.stderr
    toml.write_text("[execution]\nmax_stepz = 3\n")
    result = orca(project, "run", f"{two_graphs}:a", "--input", '{"x": 0}', code=CONFIG)
    assert "max_stepz" in result.stderr
    assert "did you mean 'max_steps'" in result.stderr
    toml.write_text("[llm\n")
    result = orca(project, "run", f"{two_graphs}:a", "--input", '{"x": 0}', code=CONFIG)
    assert "not valid TOML" in result.stderr


def test_a_bad_config_key_error_names_the_section(project: Path, two_graphs: Path) -> None:
    (project / ".orca").mkdir(exist_ok=True)
    (project / ".orca" / "orca.toml").write_text("[llm]\nbogus_key = 1\n")
    result = orca(project, "run", f"{two_graphs}:a", code=CONFIG)
    assert "[llm] takes" in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["runs", "show", "run-nosuch"],
        ["runs", "resume", "run-nosuch"],
        ["runs", "history", "run-nosuch"],
        ["runs", "fork", "run-nosuch", "--checkpoint", "c"],
    ],
)
def test_runs_of_an_unknown_run(project: Path, command: list[str]) -> None:
    result = orca(project, *command, code=CONFIG)
    assert "no run 'run-nosuch' in this project" in result.stderr


def test_runs_list_on_a_new_project(project: Path) -> None:
    assert data(orca(project, "runs", "list", "--json", code=OK)) == []
    assert "no runs yet" in orca(project, "runs", "list", code=OK).stdout
    orca(project, "runs", "list", "--limit", "0", code=USAGE)
    orca(project, "runs", "fork", "run-x", code=USAGE)  # --checkpoint is required


def test_a_corrupt_user_database(project: Path, home: Path) -> None:
    db = home / "orca.db"
    db.write_bytes(b"this is not a database, " * 200)
    for command in (
        ["budget", "list"],
        ["profile", "list", "--json"],
        ["pricing", "list"],
        ["usage", "report"],
    ):
        result = orca(project, *command, code=DATABASE)
        assert str(db) in result.stderr
        assert "damaged or not SQLite" in result.stderr
    found = checks(orca(project, "doctor", "--json", code=FAILED))
    assert found["user db"]["status"] == "fail"
    assert str(db) in found["user db"]["detail"]


def test_a_corrupt_project_database(project: Path) -> None:
    (project / ".orca").mkdir(exist_ok=True)
    db = project / ".orca" / "project.db"
    db.write_bytes(b"\x00garbage" * 512)
    result = orca(project, "runs", "list", code=DATABASE)
    assert str(db) in result.stderr
    assert checks(orca(project, "doctor", "--json", code=FAILED))["project db"]["status"] == "fail"


def test_a_project_option_naming_a_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = orca(missing, "runs", "list", code=CONFIG)
    assert "does not exist" in result.stderr
    assert not missing.exists()


# -- orca run and orca runs with the tiny model -------------------------------------------------


def test_run_pauses_at_the_review_then_resumes_to_the_end(tiny: Path, model: Path) -> None:
    orca(tiny, "budget", "create", "wallet", "--amount", "5", code=OK)
    out = start_research(tiny)
    run_id, cost = out["run_id"], out["cost_nano_usd"]
    assert run_id.startswith("run-")
    assert (out["status"], out["workflow"], out["error"]) == ("interrupted", "research", None)
    assert cost > 0
    by = {row["node"]: row for row in out["by"]}
    assert set(by) == {"plan", "worker", "review"}
    assert (by["plan"]["role"], by["plan"]["llm_calls"]) == ("planner", 1)
    assert (by["worker"]["role"], by["worker"]["llm_calls"]) == ("worker", 4)
    assert (by["review"]["role"], by["review"]["llm_calls"]) == ("planner", 1)
    assert {row["model"] for row in out["by"]} == {f"llamacpp/{model.name}"}
    assert sum(row["cost_nano_usd"] for row in out["by"]) == cost
    assert out["llm_calls"] == 6
    assert out["input_tokens"] == sum(row["input_tokens"] for row in out["by"])
    [interrupt] = out["interrupts"]
    assert interrupt["node"] == "review"
    assert interrupt["value"]["question"] == "approve these findings?"
    assert len(out["values"]["findings"]) == 4
    assert out["values"]["subtasks"][0] == "x: history"
    [before] = out["budgets_before"]
    [after] = out["budgets_after"]
    assert before["spent"] == 0
    assert (after["name"], after["spent"], after["reserved"]) == ("wallet", cost, 0)

    [listed] = data(orca(tiny, "runs", "list", "--json", code=OK))
    assert (listed["run_id"], listed["status"], listed["workflow"]) == (
        run_id,
        "interrupted",
        "research",
    )
    assert (listed["thread_id"], listed["cost_nano_usd"], listed["steps"]) == (
        out["thread_id"],
        cost,
        out["steps"],
    )
    assert data(orca(tiny, "runs", "list", "--status", "done", "--json")) == []

    shown = data(orca(tiny, "runs", "show", run_id, "--json", code=OK))
    assert (shown["run_id"], shown["status"]) == (run_id, "interrupted")
    assert shown["cost_nano_usd"] == cost
    assert shown["source"] == str(EXAMPLE)
    assert [(t["node"], t["status"]) for t in shown["tasks"]] == [
        ("plan", "done"),
        *[("worker", "done")] * 4,
        ("review", "interrupted"),
    ]
    assert {(u["node"], u["role"]) for u in shown["usage"]} == {
        ("plan", "planner"),
        ("worker", "worker"),
        ("review", "planner"),
    }
    assert sum(u["cost_nano_usd"] for u in shown["usage"]) == cost
    assert data(orca(tiny, "runs", "show", run_id[:10], "--json"))["run_id"] == run_id  # a prefix

    history = data(orca(tiny, "runs", "history", run_id, "--json", code=OK))
    assert len(history) >= 3
    steps = [h["step"] for h in history]
    assert steps == sorted(steps, reverse=True)  # newest first
    assert history[0]["next"] == ["review"]
    assert history[-1]["next"] == ["plan"]
    assert history[-1]["parent_id"] is None
    assert ["worker"] * 4 in [h["next"] for h in history]

    done = data(orca(tiny, "runs", "resume", run_id, "--value", "true", "--json", code=OK))
    assert (done["status"], done["thread_id"]) == ("done", out["thread_id"])
    assert done["values"]["verdict"] == "approved"
    assert done["interrupts"] == []
    assert done["run_id"] != run_id
    # only what had not finished ran again: the review, whose call was answered from its
    # record (paid once, in the first run)
    assert done["by"] == []
    assert (done["llm_calls"], done["cached_calls"], done["cost_nano_usd"]) == (0, 1, 0)
    second = data(orca(tiny, "runs", "show", done["run_id"], "--json", code=OK))
    assert (second["parent_run_id"], second["status"]) == (run_id, "done")
    assert len(data(orca(tiny, "runs", "list", "--json"))) == 2
    assert data(orca(tiny, "runs", "list", "--limit", "1", "--json"))[0]["run_id"] == done["run_id"]

    finished = orca(tiny, "runs", "resume", run_id, "--value", "true", code=CONFIG)
    assert "finished" in finished.stderr
    ambiguous = orca(tiny, "runs", "show", "run-", code=USAGE)
    assert "ambiguous" in ambiguous.stderr
    total = cost + done["cost_nano_usd"]
    wallet = data(orca(tiny, "budget", "status", "--json", code=OK))
    assert (wallet["spent"], wallet["reserved"]) == (total, 0)


def test_run_and_runs_print_for_people(tiny: Path) -> None:
    result = orca(tiny, "run", EXAMPLE, "--input", TOPIC, code=INTERRUPTED)
    assert "step 1: plan" in result.stdout
    assert "step 2: worker, worker, worker, worker" in result.stdout
    assert "Cost by node, role and model" in result.stdout
    assert "paused at review" in result.stdout
    assert "answer with: orca runs resume run-" in result.stdout
    [run] = data(orca(tiny, "runs", "list", "--json"))
    assert f"run {run['run_id']} on thread {run['thread_id']}: interrupted" in result.stdout
    assert run["run_id"] in orca(tiny, "runs", "list", code=OK).stdout
    shown = orca(tiny, "runs", "show", run["run_id"], code=OK).stdout
    assert f"run {run['run_id']} (research" in shown
    assert "Tasks" in shown
    assert "Cost" in shown
    history = orca(tiny, "runs", "history", run["run_id"], code=OK).stdout
    assert f"History of thread {run['thread_id']}" in history
    resumed = orca(tiny, "runs", "resume", run["run_id"], "--value", "false", code=OK)
    assert ": done in" in resumed.stdout


def test_runs_resume_refuses_a_bad_value(tiny: Path) -> None:
    out = start_research(tiny)
    result = orca(tiny, "runs", "resume", out["run_id"], "--value", "{bad", code=USAGE)
    assert "--value is not valid JSON" in result.stderr
    rejected = data(orca(tiny, "runs", "resume", out["run_id"], "--value", "false", "--json"))
    assert rejected["values"]["verdict"] == "rejected"


def test_runs_fork_branches_from_an_earlier_checkpoint(tiny: Path) -> None:
    out = start_research(tiny)
    history = data(orca(tiny, "runs", "history", out["run_id"], "--json", code=OK))
    [before_workers] = [h for h in history if h["next"] == ["worker"] * 4]
    branch = data(
        orca(
            tiny,
            "runs",
            "fork",
            out["run_id"],
            "--checkpoint",
            before_workers["checkpoint_id"],
            "--update",
            '{"topic": "forked"}',
            "--json",
            code=INTERRUPTED,
        )
    )
    assert branch["thread_id"] != out["thread_id"]
    assert branch["run_id"] != out["run_id"]
    assert branch["status"] == "interrupted"
    assert branch["values"]["topic"] == "forked"
    nodes = {row["node"]: row["llm_calls"] for row in branch["by"]}
    assert nodes == {"worker": 4, "review": 1}  # the plan is not run again
    assert branch["cost_nano_usd"] > 0
    shown = data(orca(tiny, "runs", "show", branch["run_id"], "--json"))
    assert shown["parent_run_id"] == out["run_id"]
    # the original thread is untouched
    again = data(orca(tiny, "runs", "history", out["run_id"], "--json"))
    assert [h["checkpoint_id"] for h in again] == [h["checkpoint_id"] for h in history]
    approved = data(orca(tiny, "runs", "resume", branch["run_id"], "--value", "true", "--json"))
    assert (approved["status"], approved["values"]["verdict"]) == ("done", "approved")

    onto = data(
        orca(
            tiny,
            "runs",
            "fork",
            out["run_id"],
            "--checkpoint",
            before_workers["checkpoint_id"],
            "--thread",
            "t-mine",
            "--json",
            code=INTERRUPTED,
        )
    )
    assert onto["thread_id"] == "t-mine"
    assert onto["values"]["topic"] == "x"


@pytest.mark.parametrize(
    ("more", "code", "needle"),
    [
        (["--checkpoint", "nosuch"], CONFIG, "checkpoint 'nosuch'"),
        (["--checkpoint", "C", "--update", "[1]"], USAGE, "--update must be a JSON object"),
        (["--checkpoint", "C", "--update", "{bad"], USAGE, "--update is not valid JSON"),
    ],
)
def test_runs_fork_refuses_bad_input(tiny: Path, more: list[str], code: int, needle: str) -> None:
    out = start_research(tiny)
    first = data(orca(tiny, "runs", "history", out["run_id"], "--json"))[-1]["checkpoint_id"]
    args = [first if a == "C" else a for a in more]
    result = orca(tiny, "runs", "fork", out["run_id"], *args, code=code)
    assert needle in result.stderr
    assert len(data(orca(tiny, "runs", "list", "--json"))) == 1


def test_reprice_and_usage_report_after_a_run(tiny: Path, model: Path) -> None:
    out = start_research(tiny)
    run_id, cost = out["run_id"], out["cost_nano_usd"]
    repriced = data(
        orca(tiny, "pricing", "reprice", run_id, "--as", "openai/gpt-4o-mini", "--json", code=OK)
    )
    assert (repriced["run_id"], repriced["llm_calls"], repriced["priced"]) == (run_id, 6, True)
    assert repriced["original_nano_usd"] == cost
    assert 0 < repriced["repriced_nano_usd"] < cost  # gpt-4o-mini is far cheaper than $50/$200
    assert repriced["as"] == "openai/gpt-4o-mini"
    human = orca(tiny, "pricing", "reprice", run_id, "--as", "openai/gpt-4o-mini", code=OK)
    assert f"run {run_id}: 6 calls cost" in human.stdout
    unknown = data(orca(tiny, "pricing", "reprice", run_id, "--as", "openai/no-such-9", "--json"))
    assert (unknown["priced"], unknown["repriced_nano_usd"]) == (False, 0)
    assert (
        "no price known" in orca(tiny, "pricing", "reprice", run_id, "--as", "openai/no-9").stdout
    )

    expected = {
        "node": {"plan", "worker", "review"},
        "role": {"planner", "worker"},
        "model": {f"llamacpp/{model.name}"},
        "run": {run_id},
        "workflow": {"research"},
    }
    for by, keys in expected.items():
        rows = data(orca(tiny, "usage", "report", "--by", by, "--since", "7d", "--json", code=OK))
        assert {r["key"] for r in rows} == keys, by
        assert sum(r["cost_nano_usd"] for r in rows) == cost
        assert sum(r["llm_calls"] for r in rows) == 6
        assert all(r["unpriced_calls"] == 0 for r in rows)
    [day] = data(orca(tiny, "usage", "report", "--by", "day", "--since", "7d", "--json"))
    assert day["cost_nano_usd"] == cost
    roles = data(orca(tiny, "usage", "report", "--by", "role", "--json"))
    by_role = {r["key"]: r["llm_calls"] for r in roles}
    assert by_role == {"planner": 2, "worker": 4}
    only = data(orca(tiny, "usage", "report", "--run", run_id, "--by", "node", "--json"))
    assert sum(r["llm_calls"] for r in only) == 6
    assert data(orca(tiny, "usage", "report", "--run", "run-other", "--json")) == []
    assert (
        data(
            orca(
                tiny,
                "usage",
                "report",
                "--since",
                "2000-01-01",
                "--until",
                "2000-01-02",
                "--json",
                code=OK,
            )
        )
        == []
    )
    table = orca(tiny, "usage", "report", "--by", "node", code=OK).stdout
    assert "Usage by node" in table
    assert "worker" in table


# a budget that affords the plan (~$0.026 asked, its whole request bounded) but not a
# worker on top of what the plan spent (~$0.0075 + ~$0.024 asked)
TIGHT = "0.028"
TIGHT_NANO = 28_000_000


def test_a_run_takes_its_holds_ttl_from_the_config(tiny: Path, home: Path) -> None:
    import sqlite3

    toml = tiny / ".orca" / "orca.toml"
    toml.write_text(toml.read_text().replace("[budget]\n", "[budget]\nhold_ttl = 7\n", 1))
    orca(tiny, "budget", "create", "roomy", "--amount", "100", code=OK)
    start_research(tiny)
    conn = sqlite3.connect(home / "orca.db")
    try:
        lived = conn.execute(
            "SELECT MIN((julianday(expires_at) - julianday(created_at)) * 86400) FROM holds"
        ).fetchone()[0]
    finally:
        conn.close()
    assert lived == pytest.approx(7, abs=0.01)  # (a call past 7 / 3 s renews its hold)


def test_a_block_budget_too_small_for_the_workers_stops_the_run(tiny: Path) -> None:
    orca(tiny, "budget", "create", "tight", "--amount", TIGHT, code=OK)
    out = start_research(tiny, "--budget", "tight", code=BUDGET)
    assert out["status"] == "failed"
    assert out["error"]["type"] == "BudgetExceeded"
    assert "budget 'tight' cannot afford this call" in out["error"]["message"]
    assert [row["node"] for row in out["by"]] == ["plan"]
    [after] = out["budgets_after"]
    assert after["name"] == "tight"
    assert 0 < after["spent"] <= after["limit"] == TIGHT_NANO
    assert after["reserved"] == 0
    [run] = data(orca(tiny, "runs", "list", "--json"))
    assert run["status"] == "failed"
    shown = data(orca(tiny, "runs", "show", run["run_id"], "--json"))
    assert "cannot afford" in shown["error"]
    assert shown["budget"] == "tight"

    human = orca(tiny, "run", EXAMPLE, "--input", TOPIC, "--budget", "tight", code=BUDGET)
    assert "cannot afford" in human.stderr
    assert "raise the budget, then: orca runs resume run-" in human.stderr

    # raised, the failed run carries on from where it stopped
    orca(tiny, "budget", "raise", "tight", "--by", "1", code=OK)
    resumed = data(orca(tiny, "runs", "resume", run["run_id"], "--json", code=INTERRUPTED))
    assert {row["node"] for row in resumed["by"]} == {"worker", "review"}
    assert resumed["interrupts"][0]["node"] == "review"
    status = data(orca(tiny, "budget", "status", "tight", "--json", code=OK))
    assert status["spent"] <= status["limit"]
    assert status["reserved"] == 0


def test_a_paused_run_continues_after_the_budget_is_raised(tiny: Path) -> None:
    orca(tiny, "budget", "create", "tight", "--amount", TIGHT, "--activate", code=OK)
    out = start_research(tiny, "--on-budget-exceeded", "pause", code=INTERRUPTED)
    assert out["status"] == "interrupted"
    assert out["error"] is None
    stops = [i["value"] for i in out["interrupts"]]
    assert stops
    assert all(v["reason"] == "budget_exceeded" and v["budget"] == "tight" for v in stops)
    assert all(v["limit"] == TIGHT_NANO for v in stops)
    [after] = out["budgets_after"]
    assert 0 < after["spent"] <= after["limit"]
    run_id = out["run_id"]
    shown = data(orca(tiny, "runs", "show", run_id, "--json"))
    assert (shown["on_budget_exceeded"], shown["status"]) == ("pause", "interrupted")
    human = orca(tiny, "runs", "show", run_id, code=OK)
    assert "interrupted" in human.stdout

    status = data(orca(tiny, "budget", "status", "--json", code=OK))
    assert status["spent"] == out["cost_nano_usd"] <= status["limit"]

    orca(tiny, "budget", "raise", "tight", "--by", "1", code=OK)
    resumed = data(orca(tiny, "runs", "resume", run_id, "--json", code=INTERRUPTED))
    assert [i["node"] for i in resumed["interrupts"]] == ["review"]  # the workers went through
    assert resumed["interrupts"][0]["value"]["question"] == "approve these findings?"
    assert len(resumed["values"]["findings"]) == 4
    done = data(
        orca(tiny, "runs", "resume", resumed["run_id"], "--value", "true", "--json", code=OK)
    )
    assert done["values"]["verdict"] == "approved"

    status = data(orca(tiny, "budget", "status", "--json", code=OK))
    total = out["cost_nano_usd"] + resumed["cost_nano_usd"] + done["cost_nano_usd"]
    assert status["spent"] == total <= status["limit"]
    assert status["reserved"] == 0
    runs = data(orca(tiny, "runs", "list", "--json"))
    assert sum(r["cost_nano_usd"] for r in runs) == total


def test_a_paused_run_prints_how_to_continue(tiny: Path) -> None:
    orca(tiny, "budget", "create", "tight", "--amount", TIGHT, code=OK)
    result = orca(
        tiny,
        "run",
        EXAMPLE,
        "--input",
        TOPIC,
        "--budget",
        "tight",
        "--on-budget-exceeded",
        "pause",
        code=INTERRUPTED,
    )
    assert "paused:" in result.stdout
    assert "cannot afford" in result.stdout
    assert "raise the budget, then: orca runs resume run-" in result.stdout


# -- run limits -----------------------------------------------------------------------------------


def test_cost_limit_is_a_block_budget_for_that_run_only(tiny: Path) -> None:
    result = orca(tiny, "run", EXAMPLE, "--input", TOPIC, "--cost-limit", "0.01", "--json", code=4)
    out = data(result)
    assert out["error"]["type"] == "BudgetExceeded"
    [limit] = [b for b in out["budgets_after"] if b["scope"] == "run"]
    assert limit["scope_ref"] == out["run_id"]
    assert limit["name"] == f"{out['run_id']}-cost"
    assert limit["spent"] <= limit["limit"] == 10_000_000
    assert limit["reserved"] == 0
    # the next run is not held to it
    again = data(orca(tiny, "run", EXAMPLE, "--input", TOPIC, "--json", code=5))
    assert all(b["scope"] != "run" for b in again["budgets_after"])


def test_token_limit_counts_input_and_output_tokens(tiny: Path) -> None:
    out = data(
        orca(tiny, "run", EXAMPLE, "--input", TOPIC, "--token-limit", "200", "--json", code=4)
    )
    [limit] = [b for b in out["budgets_after"] if b["scope"] == "run"]
    assert limit["unit"] == "tokens"
    assert limit["spent"] == out["input_tokens"] + out["output_tokens"] <= 200


def test_time_limit_is_the_run_deadline(tiny: Path) -> None:
    result = orca(tiny, "run", EXAMPLE, "--input", TOPIC, "--time-limit", "0.001", "--json", code=1)
    assert data(result)["error"]["type"] == "RunTimeoutError"


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["--cost-limit", "0"], 2),
        (["--cost-limit", "lots"], 2),
        (["--token-limit", "0"], 2),
        (["--time-limit", "-1"], 2),
    ],
)
def test_bad_run_limits_are_refused(tiny: Path, args: list[str], code: int) -> None:
    orca(tiny, "run", EXAMPLE, "--input", TOPIC, *args, code=code)


def test_budgets_of_single_runs_are_listed_only_with_all(tiny: Path) -> None:
    orca(tiny, "run", EXAMPLE, "--input", TOPIC, "--cost-limit", "5", code=5)
    shown = {b["scope"] for b in data(orca(tiny, "budget", "list", "--json", code=0))}
    every = {b["scope"] for b in data(orca(tiny, "budget", "list", "--all", "--json", code=0))}
    assert "run" not in shown
    assert "run" in every


# -- tools --------------------------------------------------------------------------------------


def test_tools_list_shows_what_the_policy_allows(project: Path) -> None:
    (project / ".orca").mkdir(exist_ok=True)
    (project / ".orca" / "orca.toml").write_text('[tools]\ndeny = ["shell"]\ndomains = ["x.org"]\n')
    listed = data(orca(project, "tools", "list", "--json", code=0))
    allowed = {t["tool"]: t["allowed"] for t in listed["tools"]}
    assert allowed["shell"] is False
    assert allowed["files_write"] is True
    assert listed["domains"] == ["x.org"]


def test_a_run_audits_its_workflows_tool_calls(tiny: Path) -> None:
    run = data(orca(tiny, "run", EXAMPLE, "--input", TOPIC, "--json", code=5))
    log = data(orca(tiny, "tools", "log", "--run", run["run_id"], "--json", code=0))
    assert len(log) == 4  # one note per worker
    assert {e["tool"] for e in log} == {"files_write"}
    assert {e["status"] for e in log} == {"ok"}
    assert {e["node"] for e in log} == {"worker"}
    assert sorted(p.name for p in (tiny / "notes").iterdir()) == [
        "architecture.md",
        "cost.md",
        "failure-modes.md",
        "history.md",
    ]
    only = data(orca(tiny, "tools", "log", "--tool", "shell", "--json", code=0))
    assert only == []


def test_a_denied_tool_fails_the_workflow_run_and_is_audited(tiny: Path) -> None:
    (tiny / ".orca" / "orca.toml").write_text('[tools]\ndeny = ["files_write"]\n')
    run = data(orca(tiny, "run", EXAMPLE, "--input", TOPIC, "--json", code=1))
    assert run["error"]["type"] == "ToolError"
    assert "denied" in run["error"]["message"]
    log = data(orca(tiny, "tools", "log", "--status", "denied", "--json", code=0))
    assert log
    assert all(e["tool"] == "files_write" for e in log)
    assert not (tiny / "notes").exists()


# -- the event log ----------------------------------------------------------------------------


def test_runs_events_reads_the_log_in_order_and_filters(tiny: Path) -> None:
    run = data(orca(tiny, "run", EXAMPLE, "--input", TOPIC, "--json", code=5))
    every = data(orca(tiny, "runs", "events", run["run_id"], "--json", code=0))
    seqs = [e["seq"] for e in every]
    assert seqs == sorted(seqs)
    assert every[0]["type"] == "run.started"
    assert every[-1]["type"] == "run.finished"
    assert "token" not in {e["type"] for e in every}
    usage = data(orca(tiny, "runs", "events", run["run_id"][:12], "--type", "usage", "--json"))
    assert len(usage) == run["llm_calls"]
    assert sum(e["cost_nano_usd"] for e in usage) == run["cost_nano_usd"]
    window = data(
        orca(
            tiny,
            "runs",
            "events",
            run["run_id"],
            "--from",
            "3",
            "--to",
            "40",
            "--max",
            "5",
            "--json",
        )
    )
    assert len(window) <= 5
    assert all(3 <= e["seq"] < 40 for e in window)
    text = orca(tiny, "runs", "events", run["run_id"], "--type", "step.started", code=0).stdout
    assert "worker, worker, worker, worker" in text
    answers = orca(tiny, "runs", "events", run["run_id"], "--type", "llm.response").stdout
    answered = [line for line in answers.splitlines() if "llm.response" in line]
    assert len(answered) == run["llm_calls"]
    assert "llamacpp/" in answers
    # a finished run: --follow ends by itself
    followed = orca(tiny, "runs", "events", run["run_id"], "--follow", "--json", code=0).stdout
    assert len(followed.splitlines()) == len(every)


def test_runs_events_bad_input(tiny: Path) -> None:
    orca(tiny, "runs", "events", "run-nosuch", code=3)
    orca(tiny, "runs", "events", "x", "--type", "tokenz", code=2)
    orca(tiny, "runs", "events", "x", "--since", "yesterday-ish", code=2)


def test_runs_inspect_shows_each_step_with_cost(tiny: Path) -> None:
    run = data(orca(tiny, "run", EXAMPLE, "--input", TOPIC, "--json", code=5))
    seen = data(orca(tiny, "runs", "inspect", run["run_id"], "--json", code=0))
    assert seen["status"] == "interrupted"
    assert [s["step"] for s in seen["steps"]] == [1, 2, 3]
    assert [t["node"] for t in seen["steps"][1]["tasks"]] == ["worker"] * 4
    assert all(t["status"] == "done" and t["tools"] == 1 for t in seen["steps"][1]["tasks"])
    assert seen["steps"][2]["tasks"][0]["status"] == "interrupted"
    assert seen["cost_nano_usd"] == run["cost_nano_usd"]
    assert sum(t["llm_calls"] for s in seen["steps"] for t in s["tasks"]) == run["llm_calls"]
    text = orca(tiny, "runs", "inspect", run["run_id"], code=0).stdout
    assert "Timeline" in text
    orca(tiny, "runs", "inspect", "run-nosuch", code=3)


def test_a_failed_run_is_inspected_with_its_error(tiny: Path) -> None:
    (tiny / ".orca" / "orca.toml").write_text('[tools]\ndeny = ["files_write"]\n')
    run = data(orca(tiny, "run", EXAMPLE, "--input", TOPIC, "--json", code=1))
    seen = data(orca(tiny, "runs", "inspect", run["run_id"], "--json", code=0))
    assert seen["status"] == "failed"
    assert "ToolError" in seen["error"]
    assert {t["status"] for t in seen["steps"][1]["tasks"]} == {"failed"}


def test_prune_removes_finished_threads_and_keeps_paused_ones(tiny: Path, two_graphs: Path) -> None:
    paused = data(orca(tiny, "run", EXAMPLE, "--input", TOPIC, "--json", code=5))
    done = data(orca(tiny, "run", f"{two_graphs}:a", "--input", '{"x": 1}', "--json", code=0))
    recent = data(orca(tiny, "runs", "prune", "--older-than", "1d", "--json", code=0))
    assert recent["removed"] == []  # nothing finished a day ago
    dry = data(orca(tiny, "runs", "prune", "--older-than", "0h", "--dry-run", "--json", code=0))
    assert dry["removed"] == [done["thread_id"]]
    assert {k["thread_id"]: k["reason"] for k in dry["kept"]} == {
        paused["thread_id"]: "interrupted"
    }
    assert len(data(orca(tiny, "runs", "list", "--json"))) == 2  # a dry run changes nothing
    pruned = data(orca(tiny, "runs", "prune", "--older-than", "0h", "--json", code=0))
    assert pruned["removed"] == [done["thread_id"]]
    assert [r["run_id"] for r in data(orca(tiny, "runs", "list", "--json"))] == [paused["run_id"]]
    orca(tiny, "runs", "events", done["run_id"], code=3)  # its events went with it
    resumed = data(orca(tiny, "runs", "resume", paused["run_id"], "--value", "true", "--json"))
    assert resumed["status"] == "done"
    orca(tiny, "runs", "prune", "--older-than", "soon", code=2)


def test_runs_trace_writes_a_file_perfetto_or_jaeger_opens(tiny: Path, tmp_path: Path) -> None:
    run = data(orca(tiny, "run", EXAMPLE, "--input", TOPIC, "--json", code=5))
    chrome = tmp_path / "run.trace.json"
    wrote = data(orca(tiny, "runs", "trace", run["run_id"], "-o", chrome, "--json", code=0))
    doc = json.loads(chrome.read_text())
    assert wrote["spans"] == sum(1 for e in doc["traceEvents"] if e["ph"] == "X")
    assert {e["cat"] for e in doc["traceEvents"] if e["ph"] == "X"} >= {
        "run",
        "step",
        "task",
        "llm",
    }
    otlp = tmp_path / "run.otlp.json"
    orca(tiny, "runs", "trace", run["run_id"], "--format", "otlp-json", "-o", otlp, code=0)
    spans = json.loads(otlp.read_text())["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert any(a["key"] == "gen_ai.request.model" for s in spans for a in s["attributes"])
    orca(tiny, "runs", "trace", run["run_id"], "--format", "svg", code=2)
    orca(tiny, "runs", "trace", "run-nosuch", code=3)


# -- tenants ------------------------------------------------------------------------------


def test_tenants_are_registered_listed_disabled_and_acted_for(project: Path, home: Path) -> None:
    orca(project, "tenant", "create", "acme", "--display-name", "Acme Corp", code=0)
    assert "--tenant globex" in orca(project, "tenant", "create", "globex", code=0).stdout
    listed = data(orca(project, "tenant", "list", "--json", code=0))
    assert [(t["name"], t["display_name"]) for t in listed] == [
        ("default", "Default"), ("acme", "Acme Corp"), ("globex", "")
    ]  # fmt: skip
    again = orca(project, "tenant", "create", "acme", code=3)
    assert "a tenant is named 'acme'" in again.stderr
    for bad in ("Acme", "../x", "a b", "_x", "x" * 41):
        refused = orca(project, "tenant", "create", bad, code=3)
        assert "lowercase letters" in refused.stderr
    # acting for a tenant: its own budgets, apart from the default tenant's
    orca(project, "--tenant", "acme", "budget", "create", "team", "--amount", "5", code=0)
    assert [b["name"] for b in data(orca(project, "--tenant", "acme", "budget", "list",
                                         "--json", code=0))] == ["team"]  # fmt: skip
    # (in one process --tenant stays in ORCA_TENANT, as --store in ORCA_STORE: say it)
    assert data(orca(project, "--tenant", "default", "budget", "list", "--json", code=0)) == []
    assert (home / "tenants" / "acme" / "orca.db").is_file()
    # a tenant that is not registered, or not a name, is refused before anything runs
    for bad, said in (("nobody", "orca tenant create nobody"), ("NO", "lowercase")):
        refused = orca(project, "--tenant", bad, "budget", "list", code=2)
        assert said in refused.stderr
    assert not (home / "tenants" / "nobody").exists()
    off = data(orca(project, "tenant", "disable", "globex", "--json", code=0))
    assert off["disabled_at"]
    assert "enabled" in orca(project, "tenant", "enable", "globex", code=0).stdout
    assert "cannot be disabled" in orca(project, "tenant", "disable", "default", code=3).stderr


def test_tokens_belong_to_a_tenant(project: Path) -> None:
    orca(project, "tenant", "create", "acme", code=0)
    made = data(orca(project, "token", "create", "bot", "--tenant", "acme", "--scope", "run",
                     "--json", code=0))  # fmt: skip
    assert (made["tenant"], made["scope"]) == ("acme", "run")
    orca(project, "token", "create", "bot", "--json", code=0)  # the default tenant's bot
    listed = data(orca(project, "token", "list", "--json", code=0))
    assert [t["tenant"] for t in listed] == ["default"]
    every = data(orca(project, "token", "list", "--all-tenants", "--json", code=0))
    assert sorted(t["tenant"] for t in every) == ["acme", "default"]
    # --tenant of the whole command line chooses the tenant too
    mine = data(orca(project, "--tenant", "acme", "token", "list", "--json", code=0))
    assert [t["id"] for t in mine] == [made["id"]]
    orca(project, "--tenant", "default", "token", "list", code=0)
    refused = orca(project, "token", "create", "x", "--tenant", "nobody", code=3)
    assert "orca tenant create nobody" in refused.stderr
    orca(project, "token", "revoke", "bot", "--tenant", "acme", code=0)
    assert data(orca(project, "token", "list", "--tenant", "acme", "--json", code=0)) == []
