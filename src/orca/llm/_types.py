"""The values of an LLM call: messages, tools, requests, responses, deltas and usage."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from orca.cost import Usage as Usage  # the one usage value, re-exported by orca.llm
from orca.errors import InvalidInputError

Role = Literal["system", "user", "assistant", "tool"]
StopReason = Literal["stop", "length", "tool_calls", "content_filter", "refusal", "other"]
"""Why the model stopped, normalised across providers (the provider's own word is kept in
``ChatResponse.raw_stop_reason``)."""


@dataclass(frozen=True, slots=True)
class TextPart:
    """Text inside a message."""

    text: str


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image inside a user message: a URL, or bytes with their media type."""

    url: str | None = None
    data: bytes | None = None
    media_type: str = "image/png"

    def __post_init__(self) -> None:
        if (self.url is None) == (self.data is None):
            raise InvalidInputError("ImagePart needs exactly one of url= or data=")

    def data_url(self) -> str:
        """The image as a URL (``data:`` URL for inline bytes)."""
        if self.url is not None:
            return self.url
        assert self.data is not None
        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode()}"


Part = TextPart | ImagePart


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call the model asked for. ``arguments`` is the parsed JSON object; when the
    model sent JSON that does not parse, ``arguments`` is empty and ``arguments_error``
    says why (``raw_arguments`` keeps the text)."""

    id: str
    name: str
    arguments: dict[str, Any]
    raw_arguments: str = ""
    arguments_error: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message. Build them with ``Message.system(...)``, ``.user(...)``,
    ``.assistant(...)`` and ``.tool(...)``."""

    role: Role
    content: tuple[Part, ...] = ()
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False

    @property
    def text(self) -> str:
        """The text parts joined."""
        return "".join(p.text for p in self.content if isinstance(p, TextPart))

    @staticmethod
    def system(text: str) -> Message:
        return Message("system", (TextPart(text),))

    @staticmethod
    def user(content: str | Sequence[Part]) -> Message:
        return Message("user", _parts(content))

    @staticmethod
    def assistant(text: str = "", tool_calls: Sequence[ToolCall] = ()) -> Message:
        return Message("assistant", (TextPart(text),) if text else (), tuple(tool_calls))

    @staticmethod
    def tool(
        tool_call_id: str, content: str, *, name: str | None = None, is_error: bool = False
    ) -> Message:
        """The result of tool call ``tool_call_id``."""
        return Message(
            "tool", (TextPart(content),), tool_call_id=tool_call_id, name=name, is_error=is_error
        )


def _parts(content: str | Sequence[Part]) -> tuple[Part, ...]:
    if isinstance(content, str):
        return (TextPart(content),)
    parts = tuple(content)
    for p in parts:
        if not isinstance(p, TextPart | ImagePart):
            raise InvalidInputError(
                f"a message part is a {type(p).__name__}. Fix: use TextPart or ImagePart"
            )
    return parts


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool the model may call: its name, what it does, and a JSON Schema of its
    arguments. ``ToolSpec.of(fn_or_model)`` derives one from a Python callable or a
    pydantic model."""

    name: str
    description: str
    parameters: Mapping[str, Any]

    @staticmethod
    def of(obj: Any, *, name: str | None = None, description: str | None = None) -> ToolSpec:
        """Derive a spec from a typed callable or a pydantic model class."""
        from orca.llm._schema import tool_spec

        return ToolSpec(*tool_spec(obj, name=name, description=description))


ResponseFormat = Literal["text", "json"] | Mapping[str, Any]
"""``"text"``, ``"json"`` (any JSON object), or a JSON Schema the answer must follow."""


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """Everything one call sends. ``extra`` passes provider-specific fields through."""

    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: Literal["auto", "none", "required"] | str = "auto"
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    response_format: ResponseFormat = "text"
    thinking_tokens: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.messages:
            raise InvalidInputError("a chat request needs at least one message")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise InvalidInputError(f"max_tokens={self.max_tokens} must be 1 or more")
        if self.temperature is not None and not 0 <= self.temperature <= 2:
            raise InvalidInputError(f"temperature={self.temperature} must be between 0 and 2")


@dataclass(frozen=True, slots=True)
class ChatResponse:
    """A finished call: the text, tool calls, why it stopped, and the usage. Calls made
    through a run (``ctx.planner`` ...) also carry their cost (``cost_nano_usd``) and
    whether the model had a price (``priced``); ``cached`` is true for an answer taken
    from the task's call records (a task run again: the call was paid for once, and is
    not paid for again)."""

    text: str
    provider: str
    model: str
    usage: Usage
    stop_reason: StopReason = "stop"
    raw_stop_reason: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    thinking: str = ""
    id: str | None = None
    cost_nano_usd: int | None = None
    priced: bool | None = None
    cached: bool = False

    def message(self) -> Message:
        """The answer as an assistant message, to append to the conversation."""
        return Message.assistant(self.text, self.tool_calls)

    def json(self) -> Any:
        """The text parsed as JSON (for ``response_format="json"``).

        Raises:
            MalformedResponseError: the text is not JSON.
        """
        import json

        from orca.errors import MalformedResponseError

        try:
            return json.loads(self.text)
        except ValueError as exc:
            raise MalformedResponseError(
                f"the answer is not JSON ({exc})", provider=self.provider, model=self.model
            ) from None


@dataclass(frozen=True, slots=True)
class Delta:
    """A piece of a streamed answer: ``text`` or ``thinking`` (a reasoning model's
    visible thoughts)."""

    text: str = ""
    thinking: str = ""
