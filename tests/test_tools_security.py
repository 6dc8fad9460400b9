"""The built-in tools against hostile input: the files tools never read, write or list
outside the workspace (``..``, absolute paths, symlinks out); the shell tool runs no
shell, sees only allowlisted variables, cuts huge output and kills what it started on a
timeout (sandboxed, and unsandboxed where the policy allows it); ``http_fetch`` never
reaches loopback, private or metadata addresses (first hop or redirect) unless the
policy allows the network. Real files, real subprocesses and a real loopback HTTP
server."""

from __future__ import annotations

import asyncio
import os
import shlex
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orca.tools import (
    Policy,
    Tool,
    ToolEnv,
    ToolResult,
    Tools,
    builtin_tools,
    file_tools,
    http_fetch_tool,
    shell_tool,
)
from orca.tools._sandbox import python_executable
from sandboxing import hide_bwrap, kill_all, marker, none_left, require_sandbox
from toolsrv import LoopbackServer, SilentServer, ipv6_loopback

SECRET = "outside secret, never to be read\n"


def run(tool: Tool, env: ToolEnv, **arguments: Any) -> ToolResult:
    return asyncio.run(tool.run(arguments, env))


def files(name: str) -> Tool:
    return {t.name: t for t in file_tools()}[name]


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """A workspace with a file inside and, pointing out of it: a symlink to /etc, a
    symlinked folder, a symlinked file and a dangling symlink."""
    ws = tmp_path / "ws"
    outside = tmp_path / "outside"
    ws.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET)
    (ws / "notes.txt").write_text("inside notes\nsecret word here\n")
    (ws / "sub").mkdir()
    (ws / "sub" / "deep.txt").write_text("deep secret line\n")
    (ws / "etc").symlink_to("/etc")
    (ws / "out").symlink_to(outside, target_is_directory=True)
    (ws / "link.txt").symlink_to(outside / "secret.txt")
    (ws / "dangling.txt").symlink_to(outside / "created-through-link.txt")
    return {"ws": ws, "outside": outside, "secret": outside / "secret.txt"}


@pytest.fixture
def ws_env(layout: dict[str, Path]) -> ToolEnv:
    return ToolEnv(layout["ws"], Policy(timeout=10))


def refused(result: ToolResult) -> None:
    assert result.status == "error", result
    assert result.error is not None
    assert "PermissionError" in result.error, result.error
    assert "outside the workspace" in result.error


# -- files -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "../outside/secret.txt",
        "sub/../../outside/secret.txt",
        "out/secret.txt",
        "link.txt",
        "etc/passwd",
        "etc/hostname",
    ],
)
def test_files_read_refuses_paths_that_lead_out_of_the_workspace(
    layout: dict[str, Path], ws_env: ToolEnv, path: str
) -> None:
    result = run(files("files_read"), ws_env, path=path)
    refused(result)
    assert result.value is None
    assert "never to be read" not in result.content()


def test_files_read_refuses_absolute_paths_elsewhere(
    layout: dict[str, Path], ws_env: ToolEnv
) -> None:
    for path in (str(layout["secret"]), "/etc/passwd"):
        refused(run(files("files_read"), ws_env, path=path))


def test_files_read_reads_inside_the_workspace_and_an_absolute_path_into_it(
    layout: dict[str, Path], ws_env: ToolEnv
) -> None:
    rel = run(files("files_read"), ws_env, path="sub/deep.txt")
    absolute = run(files("files_read"), ws_env, path=str(layout["ws"] / "notes.txt"))
    assert rel.ok
    assert rel.value["content"] == "deep secret line\n"
    assert absolute.ok
    assert absolute.value["content"].startswith("inside notes")
    assert rel.value["truncated"] is False


@pytest.mark.parametrize(
    "path",
    [
        "../outside/new.txt",
        "out/new.txt",
        "out/secret.txt",
        "link.txt",
        "dangling.txt",
        "out/nested/folder/new.txt",
    ],
)
def test_files_write_refuses_paths_that_lead_out_and_writes_nothing_there(
    layout: dict[str, Path], ws_env: ToolEnv, path: str
) -> None:
    before = sorted(p.name for p in layout["outside"].rglob("*"))
    result = run(files("files_write"), ws_env, path=path, content="pwned\n")
    refused(result)
    assert layout["secret"].read_text() == SECRET
    assert sorted(p.name for p in layout["outside"].rglob("*")) == before
    assert not (layout["outside"] / "new.txt").exists()
    assert not (layout["outside"] / "created-through-link.txt").exists()
    assert not (layout["outside"] / "nested").exists()


def test_files_write_refuses_an_absolute_path_outside(
    layout: dict[str, Path], ws_env: ToolEnv
) -> None:
    target = layout["outside"] / "abs.txt"
    refused(run(files("files_write"), ws_env, path=str(target), content="x"))
    assert not target.exists()


def test_files_write_creates_folders_inside_the_workspace(
    layout: dict[str, Path], ws_env: ToolEnv
) -> None:
    result = run(files("files_write"), ws_env, path="a/b/c.txt", content="héllo")
    assert result.ok, result
    assert result.value == {"path": "a/b/c.txt", "bytes": len("héllo".encode())}
    assert (layout["ws"] / "a" / "b" / "c.txt").read_text() == "héllo"


def test_files_write_refuses_content_far_over_the_output_limit(
    layout: dict[str, Path],
) -> None:
    env = ToolEnv(layout["ws"], Policy(max_output_bytes=10))
    result = run(files("files_write"), env, path="big.txt", content="x" * 161)
    assert result.status == "error"
    assert "ValueError" in (result.error or "")
    assert not (layout["ws"] / "big.txt").exists()


def test_files_list_never_lists_through_a_symlink_out(
    layout: dict[str, Path], ws_env: ToolEnv
) -> None:
    top = run(files("files_list"), ws_env)
    assert top.ok, top
    assert top.value["entries"] == ["notes.txt", "sub/"]
    everything = run(files("files_list"), ws_env, pattern="**/*")
    assert everything.ok
    assert set(everything.value["entries"]) == {"notes.txt", "sub/", "sub/deep.txt"}
    for pattern in ("out/*", "etc/*", "../*", "../outside/*", "link.txt"):
        through = run(files("files_list"), ws_env, pattern=pattern)
        if through.ok:  # refusing the pattern outright is fine too
            for entry in through.value["entries"]:
                assert (layout["ws"] / entry).resolve().is_relative_to(layout["ws"]), entry
            assert not {"secret.txt", "passwd", "hostname"} & {
                Path(e).name for e in through.value["entries"]
            }, pattern
    for path in ("out", "etc", "..", str(layout["outside"])):
        refused(run(files("files_list"), ws_env, path=path))


def test_files_search_never_reads_through_a_symlink_out(
    layout: dict[str, Path], ws_env: ToolEnv
) -> None:
    found = run(files("files_search"), ws_env, pattern="secret")
    assert found.ok, found
    assert {m["path"] for m in found.value["matches"]} == {"notes.txt", "sub/deep.txt"}
    for glob in ("out/*", "link.txt", "../outside/*", "etc/*"):
        through = run(files("files_search"), ws_env, pattern=".", glob=glob)
        if through.ok:
            assert through.value["matches"] == [], glob
    for path in ("out", "etc", "../outside"):
        refused(run(files("files_search"), ws_env, pattern="root", path=path))


def release_fifo(fifo: Path) -> None:
    """Open the other end of ``fifo`` (both ends, without blocking) so that a thread stuck
    opening it goes on."""
    for flags in (os.O_WRONLY | os.O_NONBLOCK, os.O_RDONLY | os.O_NONBLOCK):
        try:
            fd = os.open(fifo, flags)
        except OSError:
            continue
        time.sleep(0.1)
        os.close(fd)


@pytest.mark.parametrize("name", ["files_read", "files_write"])
async def test_files_tools_refuse_a_fifo_instead_of_blocking_a_thread(
    tmp_path: Path, name: str
) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    fifo = ws / "pipe"
    os.mkfifo(fifo)
    arguments: dict[str, Any] = {"path": "pipe"}
    if name == "files_write":
        arguments["content"] = "x"
    try:
        result = await files(name).run(arguments, ToolEnv(ws, Policy(timeout=0.5)))
    finally:
        release_fifo(fifo)
        await asyncio.sleep(0.1)
    assert result.status == "error", result


def test_files_read_cuts_a_huge_file_at_the_output_limit(layout: dict[str, Path]) -> None:
    (layout["ws"] / "huge.log").write_bytes(b"y" * 5_000_000)
    env = ToolEnv(layout["ws"], Policy(max_output_bytes=1000))
    result = run(files("files_read"), env, path="huge.log")
    assert result.ok, result
    assert result.value["content"] == "y" * 1000
    assert result.value["truncated"] is True


def test_files_read_of_a_file_exactly_at_the_limit_is_not_truncated(
    layout: dict[str, Path],
) -> None:
    (layout["ws"] / "exact.txt").write_bytes(b"z" * 1000)
    env = ToolEnv(layout["ws"], Policy(max_output_bytes=1000))
    result = run(files("files_read"), env, path="exact.txt")
    assert result.value == {"path": "exact.txt", "content": "z" * 1000, "truncated": False}


# -- shell -----------------------------------------------------------------------------------


@pytest.fixture
def shell_ws(tmp_path: Path) -> Path:
    require_sandbox()
    ws = tmp_path / "shell-ws"
    ws.mkdir()
    return ws


def sh(ws: Path, command: str, policy: Policy | None = None, **more: Any) -> ToolResult:
    return run(shell_tool(), ToolEnv(ws, policy or Policy(timeout=10)), command=command, **more)


@pytest.mark.parametrize(
    ("command", "printed"),
    [
        ("echo hi; touch pwned", "hi; touch pwned"),
        ("echo $(touch pwned)", "$(touch pwned)"),
        ("echo a && touch pwned", "a && touch pwned"),
        ("echo a || touch pwned", "a || touch pwned"),
        ("echo hi | cat", "hi | cat"),
        ("echo `touch pwned`", "`touch pwned`"),
        ("echo hi > out.txt", "hi > out.txt"),
        ("echo hi >> out.txt 2>&1", "hi >> out.txt 2>&1"),
        ("echo * ~ $HOME", "* ~ $HOME"),
        ("echo 'a;b' \"$(touch pwned)\"", "a;b $(touch pwned)"),
    ],
)
def test_shell_metacharacters_stay_literal_arguments(
    shell_ws: Path, command: str, printed: str
) -> None:
    (shell_ws / "file-for-glob.txt").write_text("")
    result = sh(shell_ws, command)
    assert result.ok, result
    assert result.value["exit_code"] == 0
    assert result.value["stdout"] == printed + "\n"
    assert not (shell_ws / "pwned").exists()
    assert not (shell_ws / "out.txt").exists()
    assert sorted(p.name for p in shell_ws.iterdir()) == ["file-for-glob.txt"]


def test_shell_runs_in_the_workspace_root(shell_ws: Path) -> None:
    result = sh(shell_ws, "pwd")
    assert result.ok, result
    assert Path(result.value["stdout"].strip()).resolve() == shell_ws.resolve()


def test_shell_sees_only_the_allowlisted_environment(
    shell_ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_TOKEN", "tok-do-not-leak-123")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-do-not-leak")
    result = sh(shell_ws, "env")
    assert result.ok, result
    out = result.value["stdout"]
    names = {line.split("=", 1)[0] for line in out.splitlines() if "=" in line}
    assert "SECRET_TOKEN" not in out
    assert "tok-do-not-leak-123" not in out
    assert "aws-do-not-leak" not in out
    assert "PATH" in names
    # bubblewrap always sets PWD (to the workspace, where the command runs)
    assert f"PWD={shell_ws.resolve()}" in out.splitlines()
    assert names <= set(Policy().shell_env) | {"PWD"}
    assert f"HOME={shell_ws.resolve()}" in out.splitlines()  # no home but the workspace


def test_shell_environment_follows_the_policy_allowlist(
    shell_ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORCA_TEST_VISIBLE", "yes-visible")
    monkeypatch.setenv("SECRET_TOKEN", "tok-do-not-leak-123")
    policy = Policy(shell_env=("PATH", "ORCA_TEST_VISIBLE", "NOT_SET_ANYWHERE"), timeout=10)
    result = sh(shell_ws, "env", policy)
    names = {line.split("=", 1)[0] for line in result.value["stdout"].splitlines()}
    assert names == {"PATH", "ORCA_TEST_VISIBLE", "PWD"}
    assert "ORCA_TEST_VISIBLE=yes-visible" in result.value["stdout"]


def test_shell_cuts_huge_output_at_the_limit_without_deadlocking(shell_ws: Path) -> None:
    script = "import sys; print('x' * 10_000_000); print('e' * 5_000_000, file=sys.stderr)"
    command = f"{shlex.quote(python_executable())} -c {shlex.quote(script)}"
    start = time.perf_counter()
    result = sh(shell_ws, command, Policy(max_output_bytes=1000, timeout=30))
    assert time.perf_counter() - start < 20
    assert result.ok, result
    assert result.value["exit_code"] == 0
    assert result.value["stdout"] == "x" * 1000
    assert result.value["stderr"] == "e" * 1000
    assert result.value["truncated"] is True


def test_shell_reports_a_failing_exit_code_and_stderr(shell_ws: Path) -> None:
    command = f"{shlex.quote(python_executable())} -c \"import sys; sys.exit('bad thing')\""
    result = sh(shell_ws, command)
    assert result.ok
    assert result.value["exit_code"] == 1
    assert "bad thing" in result.value["stderr"]
    assert result.value["truncated"] is False


def test_shell_kills_a_hanging_command_at_its_timeout(shell_ws: Path) -> None:
    start = time.perf_counter()
    result = sh(shell_ws, "sleep 60", seconds=0.5)
    assert time.perf_counter() - start < 5
    assert result.status == "timeout", result
    assert "killed after 0.5s" in (result.error or "")


@pytest.fixture(params=["sandboxed", "unsandboxed"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Each process test runs in the sandbox and, as the policy may allow where
    bubblewrap is missing, without it (the process group is killed then)."""
    require_sandbox()
    if request.param == "unsandboxed":
        hide_bwrap(monkeypatch, tmp_path / "bin", "sh", "sleep", "touch", "setsid")
    return str(request.param)


def policy_for(mode: str, **more: Any) -> Policy:
    return Policy(allow_unsandboxed_shell=mode == "unsandboxed", **more)


def test_shell_timeout_kills_the_command_and_the_children_it_started(
    shell_ws: Path, mode: str
) -> None:
    mark = marker()
    script = f"sleep {mark} & touch started; sleep {mark}"
    env = ToolEnv(shell_ws, policy_for(mode, timeout=10))
    start = time.perf_counter()
    result = run(shell_tool(), env, command=f"sh -c {shlex.quote(script)}", seconds=0.5)
    elapsed = time.perf_counter() - start
    try:
        assert (shell_ws / "started").exists(), result
        assert result.status == "timeout", result
        assert elapsed < 5
        assert none_left(mark) == [], "the command or its child survived the timeout"
    finally:
        kill_all(mark)


def test_shell_kills_a_child_left_behind_by_a_command_that_exited(
    shell_ws: Path, mode: str
) -> None:
    """``sh`` exits and leaves a child holding its pipes: the sandbox ends it with the
    command (the call returns at once); unsandboxed, the timeout kills its group."""
    mark = marker()
    script = f"sleep {mark} & touch started"

    async def scenario() -> tuple[ToolResult, list[int]]:
        env = ToolEnv(shell_ws, policy_for(mode, timeout=10))
        result = await shell_tool().run(
            {"command": f"sh -c {shlex.quote(script)}", "seconds": 0.5}, env
        )
        left = none_left(mark, 1.0)
        kill_all(mark)  # clean up what the tool left, then let its pipes close
        await asyncio.sleep(0.2)
        return result, left

    result, left = asyncio.run(scenario())
    assert (shell_ws / "started").exists(), result
    assert result.status == ("ok" if mode == "sandboxed" else "timeout"), result
    assert left == [], "the child survived"


def test_shell_cancelled_by_the_tool_timeout_kills_its_process_group(
    shell_ws: Path, mode: str
) -> None:
    """The tool's own timeout (policy) is below the command's: the outer cancel must
    still kill what was started."""
    mark = marker()
    script = f"touch started; sleep {mark}"
    env = ToolEnv(shell_ws, policy_for(mode, timeout=0.5))
    result = run(shell_tool(), env, command=f"sh -c {shlex.quote(script)}", seconds=60)
    try:
        assert (shell_ws / "started").exists(), result
        assert result.status == "timeout", result
        assert none_left(mark) == []
    finally:
        kill_all(mark)


@pytest.mark.parametrize("command", ['echo "unbalanced', "echo 'open", "", "   "])
def test_shell_refuses_unparseable_or_empty_commands(shell_ws: Path, command: str) -> None:
    result = sh(shell_ws, command)
    assert result.status == "error", result
    assert "ValueError" in (result.error or "")
    assert list(shell_ws.iterdir()) == []


def test_shell_reports_a_missing_program_as_an_error(shell_ws: Path) -> None:
    result = sh(shell_ws, "no-such-program-orca-test --flag")
    assert result.status == "error"
    assert "FileNotFoundError" in (result.error or "")


# -- http_fetch ------------------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        srv.body("/", b"hello from loopback", **{"Content-Type": "text/plain"})
        yield srv


@pytest.fixture
def server6() -> Iterator[LoopbackServer]:
    if not ipv6_loopback():
        pytest.skip("no IPv6 loopback here")
    with LoopbackServer("::1") as srv:
        srv.body("/", b"hello from ::1")
        yield srv


def fetch(url: str, policy: Policy, tmp_path: Path, **more: Any) -> ToolResult:
    return run(http_fetch_tool(), ToolEnv(tmp_path, policy), url=url, **more)


ANY_PUBLIC = Policy(domains=("*",), timeout=5)
LOOPBACK_ONLY = Policy(domains=("127.0.0.1",), allow_networks=("127.0.0.1/32",), timeout=5)
ANY_HOST_LOOPBACK_NET = Policy(domains=("*",), allow_networks=("127.0.0.1/32",), timeout=5)


def test_http_fetch_refuses_loopback_and_never_connects(
    server: LoopbackServer, tmp_path: Path
) -> None:
    port = server.port
    for url in (
        f"http://127.0.0.1:{port}/",
        f"http://127.0.0.2:{port}/",
        f"http://localhost:{port}/",
        f"http://LOCALHOST.:{port}/",
        f"http://0.0.0.0:{port}/",
        f"http://0:{port}/",
        f"http://[::ffff:127.0.0.1]:{port}/",
        f"http://2130706433:{port}/",  # 127.0.0.1 as one decimal number
        f"http://0x7f.1:{port}/",
    ):
        result = fetch(url, ANY_PUBLIC, tmp_path)
        assert result.status == "error", (url, result)
        assert "PermissionError" in (result.error or "") or "ConnectionError" in (
            result.error or ""
        ), (url, result.error)
    assert server.seen == []


def test_http_fetch_refuses_ipv6_loopback_and_never_connects(
    server6: LoopbackServer, tmp_path: Path
) -> None:
    result = fetch(server6.url("/"), ANY_PUBLIC, tmp_path)
    assert result.status == "error"
    assert "PermissionError" in (result.error or "")
    assert "loopback" in (result.error or "")
    assert server6.seen == []
    # allowing only the IPv4 loopback network does not open the IPv6 one
    assert fetch(server6.url("/"), ANY_HOST_LOOPBACK_NET, tmp_path).status == "error"
    assert server6.seen == []


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://10.0.0.1/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://224.0.0.1/",
        "http://[::]/",
    ],
)
def test_http_fetch_refuses_private_metadata_and_special_addresses(
    url: str, tmp_path: Path
) -> None:
    result = fetch(url, ANY_PUBLIC, tmp_path)
    assert result.status == "error", result
    assert "PermissionError" in (result.error or ""), result.error


def test_http_fetch_refuses_a_host_not_on_the_domain_list(tmp_path: Path) -> None:
    policy = Policy(domains=("example.com", "*.trusted.org"), timeout=5)
    for url in (
        "http://example.org/",
        "http://notexample.com/",
        "http://example.com.evil.net/",
        "http://trusted.org/",  # *.trusted.org is its subdomains only
        "https://evil.net/?next=example.com",
    ):
        result = fetch(url, policy, tmp_path)
        assert result.status == "error", url
        assert "not on the allowed domains" in (result.error or ""), url


def test_policy_domain_matching() -> None:
    policy = Policy(domains=("Example.com", "*.trusted.org"))
    assert policy.allows_host("example.com")
    assert policy.allows_host("EXAMPLE.COM.")
    assert policy.allows_host("api.trusted.org")
    assert policy.allows_host("a.b.trusted.org")
    assert not policy.allows_host("trusted.org")
    assert not policy.allows_host("eviltrusted.org")
    assert not policy.allows_host("www.example.com")
    assert not Policy().allows_host("example.com")
    assert Policy(domains=("*",)).allows_host("anything.example")


def test_http_fetch_with_no_domains_refuses_everything(tmp_path: Path) -> None:
    result = fetch("http://example.com/", Policy(timeout=5), tmp_path)
    assert result.status == "error"
    assert "allowed domains (none)" in (result.error or "")


def test_http_fetch_reaches_an_allowed_loopback_network(
    server: LoopbackServer, tmp_path: Path
) -> None:
    result = fetch(server.url("/"), LOOPBACK_ONLY, tmp_path)
    assert result.ok, result
    assert result.value["status"] == 200
    assert result.value["body"] == "hello from loopback"
    assert result.value["truncated"] is False
    assert result.value["headers"]["Content-Type"] == "text/plain"
    assert [s.path for s in server.seen] == ["/"]


def test_http_fetch_returns_http_errors_as_values(server: LoopbackServer, tmp_path: Path) -> None:
    result = fetch(server.url("/missing"), LOOPBACK_ONLY, tmp_path)
    assert result.ok
    assert result.value["status"] == 404


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data",
        "http://10.0.0.1/admin",
        "http://[::ffff:169.254.169.254]/latest/meta-data",
    ],
)
def test_http_fetch_refuses_a_redirect_into_a_private_network(
    server: LoopbackServer, tmp_path: Path, target: str
) -> None:
    server.redirect("/go", target)
    result = fetch(server.url("/go"), ANY_HOST_LOOPBACK_NET, tmp_path)
    assert result.status == "error", result
    assert "PermissionError" in (result.error or "")
    assert [s.path for s in server.seen] == ["/go"]


def test_http_fetch_refuses_a_redirect_to_ipv6_loopback(
    server: LoopbackServer, server6: LoopbackServer, tmp_path: Path
) -> None:
    server.redirect("/go", server6.url("/"))
    result = fetch(server.url("/go"), ANY_HOST_LOOPBACK_NET, tmp_path)
    assert result.status == "error", result
    assert "PermissionError" in (result.error or "")
    assert server6.seen == []


def test_http_fetch_refuses_a_redirect_to_a_host_off_the_list(
    server: LoopbackServer, tmp_path: Path
) -> None:
    server.redirect("/go", "http://evil.example/steal")
    server.redirect("/go-local", f"http://localhost:{server.port}/")
    for path in ("/go", "/go-local"):
        result = fetch(server.url(path), LOOPBACK_ONLY, tmp_path)
        assert result.status == "error", result
        assert "not on the allowed domains" in (result.error or "")
    assert [s.path for s in server.seen] == ["/go", "/go-local"]


def test_http_fetch_follows_redirects_on_allowed_hosts(
    server: LoopbackServer, tmp_path: Path
) -> None:
    server.redirect("/old", "/", status=301)
    result = fetch(server.url("/old"), LOOPBACK_ONLY, tmp_path)
    assert result.ok, result
    assert result.value["body"] == "hello from loopback"
    assert result.value["url"] == server.url("/")


def redirect_chain(server: LoopbackServer, hops: int) -> str:
    for i in range(hops):
        server.redirect(f"/hop{i}", f"/hop{i + 1}" if i + 1 < hops else "/")
    return server.url("/hop0")


def test_http_fetch_follows_five_redirects_and_refuses_a_sixth(
    server: LoopbackServer, tmp_path: Path
) -> None:
    five = fetch(redirect_chain(server, 5), LOOPBACK_ONLY, tmp_path)
    assert five.ok, five
    assert five.value["body"] == "hello from loopback"
    server.seen.clear()
    server.routes.clear()
    server.body("/", b"never reached")
    six = fetch(redirect_chain(server, 6), LOOPBACK_ONLY, tmp_path)
    assert six.status == "error", six
    assert "more than 5 redirects" in (six.error or "")
    assert len(server.seen) == 6
    assert "/" not in [s.path for s in server.seen]


def test_http_fetch_redirect_loop_ends_in_an_error(server: LoopbackServer, tmp_path: Path) -> None:
    server.redirect("/loop", "/loop")
    result = fetch(server.url("/loop"), LOOPBACK_ONLY, tmp_path)
    assert result.status == "error"
    assert len(server.seen) == 6


def test_http_fetch_cuts_a_large_body(server: LoopbackServer, tmp_path: Path) -> None:
    server.body("/big", b"b" * 3_000_000)
    by_argument = fetch(server.url("/big"), LOOPBACK_ONLY, tmp_path, max_bytes=100)
    assert by_argument.ok, by_argument
    assert by_argument.value["body"] == "b" * 100
    assert by_argument.value["truncated"] is True
    policy = Policy(domains=("127.0.0.1",), allow_networks=("127.0.0.1/32",), max_output_bytes=50)
    # max_bytes cannot raise the policy's limit
    by_policy = fetch(server.url("/big"), policy, tmp_path, max_bytes=10_000_000)
    assert by_policy.value["body"] == "b" * 50
    assert by_policy.value["truncated"] is True


def test_http_fetch_times_out_on_a_server_that_never_answers(tmp_path: Path) -> None:
    policy = Policy(domains=("127.0.0.1",), allow_networks=("127.0.0.1/32",), timeout=0.5)
    with SilentServer() as silent:
        start = time.perf_counter()
        result = fetch(silent.url("/"), policy, tmp_path)
        assert time.perf_counter() - start < 5
    assert result.status == "timeout", result


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/file",
        "gopher://127.0.0.1:70/",
        "javascript:alert(1)",
        "//example.com/",
        "http:///nohost",
        "/etc/passwd",
    ],
)
def test_http_fetch_refuses_non_http_urls(url: str, tmp_path: Path) -> None:
    result = fetch(url, ANY_PUBLIC, tmp_path)
    assert result.status == "error", result
    assert "ValueError" in (result.error or "")
    assert "root:" not in result.content()


def test_http_fetch_refuses_a_name_resolving_to_any_private_address(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """DNS rebinding by round robin: one public and one loopback answer is refused."""
    real = socket.getaddrinfo

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.test":
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
            ]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    result = fetch("http://rebind.test/", ANY_PUBLIC, tmp_path)
    assert result.status == "error"
    assert "127.0.0.1" in (result.error or "")
    assert "PermissionError" in (result.error or "")


def test_http_fetch_connects_to_the_address_it_checked(
    server: LoopbackServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The name is resolved once per hop: a second answer (rebinding to the metadata
    address) is never asked for, and the Host header keeps the name."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "pinned.test":
            asked.append(host)
            address = "127.0.0.1" if len(asked) == 1 else "169.254.169.254"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    policy = Policy(domains=("pinned.test",), allow_networks=("127.0.0.1/32",), timeout=5)
    result = fetch(f"http://pinned.test:{server.port}/", policy, tmp_path)
    assert result.ok, result
    assert result.value["body"] == "hello from loopback"
    assert asked == ["pinned.test"]
    assert server.seen[0].host == f"pinned.test:{server.port}"


# -- hanging tools ---------------------------------------------------------------------------


async def hangs_async() -> str:
    """Waits forever."""
    await asyncio.Event().wait()
    return "never"


def test_an_async_tool_that_hangs_forever_times_out(tmp_path: Path) -> None:
    hang = Tool.of(hangs_async, timeout=0.3)
    start = time.perf_counter()
    result = run(hang, ToolEnv(tmp_path))
    assert time.perf_counter() - start < 5
    assert result.status == "timeout"
    assert "0.3s" in (result.error or "")


async def test_a_sync_tool_that_hangs_times_out(tmp_path: Path) -> None:
    release = threading.Event()

    def hangs_sync() -> str:
        """Sleeps 30 seconds (released when the test ends, so no thread outlives it)."""
        release.wait(30)
        return "late"

    hang = Tool.of(hangs_sync, timeout=0.3)
    try:
        start = time.perf_counter()
        result = await hang.run({}, ToolEnv(tmp_path))
        elapsed = time.perf_counter() - start
    finally:
        release.set()
    assert elapsed < 5
    assert result.status == "timeout"
    assert "0.3s" in (result.error or "")


async def test_a_policy_timeout_applies_to_tools_without_their_own(tmp_path: Path) -> None:
    tools = Tools([hangs_async], workspace=tmp_path, policy=Policy(timeout=0.3))
    start = time.perf_counter()
    result = await tools.run("hangs_async", {})
    assert time.perf_counter() - start < 5
    assert result.status == "timeout"


def test_builtin_tools_are_the_shell_files_and_http_tools() -> None:
    names = [t.name for t in builtin_tools()]
    assert names == [
        "shell",
        "python",
        "files_read",
        "files_write",
        "files_list",
        "files_search",
        "http_fetch",
    ]
    for t in builtin_tools():
        assert "env" not in t.spec.parameters["properties"]


def test_a_model_cannot_pass_its_own_env_to_a_tool(layout: dict[str, Path]) -> None:
    arguments = {"path": "notes.txt", "env": {"workspace": "/"}}
    result = asyncio.run(files("files_read").run(arguments, ToolEnv(layout["ws"])))
    assert result.status == "invalid"
    assert "env" in (result.error or "")
