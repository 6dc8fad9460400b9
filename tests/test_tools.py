"""Tools: a typed function becomes a ``Tool`` (schema from its signature and docstring,
``env`` injected, never shown); ``Tool.run`` validates, times out and never raises for
the tool's failures; the ``Tools`` registry applies the policy, runs a turn's calls
concurrently and audits every execution (redacted) into the project database; in a run,
``ctx.tools`` runs them as the node, with ``tool.call`` events; redaction masks secrets
and personal data."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, TypedDict

import pydantic
import pytest

from orca import END, START, StateGraph
from orca.errors import InvalidInputError, ToolError
from orca.llm import ToolCall
from orca.tools import (
    Audit,
    Policy,
    Tool,
    ToolEnv,
    ToolResult,
    Tools,
    file_tools,
    redact,
    redact_text,
    tool,
)

API_KEY = "sk-live-abcdefghijklmnopqrstu"
EMAIL = "jane.doe@example.com"


# -- tools used below ------------------------------------------------------------------------


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


async def mul(a: int, b: int = 2) -> int:
    """Multiply two integers (async)."""
    await asyncio.sleep(0)
    return a * b


def echo(text: str) -> str:
    """Return the text."""
    return text


def explode(reason: str) -> None:
    """Always fails."""
    raise ValueError(f"bad input {reason}")


def weather(city: str, env: ToolEnv, days: int = 3, units: str = "metric") -> dict[str, Any]:
    """Look up the weather forecast
    for a city.

    Longer notes the model does not need.

    Args:
        city: the city's name, e.g. Paris.
        days: how many days ahead,
            counting today.
        env: supplied by Orca.
    """
    return {"city": city, "days": days, "units": units, "workspace": str(env.workspace)}


class Point(pydantic.BaseModel):
    """A point on the plane."""

    x: int
    y: int = 0


def norm1(p: Point, scale: float = 1.0) -> float:
    """The L1 norm of a point.

    Args:
        p: the point.
    """
    return (abs(p.x) + abs(p.y)) * scale


def run(t: Tool, env: ToolEnv, arguments: dict[str, Any]) -> ToolResult:
    return asyncio.run(t.run(arguments, env))


# -- Tool.of and @tool -----------------------------------------------------------------------


def test_tool_schema_comes_from_the_signature_and_the_docstring() -> None:
    t = Tool.of(weather)
    assert t.name == "weather"
    assert t.description == "Look up the weather forecast for a city."
    assert t.spec.description == t.description
    params = t.spec.parameters
    assert params["type"] == "object"
    assert set(params["properties"]) == {"city", "days", "units"}
    assert params["required"] == ["city"]
    assert params["properties"]["city"] == {
        "type": "string",
        "description": "the city's name, e.g. Paris.",
    }
    assert params["properties"]["days"]["type"] == "integer"
    assert params["properties"]["days"]["default"] == 3
    assert params["properties"]["days"]["description"] == "how many days ahead, counting today."
    assert params["properties"]["units"]["default"] == "metric"
    assert "env" not in json.dumps(params)
    assert params.get("additionalProperties") is False
    assert t.wants_env is True


def test_env_is_injected_at_run_and_defaults_apply(tmp_path: Path) -> None:
    result = run(Tool.of(weather), ToolEnv(tmp_path), {"city": "Oslo"})
    assert result.ok, result
    assert result.value == {
        "city": "Oslo",
        "days": 3,
        "units": "metric",
        "workspace": str(tmp_path),
    }
    assert result.tool == "weather"
    assert result.duration_ms >= 0


def test_a_model_cannot_supply_env(tmp_path: Path) -> None:
    result = run(Tool.of(weather), ToolEnv(tmp_path), {"city": "Oslo", "env": "/"})
    assert result.status == "invalid"
    assert "env" in (result.error or "")


def test_tool_decorator_bare_and_with_options(tmp_path: Path) -> None:
    @tool
    def shout(text: str) -> str:
        """Upper-case the text."""
        return text.upper()

    @tool(name="renamed-tool", description="Told to the model.", timeout=5)
    async def quiet(text: str) -> str:
        """Lower-case the text."""
        return text.lower()

    assert isinstance(shout, Tool)
    assert isinstance(quiet, Tool)
    assert shout.name == "shout"
    assert shout.description == "Upper-case the text."
    assert quiet.name == "renamed-tool"
    assert quiet.spec.name == "renamed-tool"
    assert quiet.description == "Told to the model."
    assert quiet.timeout == 5
    assert run(shout, ToolEnv(tmp_path), {"text": "hi"}).value == "HI"
    assert run(quiet, ToolEnv(tmp_path), {"text": "HI"}).value == "hi"
    assert quiet.wants_env is False


def test_sync_and_async_tools_both_run(tmp_path: Path) -> None:
    env = ToolEnv(tmp_path)
    assert run(Tool.of(add), env, {"a": 2, "b": 3}).value == 5
    assert run(Tool.of(mul), env, {"a": 4}).value == 8
    assert run(Tool.of(mul), env, {"a": 4, "b": 3}).value == 12


def test_a_pydantic_model_argument_is_described_and_validated(tmp_path: Path) -> None:
    t = Tool.of(norm1)
    schema = json.dumps(t.spec.parameters)
    assert '"x"' in schema
    assert '"y"' in schema
    assert t.spec.parameters["required"] == ["p"]
    assert t.spec.parameters["properties"]["p"].get("description") == "the point." or (
        "the point." in schema
    )
    ok = run(t, ToolEnv(tmp_path), {"p": {"x": -3, "y": 4}, "scale": 2})
    assert ok.ok
    assert ok.value == 14.0
    bad = run(t, ToolEnv(tmp_path), {"p": {"x": "left"}})
    assert bad.status == "invalid"
    assert "p.x" in (bad.error or "")


@pytest.mark.parametrize(
    "name", ["a.b", "has space", "x" * 65, "1starts_with_digit", "_leading", "naïve", "semi;colon"]
)
def test_bad_tool_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidInputError, match="tool name"):
        Tool.of(add, name=name)


def test_good_tool_names_are_accepted() -> None:
    assert Tool.of(add, name="x" * 64).name == "x" * 64
    assert Tool.of(add, name="get-weather_v2").name == "get-weather_v2"


def test_a_lambda_needs_a_name() -> None:
    with pytest.raises(InvalidInputError):
        Tool.of(lambda a: a)


def test_arguments_without_annotations_are_refused() -> None:
    def untyped(a, b: int) -> int:  # type: ignore[no-untyped-def]
        return b

    with pytest.raises(InvalidInputError, match="'a' has no type annotation"):
        Tool.of(untyped)


def test_star_args_and_kwargs_are_refused() -> None:
    def star(*items: int) -> int:
        return sum(items)

    def double_star(**options: str) -> int:
        return len(options)

    for fn in (star, double_star):
        with pytest.raises(InvalidInputError, match="cannot be described"):
            Tool.of(fn)


@pytest.mark.parametrize("timeout", [0, -1, -0.5])
def test_a_non_positive_timeout_is_refused(timeout: float) -> None:
    with pytest.raises(InvalidInputError, match="timeout must be above zero"):
        Tool.of(add, timeout=timeout)
    with pytest.raises(InvalidInputError):
        tool(timeout=timeout)(add)


# -- Tool.run --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "field", "words"),
    [
        ({"a": "three", "b": 2}, "a", "integer"),
        ({"a": [1], "b": 2}, "a", "integer"),
        ({"a": 1}, "b", "Field required"),
        ({"a": 1, "b": 2, "c": 3}, "c", "Extra inputs"),
    ],
)
def test_invalid_arguments_name_the_field(
    tmp_path: Path, arguments: dict[str, Any], field: str, words: str
) -> None:
    calls: list[int] = []

    def counted(a: int, b: int) -> int:
        calls.append(a)
        return a + b

    result = run(Tool.of(counted), ToolEnv(tmp_path), arguments)
    assert result.status == "invalid"
    assert result.error is not None
    assert result.error.startswith("invalid arguments:")
    assert f"{field}:" in result.error
    assert words in result.error
    assert calls == []  # the function never ran


def test_a_raising_tool_is_an_error_result_naming_the_exception(tmp_path: Path) -> None:
    result = run(Tool.of(explode), ToolEnv(tmp_path), {"reason": "42"})
    assert result.status == "error"
    assert result.error == "ValueError: bad input 42"
    assert not result.ok
    assert result.value is None


async def test_a_raising_async_tool_is_an_error_result(tmp_path: Path) -> None:
    async def broken() -> int:
        """Divides by zero."""
        return 1 // 0

    result = await Tool.of(broken).run({}, ToolEnv(tmp_path))
    assert result.status == "error"
    assert (result.error or "").startswith("ZeroDivisionError")


async def test_a_slow_async_tool_times_out_within_its_timeout(tmp_path: Path) -> None:
    async def slow() -> str:
        """Takes ten seconds."""
        await asyncio.sleep(10)
        return "done"

    start = time.perf_counter()
    result = await Tool.of(slow, timeout=0.2).run({}, ToolEnv(tmp_path))
    assert time.perf_counter() - start < 5
    assert result.status == "timeout"
    assert result.error == "no result within 0.2s"


async def test_a_slow_sync_tool_times_out_within_its_timeout(tmp_path: Path) -> None:
    release = threading.Event()

    def slow() -> str:
        """Blocks ten seconds (released at the end of the test)."""
        release.wait(10)
        return "done"

    try:
        start = time.perf_counter()
        result = await Tool.of(slow, timeout=0.2).run({}, ToolEnv(tmp_path))
        elapsed = time.perf_counter() - start
    finally:
        release.set()
    assert elapsed < 5
    assert result.status == "timeout"


async def test_the_policy_timeout_applies_when_the_tool_sets_none(tmp_path: Path) -> None:
    async def slow() -> None:
        """Takes ten seconds."""
        await asyncio.sleep(10)

    start = time.perf_counter()
    result = await Tool.of(slow).run({}, ToolEnv(tmp_path, Policy(timeout=0.2)))
    assert time.perf_counter() - start < 5
    assert result.status == "timeout"


def test_tool_result_content_is_what_a_model_reads() -> None:
    assert ToolResult("t", "ok", "plain text").content() == "plain text"
    assert json.loads(ToolResult("t", "ok", {"a": [1, 2]}).content()) == {"a": [1, 2]}
    assert ToolResult("t", "ok", None).content() == "null"
    assert ToolResult("t", "ok", 3.5).content() == "3.5"
    assert ToolResult("t", "ok", Path("/x")).content() == '"/x"'  # default=str
    err = ToolResult("t", "error", error="ValueError: nope")
    assert err.content() == "error (error): ValueError: nope"
    assert ToolResult("t", "timeout", error="no result within 1s").content() == (
        "error (timeout): no result within 1s"
    )
    assert ToolResult("t", "denied", error="no").ok is False
    assert ToolResult("t", "ok").ok is True


def test_a_tool_declaring_ctx_is_refused_or_runs(tmp_path: Path) -> None:
    def with_ctx(x: int, ctx: Any) -> int:
        """Uses the run context."""
        return x

    try:
        t = Tool.of(with_ctx)
    except InvalidInputError:
        return  # refusing it up front is fine
    result = run(t, ToolEnv(tmp_path), {"x": 1})
    assert result.status != "error", result.error


# -- the Tools registry ----------------------------------------------------------------------


def test_duplicate_tool_names_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="two tools are named 'add'"):
        Tools([add, Tool.of(add)], workspace=tmp_path)
    tools = Tools([add], workspace=tmp_path)
    with pytest.raises(InvalidInputError, match="two tools are named"):
        tools.add(add)
    renamed = tools.add(Tool.of(add, name="plus"))
    assert renamed.name == "plus"
    assert tools.names() == ["add", "plus"]


async def test_an_unknown_tool_is_an_invalid_result_naming_the_closest(tmp_path: Path) -> None:
    tools = Tools([add, echo], workspace=tmp_path)
    result = await tools.run("ad", {"a": 1, "b": 2})
    assert result.status == "invalid"
    assert "no tool named 'ad'" in (result.error or "")
    assert "did you mean 'add'?" in (result.error or "")
    with pytest.raises(InvalidInputError, match="did you mean 'echo'"):
        tools.get("ecko")


async def test_policy_allow_and_deny_globs_deny_wins(tmp_path: Path) -> None:
    ran: list[str] = []

    def files_note(text: str) -> str:
        """Notes a text."""
        ran.append(text)
        return text

    def counted_add(a: int, b: int) -> int:
        """Adds, counted."""
        ran.append("add")
        return a + b

    policy = Policy(allow=("files_*", "counted_*"), deny=("files_write", "*_note"))
    tools = Tools([files_note, counted_add, *file_tools(), echo], workspace=tmp_path, policy=policy)
    names = [s.name for s in tools.specs()]
    assert names == ["counted_add", "files_list", "files_read", "files_search"]

    for name, arguments in (
        ("files_write", {"path": "a.txt", "content": "x"}),
        ("files_note", {"text": "x"}),
        ("echo", {"text": "x"}),
    ):
        result = await tools.run(name, arguments)
        assert result.status == "denied", name
        assert result.error == f"the policy does not allow {name!r}"
    assert ran == []
    assert not (tmp_path / "a.txt").exists()
    assert (await tools.run("counted_add", {"a": 1, "b": 1})).value == 2
    assert ran == ["add"]
    assert [s.name for s in tools.specs(["echo", "counted_add"])] == ["counted_add"]


def test_policy_allows() -> None:
    assert Policy().allows("anything")
    assert not Policy(allow=()).allows("anything")
    assert Policy(allow=("a*",), deny=("ab",)).allows("ac")
    assert not Policy(allow=("a*",), deny=("ab",)).allows("ab")
    assert not Policy(deny=("*",)).allows("x")


async def test_run_calls_runs_one_turns_calls_concurrently(tmp_path: Path) -> None:
    ping_set, pong_set = asyncio.Event(), asyncio.Event()

    async def ping() -> str:
        """Sets ping, waits for pong."""
        ping_set.set()
        await pong_set.wait()
        return "ping"

    async def pong() -> str:
        """Sets pong, waits for ping."""
        pong_set.set()
        await ping_set.wait()
        return "pong"

    # run one after the other, the first would wait for the second forever: 2 s timeouts
    tools = Tools([Tool.of(ping, timeout=2), Tool.of(pong, timeout=2), add], workspace=tmp_path)
    calls = [
        ToolCall("c1", "pong", {}),
        ToolCall("c2", "add", {"a": 1, "b": 2}),
        ToolCall("c3", "ping", {}),
    ]
    results = await tools.run_calls(calls)
    assert [r.tool for r in results] == ["pong", "add", "ping"]
    assert [r.value for r in results] == ["pong", 3, "ping"]
    assert all(r.ok for r in results)


async def test_run_calls_overlap_in_time(tmp_path: Path) -> None:
    async def nap(label: str) -> str:
        """Sleeps 0.3 s."""
        await asyncio.sleep(0.3)
        return label

    tools = Tools([nap], workspace=tmp_path)
    start = time.perf_counter()
    results = await tools.run_calls(
        [ToolCall("1", "nap", {"label": "first"}), ToolCall("2", "nap", {"label": "second"})]
    )
    assert time.perf_counter() - start < 0.55
    assert [r.value for r in results] == ["first", "second"]


async def test_run_calls_turn_bad_json_into_an_invalid_result(tmp_path: Path) -> None:
    tools = Tools([add], workspace=tmp_path, audit=tmp_path / "project.db")
    bad = ToolCall("c1", "add", {}, raw_arguments='{"a": 1,', arguments_error="Expecting value")
    results = await tools.run_calls([bad, ToolCall("c2", "add", {"a": 1, "b": 1})])
    assert results[0].status == "invalid"
    assert "Expecting value" in (results[0].error or "")
    assert results[1].value == 2
    rows = audit_rows(tmp_path / "project.db")
    assert sorted(r["status"] for r in rows) == ["invalid", "ok"]
    invalid = next(r for r in rows if r["status"] == "invalid")
    assert json.loads(invalid["arguments"]) == {"raw": '{"a": 1,'}
    tools.close()


# -- audit -----------------------------------------------------------------------------------


def audit_rows(db: Path) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM tool_executions ORDER BY rowid")]
    finally:
        conn.close()


async def test_audit_writes_one_redacted_row_per_execution(tmp_path: Path) -> None:
    db = tmp_path / "project.db"
    tools = Tools([echo, explode, add], workspace=tmp_path, audit=db)
    secret_text = f"use {API_KEY} and mail {EMAIL}"
    assert (await tools.run("echo", {"text": secret_text})).ok
    assert (await tools.run("explode", {"reason": f"token={API_KEY}"})).status == "error"
    assert (await tools.run("add", {"a": "x", "b": 1})).status == "invalid"
    tools.close()

    rows = audit_rows(db)
    assert [(r["tool"], r["status"]) for r in rows] == [
        ("echo", "ok"),
        ("explode", "error"),
        ("add", "invalid"),
    ]
    for row in rows:
        dumped = json.dumps(row)
        assert API_KEY not in dumped
        assert EMAIL not in dumped
        assert "sk-live" not in dumped
        assert row["duration_ms"] >= 0
        assert row["run_id"] is None
        assert row["thread_id"] is None
        assert row["node"] is None
        assert row["created_at"]
    first = json.loads(rows[0]["arguments"])
    assert first == {"text": "use [REDACTED:api_key] and mail [REDACTED:email]"}
    assert rows[0]["result_summary"] == "use [REDACTED:api_key] and mail [REDACTED:email]"
    assert rows[1]["result_summary"].startswith("error (error): ValueError: bad input token=")
    assert "[REDACTED" in rows[1]["result_summary"]


async def test_audit_summary_is_redacted_then_cut_to_500_chars(tmp_path: Path) -> None:
    db = tmp_path / "project.db"

    def long_answer(where: int) -> str:
        """A long answer with a secret in it."""
        return "y" * where + f" {API_KEY} " + "z" * 2000

    tools = Tools([long_answer], workspace=tmp_path, audit=Audit.open(db))
    for where in (0, 480, 495):  # the key straddles the cut at 495
        result = await tools.run("long_answer", {"where": where})
        assert API_KEY in result.value  # the caller still gets the real value
    tools.close()
    for row in audit_rows(db):
        assert len(row["result_summary"]) <= 500
        assert "sk-live" not in row["result_summary"]
        assert "abcdefghijklmnop" not in row["result_summary"]
    assert len(audit_rows(db)[0]["result_summary"]) == 500


async def test_audit_keeps_values_when_the_policy_does_not_redact(tmp_path: Path) -> None:
    db = tmp_path / "project.db"
    tools = Tools([echo], workspace=tmp_path, policy=Policy(redact=False), audit=db)
    await tools.run("echo", {"text": EMAIL})
    tools.close()
    (row,) = audit_rows(db)
    assert json.loads(row["arguments"]) == {"text": EMAIL}
    assert row["result_summary"] == EMAIL


async def test_audit_masks_credentials_even_when_the_policy_does_not_redact(
    tmp_path: Path,
) -> None:
    db = tmp_path / "project.db"
    tools = Tools([echo], workspace=tmp_path, policy=Policy(redact=False), audit=db)
    await tools.run("echo", {"text": f"{EMAIL} uses {API_KEY}"})
    tools.close()
    (row,) = audit_rows(db)
    assert json.loads(row["arguments"]) == {"text": f"{EMAIL} uses [REDACTED:api_key]"}
    assert row["result_summary"] == f"{EMAIL} uses [REDACTED:api_key]"


async def test_denied_and_unknown_calls_are_audited_too(tmp_path: Path) -> None:
    db = tmp_path / "project.db"
    tools = Tools([echo], workspace=tmp_path, policy=Policy(deny=("echo",)), audit=db)
    await tools.run("echo", {"text": "x"})
    await tools.run("nope", {"password": "hunter2hunter2"})
    tools.close()
    rows = audit_rows(db)
    assert [(r["tool"], r["status"]) for r in rows] == [("echo", "denied"), ("nope", "invalid")]
    assert json.loads(rows[1]["arguments"]) == {"password": "[REDACTED:secret]"}


async def test_audit_summary_masks_secret_keys_of_a_returned_dict(tmp_path: Path) -> None:
    db = tmp_path / "project.db"

    def login() -> dict[str, Any]:
        """Returns credentials."""
        return {
            "accessToken": "eyJhbGciOiJIUzI1NiJ9payload",
            "Authorization": "Basic Zm9vOmJhcg==",
            "password": "abc",
            "secret": ["a1b2c3d4"],
        }

    tools = Tools([login], workspace=tmp_path, audit=db)
    await tools.run("login", {})
    tools.close()
    (row,) = audit_rows(db)
    for leaked in ("eyJhbGciOiJIUzI1NiJ9payload", "Zm9vOmJhcg==", '"abc"', "a1b2c3d4"):
        assert leaked not in row["result_summary"], row["result_summary"]


# -- in a run --------------------------------------------------------------------------------


class S(TypedDict, total=False):
    out: Any
    error: str
    status: str


def one_node(fn: Any, name: str = "caller") -> Any:
    g = StateGraph(S, name="tooling")
    g.add_node(name, fn)
    g.add_edge(START, name)
    g.add_edge(name, END)
    return g.compile()


def test_an_async_node_calls_a_tool() -> None:
    async def caller(state: S, ctx: Any) -> dict[str, Any]:
        return {"out": await ctx.tools.acall("add", a=1, b=2)}

    assert one_node(caller).invoke({}, tools=[add])["out"] == 3


def test_a_sync_node_calls_a_tool() -> None:
    def caller(state: S, ctx: Any) -> dict[str, Any]:
        return {"out": [ctx.tools.call("add", a=2, b=5), ctx.tools.call("mul", a=3)]}

    assert one_node(caller).invoke({}, tools=[add, mul])["out"] == [7, 6]


def test_acall_on_a_failing_tool_raises_tool_error_with_the_result() -> None:
    async def caller(state: S, ctx: Any) -> dict[str, Any]:
        try:
            await ctx.tools.acall("explode", reason="why")
        except ToolError as exc:
            return {"out": exc.result, "status": exc.status, "error": exc.result.error or ""}
        return {}

    out = one_node(caller).invoke({}, tools=[explode])
    assert isinstance(out["out"], ToolResult)
    assert out["out"].status == "error"
    assert (out["status"], out["error"]) == ("error", "ValueError: bad input why")


def test_an_uncaught_tool_error_fails_the_run() -> None:
    async def caller(state: S, ctx: Any) -> dict[str, Any]:
        return {"out": await ctx.tools.acall("add", a="x", b=1)}

    with pytest.raises(ToolError) as info:  # an Orca error leaves the run as it is
        one_node(caller).invoke({}, tools=[add])
    assert info.value.status == "invalid"
    assert info.value.tool == "add"
    assert info.value.result.status == "invalid"
    assert "a: Input should be a valid integer" in str(info.value)


def test_arun_returns_the_result_without_raising() -> None:
    async def caller(state: S, ctx: Any) -> dict[str, Any]:
        result = await ctx.tools.arun("add", a=1, b=2)
        denied = await ctx.tools.arun("echo", text="x")
        return {"out": [result.status, result.value, denied.status]}

    out = one_node(caller).invoke({}, tools=[add, echo], policy=Policy(deny=("echo",)))
    assert out["out"] == ["ok", 3, "denied"]


def test_tool_calls_are_events_with_node_task_and_redacted_arguments() -> None:
    async def caller(state: S, ctx: Any) -> dict[str, Any]:
        await ctx.tools.acall("echo", text=f"key {API_KEY} mail {EMAIL}")
        await ctx.tools.arun("explode", reason="boom")
        return {}

    events = list(one_node(caller).stream({}, mode="events", tools=[echo, explode]))
    calls = [e for e in events if e.type == "tool.call"]
    started = next(e for e in events if e.type == "task.started" and e.node == "caller")
    assert [(c.tool, c.status) for c in calls] == [("echo", "ok"), ("explode", "error")]
    for c in calls:
        assert c.node == "caller"
        assert c.task_id == started.task_id
        assert c.run_id == started.run_id
        assert c.duration_ms >= 0
        assert API_KEY not in json.dumps(c.to_dict())
        assert EMAIL not in json.dumps(c.to_dict())
    assert calls[0].arguments == {"text": "key [REDACTED:api_key] mail [REDACTED:email]"}
    assert calls[0].result == "key [REDACTED:api_key] mail [REDACTED:email]"
    assert calls[1].arguments == {"reason": "boom"}
    assert calls[1].result == "error (error): ValueError: bad input boom"


def test_sync_node_tool_calls_are_events_too() -> None:
    def caller(state: S, ctx: Any) -> dict[str, Any]:
        return {"out": ctx.tools.call("add", a=1, b=1)}

    events = list(one_node(caller).stream({}, mode="events", tools=[add]))
    (call,) = [e for e in events if e.type == "tool.call"]
    assert (call.tool, call.node, call.status, call.arguments) == (
        "add",
        "caller",
        "ok",
        {"a": 1, "b": 1},
    )


def test_audit_rows_of_a_run_carry_run_thread_and_node(tmp_path: Path) -> None:
    async def caller(state: S, ctx: Any) -> dict[str, Any]:
        return {"out": await ctx.tools.acall("echo", text=f"to {EMAIL}")}

    db = tmp_path / "project.db"
    events = list(
        one_node(caller, "worker_node").stream(
            {}, mode="events", tools=[echo], audit=db, thread_id="thread-7"
        )
    )
    run_id = events[0].run_id
    (row,) = audit_rows(db)
    assert row["run_id"] == run_id
    assert row["thread_id"] == "thread-7"
    assert row["node"] == "worker_node"
    assert row["tool"] == "echo"
    assert row["status"] == "ok"
    assert EMAIL not in json.dumps(row)


def test_workspace_option_confines_the_file_tools(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()

    async def caller(state: S, ctx: Any) -> dict[str, Any]:
        await ctx.tools.acall("files_write", path="notes/a.txt", content="hello")
        escaped = await ctx.tools.arun("files_write", path="../escaped.txt", content="x")
        read = await ctx.tools.acall("files_read", path="notes/a.txt")
        return {"out": read["content"], "status": escaped.status}

    out = one_node(caller).invoke({}, tools=file_tools(), workspace=ws)
    assert out == {"out": "hello", "status": "error"}
    assert (ws / "notes" / "a.txt").read_text() == "hello"
    assert not (tmp_path / "escaped.txt").exists()


def test_a_tools_object_is_used_as_given(tmp_path: Path) -> None:
    db = tmp_path / "project.db"
    toolbox = Tools([add], workspace=tmp_path, audit=db)

    async def caller(state: S, ctx: Any) -> dict[str, Any]:
        return {"out": [await ctx.tools.acall("add", a=1, b=1), ctx.tools.names()]}

    assert one_node(caller).invoke({}, tools=toolbox)["out"] == [2, ["add"]]
    toolbox.close()
    assert len(audit_rows(db)) == 1


def test_arun_calls_in_a_node() -> None:
    async def caller(state: S, ctx: Any) -> dict[str, Any]:
        results = await ctx.tools.arun_calls(
            [ToolCall("1", "add", {"a": 1, "b": 2}), ToolCall("2", "nope", {})]
        )
        return {"out": [(r.tool, r.status) for r in results]}

    out = one_node(caller).invoke({}, tools=[add])
    assert out["out"] == [("add", "ok"), ("nope", "invalid")]


def test_a_run_without_tools_says_to_pass_tools() -> None:
    async def caller(state: S, ctx: Any) -> dict[str, Any]:
        try:
            ctx.tools  # noqa: B018
        except InvalidInputError as exc:
            return {"error": str(exc)}
        return {}

    error = one_node(caller).invoke({})["error"]
    assert "no tools" in error
    assert "tools=" in error


@pytest.mark.parametrize(
    "options",
    [
        {"tools": "add"},
        {"tools": add},
        {"tools": [add], "policy": {}},
        {"tools": [add], "policy": "strict"},
    ],
)
def test_bad_tool_option_types_are_refused(options: dict[str, Any]) -> None:
    async def caller(state: S, ctx: Any) -> dict[str, Any]:
        return {}

    with pytest.raises(InvalidInputError):
        one_node(caller).invoke({}, **options)


@pytest.mark.parametrize("extra", ["workspace", "policy", "audit"])
def test_a_tools_object_with_workspace_policy_or_audit_is_refused(
    tmp_path: Path, extra: str
) -> None:
    async def caller(state: S, ctx: Any) -> dict[str, Any]:
        return {}

    value: Any = {"workspace": tmp_path, "policy": Policy(), "audit": tmp_path / "p.db"}[extra]
    with pytest.raises(InvalidInputError, match="carries its own"):
        one_node(caller).invoke({}, tools=Tools([add], workspace=tmp_path), **{extra: value})


# -- redaction -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "sk-live-abcdefghijklmnopqrstu",
        "sk-abcdefghijklmnopqrstuvwxyz012345",
        "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv_wxyz-0123",
        "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx",
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "xoxb-1234567890-abcdefghij",
    ],
)
def test_api_keys_are_masked(key: str) -> None:
    text = redact_text(f"the key is {key} ok")
    assert key not in text
    assert text == "the key is [REDACTED:api_key] ok"


def test_bearer_tokens_keep_the_label() -> None:
    text = redact_text("Authorization: Bearer abc.def-ghi_123456")
    assert text == "Authorization: Bearer [REDACTED:bearer]"
    assert redact_text("bearer xyz") == "bearer xyz"  # too short to be a token


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("password=hunter2hunter2", "password="),
        ("PASSWORD: 'correct horse'", "PASSWORD: '"),
        ('{"api_key": "abcd1234efgh"}', '{"api_key": "'),
        ("api-key=abcd1234", "api-key="),
        ("token = zyxw9876", "token = "),
        ("client_secret=s3cr3tvalue", "client_secret="),
        ("pwd=topsecret&user=bob", "pwd="),
    ],
)
def test_key_value_secrets_keep_the_key_and_mask_the_value(text: str, kept: str) -> None:
    out = redact_text(text)
    assert out.startswith(kept), out
    assert "[REDACTED:secret]" in out
    for secret in ("hunter2hunter2", "correct", "abcd1234", "zyxw9876", "s3cr3t", "topsecret"):
        assert secret not in out


def test_emails_are_masked() -> None:
    assert redact_text(f"write to {EMAIL}.") == "write to [REDACTED:email]."
    assert redact_text("a+tag@sub.example.co.uk") == "[REDACTED:email]"
    assert redact_text("not an email: user@localhost") == "not an email: user@localhost"


@pytest.mark.parametrize(
    "phone",
    [
        "+1 415 555 2671",
        "+44 20 7946 0958",
        "+1-415-555-2671",
        "+1 (415) 555-2671",
        "(415) 555-2671",
        "415-555-2671",
        "+33612345678",
        "0612345678",
    ],
)
def test_phone_numbers_are_masked(phone: str) -> None:
    out = redact_text(f"call {phone} today")
    assert "[REDACTED:phone]" in out, out
    assert "555" not in out
    assert "2671" not in out
    assert "12345678" not in out
    assert out.startswith("call ")
    assert out.endswith(" today")


@pytest.mark.parametrize(
    "card", ["4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111", "378282246310005"]
)
def test_luhn_valid_card_numbers_are_masked(card: str) -> None:
    assert redact_text(f"card {card} exp") == "card [REDACTED:card] exp"


@pytest.mark.parametrize(
    "kept",
    [
        "order 12345",
        "invoice 4111 1111 1111 1112",
        "id 1234567812345678",
        "on 2024-01-15 at 10:30",
        "version 3.11.7",
        "port 8080",
    ],
)
def test_plain_numbers_are_kept(kept: str) -> None:
    assert redact_text(kept) == kept


def test_redact_walks_nested_values_and_masks_secret_keys_whole() -> None:
    value = {
        "token": "short",
        "password": 12345,
        "api_key": "k",
        "Authorization": "Basic Zm9vOmJhcg==",
        "client_secret": ["a", "b"],
        "empty_token": "",
        "note": f"mail {EMAIL}",
        "nested": [{"items": (f"key {API_KEY}", 7, None)}, {"access_token": {"deep": 1}}],
        "count": 3,
    }
    out = redact(value)
    assert out == {
        "token": "[REDACTED:secret]",
        "password": "[REDACTED:secret]",
        "api_key": "[REDACTED:secret]",
        "Authorization": "[REDACTED:secret]",
        "client_secret": "[REDACTED:secret]",
        "empty_token": "",
        "note": "mail [REDACTED:email]",
        "nested": [
            {"items": ["key [REDACTED:api_key]", 7, None]},
            {"access_token": "[REDACTED:secret]"},
        ],
        "count": 3,
    }
    assert value["token"] == "short"  # the input is not changed
    assert redact(42) == 42
    assert redact(None) is None


@pytest.mark.parametrize(
    "kept",
    [
        "at 2024-01-15 10:30:00",
        "GET http://93.184.216.34/index.html",
        "from 192.168.100.200",
        "id 123e4567-e89b-12d3-a456-426614174000",
    ],
)
def test_timestamps_addresses_and_ids_are_not_phone_numbers(kept: str) -> None:
    assert redact_text(kept) == kept
