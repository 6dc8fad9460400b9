"""Server-sent events: the ``text/event-stream`` format parsed line by line (comments
and heartbeats skipped, multi-line data joined), one event per blank line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class RawEvent:
    """An event as sent: ``event`` (``message`` when unnamed), its data text, its id."""

    event: str
    data: str
    id: str | None


@dataclass
class SSEParser:
    """Feed it lines (without their line break); it returns an event at each blank line
    that ends one."""

    _event: str = ""
    _data: list[str] = field(default_factory=list)
    _id: str | None = None
    _seen: bool = False

    def feed(self, line: str) -> RawEvent | None:
        if not line:
            if not self._seen:
                return None
            found = RawEvent(self._event or "message", "\n".join(self._data), self._id)
            self._event, self._data, self._id, self._seen = "", [], None, False
            return found
        if line.startswith(":"):  # a comment: the server's keep-alive
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self._id = value
        else:
            return None  # retry: and unknown fields are ignored, as the format says
        self._seen = True
        return None


async def parse_lines(lines: AsyncIterator[str]) -> AsyncIterator[RawEvent]:
    """The events in a stream of lines (an event cut off by the end is dropped)."""
    parser = SSEParser()
    async for line in lines:
        found = parser.feed(line.rstrip("\r"))
        if found is not None:
            yield found
