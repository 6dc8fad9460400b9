"""A block budget is never overspent, in real processes calling real HTTP providers
through the meter (the stress test's scenarios):

* a call that outlives its hold's TTL (``hold_ttl_s=1``, a 3 s call) while another
  process sweeps and tries to take the money: the hold is renewed, nothing expires;
* the process holding a hold is SIGKILLed: its hold is no longer renewed, expires, and
  the budget gets its money back;
* the provider reports 1.5x the bound for two overlapping calls: the charges are
  recorded at their true cost and flagged; what the budget cannot afford is recorded as
  its overdraft, and every later call is refused;
* a JSON-Schema ``response_format`` (5 KB of system text for Anthropic) against a
  provider that counts every byte it was sent as a token: the reservation still covers
  it.

In every one: spent <= limit, or the budget is overdrawn with the overdraft recorded and
later calls refused. Every test runs on both backends: a SQLite file, and a PostgreSQL
database the processes reach by URL.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from wire import Reply, WireServer, anthropic_events, openai_events

from _stores import Rows, opened
from orca.cost import Budget, Price
from orca.llm import ChatRequest, Message
from orca.llm._base import prompt_token_bound
from orca.store import UserStore

ROOT = Path(__file__).resolve().parents[2]
WORKER = ROOT / "tests" / "ledger_worker.py"
LIMIT = 1_000_000
PRICE = Price("openai", "gpt-sim", Decimal(1), Decimal(2))  # as the worker prices its calls
WAIT_S = 30.0
"""The most any step waits for another process (a bound on a hung test, not a timing)."""


def worker(*args: object) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(
        [sys.executable, str(WORKER), *map(str, args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def result(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=WAIT_S)
    assert proc.returncode == 0, err
    return dict(json.loads(out.strip().splitlines()[-1]))


def until(check: Any, what: str) -> Any:
    """Poll ``check()`` until it returns something true (at most ``WAIT_S``)."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"gave up waiting for {what}")


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """The user database's file, or a new PostgreSQL database's URL."""
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return tmp_path / "orca.db"


@pytest.fixture
def store(db: Path | str) -> Iterator[UserStore]:
    opened_store = opened(db)
    try:
        yield opened_store
    finally:
        opened_store.close()


@pytest.fixture
def rows(db: Path | str, store: UserStore) -> Iterator[Rows]:
    conn = Rows(db)
    yield conn
    conn.close()


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait()


def openai_reply(prompt: int, completion: int, delay: float = 0.0) -> Reply:
    head = {"id": "chatcmpl-x", "created": 1700000000, "model": "gpt-sim"}
    head["object"] = "chat.completion.chunk"

    def chunk(delta: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
        return {**head, "choices": [choice], "usage": None}

    usage = {"prompt_tokens": prompt, "completion_tokens": completion}
    usage["total_tokens"] = prompt + completion
    chunks = [chunk({"role": "assistant", "content": ""}), chunk({"content": "ok"})]
    chunks += [chunk({}, "stop"), {**head, "choices": [], "usage": usage}]
    return Reply.sse(openai_events(chunks), delay=delay)


def anthropic_reply(prompt: int, completion: int) -> Reply:
    message = {"id": "msg_x", "type": "message", "role": "assistant", "model": "claude-sim"}
    start = {**message, "content": [], "stop_reason": None, "stop_sequence": None}
    text = {"type": "text", "text": ""}
    delta = {"type": "text_delta", "text": "ok"}
    return Reply.sse(
        anthropic_events(
            [
                {
                    "type": "message_start",
                    "message": {**start, "usage": {"input_tokens": prompt, "output_tokens": 1}},
                },
                {"type": "content_block_start", "index": 0, "content_block": text},
                {"type": "content_block_delta", "index": 0, "delta": delta},
                {"type": "content_block_stop", "index": 0},
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": completion},
                },
                {"type": "message_stop"},
            ]
        )
    )


def standing(store: UserStore) -> tuple[int, int, int, bool, int]:
    s = store.ledger.budgets.status("team")
    return s.limit, s.spent, s.reserved, s.overdrawn, s.overdraft


def held(rows: Rows) -> list[tuple[str, int]]:
    return rows.execute(
        "SELECT h.id, hp.amount FROM holds h JOIN hold_parts hp ON hp.hold_id = h.id "
        "WHERE h.state = 'held'"
    ).fetchall()


def never_overspent(store: UserStore) -> None:
    limit, spent, reserved, overdrawn, overdraft = standing(store)
    assert reserved == 0
    assert spent <= limit or (overdrawn and overdraft >= spent - limit)


# -- a hold that would expire while its call runs --------------------------------------------------


def test_a_call_longer_than_its_hold_ttl_keeps_its_money_from_a_sweeping_process(
    wire: WireServer,
    store: UserStore,
    rows: Rows,
    db: Path | str,
    procs: list[subprocess.Popen[str]],
) -> None:
    store.ledger.budgets.create(Budget("team", LIMIT))
    wire.script(openai_reply(10, 5, delay=0.6))  # five pieces, 0.6 s apart: a 3 s call
    a = worker("run", db, "team", "openai", wire.url, 1, "text")
    procs.append(a)
    [(hold_id, ask)] = until(lambda: held(rows), "A's hold")
    # B asks what the budget affords only if A's hold is gone
    b = worker("sweeper", db, "team", LIMIT - ask + 1)
    procs.append(b)
    assert b.stdout is not None
    assert b.stdout.readline().strip() == "ready"

    assert result(a)["ok"]
    assert b.stdin is not None
    b.stdin.write("stop\n")
    b.stdin.flush()
    swept = result(b)

    assert hold_id not in swept["expired"]  # B's sweeps never took A's money
    created, expires, state = rows.execute(
        "SELECT created_at, expires_at, state FROM holds WHERE id = ?", (hold_id,)
    ).fetchone()
    assert state == "settled"
    assert expires > created  # (ISO stamps of one zone sort as times)
    renewals = dt.datetime.fromisoformat(expires) - dt.datetime.fromisoformat(created)
    # renewed past its first second: the call outlived its TTL
    assert renewals.total_seconds() > 1.5
    assert rows.execute("SELECT SUM(overdraft) FROM usage_charges").fetchone()[0] == 0
    never_overspent(store)
    assert not standing(store)[3]


def test_the_hold_of_a_killed_process_expires_and_the_budget_recovers(
    wire: WireServer,
    store: UserStore,
    rows: Rows,
    db: Path | str,
    procs: list[subprocess.Popen[str]],
) -> None:
    store.ledger.budgets.create(Budget("team", LIMIT))
    wire.script(Reply(hang=WAIT_S))  # the provider never answers
    a = worker("run", db, "team", "openai", wire.url, 1, "text")
    procs.append(a)
    [(hold_id, ask)] = until(lambda: held(rows), "A's hold")
    first = rows.execute("SELECT expires_at FROM holds WHERE id = ?", (hold_id,)).fetchone()[0]
    until(
        lambda: (
            rows.execute("SELECT expires_at FROM holds WHERE id = ?", (hold_id,)).fetchone()[0]
            != first
        ),
        "A to renew its hold",
    )
    assert store.ledger.sweep().expired == []  # alive and renewing: nothing to expire
    assert standing(store)[2] == ask

    a.send_signal(signal.SIGKILL)
    a.wait(timeout=WAIT_S)
    # nobody renews it now: a sweep (real clock) expires it once its TTL has passed
    until(lambda: hold_id in store.ledger.sweep().expired, "the dead hold to expire")
    assert standing(store)[:3] == (LIMIT, 0, 0)
    whole = store.ledger.reserve([store.ledger.budgets.get("team")], {"usd": LIMIT})
    store.ledger.release(whole)
    never_overspent(store)


# -- a provider reporting more than the bound ---------------------------------------------------


class Gate(WireServer):
    """Answers only once ``parties`` requests are in: the calls overlap for sure."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self.barrier = threading.Barrier(parties, timeout=WAIT_S)

    def next_reply(self, path: str, body: Any) -> Reply:
        reply = super().next_reply(path, body)
        self.barrier.wait()
        return reply


def test_a_provider_reporting_one_and_a_half_times_the_bound_overdraws_and_refuses(
    store: UserStore,
    rows: Rows,
    db: Path | str,
    procs: list[subprocess.Popen[str]],
) -> None:
    # the workers' request ("hi", max_tokens=50, a seed) and what it reserves
    bound = prompt_token_bound(ChatRequest((Message.user("hi"),), max_tokens=50, seed=1))
    ask = PRICE.max_cost_nano(bound, 50)
    store.ledger.budgets.create(Budget("team", 2 * ask + 1_000))  # affords both holds
    server = Gate(2)
    try:
        server.script(*[openai_reply(math.ceil(1.5 * bound), 75)] * 2)
        pair = [worker("run", db, "team", "openai", server.url, 60, "text") for _ in range(2)]
        procs.extend(pair)
        assert all(result(p)["ok"] for p in pair)

        limit, spent, reserved, overdrawn, overdraft = standing(store)
        assert reserved == 0
        charged = rows.execute("SELECT cost_nano_usd, over_bound FROM usage").fetchall()
        assert len(charged) == 2
        assert all(flag == 1 for _, flag in charged)  # flagged
        assert spent == sum(cost for cost, _ in charged) > limit  # recorded, never capped
        assert overdrawn
        assert overdraft == spent - limit  # what went past the limit is on record
        never_overspent(store)

        later = worker("run", db, "team", "openai", server.url, 60, "text")
        procs.append(later)
        refused = result(later)
        assert refused == {"ok": False, "overdrawn": True, "message": refused["message"]}
        assert "orca budget raise team --to" in refused["message"]
        assert len(server.requests) == 2  # the refused call never reached the provider
    finally:
        server.close()


# -- a response_format schema --------------------------------------------------------------------


class ByteCounter(WireServer):
    """A provider that bills every byte of the body it was sent as an input token (no
    tokenizer ever counts more) and 50 output tokens."""

    def next_reply(self, path: str, body: Any) -> Reply:
        sent = len(json.dumps(body, ensure_ascii=False).encode())
        if path.endswith("/messages"):
            return anthropic_reply(sent, 50)
        return openai_reply(sent, 50)


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_response_format_schema_is_inside_the_reservation(
    provider: str,
    store: UserStore,
    rows: Rows,
    db: Path | str,
    procs: list[subprocess.Popen[str]],
) -> None:
    store.ledger.budgets.create(Budget("team", 10**9))
    server = ByteCounter()
    try:
        for _ in range(2):
            proc = worker("run", db, "team", provider, server.url, 60, "schema")
            procs.append(proc)
            assert result(proc)["ok"]
        [system] = {r.body.get("system") for r in server.requests}
        if provider == "anthropic":
            assert len(system.encode()) > 5_000  # the schema went in as system text
    finally:
        server.close()
    within = rows.execute(
        "SELECT uc.amount, hp.amount, u.over_bound, u.input_tokens FROM usage u "
        "JOIN usage_charges uc ON uc.usage_id = u.id "
        "JOIN hold_parts hp ON hp.hold_id = u.hold_id AND hp.period_id = uc.period_id"
    ).fetchall()
    assert len(within) == 2
    for charged, reserved, over_bound, input_tokens in within:
        assert input_tokens > 5_000
        assert charged <= reserved  # the bound held against every byte billed
        assert over_bound == 0
    never_overspent(store)
    assert not standing(store)[3]
