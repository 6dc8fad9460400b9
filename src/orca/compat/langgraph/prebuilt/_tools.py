"""``ToolNode`` runs the tool calls of the last AI message; ``tools_condition`` routes to
it while there are calls to run."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from orca.errors import InvalidInputError
from orca.graph._types import END

try:
    from langchain_core.messages import AIMessage, AnyMessage, ToolMessage
    from langchain_core.tools import BaseTool
    from langchain_core.tools import tool as as_tool
except ImportError as exc:  # pragma: no cover - exercised where langchain-core is absent
    raise ImportError(
        "orca.compat.langgraph.prebuilt needs langchain-core. Fix: pip install langchain-core"
    ) from exc

# what the model reads back when a call fails: LangGraph's wording, so that prompts
# tuned on LangGraph read the same on Orca
_CALL_ERROR = "Error: {error}\n Please fix your mistakes."
_BAD_ARGUMENTS = (
    "Error invoking tool '{tool_name}' with kwargs {tool_kwargs} with error:\n"
    " {error}\n"
    " Please fix the error and try again."
)
_UNKNOWN_TOOL = "Error: {requested_tool} is not a valid tool, try one of [{available_tools}]."

ErrorHandling = (
    bool | str | Callable[..., str] | type[Exception] | tuple[type[Exception], ...] | None
)


class ToolInvocationError(Exception):
    """A tool was called with arguments its schema refuses; ``message`` is what the
    model reads back."""

    def __init__(self, tool_name: str, tool_kwargs: Any, source: ValidationError) -> None:
        # one "field: problem" line per error, without pydantic's links
        detail = "\n".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
            for e in source.errors()
        )
        self.message = _BAD_ARGUMENTS.format(
            tool_name=tool_name, tool_kwargs=tool_kwargs, error=detail
        )
        self.tool_name = tool_name
        self.tool_kwargs = tool_kwargs
        self.source = source
        super().__init__(self.message)


def _messages(state: Any, key: str) -> list[AnyMessage]:
    if isinstance(state, list):
        return state
    found = state.get(key) if isinstance(state, Mapping) else getattr(state, key, None)
    if not isinstance(found, list):
        raise InvalidInputError(
            f"the state has no message list under {key!r}. Fix: keep the messages in "
            f"state[{key!r}], or pass messages_key=... to ToolNode / tools_condition"
        )
    return found


def tools_condition(state: Any, messages_key: str = "messages") -> str:
    """``"tools"`` while the last message is an AI message with tool calls, else END."""
    messages = _messages(state, messages_key)
    last = messages[-1] if messages else None
    if isinstance(last, AIMessage) and last.tool_calls:
        return "tools"
    return END


class ToolNode:
    """A node that runs the tool calls of the state's last AI message (concurrently)
    and answers each with a ``ToolMessage``.

    Args:
        tools: LangChain tools, or plain functions (made tools with ``@tool``).
        name: the node's name when added with ``add_node(tool_node)``.
        handle_tool_errors: what a failing call answers. The default answers calls
            with invalid arguments with the error (the model can fix them) and raises
            any other error; ``True`` answers every error, a string answers with it,
            a function ``(error) -> str`` with what it returns, exception classes
            answer those and raise the rest, ``False`` raises.
        messages_key: the state key holding the messages.
    """

    def __init__(
        self,
        tools: Sequence[BaseTool | Callable[..., Any]],
        *,
        name: str = "tools",
        handle_tool_errors: ErrorHandling = None,
        messages_key: str = "messages",
    ) -> None:
        self.name = name
        self.messages_key = messages_key
        self.handle_tool_errors = handle_tool_errors
        self.tools_by_name: dict[str, BaseTool] = {}
        for item in tools:
            made = item if isinstance(item, BaseTool) else as_tool(item)
            self.tools_by_name[made.name] = made

    async def __call__(self, state: Any, config: Any) -> Any:
        messages = _messages(state, self.messages_key)
        last = next((m for m in reversed(messages) if isinstance(m, AIMessage)), None)
        if last is None:
            raise InvalidInputError(
                "ToolNode found no AI message in the state. Fix: route to it only after "
                "a model's answer with tool calls (tools_condition does)"
            )
        answers = await asyncio.gather(*(self._run(call, config) for call in last.tool_calls))
        if isinstance(state, list):
            return answers
        return {self.messages_key: answers}

    async def _run(self, call: Mapping[str, Any], config: Any) -> ToolMessage:
        name = str(call.get("name"))
        call_id = str(call.get("id"))
        found = self.tools_by_name.get(name)
        if found is None:
            content = _UNKNOWN_TOOL.format(
                requested_tool=name, available_tools=", ".join(self.tools_by_name)
            )
            return ToolMessage(content, name=name, tool_call_id=call_id, status="error")
        try:
            answer = await found.ainvoke({**call, "type": "tool_call"}, config)
        except Exception as error:
            content = self._error_content(error, name, call.get("args"))
            return ToolMessage(content, name=name, tool_call_id=call_id, status="error")
        if isinstance(answer, ToolMessage):
            return answer
        return ToolMessage(str(answer), name=name, tool_call_id=call_id)

    def _error_content(self, error: Exception, name: str, args: Any) -> str:
        if isinstance(error, ValidationError):
            error = ToolInvocationError(name, args, error)
        handling = self.handle_tool_errors
        if handling is None:  # only arguments the model can fix are answered
            if isinstance(error, ToolInvocationError):
                return error.message
            raise error
        if handling is True:
            return _CALL_ERROR.format(error=repr(error))
        if handling is False:
            raise error
        if isinstance(handling, str):
            return handling
        if isinstance(handling, type | tuple):
            if isinstance(error, handling):
                return _CALL_ERROR.format(error=repr(error))
            raise error
        return str(handling(error))
