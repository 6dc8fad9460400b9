"""LangChain chat models under Orca's meter (``orca.compat.langchain``): each call is
reserved before it is made, refused when a block budget cannot afford it (the model is
never called), priced by Orca's price book, recorded in the usage ledger, and given
back when it fails; streamed and async calls too, and inside a real Orca run with no
``callbacks=`` passed.

The chat model at the edge is scripted: a real ``BaseChatModel`` that reports an OpenAI
model of Orca's price catalog (as ``ChatOpenAI`` does) and the usage a provider sends,
and records every call it gets."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TypedDict

import langchain_anthropic
import langchain_openai
import pytest
from langchain_core.caches import InMemoryCache
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from orca import END, START, StateGraph
from orca.compat.langchain import AsyncOrcaCallbackHandler, OrcaCallbackHandler, metered
from orca.cost import Budget, PriceBook, Usage
from orca.errors import BudgetExceeded, ConfigError
from orca.store import user_store
from orca.store.sqlite import SqliteLedger

MODEL = "gpt-4o-mini"  # in Orca's price catalog: input, cached input and output prices
USAGE = {
    "input_tokens": 1200,
    "output_tokens": 300,
    "total_tokens": 1500,
    "input_token_details": {"cache_read": 400},
    "output_token_details": {"reasoning": 0},
}


class Scripted(BaseChatModel):
    """Answers ``text`` with ``usage`` (as ``usage_metadata``), as an OpenAI chat model
    names itself to LangChain; records each call; ``fail`` raises instead, after
    ``fail_after`` streamed pieces; ``during`` runs inside each call."""

    model_name: str = MODEL
    provider: str = "openai"
    max_tokens: int | None = 64
    text: str = "Paris is the capital of France."
    usage: dict[str, Any] | None = Field(default_factory=lambda: dict(USAGE))
    llm_output: dict[str, Any] | None = None
    fail: str | None = None
    fail_after: int = 0
    during: Callable[[], None] | None = None
    calls: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "openai-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.model_name, "max_tokens": self.max_tokens}

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = self.provider
        return params

    def _called(self, messages: list[BaseMessage]) -> None:
        self.calls.append(messages)
        if self.during is not None:
            self.during()

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        self._called(messages)
        if self.fail is not None:
            raise RuntimeError(self.fail)
        message = AIMessage(self.text, usage_metadata=self.usage)  # type: ignore[arg-type]
        return ChatResult(generations=[ChatGeneration(message=message)], llm_output=self.llm_output)

    def _stream(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> Iterator[ChatGenerationChunk]:
        self._called(messages)
        for i, word in enumerate(self.text.split(" ")):
            if self.fail is not None and i == self.fail_after:
                raise RuntimeError(self.fail)
            yield ChatGenerationChunk(message=AIMessageChunk(("" if i == 0 else " ") + word))
        # as OpenAI's stream ends: a last chunk with the usage and no text
        yield ChatGenerationChunk(message=AIMessageChunk("", usage_metadata=self.usage))  # type: ignore[arg-type]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "orca.db"


@pytest.fixture
def ledger(db: Path) -> Iterator[SqliteLedger]:
    store = user_store(db)
    yield store.ledger  # type: ignore[misc]
    store.close()


def rows(db: Path) -> list[dict[str, Any]]:
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        found = conn.execute("SELECT * FROM usage ORDER BY created_at").fetchall()
        return [dict(r) for r in found]
    finally:
        conn.close()


def budget_state(ledger: SqliteLedger, name: str) -> tuple[int, int]:
    """(spent, reserved) of budget ``name`` now."""
    [status] = ledger.status([ledger.budgets.get(name)])
    return status.spent, status.reserved


def catalog_cost(usage: dict[str, Any]) -> int:
    counted = Usage(
        input_tokens=usage["input_tokens"],
        output_tokens=usage["output_tokens"],
        cache_read_tokens=usage["input_token_details"]["cache_read"],
    )
    return PriceBook().cost_nano(counted, "openai", MODEL)[0]


# -- a plain LangChain program with OrcaCallbackHandler ----------------------------------------


def test_a_call_is_recorded_and_priced_exactly_as_the_price_book_prices_it(
    ledger: SqliteLedger, db: Path
) -> None:
    model = Scripted()
    handler = OrcaCallbackHandler(ledger=ledger, session="s-1", workflow="plain")
    answer = model.invoke("What is the capital of France?", config={"callbacks": [handler]})
    handler.close()
    assert answer.content == "Paris is the capital of France."
    [row] = rows(db)
    assert {k: row[k] for k in ("provider", "model", "role", "session", "workflow")} == {
        "provider": "openai",
        "model": MODEL,
        "role": "langchain",
        "session": "s-1",
        "workflow": "plain",
    }
    assert (row["input_tokens"], row["cache_read_tokens"], row["output_tokens"]) == (1200, 400, 300)
    assert (row["priced"], row["estimated"]) == (1, 0)
    # the catalog's gpt-4o-mini: $0.15 per 1M input, $0.075 cached, $0.60 output
    price = PriceBook().price("openai", MODEL)
    assert (price.input, price.cached_input, price.output) == (
        Decimal("0.15"),
        Decimal("0.075"),
        Decimal("0.6"),
    )
    assert row["cost_nano_usd"] == 800 * 150 + 400 * 75 + 300 * 600 == catalog_cost(USAGE)
    assert handler.totals.llm_calls == 1
    assert handler.totals.cost_nano_usd == row["cost_nano_usd"]


def test_a_block_budget_that_cannot_afford_a_call_refuses_it_before_the_model_is_called(
    ledger: SqliteLedger, db: Path
) -> None:
    ledger.budgets.create(Budget("tight", 1_000))  # $0.000001: less than one call's worst case
    model = Scripted()
    handler = OrcaCallbackHandler(ledger=ledger, budget="tight")
    with pytest.raises(BudgetExceeded) as refused:
        model.invoke("What is the capital of France?", config={"callbacks": [handler]})
    handler.close()
    assert refused.value.budget == "tight"
    assert refused.value.asked > 1_000
    assert model.calls == []
    assert rows(db) == []
    assert budget_state(ledger, "tight") == (0, 0)


def test_a_call_under_a_budget_that_affords_it_is_held_during_the_call_then_charged(
    ledger: SqliteLedger, db: Path
) -> None:
    ledger.budgets.create(Budget("team", 10**9))  # $1
    seen: list[tuple[int, int]] = []
    model = Scripted(during=lambda: seen.append(budget_state(ledger, "team")))
    handler = OrcaCallbackHandler(ledger=ledger, budget="team")
    model.invoke("What is the capital of France?", config={"callbacks": [handler]})
    handler.close()
    [(spent, held)] = seen
    # held while the model ran: the worst case of its prompt and its 64-token answer cap
    assert spent == 0
    assert held >= PriceBook().price("openai", MODEL).max_cost_nano(0, 64) > 0
    assert budget_state(ledger, "team") == (catalog_cost(USAGE), 0)
    assert len(rows(db)) == 1


def test_a_failed_call_gives_its_hold_back_and_charges_nothing(
    ledger: SqliteLedger, db: Path
) -> None:
    ledger.budgets.create(Budget("team", 10**9))
    seen: list[tuple[int, int]] = []
    model = Scripted(
        fail="the provider is down", during=lambda: seen.append(budget_state(ledger, "team"))
    )
    handler = OrcaCallbackHandler(ledger=ledger, budget="team")
    with pytest.raises(RuntimeError, match="the provider is down"):
        model.invoke("hello", config={"callbacks": [handler]})
    handler.close()
    assert seen[0][1] > 0  # it was held while the call ran
    assert budget_state(ledger, "team") == (0, 0)
    assert rows(db) == []


def test_a_block_budget_refuses_a_call_that_sets_no_answer_cap(
    ledger: SqliteLedger, db: Path
) -> None:
    ledger.budgets.create(Budget("team", 10**9))
    model = Scripted(max_tokens=None)
    handler = OrcaCallbackHandler(ledger=ledger, budget="team")
    with pytest.raises(ConfigError, match="max_tokens") as refused:
        model.invoke("hello", config={"callbacks": [handler]})
    assert refused.value.key == "max_tokens"
    assert model.calls == []
    # with a cap bound to the call it goes through
    model.bind(max_tokens=32).invoke("hello", config={"callbacks": [handler]})
    handler.close()
    assert len(model.calls) == 1
    assert budget_state(ledger, "team") == (catalog_cost(USAGE), 0)


def test_without_a_block_budget_a_call_with_no_answer_cap_is_recorded(
    ledger: SqliteLedger, db: Path
) -> None:
    model = Scripted(max_tokens=None)
    handler = OrcaCallbackHandler(ledger=ledger)
    model.invoke("hello", config={"callbacks": [handler]})
    handler.close()
    [row] = rows(db)
    assert row["cost_nano_usd"] == catalog_cost(USAGE)


def test_a_streamed_call_is_charged_the_usage_its_last_chunk_reports(
    ledger: SqliteLedger, db: Path
) -> None:
    ledger.budgets.create(Budget("team", 10**9))
    model = Scripted()
    handler = OrcaCallbackHandler(ledger=ledger, budget="team")
    pieces = [c.content for c in model.stream("hello", config={"callbacks": [handler]})]
    handler.close()
    assert "".join(map(str, pieces)) == model.text
    [row] = rows(db)
    assert (row["input_tokens"], row["output_tokens"], row["estimated"]) == (1200, 300, 0)
    assert budget_state(ledger, "team") == (catalog_cost(USAGE), 0)


def test_a_stream_cut_part_way_pays_what_it_streamed_estimated(
    ledger: SqliteLedger, db: Path
) -> None:
    ledger.budgets.create(Budget("team", 10**9))
    model = Scripted(fail="connection reset", fail_after=3)
    handler = OrcaCallbackHandler(ledger=ledger, budget="team")
    got: list[Any] = []
    stream = model.stream("hello", config={"callbacks": [handler]})
    with pytest.raises(RuntimeError, match="connection reset"):
        got.extend(chunk.content for chunk in stream)
    handler.close()
    assert "".join(map(str, got)) == "Paris is the"
    [row] = rows(db)
    assert row["estimated"] == 1
    assert row["output_tokens"] == 3  # "Paris is the": 12 bytes, about 4 bytes a token
    spent, held = budget_state(ledger, "team")
    assert (spent, held) == (row["cost_nano_usd"], 0)
    assert spent > 0


def test_a_stream_that_fails_before_its_first_piece_gives_its_hold_back(
    ledger: SqliteLedger, db: Path
) -> None:
    ledger.budgets.create(Budget("team", 10**9))
    model = Scripted(fail="refused by the provider", fail_after=0)
    handler = OrcaCallbackHandler(ledger=ledger, budget="team")
    with pytest.raises(RuntimeError):
        list(model.stream("hello", config={"callbacks": [handler]}))
    handler.close()
    assert rows(db) == []
    assert budget_state(ledger, "team") == (0, 0)


def test_usage_is_read_from_the_providers_own_output_when_the_message_has_none(
    ledger: SqliteLedger, db: Path
) -> None:
    # Anthropic's usage: three input fields that add up to the input
    anthropic = {
        "input_tokens": 100,
        "cache_read_input_tokens": 50,
        "cache_creation_input_tokens": 25,
        "output_tokens": 40,
    }
    model = Scripted(usage=None, llm_output={"usage": anthropic})
    handler = OrcaCallbackHandler(ledger=ledger)
    model.invoke("hello", config={"callbacks": [handler]})
    handler.close()
    [row] = rows(db)
    got = ("input_tokens", "cache_read_tokens", "cache_write_tokens", "output_tokens")
    assert tuple(row[k] for k in got) == (175, 50, 25, 40)
    assert row["estimated"] == 0


@pytest.mark.parametrize(
    "llm_output",
    [
        None,
        {"token_usage": {"prompt_tokens": "12", "completion_tokens": None}},
        {"token_usage": {"prompt_tokens": -1, "completion_tokens": 5}},
        {"usage": ["not", "a", "mapping"], "token_usage": 7},
    ],
    ids=["nothing", "strings", "negative", "wrong-shapes"],
)
def test_a_call_that_reports_no_usable_usage_is_recorded_as_estimated(
    ledger: SqliteLedger, db: Path, llm_output: dict[str, Any] | None
) -> None:
    model = Scripted(usage=None, text="x" * 40, llm_output=llm_output)
    handler = OrcaCallbackHandler(ledger=ledger)
    model.invoke("y" * 80, config={"callbacks": [handler]})
    handler.close()
    [row] = rows(db)
    assert (row["input_tokens"], row["output_tokens"], row["estimated"]) == (20, 10, 1)


def test_an_answer_from_langchains_cache_is_not_charged_again(
    ledger: SqliteLedger, db: Path
) -> None:
    ledger.budgets.create(Budget("team", 10**9))
    model = Scripted(cache=InMemoryCache())
    handler = OrcaCallbackHandler(ledger=ledger, budget="team")
    first = model.invoke("hello", config={"callbacks": [handler]})
    again = model.invoke("hello", config={"callbacks": [handler]})
    handler.close()
    assert first.content == again.content
    assert len(model.calls) == 1
    assert len(rows(db)) == 1
    assert budget_state(ledger, "team") == (catalog_cost(USAGE), 0)


@pytest.mark.parametrize(
    ("ls_provider", "model", "provider"),
    [
        ("anthropic", "claude-sonnet-4-5", "anthropic"),
        ("google_genai", "gemini-2.5-flash", "google"),
        ("groq", "llama-3.3-70b-versatile", "groq"),
    ],
)
def test_other_providers_models_are_priced_by_the_catalog(
    ledger: SqliteLedger, db: Path, ls_provider: str, model: str, provider: str
) -> None:
    chat = Scripted(provider=ls_provider, model_name=model)
    handler = OrcaCallbackHandler(ledger=ledger)
    chat.invoke("hello", config={"callbacks": [handler]})
    handler.close()
    [row] = rows(db)
    assert (row["provider"], row["model"], row["priced"]) == (provider, model, 1)
    counted = Usage(1200, 300, cache_read_tokens=400)
    assert row["cost_nano_usd"] == PriceBook().cost_nano(counted, provider, model)[0] > 0


def test_a_model_the_price_book_does_not_know_is_recorded_unpriced(
    ledger: SqliteLedger, db: Path
) -> None:
    chat = Scripted(provider="acme", model_name="acme-large")
    handler = OrcaCallbackHandler(ledger=ledger)
    chat.invoke("hello", config={"callbacks": [handler]})
    handler.close()
    [row] = rows(db)
    assert (row["provider"], row["model"], row["priced"], row["cost_nano_usd"]) == (
        "acme",
        "acme-large",
        0,
        0,
    )
    assert row["output_tokens"] == 300


def test_a_handler_given_a_bad_option_says_which(ledger: SqliteLedger) -> None:
    from orca.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="session"):
        OrcaCallbackHandler(ledger=ledger, session="")
    with pytest.raises(InvalidInputError, match="prices"):
        OrcaCallbackHandler(ledger=ledger, prices={"gpt-4o-mini": 1})


# -- async -------------------------------------------------------------------------------------


def test_async_calls_are_metered_and_refused_through_the_async_handler(
    ledger: SqliteLedger, db: Path
) -> None:
    ledger.budgets.create(Budget("team", 10**9))
    ledger.budgets.create(Budget("tight", 1_000))
    model = Scripted()

    async def main() -> None:
        handler = AsyncOrcaCallbackHandler(ledger=ledger, budget="team")
        await model.ainvoke("hello", config={"callbacks": [handler]})
        pieces = [c.content async for c in model.astream("hi", config={"callbacks": [handler]})]
        assert "".join(map(str, pieces)) == model.text
        await handler.aclose()
        tight = AsyncOrcaCallbackHandler(ledger=ledger, budget="tight")
        with pytest.raises(BudgetExceeded):
            await model.ainvoke("hello", config={"callbacks": [tight]})
        await tight.aclose()

    asyncio.run(main())
    assert len(model.calls) == 2
    assert len(rows(db)) == 2
    assert budget_state(ledger, "team") == (2 * catalog_cost(USAGE), 0)


def test_the_sync_handler_meters_and_refuses_async_calls_too(
    ledger: SqliteLedger, db: Path
) -> None:
    ledger.budgets.create(Budget("team", 10**9))  # the first budget: the active one
    ledger.budgets.create(Budget("tight", 1_000))
    model = Scripted()

    async def main() -> None:
        handler = OrcaCallbackHandler(ledger=ledger)
        await model.ainvoke("hello", config={"callbacks": [handler]})
        tight = OrcaCallbackHandler(ledger=ledger, budget="tight")
        with pytest.raises(BudgetExceeded):
            await model.ainvoke("hello", config={"callbacks": [tight]})
        handler.close()
        tight.close()

    asyncio.run(main())
    assert len(model.calls) == 1
    [row] = rows(db)
    assert row["cost_nano_usd"] == catalog_cost(USAGE)


# -- inside an Orca run ------------------------------------------------------------------------


class State(TypedDict, total=False):
    question: str
    answer: str


def one_node(name: str, node: str, fn: Any) -> StateGraph:
    """Graph ``name``: START -> ``node`` (``fn``) -> END."""
    g = StateGraph(State, name=name)
    g.add_node(node, fn)
    g.add_edge(START, node)
    g.add_edge(node, END)
    return g


def graph(model: Scripted, *, use_async: bool = False, stream: bool = False) -> Any:
    """A one-node graph whose node asks ``model`` inside ``metered(ctx)``."""

    def ask(state: State, ctx: Any) -> State:
        with metered(ctx):
            if stream:
                text = "".join(str(c.content) for c in model.stream(state["question"]))
            else:
                text = str(model.invoke(state["question"]).content)
        return {"answer": text}

    async def aask(state: State, ctx: Any) -> State:
        with metered(ctx):
            if stream:
                text = "".join([str(c.content) async for c in model.astream(state["question"])])
            else:
                text = str((await model.ainvoke(state["question"])).content)
        return {"answer": text}

    return one_node("lc", "ask", aask if use_async else ask)


@pytest.mark.parametrize("use_async", [False, True], ids=["sync-node", "async-node"])
def test_a_langchain_call_inside_a_node_shows_in_the_runs_usage(
    ledger: SqliteLedger, db: Path, use_async: bool
) -> None:
    model = Scripted()
    events = list(
        graph(model, use_async=use_async)
        .compile()
        .stream({"question": "What is the capital of France?"}, mode="events", ledger=ledger)
    )
    [usage] = [e for e in events if e.type == "usage"]
    assert (usage.node, usage.role, usage.provider, usage.model) == (
        "ask",
        "langchain",
        "openai",
        MODEL,
    )
    assert usage.cost_nano_usd == catalog_cost(USAGE)
    [finished] = [e for e in events if e.type == "run.finished"]
    assert (finished.status, finished.llm_calls) == ("done", 1)
    assert finished.cost_nano_usd == catalog_cost(USAGE)
    [row] = rows(db)
    assert (row["run_id"], row["node"], row["workflow"]) == (finished.run_id, "ask", "lc")


@pytest.mark.parametrize("use_async", [False, True], ids=["sync-node", "async-node"])
def test_a_streamed_langchain_call_inside_a_node_streams_token_events(
    ledger: SqliteLedger, use_async: bool
) -> None:
    model = Scripted()
    events = list(
        graph(model, use_async=use_async, stream=True)
        .compile()
        .stream({"question": "q"}, mode="events", ledger=ledger)
    )
    tokens = [e.text for e in events if e.type == "token"]
    assert "".join(tokens) == model.text
    assert {e.model for e in events if e.type == "token"} == {MODEL}
    [usage] = [e for e in events if e.type == "usage"]
    assert usage.output_tokens == 300


@pytest.mark.parametrize("use_async", [False, True], ids=["sync-node", "async-node"])
def test_a_runs_cost_limit_refuses_a_langchain_call_it_cannot_afford(
    ledger: SqliteLedger, db: Path, use_async: bool
) -> None:
    model = Scripted()
    with pytest.raises(BudgetExceeded):
        graph(model, use_async=use_async).compile().invoke(
            {"question": "q"}, ledger=ledger, cost_limit=Decimal("0.000001")
        )
    assert model.calls == []
    assert rows(db) == []


def test_a_run_that_pauses_on_its_budget_pauses_before_a_langchain_call(
    ledger: SqliteLedger, db: Path, tmp_path: Path
) -> None:
    from orca import Command
    from orca.store import SqliteCheckpointer

    ledger.budgets.create(Budget("tight", 1_000))
    model = Scripted()
    app = graph(model).compile(checkpointer=SqliteCheckpointer(tmp_path / "cp.db"))
    options = {"ledger": ledger, "budget": "tight", "on_budget_exceeded": "pause", "thread_id": "t"}
    paused = app.invoke({"question": "q"}, **options)
    [interrupt] = paused["__interrupt__"]
    assert interrupt.value["reason"] == "budget_exceeded"
    assert model.calls == []

    ledger.budgets.raise_("tight", by=10**9)
    done = app.invoke(Command(resume="raised"), **options)
    assert done["answer"] == model.text
    assert len(model.calls) == 1
    assert budget_state(ledger, "tight") == (catalog_cost(USAGE), 0)


def test_outside_metered_a_node_calls_langchain_unmetered(ledger: SqliteLedger, db: Path) -> None:
    model = Scripted()

    def ask(state: State, ctx: Any) -> State:
        with metered(ctx):
            pass
        return {"answer": str(model.invoke("q").content)}

    g = one_node("lc", "ask", ask)
    g.compile().invoke({"question": "q"}, ledger=ledger)
    assert len(model.calls) == 1
    assert rows(db) == []


def test_calls_in_threads_langchain_starts_and_in_chains_are_metered(
    ledger: SqliteLedger, db: Path
) -> None:
    from langchain_core.prompts import ChatPromptTemplate

    model = Scripted()
    chain = ChatPromptTemplate.from_messages([("human", "Capital of {country}?")]) | model

    def ask(state: State, ctx: Any) -> State:
        with metered(ctx):
            # batch runs each input on a thread of LangChain's pool
            answers = model.batch(["France?", "Spain?", "Italy?"])
            answers.append(chain.invoke({"country": "Peru"}))
        return {"answer": " ".join(str(a.content) for a in answers)}

    g = one_node("lc", "ask", ask)
    events = list(g.compile().stream({"question": "q"}, mode="events", ledger=ledger))
    assert len(model.calls) == 4
    assert len([e for e in events if e.type == "usage"]) == 4
    [finished] = [e for e in events if e.type == "run.finished"]
    assert finished.cost_nano_usd == 4 * catalog_cost(USAGE)
    assert {r["node"] for r in rows(db)} == {"ask"}


def test_a_call_given_its_own_orca_handler_inside_metered_is_metered_once(
    ledger: SqliteLedger, db: Path
) -> None:
    model = Scripted()
    own = OrcaCallbackHandler(ledger=ledger, session="mine")

    def ask(state: State, ctx: Any) -> State:
        with metered(ctx):
            return {"answer": str(model.invoke("q", config={"callbacks": [own]}).content)}

    g = one_node("lc", "ask", ask)
    g.compile().invoke({"question": "q"}, ledger=ledger)
    own.close()
    [row] = rows(db)
    assert row["session"] == "mine"


# -- real LangChain provider packages against the wire server -----------------------------------
# (langchain-openai and langchain-anthropic are not dependencies of Orca: these run where
# they are installed)


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1] / "llm"))
    from wire import WireServer

    server = WireServer()
    yield server
    server.close()


def test_a_real_chat_openai_is_charged_what_the_server_counted(
    wire: Any, ledger: SqliteLedger, db: Path
) -> None:
    from wire import DEFAULT_TOKENS, _prompt_tokens

    ledger.budgets.create(Budget("team", 10**9))
    chat = langchain_openai.ChatOpenAI(
        model=MODEL, api_key="sk-test", base_url=wire.url + "/v1", max_tokens=8, stream_usage=True
    )
    handler = OrcaCallbackHandler(ledger=ledger, budget="team")
    chat.invoke("What is the capital of France?", config={"callbacks": [handler]})
    streamed = list(chat.stream("And of Spain?", config={"callbacks": [handler]}))
    handler.close()
    assert len(streamed) > 1
    got = [(r["provider"], r["model"], r["input_tokens"], r["output_tokens"]) for r in rows(db)]
    counted = [("openai", MODEL, _prompt_tokens(b), min(8, DEFAULT_TOKENS)) for b in wire.bodies]
    assert got == counted
    price = PriceBook().price("openai", MODEL)
    spent = sum(price.cost_nano(Usage(inp, out)) for _, _, inp, out in counted)
    assert budget_state(ledger, "team") == (spent, 0)


def test_a_real_chat_openai_without_max_tokens_is_refused_under_a_block_budget(
    wire: Any, ledger: SqliteLedger
) -> None:
    ledger.budgets.create(Budget("team", 10**9))
    chat = langchain_openai.ChatOpenAI(model=MODEL, api_key="sk-test", base_url=wire.url + "/v1")
    handler = OrcaCallbackHandler(ledger=ledger, budget="team")
    with pytest.raises(ConfigError, match="max_tokens"):
        chat.invoke("hello", config={"callbacks": [handler]})
    handler.close()
    assert wire.requests == []


def test_a_real_chat_anthropic_inside_a_node_is_charged_what_the_server_counted(
    wire: Any, ledger: SqliteLedger, db: Path
) -> None:
    from wire import DEFAULT_TOKENS, _prompt_tokens

    chat = langchain_anthropic.ChatAnthropic(
        model="claude-sonnet-4-5", api_key="sk-ant-test", base_url=wire.url, max_tokens=6
    )

    def ask(state: State, ctx: Any) -> State:
        with metered(ctx):
            return {"answer": str(chat.invoke(state["question"]).content)}

    g = one_node("lc", "ask", ask)
    events = list(
        g.compile().stream({"question": "Capital of France?"}, mode="events", ledger=ledger)
    )
    [usage] = [e for e in events if e.type == "usage"]
    [body] = wire.bodies
    assert (usage.provider, usage.model) == ("anthropic", "claude-sonnet-4-5")
    assert (usage.input_tokens, usage.output_tokens) == (
        _prompt_tokens(body),
        min(6, DEFAULT_TOKENS),
    )
    counted = Usage(usage.input_tokens, usage.output_tokens)
    assert (
        usage.cost_nano_usd == PriceBook().cost_nano(counted, "anthropic", "claude-sonnet-4-5")[0]
    )
    assert [r["cost_nano_usd"] for r in rows(db)] == [usage.cost_nano_usd]


def test_a_call_inside_a_subgraph_belongs_to_the_parents_task(
    ledger: SqliteLedger, db: Path
) -> None:
    # as a call through ctx.llm does: the parent's node runs the subgraph and pays for it
    model = Scripted()
    inner = graph(model).compile()
    g = one_node("outer", "research", inner)
    events = list(g.compile().stream({"question": "q"}, mode="events", ledger=ledger))
    [usage] = [e for e in events if e.type == "usage"]
    [finished] = [e for e in events if e.type == "run.finished"]
    [row] = rows(db)
    assert usage.node == row["node"] == "research"
    assert row["run_id"] == finished.run_id
    assert finished.llm_calls == 1


# -- paid once: a task run again is answered from its kept calls --------------------------------


def approving(model: Scripted, *, use_async: bool, fail: dict[str, bool] | None = None) -> Any:
    """ask (two LangChain calls, then an interrupt) -> END, on a checkpointer."""

    def ask(state: State, ctx: Any) -> State:
        with metered(ctx):
            first = model.invoke(state["question"])
            second = model.invoke([("human", state["question"]), first, ("human", "Sure?")])
        if fail is not None and fail["on"]:
            raise ValueError("not this time")
        approved = ctx.interrupt("approve?")
        return {"answer": f"{first.content} {second.content} {approved}"}

    async def aask(state: State, ctx: Any) -> State:
        with metered(ctx):
            first = await model.ainvoke(state["question"])
            second = await model.ainvoke([("human", state["question"]), first, ("human", "Sure?")])
        approved = ctx.interrupt("approve?")
        return {"answer": f"{first.content} {second.content} {approved}"}

    return one_node("approve", "ask", aask if use_async else ask)


@pytest.mark.parametrize("use_async", [False, True], ids=["sync-node", "async-node"])
def test_a_node_run_again_after_an_interrupt_pays_its_langchain_calls_once(
    ledger: SqliteLedger, db: Path, tmp_path: Path, use_async: bool
) -> None:
    from orca import Command
    from orca.store import SqliteCheckpointer

    ledger.budgets.create(Budget("team", 10**9))
    model = Scripted()
    store = SqliteCheckpointer(tmp_path / "cp.db")
    app = approving(model, use_async=use_async).compile(checkpointer=store)
    options = {"ledger": ledger, "budget": "team", "thread_id": "t"}
    paused = app.invoke({"question": "Capital of France?"}, **options)
    assert "__interrupt__" in paused
    assert len(model.calls) == 2
    events = list(app.stream(Command(resume="yes"), mode="events", **options))
    done = app.get_state("t").values
    assert done["answer"] == f"{model.text} {model.text} yes"
    assert len(model.calls) == 2  # both answered from the task's records
    assert len(rows(db)) == 2  # and charged once each
    assert budget_state(ledger, "team") == (2 * catalog_cost(USAGE), 0)
    assert [e for e in events if e.type == "usage"] == []
    [finished] = [e for e in events if e.type == "run.finished"]
    assert finished.cost_nano_usd == 0
    store.close()


def test_a_changed_question_or_a_node_that_failed_in_its_own_code_calls_again(
    ledger: SqliteLedger, db: Path, tmp_path: Path
) -> None:
    from orca import Command
    from orca.errors import NodeError
    from orca.store import SqliteCheckpointer

    model = Scripted()
    fail = {"on": True}
    store = SqliteCheckpointer(tmp_path / "cp.db")
    app = approving(model, use_async=False, fail=fail).compile(checkpointer=store)
    with pytest.raises(NodeError, match="not this time"):
        app.invoke({"question": "Capital of France?"}, ledger=ledger, thread_id="t")
    assert len(model.calls) == 2
    fail["on"] = False  # its answers may be why it failed: forgotten, asked again
    app.invoke(None, ledger=ledger, thread_id="t")
    assert len(model.calls) == 4
    app.update_state("t", {"question": "Capital of Spain?"}, as_node="__start__")
    # a record answers only what it asked: the edited question is a new call
    app.invoke(None, ledger=ledger, thread_id="t")
    assert len(model.calls) == 6
    app.invoke(Command(resume="ok"), ledger=ledger, thread_id="t")
    assert len(model.calls) == 6
    assert len(rows(db)) == 6
    store.close()


def test_a_stream_read_directly_is_metered_but_not_kept(
    ledger: SqliteLedger, db: Path, tmp_path: Path
) -> None:
    from orca import Command
    from orca.store import SqliteCheckpointer

    model = Scripted()

    def ask(state: State, ctx: Any) -> State:
        with metered(ctx):
            text = "".join(str(c.content) for c in model.stream(state["question"]))
        return {"answer": f"{text} {ctx.interrupt('ok?')}"}

    g = one_node("streamed", "ask", ask)
    app = g.compile(checkpointer=SqliteCheckpointer(tmp_path / "cp.db"))
    app.invoke({"question": "q"}, ledger=ledger, thread_id="s")
    app.invoke(Command(resume="yes"), ledger=ledger, thread_id="s")
    assert len(model.calls) == 2  # LangChain asks no cache for stream(): called again
    assert len(rows(db)) == 2


def test_the_cache_set_before_is_still_asked_and_filled_inside_runs_and_out(
    ledger: SqliteLedger, db: Path, tmp_path: Path
) -> None:
    from langchain_core.globals import get_llm_cache, set_llm_cache

    from orca import Command
    from orca.compat.langchain import CallCache
    from orca.store import SqliteCheckpointer

    mine = InMemoryCache()
    before = get_llm_cache()
    set_llm_cache(mine)
    try:
        model = Scripted()
        seen: list[Any] = []

        def twice(state: State, ctx: Any) -> State:
            with metered(ctx):
                seen.append(get_llm_cache())
                first = model.invoke(state["question"])
                again = model.invoke(state["question"])  # the same question: your cache's
            return {"answer": f"{first.content}|{again.content}|{ctx.interrupt('ok?')}"}

        app = one_node("twice", "ask", twice).compile(
            checkpointer=SqliteCheckpointer(tmp_path / "cp.db")
        )
        app.invoke({"question": "q"}, ledger=ledger, thread_id="t")
        [installed] = seen
        assert isinstance(installed, CallCache)
        assert installed.inner is mine
        assert get_llm_cache() is mine  # yours again once no metered block runs
        assert len(model.calls) == 1  # the second asked your cache, filled by the first
        assert len(rows(db)) == 1  # and was not charged
        done = app.invoke(Command(resume="yes"), ledger=ledger, thread_id="t")
        assert done["answer"] == f"{model.text}|{model.text}|yes"
        assert len(model.calls) == 1
        # a call outside any run goes to your cache, as it did
        model.invoke("plain")
        model.invoke("plain")
        assert [m[0].content for m in model.calls].count("plain") == 1
    finally:
        set_llm_cache(before)


@pytest.mark.parametrize(
    "generations",
    [
        # LangChain's serialised constructor of a class outside its messages: never built
        [{"lc": 1, "type": "constructor", "id": ["subprocess", "Popen"], "kwargs": {}}],
        [{"message": {"type": "subprocess.Popen", "data": {"content": "x"}}}],
        [{"message": {"type": "ai", "data": {"content": 5}}}],
        [{"message": {"type": "ai", "data": {"content": "x"}}, "info": ["not", "a", "dict"]}],
        [{"text": 7}],
        [],
        "just text",
        [1, 2],
        None,
    ],
    ids=[
        "constructor",
        "foreign-type",
        "bad-content",
        "bad-info",
        "bad-text",
        "empty",
        "text",
        "numbers",
        "missing",
    ],
)
def test_a_damaged_or_hostile_kept_answer_is_asked_again_never_loaded(
    ledger: SqliteLedger, db: Path, tmp_path: Path, generations: Any
) -> None:
    from orca import Command, _serde
    from orca.store import SqliteCheckpointer

    model = Scripted()
    where = tmp_path / "cp.db"
    app = approving(model, use_async=False).compile(checkpointer=SqliteCheckpointer(where))
    app.invoke({"question": "q"}, ledger=ledger, thread_id="t")
    value = {} if generations is None else {"generations": generations}
    conn = sqlite3.connect(where)
    with conn:
        changed = conn.execute(
            "UPDATE call_records SET value = ? WHERE kind = 'langchain'", (_serde.dumps(value),)
        ).rowcount
    conn.close()
    assert changed == 2
    done = app.invoke(Command(resume="yes"), ledger=ledger, thread_id="t")
    assert done["answer"] == f"{model.text} {model.text} yes"
    assert len(model.calls) == 4  # asked again, each call charged
    assert len(rows(db)) == 4


def test_an_answer_that_cannot_be_kept_is_told_and_asked_again(
    ledger: SqliteLedger, db: Path, tmp_path: Path
) -> None:
    from orca import Command
    from orca.store import SqliteCheckpointer

    class Parsed:  # what structured output may leave in additional_kwargs
        pass

    class Odd(Scripted):
        def _generate(self, messages: list[BaseMessage], *a: Any, **k: Any) -> ChatResult:
            self._called(messages)
            message = AIMessage(self.text, additional_kwargs={"parsed": Parsed()})
            return ChatResult(generations=[ChatGeneration(message=message)])

    model = Odd()
    app = approving(model, use_async=False).compile(
        checkpointer=SqliteCheckpointer(tmp_path / "cp.db")
    )
    events = list(app.stream({"question": "q"}, mode="events", ledger=ledger, thread_id="t"))
    warned = [e for e in events if e.type == "warning" and e.code == "call_not_recorded"]
    assert len(warned) == 2
    assert "runs again it calls again" in warned[0].message
    done = app.invoke(Command(resume="yes"), ledger=ledger, thread_id="t")
    assert done["answer"] == f"{model.text} {model.text} yes"
    assert len(model.calls) == 4
    assert len(rows(db)) == 4  # each real call charged


def test_an_answer_from_a_record_is_free_whatever_message_it_holds(
    ledger: SqliteLedger, db: Path, tmp_path: Path
) -> None:
    from langchain_core.messages import ChatMessage

    from orca import Command
    from orca.store import SqliteCheckpointer

    class Chatty(Scripted):  # answers with a ChatMessage, which LangChain marks no cost on
        def _generate(self, messages: list[BaseMessage], *a: Any, **k: Any) -> ChatResult:
            self._called(messages)
            message = ChatMessage(role="assistant", content=self.text)
            return ChatResult(generations=[ChatGeneration(message=message)])

    model = Chatty()

    def ask(state: State, ctx: Any) -> State:
        with metered(ctx):
            text = str(model.invoke(state["question"]).content)
        return {"answer": f"{text} {ctx.interrupt('ok?')}"}

    app = one_node("chatty", "ask", ask).compile(
        checkpointer=SqliteCheckpointer(tmp_path / "cp.db")
    )
    app.invoke({"question": "q"}, ledger=ledger, thread_id="t")
    done = app.invoke(Command(resume="yes"), ledger=ledger, thread_id="t")
    assert done["answer"] == f"{model.text} yes"
    assert len(model.calls) == 1
    assert len(rows(db)) == 1


def test_outside_metered_blocks_langchain_has_its_own_cache_setting_back(
    ledger: SqliteLedger, tmp_path: Path
) -> None:
    from langchain_core.globals import get_llm_cache, set_llm_cache

    from orca.store import SqliteCheckpointer

    before = get_llm_cache()
    set_llm_cache(None)
    try:
        model = Scripted()
        app = approving(model, use_async=False).compile(
            checkpointer=SqliteCheckpointer(tmp_path / "cp.db")
        )
        app.invoke({"question": "q"}, ledger=ledger, thread_id="t")
        assert get_llm_cache() is None
        # as LangChain says when a model asks for a cache and none is set
        with pytest.raises(ValueError, match="no cache found"):
            Scripted(cache=True).invoke("plain")
    finally:
        set_llm_cache(before)
