"""Price overrides in PostgreSQL: the ``llm_pricing`` table, exact decimal strings."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from orca.cost import Price
from orca.errors import InvalidPriceError
from orca.store._clock import Clock
from orca.store.postgres._db import PgDb
from orca.store.postgres._user_db import has_nul, prepare_user, refuse_nul

_ALWAYS = dt.datetime.min.replace(tzinfo=dt.UTC)
"""The stored ``effective_from`` of a price with none: it applies from the start of time
(a NOT NULL column keeps the (provider, model, effective_from) key unique)."""


class PgPrices:
    """The user's price overrides (``orca.store.PriceRepository``)."""

    def __init__(self, db: PgDb, *, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        prepare_user(db)

    def load(self) -> list[Price]:
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT provider, model, effective_from, input_per_mtok, cached_input_per_mtok, "
                "cache_write_per_mtok, output_per_mtok, reasoning_per_mtok FROM llm_pricing"
            ).fetchall()
        return [
            Price(
                provider,
                model,
                input=Decimal(inp),
                output=Decimal(out),
                cached_input=_decimal(cached),
                cache_write=_decimal(write),
                reasoning=_decimal(reasoning),
                effective_from=_effective(effective),
                source="user",
            )
            for provider, model, effective, inp, cached, write, out, reasoning in rows
        ]

    def save(self, price: Price, *, note: str = "") -> None:
        refuse_nul(
            InvalidPriceError, {"provider": price.provider, "model": price.model, "note": note}
        )
        effective = (price.effective_from or _ALWAYS).isoformat()
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO llm_pricing (id, provider, model, effective_from, input_per_mtok, "
                "cached_input_per_mtok, cache_write_per_mtok, output_per_mtok, "
                "reasoning_per_mtok, note, created_at) "
                "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) "
                "ON CONFLICT (provider, model, effective_from) DO UPDATE SET "
                "input_per_mtok = EXCLUDED.input_per_mtok, "
                "cached_input_per_mtok = EXCLUDED.cached_input_per_mtok, "
                "cache_write_per_mtok = EXCLUDED.cache_write_per_mtok, "
                "output_per_mtok = EXCLUDED.output_per_mtok, "
                "reasoning_per_mtok = EXCLUDED.reasoning_per_mtok, note = EXCLUDED.note",
                (
                    str(uuid.uuid4()),
                    price.provider,
                    price.model,
                    effective,
                    str(price.input),
                    _text(price.cached_input),
                    _text(price.cache_write),
                    str(price.output),
                    _text(price.reasoning),
                    note,
                    self._clock().isoformat(),
                ),
            )

    def delete(self, provider: str, model: str) -> int:
        if has_nul(provider, model):
            return 0
        with self._db.transaction() as conn:
            cur = conn.execute(
                "DELETE FROM llm_pricing WHERE provider = %s AND model = %s", (provider, model)
            )
            return cur.rowcount


def _effective(text: str) -> dt.datetime | None:
    when = dt.datetime.fromisoformat(text)
    return None if when == _ALWAYS else when


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
