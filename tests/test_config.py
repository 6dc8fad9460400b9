"""Layered configuration: ``$ORCA_HOME/orca.toml`` under ``<project>/.orca/orca.toml``
under command-line overrides, ``${VAR}`` expansion, API keys kept as references, every
bad value a ``ConfigError`` naming the file and the key, profiles, and the ``[budget]``
budget created on first use. Every test writes real TOML files under ``tmp_path``."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from textwrap import dedent

import pytest

from orca.config import Config, load_config
from orca.errors import (
    ConfigError,
    MissingAPIKeyError,
    ProviderUnreachableError,
    UnknownProfileError,
)
from orca.llm import ChatRequest, Message, ModelSpec, Profile, Profiles
from orca.store import SqliteStore, find_project, user_store

SECRET = "sk-secret-value-4242"

SEED_EXAMPLE = """
[llm]
provider = "anthropic"
model = "claude-3-5-sonnet-20241022"
api_key = "${ANTHROPIC_API_KEY}"
api_base = "https://api.anthropic.com"
temperature = 0.7
max_tokens = 1000

[execution]
streaming = true
workspace_root = "./workspace"
max_concurrent_tasks = 5
task_timeout = 300
max_iterations = 10

[budget]
type = "credit"
amount = 500.0
enforcement = "block"

[workflow]

[logging]
level = "info"
format = "json"
colored = true
timestamps = true
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ORCA_HOME folder."""
    where = tmp_path / "orca-home"
    where.mkdir()
    monkeypatch.setenv("ORCA_HOME", str(where))
    return where


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: Path) -> Path:
    """A project folder holding ``.orca``, made the working directory."""
    where = (tmp_path / "proj").resolve()
    (where / ".orca").mkdir(parents=True)
    monkeypatch.chdir(where)
    return where


@pytest.fixture
def store(home: Path) -> Iterator[SqliteStore]:
    """The user database under the temporary ORCA_HOME."""
    with user_store() as opened:
        yield opened


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text), encoding="utf-8")
    return path


def user_file(home: Path, text: str) -> Path:
    return write(home / "orca.toml", text)


def project_file(project: Path, text: str) -> Path:
    return write(project / ".orca" / "orca.toml", text)


def config_error(**kwargs: object) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(**kwargs)  # type: ignore[arg-type]
    return info.value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


# -- layering ---------------------------------------------------------------------------------


def test_without_files_every_setting_is_its_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    config = load_config()
    assert config == Config()
    assert config.sources == []
    assert config.llm.max_tokens == 1024
    assert config.llm.api_key is None
    assert config.execution.streaming is True
    assert config.execution.max_steps == 100
    assert config.execution.max_iterations == 5
    assert config.execution.durability == "sync"
    assert config.budget.name == "default"
    assert config.budget.amount is None
    assert config.budget.enforcement == "block"
    assert config.budget.thresholds == [80, 100]
    assert config.workflow.default is None
    assert config.logging.level == "info"
    assert config.logging.format == "human"
    assert config.profiles == {}
    assert config.profile() is None


def test_the_user_file_alone_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    path = user_file(
        home,
        """
        [execution]
        max_steps = 7
        [logging]
        level = "debug"
        """,
    )
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config.execution.max_steps == 7
    assert config.logging.level == "debug"
    assert config.execution.max_iterations == 5  # untouched keys keep their defaults
    assert config.sources == [str(path)]


def test_the_project_file_wins_over_the_user_file_key_by_key(home: Path, project: Path) -> None:
    user = user_file(
        home,
        """
        [execution]
        max_steps = 7
        max_iterations = 3
        [budget]
        name = "mine"
        enforcement = "warn"
        """,
    )
    proj = project_file(
        project,
        """
        [execution]
        max_steps = 20
        [budget]
        name = "team"
        """,
    )
    config = load_config()
    assert config.execution.max_steps == 20  # the project file wins
    assert config.execution.max_iterations == 3  # a key only in the user file survives
    assert config.budget.name == "team"
    assert config.budget.enforcement == "warn"
    assert config.sources == [str(user), str(proj)]  # user first


def test_overrides_win_over_both_files_and_none_overrides_are_ignored(
    home: Path, project: Path
) -> None:
    user_file(home, '[budget]\nname = "mine"\n[execution]\nmax_steps = 7\n')
    project_file(project, '[budget]\nname = "team"\nenforcement = "warn"\n')
    config = load_config(
        overrides={
            "budget.name": "cli",
            "execution.max_steps": 3,
            "budget.enforcement": None,  # a flag the user did not give
            "logging.level": None,
        }
    )
    assert config.budget.name == "cli"
    assert config.execution.max_steps == 3
    assert config.budget.enforcement == "warn"  # the None override left the file's value
    assert config.logging.level == "info"


def test_overrides_apply_without_any_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    config = load_config(overrides={"execution.durability": "exit", "llm.model": "m"})
    assert config.execution.durability == "exit"
    assert config.llm.model == "m"
    assert config.sources == []


def test_the_project_is_found_from_a_subdirectory(
    home: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = project_file(project, "[execution]\nmax_steps = 9\n")
    deep = project / "src" / "pkg"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert find_project() == project
    config = load_config()
    assert config.execution.max_steps == 9
    assert config.sources == [str(path)]
    # the same from a subdirectory passed explicitly
    assert load_config(deep).execution.max_steps == 9


def test_an_explicit_project_is_read_whatever_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    proj = tmp_path / "other-project"
    path = project_file(proj, "[execution]\nmax_steps = 11\n")
    config = load_config(project=proj)
    assert config.execution.max_steps == 11
    assert config.sources == [str(path.resolve())]
    assert load_config(project=str(proj)).execution.max_steps == 11
    assert load_config().sources == []  # the working directory has no project


def test_a_project_that_does_not_exist_is_a_config_error(tmp_path: Path, home: Path) -> None:
    missing = tmp_path / "no-such-project"
    err = config_error(project=missing)
    assert err.key == "project"
    assert str(missing) in str(err)
    assert not missing.exists()  # nothing was created


def test_a_project_that_is_a_file_is_a_config_error(tmp_path: Path, home: Path) -> None:
    a_file = write(tmp_path / "notes.txt", "hello")
    assert config_error(project=a_file).key == "project"


def test_an_explicit_home_replaces_orca_home(tmp_path: Path, home: Path, project: Path) -> None:
    user_file(home, "[execution]\nmax_steps = 7\n")
    other = write(tmp_path / "other-home" / "orca.toml", "[execution]\nmax_steps = 8\n")
    config = load_config(home=other.parent)
    assert config.execution.max_steps == 8
    assert config.sources == [str(other)]


def test_a_file_that_is_both_user_and_project_file_is_read_once(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = project_file(project, "[execution]\nmax_steps = 4\n")
    monkeypatch.setenv("ORCA_HOME", str(project / ".orca"))
    config = load_config()
    assert config.execution.max_steps == 4
    assert len(config.sources) == 1
    assert Path(config.sources[0]).resolve() == path.resolve()


def test_the_config_is_frozen(home: Path, project: Path) -> None:
    config = load_config()
    with pytest.raises(ValueError, match="frozen"):
        config.execution.max_steps = 1  # type: ignore[misc]


# -- the seed's example -----------------------------------------------------------------------


def test_the_seed_example_config_parses(
    home: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    project_file(project, SEED_EXAMPLE)
    config = load_config()
    llm = config.llm
    assert llm.provider == "anthropic"
    assert llm.model == "claude-3-5-sonnet-20241022"
    assert llm.api_key == "${ANTHROPIC_API_KEY}"  # kept as a reference, even unset
    assert llm.key_env() == "ANTHROPIC_API_KEY"
    assert llm.api_base == "https://api.anthropic.com"
    assert llm.temperature == Decimal("0.7")
    assert llm.max_tokens == 1000
    ex = config.execution
    assert ex.streaming is True
    assert ex.workspace_root == Path("workspace")
    assert ex.max_concurrent_tasks == 5
    assert ex.task_timeout == Decimal(300)
    assert ex.max_iterations == 10
    assert config.budget.type == "credit"
    assert config.budget.enforcement == "block"
    assert config.workflow.default is None
    assert config.logging.level == "info"
    assert config.logging.format == "json"
    assert config.logging.colored is True
    assert config.logging.timestamps is True


def test_money_and_fractions_are_read_as_decimal_never_float(home: Path, project: Path) -> None:
    project_file(project, SEED_EXAMPLE)
    config = load_config(env={})
    amount = config.budget.amount
    assert isinstance(amount, Decimal)
    assert amount == Decimal("500.0")
    assert isinstance(config.llm.temperature, Decimal)
    assert config.llm.temperature == Decimal("0.7")  # exact: Decimal(0.7) would differ
    assert isinstance(config.execution.task_timeout, Decimal)
    assert "500.0" in config.model_dump_json()


def test_an_integer_amount_is_a_decimal_too(home: Path, project: Path) -> None:
    project_file(project, "[budget]\namount = 25\n")
    amount = load_config().budget.amount
    assert isinstance(amount, Decimal)
    assert amount == Decimal(25)


# -- ${VAR} expansion -------------------------------------------------------------------------


def test_variables_expand_from_the_env_parameter(home: Path, project: Path) -> None:
    project_file(
        project,
        """
        [workflow]
        default = "${FLOW}"
        [budget]
        name = "${TEAM}"
        """,
    )
    config = load_config(env={"FLOW": "flows/main.py:graph", "TEAM": "research"})
    assert config.workflow.default == "flows/main.py:graph"
    assert config.budget.name == "research"


def test_the_env_parameter_replaces_the_process_environment(
    home: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEAM", "from-process")
    project_file(project, '[budget]\nname = "${TEAM:-fallback}"\n')
    assert load_config(env={}).budget.name == "fallback"
    assert load_config().budget.name == "from-process"


def test_variables_expand_from_the_process_environment(
    home: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCA_TEST_LEVEL", "warning")
    monkeypatch.setenv("ORCA_TEST_STEPS", "42")
    user_file(home, '[logging]\nlevel = "${ORCA_TEST_LEVEL}"\n')
    project_file(project, '[execution]\nmax_steps = "${ORCA_TEST_STEPS}"\n')
    config = load_config()
    assert config.logging.level == "warning"
    assert config.execution.max_steps == 42  # an expanded string is then checked as an int


def test_a_default_applies_only_when_the_variable_is_unset(home: Path, project: Path) -> None:
    project_file(project, '[budget]\nname = "${TEAM:-solo}"\ntimezone = "${TZ_NAME:-UTC}"\n')
    config = load_config(env={"TZ_NAME": "Europe/Paris"})
    assert config.budget.name == "solo"
    assert config.budget.timezone == "Europe/Paris"
    assert load_config(env={}).budget.timezone == "UTC"


def test_an_empty_default_is_allowed(home: Path, project: Path) -> None:
    project_file(project, '[workflow]\ndefault = "flows/${SUB:-}main.py"\n')
    assert load_config(env={}).workflow.default == "flows/main.py"


def test_several_variables_expand_in_one_string(home: Path, project: Path) -> None:
    project_file(project, '[workflow]\ndefault = "${DIR}/${NAME:-flow}.py:${GRAPH}"\n')
    config = load_config(env={"DIR": "flows", "GRAPH": "g"})
    assert config.workflow.default == "flows/flow.py:g"


def test_variables_expand_inside_lists(home: Path, project: Path) -> None:
    project_file(project, '[budget]\nthresholds = ["${LOW}", "${HIGH:-100}"]\n')
    assert load_config(env={"LOW": "50"}).budget.thresholds == [50, 100]


def test_text_without_a_variable_is_left_alone(home: Path, project: Path) -> None:
    project_file(project, '[workflow]\ndefault = "a $HOME b ${} c"\n')
    assert load_config(env={}).workflow.default == "a $HOME b ${} c"


def test_an_unset_variable_is_a_config_error_naming_file_key_and_variable(
    home: Path, project: Path
) -> None:
    path = project_file(project, '[workflow]\ndefault = "${ORCA_NO_SUCH_FLOW}"\n')
    err = config_error(env={})
    assert err.key == "workflow.default"
    assert str(path) in str(err)
    assert "ORCA_NO_SUCH_FLOW" in str(err)
    assert "ORCA_NO_SUCH_FLOW" in err.fix


def test_an_unset_variable_inside_a_list_names_the_list_key(home: Path, project: Path) -> None:
    path = user_file(home, '[budget]\nthresholds = [50, "${ORCA_NO_SUCH_MARK}"]\n')
    err = config_error(env={})
    assert err.key == "budget.thresholds"
    assert str(path) in str(err)
    assert "ORCA_NO_SUCH_MARK" in str(err)


# -- API keys ---------------------------------------------------------------------------------


def test_an_api_key_reference_is_kept_and_never_expanded(
    home: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_KEY", SECRET)
    project_file(
        project,
        """
        [llm]
        provider = "openai"
        model = "gpt-4o-mini"
        api_key = "${MY_KEY}"
        """,
    )
    config = load_config()
    assert config.llm.api_key == "${MY_KEY}"
    assert config.llm.key_env() == "MY_KEY"
    assert SECRET not in repr(config)
    assert SECRET not in str(config)
    assert SECRET not in config.model_dump_json()
    profile = config.profile()
    assert profile is not None
    assert SECRET not in repr(profile)
    assert SECRET not in repr(profile.planner.build())
    # passed explicitly as env=, it is not expanded either
    assert load_config(env={"MY_KEY": SECRET}).llm.api_key == "${MY_KEY}"


def test_an_api_key_reference_with_a_default_is_refused(home: Path, project: Path) -> None:
    path = project_file(project, '[llm]\napi_key = "${MY_KEY:-sk-fallback}"\n')
    err = config_error(env={})
    assert err.key == "llm.api_key"
    assert str(path) in str(err)


def test_a_literal_api_key_is_a_config_error_telling_to_use_a_variable(
    home: Path, project: Path
) -> None:
    path = project_file(project, '[llm]\nprovider = "openai"\napi_key = "sk-live-123"\n')
    err = config_error()
    assert err.key == "llm.api_key"
    assert str(path) in str(err)
    assert "llm.api_key" in str(err)
    assert "environment variable" in str(err)
    assert "${ANTHROPIC_API_KEY}" in str(err)


def test_a_literal_api_key_is_not_repeated_in_the_error(home: Path, project: Path) -> None:
    project_file(project, '[llm]\napi_key = "sk-live-123"\n')
    err = config_error()
    assert "sk-live-123" not in str(err)
    assert "sk-live-123" not in err.fix


def test_a_literal_api_key_override_is_refused_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    err = config_error(overrides={"llm.api_key": "sk-live-123"})
    assert err.key == "llm.api_key"
    assert "the command line" in str(err)


def test_the_llm_section_makes_a_profile_naming_the_key_variable(
    home: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_KEY", SECRET)
    project_file(
        project,
        """
        [llm]
        provider = "openai"
        model = "gpt-4o-mini"
        api_key = "${MY_KEY}"
        api_base = "http://127.0.0.1:9/v1"
        temperature = 0.7
        """,
    )
    profile = load_config().profile()
    assert profile is not None
    assert profile.name == "config"
    assert profile.planner == profile.worker
    spec = profile.planner
    assert spec.provider == "openai"
    assert spec.model == "gpt-4o-mini"
    assert dict(spec.params) == {
        "api_key_env": "MY_KEY",
        "base_url": "http://127.0.0.1:9/v1",
        "temperature": 0.7,
    }
    assert isinstance(spec.params["temperature"], float)  # a request field: JSON-ready
    assert "api_key" not in spec.params
    assert SECRET not in repr(profile)


def test_building_the_model_with_the_key_variable_unset_names_the_variable(
    home: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MY_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-this-one")  # the named variable counts
    project_file(
        project, '[llm]\nprovider = "openai"\nmodel = "gpt-4o-mini"\napi_key = "${MY_KEY}"\n'
    )
    profile = load_config().profile()
    assert profile is not None
    with pytest.raises(MissingAPIKeyError) as info:
        profile.planner.build()
    assert info.value.env_var == "MY_KEY"
    assert info.value.provider == "openai"
    assert "MY_KEY" in str(info.value)


def test_building_the_model_with_the_key_variable_set_works_offline(
    home: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_KEY", SECRET)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    project_file(
        project, '[llm]\nprovider = "openai"\nmodel = "gpt-4o-mini"\napi_key = "${MY_KEY}"\n'
    )
    profile = load_config().profile()
    assert profile is not None
    model = profile.planner.build()  # building makes no request
    assert model.provider == "openai"
    assert model.model == "gpt-4o-mini"
    assert SECRET not in repr(model)


def test_the_llm_section_with_a_model_but_no_provider_is_a_config_error(
    home: Path, project: Path
) -> None:
    project_file(project, '[llm]\nmodel = "gpt-4o-mini"\n')
    config = load_config()
    with pytest.raises(ConfigError) as info:
        config.profile()
    assert info.value.key == "llm.provider"


# -- bad input --------------------------------------------------------------------------------

BAD = [
    pytest.param('[budgett]\nname = "x"\n', "budgett", "did you mean 'budget'", id="section"),
    pytest.param(
        "[execution]\nmax_step = 3\n", "execution.max_step", "did you mean 'max_steps'", id="key"
    ),
    pytest.param(
        '[execution]\nmax_steps = "many"\n', "execution.max_steps", "'many'", id="int-type"
    ),
    pytest.param(
        '[execution]\nstreaming = "yes please"\n',
        "execution.streaming",
        "'yes please'",
        id="bool-type",
    ),
    pytest.param("[execution]\nmax_steps = 3.5\n", "execution.max_steps", "3.5", id="fraction"),
    pytest.param("[llm]\nmax_tokens = 0\n", "llm.max_tokens", "max_tokens", id="max_tokens"),
    pytest.param("[llm]\ntemperature = 5\n", "llm.temperature", "temperature", id="temperature"),
    pytest.param("[budget]\namount = -1\n", "budget.amount", "amount", id="amount"),
    pytest.param("[budget]\namount = 0\n", "budget.amount", "amount", id="zero-amount"),
    pytest.param(
        "[execution]\nmax_concurrent_tasks = 0\n",
        "execution.max_concurrent_tasks",
        "max_concurrent_tasks",
        id="concurrency",
    ),
    pytest.param(
        '[budget]\nenforcement = "maybe"\n', "budget.enforcement", "'maybe'", id="enforcement"
    ),
    pytest.param(
        '[execution]\ndurability = "never"\n', "execution.durability", "'never'", id="durability"
    ),
    pytest.param('[logging]\nformat = "xml"\n', "logging.format", "'xml'", id="format"),
    pytest.param('[budget]\nunit = "euros"\n', "budget.unit", "'euros'", id="unit"),
    pytest.param("llm = 3\n", "llm", "must be a table", id="not-a-table"),
    pytest.param("[profiles]\nx = 3\n", "profiles.x", "must be a table", id="profile-not-table"),
    pytest.param(
        '[profiles.x.planner]\nprovider = "openai"\nmodel = "m"\n',
        "profiles.x.worker",
        "worker",
        id="profile-no-worker",
    ),
    pytest.param(
        '[profiles.x]\nspeed = "fast"\n[profiles.x.planner]\nprovider = "openai"\nmodel = "m"\n'
        '[profiles.x.worker]\nprovider = "openai"\nmodel = "m"\n',
        "profiles.x.speed",
        "speed",
        id="profile-unknown-key",
    ),
    pytest.param(
        '[profiles.x.planner]\nprovider = "openai"\n[profiles.x.worker]\nprovider = "openai"\n'
        'model = "m"\n',
        "profiles.x.planner.model",
        "model",
        id="profile-no-model",
    ),
]


@pytest.mark.parametrize(("text", "key", "says"), BAD)
def test_bad_input_is_a_config_error_naming_the_file_and_key(
    home: Path, project: Path, text: str, key: str, says: str
) -> None:
    path = project_file(project, text)
    err = config_error()
    assert err.key == key
    assert str(path) in str(err)
    assert says in str(err)
    assert err.fix


def test_a_bad_profile_names_the_profile(home: Path, project: Path) -> None:
    project_file(project, '[profiles.x.planner]\nprovider = "openai"\nmodel = "m"\n')
    err = config_error()
    assert err.key is not None
    assert err.key.startswith("profiles.x")
    assert "profile 'x'" in str(err)
    assert "[profiles.x.worker]" in err.fix


def test_an_unknown_provider_in_a_profile_names_the_dotted_key(home: Path, project: Path) -> None:
    path = project_file(
        project,
        '[profiles.x.planner]\nprovider = "opnai"\nmodel = "m"\n'
        '[profiles.x.worker]\nprovider = "openai"\nmodel = "m"\n',
    )
    err = config_error()
    assert str(path) in str(err)
    assert "did you mean 'openai'" in str(err)
    assert err.key == "profiles.x.planner.provider"


def test_a_file_that_is_not_toml_is_a_config_error_naming_it(home: Path, project: Path) -> None:
    path = project_file(project, '[llm\nprovider = "openai"\n')
    err = config_error()
    assert err.key is None
    assert str(path) in str(err)
    assert "not valid TOML" in str(err)
    assert str(path) in err.fix


def test_a_bad_user_file_is_named_even_with_a_good_project_file(home: Path, project: Path) -> None:
    user = user_file(home, "[execution\n")
    project_file(project, "[execution]\nmax_steps = 3\n")
    err = config_error()
    assert str(user) in str(err)


def test_a_file_that_is_not_utf8_is_a_config_error(home: Path, project: Path) -> None:
    path = project / ".orca" / "orca.toml"
    path.write_bytes(b'[workflow]\ndefault = "caf\xe9"\n')
    err = config_error()
    assert str(path) in str(err)


def test_an_unreadable_file_is_a_config_error_naming_it(home: Path, project: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    path = project_file(project, "[execution]\nmax_steps = 3\n")
    path.chmod(0)
    try:
        err = config_error()
    finally:
        path.chmod(0o644)
    assert err.key is None
    assert str(path) in str(err)
    assert "cannot read" in str(err)


def test_a_bad_value_names_the_file_that_set_it(home: Path, project: Path) -> None:
    user = user_file(home, "[execution]\nmax_steps = 0\n")
    proj = project_file(project, "[execution]\nstreaming = false\n")
    err = config_error()
    assert err.key == "execution.max_steps"
    assert str(user) in str(err)
    assert str(proj) not in str(err)


def test_a_bad_value_overridden_by_the_project_file_is_no_error(home: Path, project: Path) -> None:
    user_file(home, "[execution]\nmax_steps = 0\n")
    project_file(project, "[execution]\nmax_steps = 3\n")
    assert load_config().execution.max_steps == 3


def test_a_bad_override_is_blamed_on_the_command_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    err = config_error(overrides={"execution.max_steps": 0})
    assert err.key == "execution.max_steps"
    assert "the command line" in str(err)
    err = config_error(overrides={"execution.max_step": 3})
    assert err.key == "execution.max_step"
    assert "the command line" in str(err)
    assert "did you mean 'max_steps'" in str(err)


def test_an_override_into_a_section_that_is_not_a_table_is_a_config_error(
    home: Path, project: Path
) -> None:
    path = project_file(project, "llm = 3\n")
    err = config_error(overrides={"llm.model": "m"})
    assert err.key == "llm"
    assert str(path) in str(err)


# -- profiles ---------------------------------------------------------------------------------

FAST = """
[llm]
profile = "fast"

[profiles.fast]
description = "quick answers"

[profiles.fast.planner]
provider = "openai"
model = "gpt-4o-mini"
max_retries = 0

[profiles.fast.worker]
provider = "ollama"
model = "llama3"
"""


def test_a_profile_from_the_config_is_the_one_the_llm_section_names(
    home: Path, project: Path
) -> None:
    project_file(project, FAST)
    config = load_config()
    profile = config.profile()
    assert profile is not None
    assert profile.name == "fast"
    assert profile.description == "quick answers"
    assert (profile.planner.provider, profile.planner.model) == ("openai", "gpt-4o-mini")
    assert (profile.worker.provider, profile.worker.model) == ("ollama", "llama3")
    assert config.profile("fast") == profile


def test_an_unknown_profile_name_is_an_unknown_profile_error(home: Path, project: Path) -> None:
    project_file(project, FAST)
    config = load_config()
    with pytest.raises(UnknownProfileError) as info:
        config.profile("other")
    assert info.value.name == "other"


def test_a_stored_profile_is_found_by_name(home: Path, project: Path, store: SqliteStore) -> None:
    spec = ModelSpec("ollama", "qwen2.5")
    Profiles(store.profiles).create(Profile("stored", spec, spec, "kept in the database"))
    project_file(project, FAST)
    config = load_config()
    found = config.profile("stored")
    assert found is not None
    assert found.name == "stored"
    assert found.planner.model == "qwen2.5"
    # and named by [llm] profile
    by_file = load_config(overrides={"llm.profile": "stored"}).profile()
    assert by_file is not None
    assert by_file.name == "stored"


def test_a_config_profile_wins_over_a_stored_one_of_the_same_name(
    home: Path, project: Path, store: SqliteStore
) -> None:
    spec = ModelSpec("ollama", "stored-model")
    Profiles(store.profiles).create(Profile("fast", spec, spec))
    project_file(project, FAST)
    profile = load_config().profile()
    assert profile is not None
    assert profile.worker.model == "llama3"


def test_a_profile_name_wins_over_the_llm_provider_and_model(home: Path, project: Path) -> None:
    project_file(project, FAST)
    config = load_config(overrides={"llm.provider": "openai", "llm.model": "gpt-4o"})
    profile = config.profile()
    assert profile is not None
    assert profile.name == "fast"


def test_a_profile_with_a_whole_number_temperature_reaches_the_network(
    home: Path, project: Path
) -> None:
    port = free_port()
    project_file(
        project,
        f"""
        [profiles.local.planner]
        provider = "ollama"
        model = "llama3"
        temperature = 1
        base_url = "http://127.0.0.1:{port}/v1"
        max_retries = 0
        [profiles.local.worker]
        provider = "ollama"
        model = "llama3"
        """,
    )
    profile = load_config().profile("local")
    assert profile is not None
    model = profile.planner.build()
    request = ChatRequest((Message.user("hi"),), max_tokens=4)
    with pytest.raises(ProviderUnreachableError):  # nothing listens on the port
        asyncio.run(model.complete(request))


def test_a_profile_with_a_fractional_temperature_reaches_the_network(
    home: Path, project: Path
) -> None:
    port = free_port()
    project_file(
        project,
        f"""
        [profiles.local.planner]
        provider = "ollama"
        model = "llama3"
        temperature = 0.2
        base_url = "http://127.0.0.1:{port}/v1"
        max_retries = 0
        [profiles.local.worker]
        provider = "ollama"
        model = "llama3"
        """,
    )
    profile = load_config().profile("local")
    assert profile is not None
    model = profile.planner.build()
    request = ChatRequest((Message.user("hi"),), max_tokens=4)
    with pytest.raises(ProviderUnreachableError):
        asyncio.run(model.complete(request))


# -- the [budget] budget ----------------------------------------------------------------------


def test_without_an_amount_no_budget_is_made(home: Path, project: Path, store: SqliteStore) -> None:
    project_file(project, '[budget]\nname = "team"\n')
    budgets = store.ledger.budgets
    assert load_config().ensure_budget(budgets) is None
    assert budgets.names() == []
    assert budgets.active() is None


def test_an_amount_creates_an_active_block_credit_budget_in_nano_usd(
    home: Path, project: Path, store: SqliteStore
) -> None:
    project_file(project, SEED_EXAMPLE)
    budgets = store.ledger.budgets
    budget = load_config(env={}).ensure_budget(budgets)
    assert budget is not None
    assert budget.name == "default"
    assert budget.amount == 500 * 10**9
    assert budget.unit == "usd"
    assert budget.kind == "credit"
    assert budget.period is None
    assert budget.enforcement == "block"
    assert budget.thresholds == (80, 100)
    assert budget.active is True
    active = budgets.active()
    assert active is not None
    assert active.name == "default"
    assert budgets.get("default") == budget


def test_a_fractional_dollar_amount_is_exact(home: Path, project: Path, store: SqliteStore) -> None:
    project_file(project, '[budget]\nname = "cents"\namount = 0.1\n')
    budget = load_config().ensure_budget(store.ledger.budgets)
    assert budget is not None
    assert budget.amount == 100_000_000  # 0.1 USD exactly, no float residue


def test_an_existing_budget_is_returned_unchanged(
    home: Path, project: Path, store: SqliteStore
) -> None:
    path = project_file(project, '[budget]\nname = "team"\namount = 500.0\n')
    budgets = store.ledger.budgets
    first = load_config().ensure_budget(budgets)
    write(path, '[budget]\nname = "team"\namount = 900\nenforcement = "warn"\n')
    second = load_config().ensure_budget(budgets)
    assert second == first
    assert second is not None
    assert second.amount == 500 * 10**9
    assert second.enforcement == "block"
    assert budgets.names() == ["team"]


def test_a_tokens_budget(home: Path, project: Path, store: SqliteStore) -> None:
    project_file(project, '[budget]\nname = "toks"\namount = 20000\nunit = "tokens"\n')
    budget = load_config().ensure_budget(store.ledger.budgets)
    assert budget is not None
    assert budget.unit == "tokens"
    assert budget.amount == 20000


def test_a_fractional_tokens_amount_is_refused(
    home: Path, project: Path, store: SqliteStore
) -> None:
    project_file(project, '[budget]\nname = "toks"\namount = 1.5\nunit = "tokens"\n')
    with pytest.raises(ConfigError):
        load_config().ensure_budget(store.ledger.budgets)


def test_a_recurring_budget_with_a_period(home: Path, project: Path, store: SqliteStore) -> None:
    project_file(
        project,
        """
        [budget]
        name = "monthly"
        type = "recurring"
        period = "monthly"
        amount = 20
        enforcement = "warn"
        thresholds = [90, 50]
        timezone = "Europe/Paris"
        """,
    )
    budgets = store.ledger.budgets
    budget = load_config().ensure_budget(budgets)
    assert budget is not None
    assert budget.kind == "recurring"
    assert budget.period == "monthly"
    assert budget.amount == 20 * 10**9
    assert budget.enforcement == "warn"
    assert budget.thresholds == (50, 90)
    assert budget.timezone == "Europe/Paris"
    assert budgets.get("monthly") == budget


def test_a_second_budget_does_not_take_the_active_one(
    home: Path, project: Path, store: SqliteStore
) -> None:
    budgets = store.ledger.budgets
    project_file(project, '[budget]\nname = "first"\namount = 1\n')
    load_config().ensure_budget(budgets)
    project_file(project, '[budget]\nname = "second"\namount = 2\n')
    second = load_config().ensure_budget(budgets)
    assert second is not None
    assert second.active is False
    active = budgets.active()
    assert active is not None
    assert active.name == "first"


def test_a_recurring_budget_without_a_period_is_refused_when_loaded(
    home: Path, project: Path
) -> None:
    path = project_file(project, '[budget]\ntype = "recurring"\namount = 5\n')
    err = config_error()
    assert err.key == "budget.period"
    assert str(path) in str(err)


# -- [tools] ------------------------------------------------------------------------------------


def test_the_tools_section_becomes_the_tool_policy(home: Path, project: Path) -> None:
    project_file(
        project,
        '[tools]\nallow = ["files_*"]\ndeny = ["files_write"]\ndomains = ["*.python.org"]\n'
        'allow_networks = ["127.0.0.1/32"]\ntimeout = 2.5\nredact_checkpoints = true\n',
    )
    policy = load_config().tools.policy()
    assert policy.allows("files_read")
    assert not policy.allows("files_write")
    assert not policy.allows("shell")
    assert policy.allows_host("docs.python.org")
    assert not policy.allows_host("python.org.evil.com")
    assert policy.allow_networks == ("127.0.0.1/32",)
    assert policy.timeout == 2.5
    assert policy.redact_checkpoints is True


def test_without_a_tools_section_every_tool_is_allowed_and_no_domain(
    home: Path, project: Path
) -> None:
    policy = load_config().tools.policy()
    assert policy.allows("shell")
    assert policy.domains == ()
    assert policy.redact is True


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[tools]\nallow_networks = ["not-a-network"]\n', "tools.allow_networks"),
        ("[tools]\nmax_output_bytes = 0\n", "tools.max_output_bytes"),
        ("[tools]\ntimeout = -1\n", "tools.timeout"),
        ('[tools]\ndomain = ["x.org"]\n', "tools.domain"),
    ],
)
def test_bad_tool_settings_name_the_key(home: Path, project: Path, text: str, key: str) -> None:
    path = project_file(project, text)
    err = config_error()
    assert err.key == key
    assert str(path) in str(err)
