"""Credentials never reach the event log: the engine masks them as it makes each event,
so the live stream, the stored log, the run and task records, ``orca serve``'s events
endpoint and SSE (live and replayed), ``orca runs`` and the logs all show the mask, while
the state keeps what the nodes wrote, verbatim. Hostile values: huge strings, deep and
cyclic structures, bytes, keys that are not strings, dataclasses."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any, TypedDict

import httpx
import pytest

from _served import orca, served, sse
from orca import END, START, StateGraph
from orca._redact import MAX_DEPTH, redact_secret_text, redact_secrets
from orca.engine._loop import LOGGED
from orca.errors import NodeError
from orca.store.sqlite import SqliteCheckpointer

OPENAI_KEY = "sk-proj-Zq8vT3xN5mR2kL9pW4yB7cD1"
BEARER = "eyJraWQiOiJhYmMiLCJhbGciOiJSUzI1NiJ9-Tok3nValue_98765"
DB_PASSWORD = "s3cr3t-Pa55"
SECRETS = (OPENAI_KEY, BEARER, DB_PASSWORD)

FLOW = f'''
from typing import TypedDict
from orca import END, START, RetryPolicy, StateGraph


class S(TypedDict, total=False):
    api: str
    dsn: str
    n: int


def leak(state, ctx):
    ctx.write({{"key": "{OPENAI_KEY}", "nested": [("db", "postgresql://app:{DB_PASSWORD}@db/x")]}})
    return {{"api": "{OPENAI_KEY}", "dsn": "postgresql://app:{DB_PASSWORD}@db/x"}}


def call(state, ctx):
    raise RuntimeError("upstream refused Authorization: Bearer {BEARER}")


leaky = StateGraph(S, name="leaky")
leaky.add_node("leak", leak)
leaky.add_node(
    "call", call, retry=RetryPolicy(max_attempts=2, initial_interval=0.01, retry_on=Exception)
)
leaky.add_edge(START, "leak")
leaky.add_edge("leak", "call")
leaky.add_edge("call", END)
'''


def _leaky() -> StateGraph:
    namespace: dict[str, Any] = {}
    exec(compile(FLOW, "flows.py", "exec"), namespace)  # the served project's own flow
    graph: StateGraph = namespace["leaky"]
    return graph


def _assert_clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{where} holds {secret!r}"


# -- in the library ---------------------------------------------------------------------------


def test_a_run_s_secrets_reach_no_event_while_the_state_keeps_them(tmp_path: Path) -> None:
    store = SqliteCheckpointer(tmp_path / "p.db")
    app = _leaky().compile(checkpointer=store)
    live: list[Any] = []
    with pytest.raises(NodeError) as failed:
        live.extend(app.stream({"n": 0}, mode="events", thread_id="t"))
    assert BEARER in str(failed.value)  # the caller still gets the whole error
    kinds = {e.type for e in live}
    assert {"custom", "task.finished", "task.retry", "task.failed", "error"} <= kinds
    assert "run.finished" in kinds
    for e in live:
        if e.type == "values":  # the state after a step, as it is: the user's data
            continue
        _assert_clean(e.to_json().decode(), f"live {e.type}")
    assert [e.values.get("api") for e in live if e.type == "values"][-1] == OPENAI_KEY
    [custom] = [e for e in live if e.type == "custom"]
    assert custom.data == {
        "key": "[REDACTED:api_key]",
        "nested": [("db", "postgresql://app:[REDACTED:password]@db/x")],  # shape kept
    }
    [task_failed] = [e for e in live if e.type == "task.failed"]
    assert task_failed.error == "upstream refused Authorization: Bearer [REDACTED:bearer]"
    assert "[REDACTED:bearer]" in task_failed.traceback

    run_id = live[0].run_id
    logged = store.read_events(run_id)
    assert [e["seq"] for e in logged] == [e.seq for e in live if e.type in LOGGED]
    for e in logged:
        _assert_clean(json.dumps(e, default=str), f"logged {e['type']}")
    [stored] = [e for e in logged if e["type"] == "custom"]
    assert stored["data"] == {  # the same masks as live (tuples are lists in JSON)
        "key": "[REDACTED:api_key]",
        "nested": [["db", "postgresql://app:[REDACTED:password]@db/x"]],
    }

    record = store.get_run(run_id)
    assert record is not None
    assert record.status == "failed"
    assert record.error is not None
    assert "[REDACTED:bearer]" in record.error
    tasks = store.run_tasks(run_id)
    assert any(t.error and "[REDACTED:bearer]" in t.error for t in tasks)
    _assert_clean(repr(record) + repr(tasks), "the run's records")

    # the state is the user's data: kept verbatim
    values = app.get_state("t").values
    assert values["api"] == OPENAI_KEY
    assert values["dsn"] == f"postgresql://app:{DB_PASSWORD}@db/x"


def test_a_secret_in_the_input_is_masked_in_run_started_and_replays_whole(
    tmp_path: Path,
) -> None:
    from orca.replay import replay

    class S(TypedDict, total=False):
        key: str
        echo: str

    def build() -> StateGraph:
        g = StateGraph(S, name="echo")
        g.add_node("echo", lambda s: {"echo": s["key"][:7]})
        g.add_edge(START, "echo")
        g.add_edge("echo", END)
        return g

    store = SqliteCheckpointer(tmp_path / "p.db")
    app = build().compile(checkpointer=store)
    live = list(app.stream({"key": OPENAI_KEY}, mode="events", thread_id="i"))
    assert live[0].input == {"key": "[REDACTED:api_key]"}
    run_id = live[0].run_id
    [started] = store.read_events(run_id, types=["run.started"])
    _assert_clean(json.dumps(started), "run.started")
    assert started["input_in_state"] == ["key"]  # read back from the input checkpoint
    report = replay(build().compile(), run_id, store=store)
    assert report.identical, report.divergence
    assert app.get_state("i").values["key"] == OPENAI_KEY


# -- over orca serve and the CLI ------------------------------------------------------------


def test_served_events_sse_records_and_cli_show_no_secret(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "flows.py").write_text(FLOW)
    assert orca(project, "init").wait(timeout=60) == 0
    with served(project, ["leaky"]) as url, httpx.Client(base_url=url, timeout=30) as client:
        started = client.post("/v1/threads/t-s/runs", json={"workflow": "leaky", "input": {}})
        assert started.status_code == 202, started.text
        run_id = started.json()["run_id"]
        with client.stream("GET", f"/v1/runs/{run_id}/stream") as response:
            live = "".join(response.iter_text())
        replayed = client.get(f"/v1/runs/{run_id}/stream").text
        for where, body in (("live SSE", live), ("replayed SSE", replayed)):
            streamed = sse(body)
            for e in streamed:
                if e["event"] != "values":  # the state as it is (live streams only)
                    _assert_clean(json.dumps(e), f"{where} {e['event']}")
            kinds = [e["event"] for e in streamed]
            assert "task.failed" in kinds, (where, kinds)
            assert "[REDACTED:bearer]" in body
        events = client.get(f"/v1/runs/{run_id}/events")
        assert events.status_code == 200, events.text
        _assert_clean(events.text, "GET /v1/runs/{id}/events")
        assert "[REDACTED:api_key]" in events.text
        # what was streamed live is what the log keeps, masks and all
        from_log = {e["seq"]: e for e in events.json()}
        for e in sse(live):
            if e["event"] == "custom":
                assert e["data"]["data"] == from_log[e["data"]["seq"]]["data"]
        for face in ("inspect", "timeline"):
            shown = client.get(f"/v1/runs/{run_id}/{face}")
            assert shown.status_code == 200, shown.text
            _assert_clean(shown.text, f"GET /v1/runs/{{id}}/{face}")
        record = client.get(f"/v1/runs/{run_id}").json()
        assert record["status"] == "failed"
        _assert_clean(json.dumps(record), "the run record")
        assert "[REDACTED:bearer]" in record["error"]
        _assert_clean(client.get("/v1/runs").text, "GET /v1/runs")
        state = client.get("/v1/threads/t-s/state").json()
        assert state["values"]["api"] == OPENAI_KEY  # the state, verbatim

    env = {"COLUMNS": "400"}
    for args in (
        ("runs", "list"),
        ("runs", "list", "--json"),
        ("runs", "show", run_id),
        ("runs", "show", run_id, "--json"),
        ("runs", "events", run_id),
        ("runs", "events", run_id, "--json"),
    ):
        proc = orca(project, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, (args, err.decode())
        _assert_clean(out.decode() + err.decode(), f"orca {' '.join(args)}")
    assert b"[REDACTED:" in out


# -- hostile values ---------------------------------------------------------------------------


def test_a_huge_string_is_redacted_and_the_scan_completes() -> None:
    huge = ("a." * 2_000_000) + f" key={OPENAI_KEY} " + ("x@" * 1_000_000) + "sk-" * 100_000
    out = redact_secrets({"blob": huge})
    assert OPENAI_KEY not in out["blob"]
    assert out["blob"].startswith("a.a.")
    assert " key=[REDACTED:api_key] x@x@" in out["blob"]


def test_nested_structures_bytes_and_odd_keys_keep_their_shape() -> None:
    @dataclasses.dataclass(frozen=True)
    class Creds:
        user: str
        dsn: str

    value: dict[Any, Any] = {
        1: [f"Bearer {BEARER}", (b"token=" + DB_PASSWORD.encode(),)],
        ("a", 2): {frozenset({OPENAI_KEY})},
        "raw": b"\xff\xfe" + OPENAI_KEY.encode(),  # not UTF-8: binary, kept
        "creds": Creds("bob", f"mysql://bob:{DB_PASSWORD}@h/db"),
        "api_key": 12345678,  # a secret-named key masks the whole value
        "max_tokens": 512,  # a count of tokens is no token
        "clean": {"deep": [1, 2.5, None, True]},
    }
    out = redact_secrets(value)
    assert out[1] == ["Bearer [REDACTED:bearer]", (b"token=[REDACTED:secret]",)]
    assert out[("a", 2)] == {frozenset({"[REDACTED:api_key]"})}
    assert out["raw"] == value["raw"]
    assert out["creds"] == Creds("bob", "mysql://bob:[REDACTED:password]@h/db")
    assert out["api_key"] == "[REDACTED:secret]"
    assert out["max_tokens"] == 512
    assert out["clean"] is value["clean"]  # nothing to mask: the same object, no copy
    assert value["creds"].dsn.endswith(f"{DB_PASSWORD}@h/db")  # the input is not changed
    assert redact_secrets(value["clean"]) is value["clean"]


def test_deep_and_cyclic_values_are_walked_without_recursion() -> None:
    deep: list[Any] = [OPENAI_KEY]
    for _ in range(10_000):
        deep = [deep]
    out = redact_secrets(deep)
    for _ in range(MAX_DEPTH - 1):
        out = out[0]
    assert out == [f"<list nested deeper than {MAX_DEPTH} levels>"]
    cyclic: list[Any] = [f"token={DB_PASSWORD}"]
    cyclic.append(cyclic)
    assert redact_secrets(cyclic) == ["token=[REDACTED:secret]", "<cycle: list>"]


def test_an_unknown_object_whose_repr_holds_a_secret_becomes_its_redacted_repr() -> None:
    class Handle:
        def __repr__(self) -> str:
            return f"Handle(key={OPENAI_KEY})"

    class Quiet:
        pass

    assert redact_secrets(Handle()) == "Handle(key=[REDACTED:api_key])"
    quiet = Quiet()
    assert redact_secrets(quiet) is quiet


@pytest.mark.parametrize(
    "secret",
    [
        "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv_wxyz-0123",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        "xoxb-1234567890-abcdefghij",
        "AKIAIOSFODNN7EXAMPLE",
        "sk_live_abcdefghijklmnop1234",
        "hf_abcdefghijklmnopqrstuvwxyz012345",
        "orca_0123456789ab_" + "Ab-_" * 10 + "xyz",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXZhbHVl",
    ],
)
def test_common_credential_shapes_are_masked(secret: str) -> None:
    out = redact_secret_text(f"use {secret} now")
    assert secret not in out
    assert out.startswith("use [REDACTED:")
    assert out.endswith("] now")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://user:pa55word@db:5432/x", "postgresql://user:[REDACTED:password]@db:5432/x"),
        ("Authorization: Basic Zm9vOmJhcg==", "Authorization: Basic [REDACTED:secret]"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n"
            "-----END OPENSSH PRIVATE KEY-----",
            "[REDACTED:private_key]",
        ),
        ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN", "[REDACTED:private_key]"),  # cut short
    ],
)
def test_urls_authorizations_and_private_keys_are_masked(text: str, expected: str) -> None:
    assert redact_secret_text(text) == expected


@pytest.mark.parametrize(
    "kept",
    [
        "https://example.com:8443/path?q=1",
        "max_tokens=1000 and input_tokens: 20",
        "a basic knowledge of SQL",
        "task-3f2a9c node call_llm",
        "mail bob@example.com",  # personal data is the tool policy's, not the log's
    ],
)
def test_text_without_credentials_is_returned_as_it_is(kept: str) -> None:
    assert redact_secret_text(kept) is kept


# -- spans ----------------------------------------------------------------------------------

SPAN_SCRIPT = f"""
import asyncio, json
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from orca.server._tracing import RequestSpans

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)


async def app(scope, receive, send):
    raise RuntimeError("the store said postgresql://app:{DB_PASSWORD}@db/x is down")


async def main():
    scope = {{"type": "http", "method": "GET", "path": "/v1/x", "headers": [], "state": {{}}}}
    try:
        await RequestSpans(app)(scope, None, None)
    except RuntimeError:
        pass
    [span] = exporter.get_finished_spans()
    print(json.dumps({{
        "status": [span.status.status_code.name, span.status.description],
        "events": [[e.name, dict(e.attributes)] for e in span.events],
    }}))


asyncio.run(main())
"""


def test_a_request_span_records_its_exception_redacted(tmp_path: Path) -> None:
    import sys

    script = tmp_path / "spans.py"
    script.write_text(SPAN_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["status"][0] == "ERROR"
    [(name, attributes)] = found["events"]
    assert name == "exception"
    assert attributes["exception.type"] == "RuntimeError"
    assert "app:[REDACTED:password]@db" in attributes["exception.message"]
    assert "[REDACTED:password]" in attributes["exception.stacktrace"]
    _assert_clean(done.stdout, "the request span")


# -- LLM calls --------------------------------------------------------------------------------


def test_an_llm_call_s_prompt_and_answer_are_logged_without_the_key(tmp_path: Path) -> None:
    from orca.llm import ChatRequest, Delta, ProviderModel, Usage

    class Quoting(ProviderModel):
        """Answers by quoting the key it was given."""

        async def _stream(self, request: ChatRequest, state: Any) -> Any:
            answer = f"noted: {OPENAI_KEY}"
            state.text.append(answer)
            yield Delta(text=answer)
            state.stop_reason = "stop"
            state.usage = Usage(7, 3)

    class S(TypedDict, total=False):
        q: str
        a: str

    async def ask(state: S, ctx: Any) -> dict[str, Any]:
        # the key straddles the prompt preview's cut (200 characters)
        return {"a": (await ctx.worker.acomplete("y" * 190 + f" {state['q']} ok")).text}

    g = StateGraph(S, name="ask")
    g.add_node("ask", ask)
    g.add_edge(START, "ask")
    g.add_edge("ask", END)
    store = SqliteCheckpointer(tmp_path / "p.db")
    app = g.compile(checkpointer=store)
    out = app.invoke(
        {"q": OPENAI_KEY}, thread_id="l", models={"worker": Quoting("q", provider="acme")},
        ledger=False,
    )  # fmt: skip
    assert OPENAI_KEY in out["a"]  # the node got the real answer, and the state keeps it
    run_id = app.get_history("l")[0].metadata["run_id"]
    [response] = store.read_events(run_id, types=["llm.response"])
    assert OPENAI_KEY[:10] not in response["prompt"]  # not even the piece before the cut
    assert response["prompt"].startswith("y" * 190 + " [REDACT")
    assert "[REDACTED:api_key]" in response["text"]
    _assert_clean(json.dumps(store.read_events(run_id)), "the run's log")
