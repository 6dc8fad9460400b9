"""``orca secret set|list|rm|rotate-key`` as real processes: a value goes in on stdin
(or a hidden prompt on a terminal), never as an argument, and no command prints it;
``[secrets] key_file`` chooses the master key; a rotation seals every secret again
under a new key, after which only the new key opens them."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from orca.errors import SecretKeyError
from orca.store import KeySource, SqliteStore
from orca.store._sealing import KEY_ENV, new_key_text

VALUE = "sk-proj-Wm4Kd8Lq2Zx7Cv1Bn5Hj9Gf3Ds6Ap0Qo"
OTHER = "sk-ant-api03-Rt5Yu8Io2Pl4Kj7Hg1Fd3Sa6Zx9Cv"


def orca(project: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None) -> Any:
    base = {k: v for k, v in os.environ.items() if k != KEY_ENV}
    return subprocess.run(
        [sys.executable, "-c", "from orca.cli import main; main()", "-C", str(project), *args],
        input=stdin,
        env={**base, "ORCA_HOME": str(project / "home"), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / ".orca").mkdir()
    return tmp_path


def reveal(project: Path, name: str, keys: KeySource) -> str | None:
    with SqliteStore(project / ".orca" / "project.db", secret_keys=keys) as store:
        return store.secrets.reveal(name)


def test_set_reads_stdin_and_no_command_prints_the_value(project: Path) -> None:
    done = orca(project, "secret", "set", "OPENAI_API_KEY", stdin=VALUE + "\n")
    assert done.returncode == 0, done.stderr
    assert "stored secret OPENAI_API_KEY" in done.stdout
    assert orca(project, "secret", "set", "ANTHROPIC_API_KEY", stdin=OTHER).returncode == 0
    listed = orca(project, "secret", "list")
    as_json = orca(project, "secret", "list", "--json")
    for shown in (done, listed, as_json):
        assert VALUE not in shown.stdout + shown.stderr
        assert OTHER not in shown.stdout + shown.stderr
    records = json.loads(as_json.stdout)
    assert [r["name"] for r in records] == ["ANTHROPIC_API_KEY", "OPENAI_API_KEY"]
    assert set(records[0]) == {"name", "fingerprint", "created_at", "updated_at"}
    assert records[1]["fingerprint"] in listed.stdout
    # stored whole, the trailing newline dropped, under $ORCA_HOME/secret.key (0600)
    key_file = project / "home" / "secret.key"
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert reveal(project, "OPENAI_API_KEY", KeySource(env={}, home=project / "home")) == VALUE


def test_a_value_is_never_taken_as_an_argument(project: Path) -> None:
    done = orca(project, "secret", "set", "OPENAI_API_KEY", VALUE)
    assert done.returncode == 2
    assert VALUE not in done.stdout
    assert json.loads(orca(project, "secret", "list", "--json").stdout) == []


def test_set_at_a_terminal_asks_twice_with_the_input_hidden(project: Path) -> None:
    pid, fd = pty.fork()
    if pid == 0:  # the child: orca on a terminal
        os.environ["ORCA_HOME"] = str(project / "home")
        os.environ.pop(KEY_ENV, None)
        command = ["-c", "from orca.cli import main; main()", "-C", str(project)]
        os.execv(sys.executable, [sys.executable, *command, "secret", "set", "OPENAI_API_KEY"])
    seen = b""

    def read_until(text: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 60
        while text not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 1024)
            except OSError:  # the child is gone
                break
            if not chunk:
                break
            seen += chunk
        assert text in seen, seen

    read_until(b"OPENAI_API_KEY: ")  # the space: written once echo is off
    os.write(fd, VALUE.encode() + b"\n")
    read_until(b"Repeat for confirmation: ")
    os.write(fd, VALUE.encode() + b"\n")
    read_until(b"stored secret")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert VALUE.encode() not in seen  # not echoed by the terminal either
    assert reveal(project, "OPENAI_API_KEY", KeySource(env={}, home=project / "home")) == VALUE


@pytest.mark.parametrize(
    ("args", "stdin", "said", "code"),
    [
        (("secret", "set", "openai"), VALUE, "OPENAI_API_KEY", 2),
        (("secret", "set", "OPENAI_API_KEY"), "", "is empty", 2),
        (("secret", "set", "OPENAI_API_KEY"), "k" * 9000, "over the 8192", 2),
        (("secret", "set", "OPENAI_API_KEY"), "sk-\x00x", "NUL", 2),
        (("secret", "rm", "NOPE_KEY"), "", "no secret is named 'NOPE_KEY'", 3),
    ],
)
def test_bad_secret_commands_say_what_and_how_to_fix(
    project: Path, args: tuple[str, ...], stdin: str, said: str, code: int
) -> None:
    done = orca(project, *args, stdin=stdin)
    assert done.returncode == code, done.stderr
    assert said in done.stderr
    assert "fix:" in done.stderr
    assert VALUE not in done.stderr


def test_rm_forgets_a_secret(project: Path) -> None:
    orca(project, "secret", "set", "OPENAI_API_KEY", stdin=VALUE)
    done = orca(project, "secret", "rm", "OPENAI_API_KEY")
    assert done.returncode == 0, done.stderr
    assert json.loads(orca(project, "secret", "list", "--json").stdout) == []


def test_a_malformed_environment_key_is_refused_by_name(project: Path) -> None:
    done = orca(project, "secret", "set", "OPENAI_API_KEY", stdin=VALUE,
                env={KEY_ENV: "bm90IDMyIGJ5dGVz"})  # fmt: skip
    assert done.returncode == 3
    assert f"the master key in {KEY_ENV} is 12 bytes; it must be 32" in done.stderr
    assert "bm90IDMyIGJ5dGVz" not in done.stderr


def test_the_configured_key_file_seals_and_a_rotation_moves_to_a_new_one(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    keys_dir = tmp_path_factory.mktemp("keys")
    old_file, new_file = keys_dir / "old.key", keys_dir / "new.key"
    old_file.write_text(new_key_text() + "\n")
    old_file.chmod(0o600)
    toml = project / ".orca" / "orca.toml"
    toml.write_text(f'[secrets]\nkey_file = "{old_file}"\n')
    assert orca(project, "secret", "set", "OPENAI_API_KEY", stdin=VALUE).returncode == 0
    assert orca(project, "secret", "set", "ANTHROPIC_API_KEY", stdin=OTHER).returncode == 0
    assert not (project / "home" / "secret.key").exists()  # the configured file was used
    assert reveal(project, "OPENAI_API_KEY", KeySource(old_file, env={})) == VALUE

    rotated = orca(project, "secret", "rotate-key", "--new-key-file", str(new_file), "--json")
    assert rotated.returncode == 0, rotated.stderr
    assert json.loads(rotated.stdout)["resealed"] == 2
    assert oct(new_file.stat().st_mode & 0o777) == "0o600"
    assert reveal(project, "ANTHROPIC_API_KEY", KeySource(new_file, env={})) == OTHER
    with pytest.raises(SecretKeyError, match="sealed under master key"):
        reveal(project, "OPENAI_API_KEY", KeySource(old_file, env={}))  # the old key: no more
    toml.write_text(f'[secrets]\nkey_file = "{new_file}"\n')
    again = orca(project, "secret", "rotate-key", "--new-key-file", str(new_file))
    assert again.returncode == 2
    assert "already in use" in again.stderr
    for shown in (rotated, again):
        assert new_file.read_text().strip() not in shown.stdout + shown.stderr


def test_a_relative_key_file_is_refused_by_the_configuration(project: Path) -> None:
    (project / ".orca" / "orca.toml").write_text('[secrets]\nkey_file = "keys/orca.key"\n')
    done = orca(project, "secret", "list")
    assert done.returncode == 3
    assert "secrets.key_file" in done.stderr
    assert "absolute path" in done.stderr


def test_secret_commands_refuse_a_server_before_asking_for_the_value(project: Path) -> None:
    done = orca(project, "--server", "http://127.0.0.1:9", "secret", "set", "OPENAI_API_KEY",
                stdin=VALUE)  # fmt: skip
    assert done.returncode == 2
    assert "works on this machine's files only" in done.stderr
    assert json.loads(orca(project, "secret", "list", "--json").stdout) == []


def test_a_tenants_secrets_are_its_own(project: Path) -> None:
    assert orca(project, "tenant", "create", "acme").returncode == 0
    done = orca(project, "--tenant", "acme", "secret", "set", "OPENAI_API_KEY", stdin=VALUE)
    assert done.returncode == 0, done.stderr
    assert orca(project, "secret", "set", "OPENAI_API_KEY", stdin=OTHER).returncode == 0
    mine = json.loads(orca(project, "--tenant", "acme", "secret", "list", "--json").stdout)
    assert [r["name"] for r in mine] == ["OPENAI_API_KEY"]
    keys = KeySource(env={}, home=project / "home")
    from orca.store import project_store

    with project_store(project, tenant="acme") as acme, project_store(project) as default:
        acme.secret_keys = default.secret_keys = keys
        assert acme.secrets.reveal("OPENAI_API_KEY") == VALUE
        assert default.secrets.reveal("OPENAI_API_KEY") == OTHER
    assert orca(project, "--tenant", "acme", "secret", "rm", "OPENAI_API_KEY").returncode == 0
    assert [r["name"] for r in json.loads(orca(project, "secret", "list", "--json").stdout)] == [
        "OPENAI_API_KEY"
    ]
