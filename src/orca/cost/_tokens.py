"""``Usage``: the tokens one call used, normalised across providers. One value from the
provider adapter (``orca.llm`` re-exports it) through pricing to the ledger's charge and
the usage event."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens one call used, normalised across providers.

    ``input_tokens`` counts every input token, cached ones included; ``output_tokens``
    every output token, reasoning included. ``estimated`` is true when Orca counted the
    tokens itself because the provider did not report them. ``raw`` is what the provider
    sent.
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def counts(self) -> dict[str, int | bool]:
        """The token counts and ``estimated`` by name: the one shape the usage event,
        the ledger's charge and the event log take them in."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "estimated": self.estimated,
        }

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.reasoning_tokens + other.reasoning_tokens,
            self.estimated or other.estimated,
        )
