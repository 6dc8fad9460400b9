"""The shell and python tools in their bubblewrap sandbox, attacked as a tester would:
the parent's environment (API keys) is out of reach, files outside the workspace cannot
be read or written, nothing a command starts outlives it (``setsid`` included), and there
is no network unless the policy grants it to that tool. Where bubblewrap is missing the
tools refuse, unless the policy allows an unsandboxed shell. Real bwrap, real processes,
a real loopback server."""

from __future__ import annotations

import asyncio
import shlex
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from orca.cli import app
from orca.tools import Policy, ToolEnv, ToolResult, python_tool, shell_tool
from sandboxing import hide_bwrap, kill_all, marker, none_left, require_sandbox

FAKE_KEY = "sk-ant-api03-fake-key-for-the-sandbox-test-0123456789"
SECRET = "outside secret, never to be read"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A workspace with a secret file next to it, outside."""
    require_sandbox()
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text(SECRET)
    return workspace


def sh(ws: Path, command: str, policy: Policy | None = None, **more: Any) -> ToolResult:
    env = ToolEnv(ws, policy or Policy(timeout=20))
    return asyncio.run(shell_tool().run({"command": command, **more}, env))


def py(ws: Path, code: str, policy: Policy | None = None) -> ToolResult:
    env = ToolEnv(ws, policy or Policy(timeout=20))
    return asyncio.run(python_tool().run({"code": textwrap.dedent(code)}, env))


def everything(result: ToolResult) -> str:
    return f"{result.value}{result.error}"


# -- the environment ---------------------------------------------------------------------------


def test_the_parents_environment_is_out_of_reach(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
    attack = sh(ws, 'sh -c \'tr "\\0" "\\n" < /proc/$PPID/environ\'')
    assert attack.ok, attack
    assert FAKE_KEY not in everything(attack)
    # nor any process the sandbox can see
    every = sh(ws, 'sh -c \'for f in /proc/[0-9]*/environ; do tr "\\0" "\\n" < $f; done\'')
    assert every.ok, every
    assert FAKE_KEY not in everything(every)
    assert "PATH=" in every.value["stdout"]  # it did read the environments it can see


def test_the_sandbox_sees_only_its_own_processes(ws: Path) -> None:
    result = sh(ws, "sh -c 'ls -d /proc/[0-9]*'")
    assert result.ok, result
    pids = {int(line.rsplit("/", 1)[1]) for line in result.value["stdout"].split()}
    # bwrap's init, sh and ls (the host's thousands of processes are not there)
    assert pids <= {1, 2, 3, 4}, pids


def test_python_sees_no_api_key_anywhere(ws: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
    result = py(
        ws,
        """
        import os
        print(sorted(os.environ))
        for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
            try:
                print(open(f"/proc/{pid}/environ", "rb").read())
            except OSError as exc:
                print(pid, exc)
        """,
    )
    assert result.ok, result
    assert result.value["exit_code"] == 0, result
    assert "ANTHROPIC_API_KEY" not in result.value["stdout"]
    assert FAKE_KEY not in everything(result)


# -- files ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    ["cat ../outside/secret.txt", "cat {outside}/secret.txt", "ls {outside}"],
)
def test_files_outside_the_workspace_cannot_be_read(ws: Path, command: str) -> None:
    result = sh(ws, command.format(outside=ws.parent / "outside"))
    assert result.ok, result
    assert result.value["exit_code"] != 0
    assert "No such file or directory" in result.value["stderr"]
    assert SECRET not in everything(result)


def test_the_home_folder_is_not_there(ws: Path) -> None:
    home = Path.home()
    shown = [p for p in home.iterdir() if p.is_file() and not p.is_symlink()][:5]
    if not shown:
        pytest.skip(f"{home} holds no file to look for")
    result = sh(ws, "ls -a " + " ".join(shlex.quote(str(p)) for p in shown))
    assert result.ok, result
    assert result.value["exit_code"] != 0
    assert result.value["stdout"] == ""
    assert result.value["stderr"].count("No such file or directory") == len(shown)


@pytest.mark.parametrize("target", ["../outside/new.txt", "/usr/pwned", "/pwned", "/etc/pwned"])
def test_nothing_outside_the_workspace_can_be_written(ws: Path, target: str) -> None:
    result = sh(ws, f"touch {target}")
    assert result.ok, result
    assert result.value["exit_code"] != 0, result
    assert not (ws.parent / "outside" / "new.txt").exists()
    assert not Path(target).exists() or target.startswith("..")


def test_the_sandbox_holds_no_capability_and_cannot_remount_or_tune_the_host(ws: Path) -> None:
    status = sh(ws, "grep CapEff /proc/self/status")
    assert status.value["stdout"] == "CapEff:\t0000000000000000\n", status
    remount = sh(ws, "mount -o remount,bind,rw /usr")
    assert remount.value["exit_code"] != 0, remount
    # writing back the value it reads: harmless, were it to succeed
    tune = sh(ws, "sh -c 'cat /proc/sys/vm/swappiness > /proc/sys/vm/swappiness'")
    assert tune.value["exit_code"] != 0, tune
    assert "Read-only file system" in tune.value["stderr"]


def test_the_workspace_and_tmp_are_writable(ws: Path) -> None:
    result = sh(ws, "sh -c 'echo made > made.txt && echo tmp > /tmp/scratch && cat /tmp/scratch'")
    assert result.ok, result
    assert result.value == {
        "exit_code": 0,
        "stdout": "tmp\n",
        "stderr": "",
        "truncated": False,
        "sandboxed": True,
    }
    assert (ws / "made.txt").read_text() == "made\n"


def test_the_sandboxes_tmp_is_private(ws: Path) -> None:
    sh(ws, "sh -c 'echo one > /tmp/left-behind'")
    result = sh(ws, "cat /tmp/left-behind")
    assert result.value["exit_code"] != 0
    assert "one" not in result.value["stdout"]


# -- processes ----------------------------------------------------------------------------------


def test_a_setsid_daemon_does_not_outlive_the_command(ws: Path) -> None:
    mark = marker()
    try:
        result = sh(ws, f"setsid -f sleep {mark}", Policy(timeout=30))
        # answered when the command ended (a daemon holding the pipes would have made
        # the call wait for the timeout)
        assert result.status == "ok", result
        assert result.value["exit_code"] == 0
        assert none_left(mark) == [], "the daemon outlived the command"
    finally:
        kill_all(mark)


def test_a_daemon_started_from_python_dies_with_the_tool(ws: Path) -> None:
    mark = marker()
    code = f"""
    import subprocess
    subprocess.Popen(["setsid", "-f", "sleep", "{mark}"], start_new_session=True)
    print("started")
    """
    try:
        result = py(ws, code)
        assert result.ok, result
        assert result.value["stdout"] == "started\n"
        assert none_left(mark) == []
    finally:
        kill_all(mark)


SCRIPT = """
import asyncio, sys
from orca.tools import Policy, ToolEnv, shell_tool
env = ToolEnv(sys.argv[1], Policy(timeout=5))
for _ in range(2):
    r = asyncio.run(shell_tool().run({"command": "setsid -f sleep " + sys.argv[2]}, env))
    print(r.status, r.value and r.value["exit_code"])
"""


def test_a_daemon_leaves_no_traceback_behind(ws: Path) -> None:
    mark = marker()
    try:
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(ws), mark],
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        kill_all(mark)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "ok 0\nok 0\n"
    assert done.stderr == ""


# -- network ----------------------------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP server on the host's loopback that says ``hello`` to whoever connects."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.sendall(b"hello")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


CONNECT = """
import socket
with socket.create_connection(("127.0.0.1", {port}), timeout=5) as s:
    print(s.recv(5).decode())
"""


def test_no_network_by_default(ws: Path, listener: int) -> None:
    result = py(ws, CONNECT.format(port=listener))
    assert result.ok, result
    assert result.value["exit_code"] != 0
    assert "hello" not in result.value["stdout"]
    assert "ConnectionRefusedError" in result.value["stderr"]


def test_the_policy_grants_the_network_per_tool(ws: Path, listener: int) -> None:
    granted = Policy(timeout=20, sandbox_network=("python",))
    result = py(ws, CONNECT.format(port=listener), granted)
    assert result.ok, result
    assert result.value["stdout"] == "hello\n", result
    # the grant is for python only: the shell stays offline
    probe = f"import socket; socket.create_connection(('127.0.0.1', {listener}), timeout=5)"
    shell = sh(ws, f"python3 -c {shlex.quote(probe)}", granted)
    assert shell.value["exit_code"] != 0
    assert "ConnectionRefusedError" in shell.value["stderr"]


# -- the python tool ----------------------------------------------------------------------------


def test_python_runs_a_program_in_the_workspace(ws: Path) -> None:
    (ws / "data.txt").write_text("1 2 3\n")
    code = """
    import os
    numbers = open("data.txt").read().split()
    open("sum.txt", "w").write(str(sum(map(int, numbers))))
    print(os.getcwd())
    """
    result = py(ws, code)
    assert result.ok, result
    assert result.value["exit_code"] == 0, result
    assert result.value["stdout"] == f"{ws.resolve()}\n"
    assert (ws / "sum.txt").read_text() == "6"


def test_python_reports_its_exception_and_exit_code(ws: Path) -> None:
    result = py(ws, "raise SystemExit('bad thing')")
    assert result.ok, result
    assert result.value["exit_code"] == 1
    assert "bad thing" in result.value["stderr"]


def test_python_is_killed_at_its_timeout(ws: Path) -> None:
    mark = marker()
    code = f"import subprocess; subprocess.run(['sleep', '{mark}'])"
    env = ToolEnv(ws, Policy(timeout=20))
    try:
        result = asyncio.run(python_tool().run({"code": code, "seconds": 0.5}, env))
        assert result.status == "timeout", result
        assert "killed after 0.5s" in (result.error or "")
        assert none_left(mark) == []
    finally:
        kill_all(mark)


# -- without bubblewrap -------------------------------------------------------------------------


def test_without_bubblewrap_the_tools_refuse_and_name_the_fix(
    ws: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hide_bwrap(monkeypatch, tmp_path / "bin", "cat")
    (ws / "note.txt").write_text("hi")
    for result in (sh(ws, "cat note.txt"), py(ws, "print(1)")):
        assert result.status == "error", result
        error = result.error or ""
        assert error.startswith("SandboxUnavailableError: "), error
        assert "bubblewrap (bwrap) is not installed" in error
        assert "apt-get install bubblewrap" in error
        assert "allow_unsandboxed_shell = true" in error


def test_an_unsandboxed_shell_runs_only_when_the_policy_allows_it(
    ws: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    hide_bwrap(monkeypatch, tmp_path / "bin", "cat")
    (ws / "note.txt").write_text("hi")
    result = sh(ws, "cat note.txt", Policy(allow_unsandboxed_shell=True))
    assert result.ok, result
    assert result.value["stdout"] == "hi"
    assert result.value["sandboxed"] is False


def test_doctor_reports_the_sandbox(
    ws: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import json

    runner = CliRunner()

    def sandbox_line() -> tuple[int, dict[str, str]]:
        done = runner.invoke(app, ["-C", str(ws), "doctor", "--json"])
        found = {c["check"]: c for c in json.loads(done.stdout)["checks"]}
        return done.exit_code, found["sandbox"]

    code, line = sandbox_line()
    assert line["status"] == "ok", line
    assert "bubblewrap" in line["detail"]
    hide_bwrap(monkeypatch, tmp_path / "bin")
    code, line = sandbox_line()
    assert code != 0
    assert line["status"] == "fail"
    assert "bubblewrap (bwrap) is not installed" in line["detail"]
    assert "apt-get install bubblewrap" in line["detail"]
    (ws / ".orca").mkdir(exist_ok=True)
    (ws / ".orca" / "orca.toml").write_text("[tools]\nallow_unsandboxed_shell = true\n")
    code, line = sandbox_line()
    assert line["status"] == "warn", line
    assert "unisolated" in line["detail"]
