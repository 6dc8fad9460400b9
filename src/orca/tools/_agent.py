"""The tool-calling agent: LLM -> tool calls -> results -> LLM, until the model answers
without calling a tool or ``max_iterations`` turns have run.

Each turn's tool calls run concurrently. Every LLM call goes through ``ctx.llm(role)``,
so it is metered, budgeted and streamed like any other. Arguments the model gets wrong
(bad JSON, a schema mismatch, an unknown tool) go back to it as a tool error, are
counted in ``tool_errors``, and never crash the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, TypedDict

from orca._redact import redact
from orca.errors import InvalidInputError
from orca.graph import reducers
from orca.llm import Message, ToolCall


class AgentState(TypedDict, total=False):
    """The state of an agent graph (``create_agent``); ``agent_node`` works on any state
    with these keys."""

    task: str
    messages: Annotated[list[dict[str, Any]], reducers.append]
    answer: str
    iterations: Annotated[int, reducers.sum]
    tool_errors: Annotated[int, reducers.sum]
    stopped: str


def message_to_dict(m: Message) -> dict[str, Any]:
    """A message as plain JSON for the state (checkpoints hold only plain values)."""
    out: dict[str, Any] = {"role": m.role, "content": m.text}
    if m.tool_calls:
        out["tool_calls"] = [
            {"id": c.id, "name": c.name, "arguments": c.arguments, "raw": c.raw_arguments}
            for c in m.tool_calls
        ]
    if m.tool_call_id is not None:
        out["tool_call_id"] = m.tool_call_id
        out["name"] = m.name
        out["is_error"] = m.is_error
    return out


def message_from_dict(d: dict[str, Any]) -> Message:
    role = d.get("role")
    if role == "assistant":
        calls = [
            ToolCall(c["id"], c["name"], dict(c.get("arguments", {})), c.get("raw", ""))
            for c in d.get("tool_calls", [])
        ]
        return Message.assistant(d.get("content", ""), calls)
    if role == "tool":
        return Message.tool(
            d["tool_call_id"],
            d.get("content", ""),
            name=d.get("name"),
            is_error=bool(d.get("is_error")),
        )
    if role == "system":
        return Message.system(d.get("content", ""))
    if role == "user":
        return Message.user(d.get("content", ""))
    raise InvalidInputError(
        f"a message has role {role!r}. Fix: use system, user, assistant or tool"
    )


def agent_node(
    *,
    role: str = "worker",
    tools: Sequence[str] | None = None,
    system: str | None = None,
    max_iterations: int = 5,
    max_tokens: int | None = None,
    task_key: str = "task",
) -> Any:
    """A node running the tool-calling loop.

    Args:
        role: which model answers: ``planner``, ``worker`` or any ``ctx.llm`` name.
        tools: the names of the run's tools it may call (default: all the policy allows).
        system: a system prompt put first.
        max_iterations: the most LLM turns; the loop stops there with
            ``stopped = "max_iterations"`` and the last answer.
        max_tokens: the answer cap of each turn.
        task_key: the state key holding the request when ``messages`` is empty.

    The node reads ``messages`` (or ``task``) and writes the new ``messages``,
    ``answer``, ``iterations``, ``tool_errors`` and ``stopped``.
    """
    if (
        isinstance(max_iterations, bool)
        or not isinstance(max_iterations, int)
        or max_iterations < 1
    ):
        raise InvalidInputError(f"max_iterations must be a positive int, got {max_iterations!r}")

    async def agent(state: dict[str, Any], ctx: Any) -> dict[str, Any]:
        llm = ctx.llm(role)
        specs = ctx.tools.specs(tools) if _has_tools(ctx) else ()
        history = [message_from_dict(m) for m in state.get("messages") or []]
        new: list[Message] = []
        if not history:
            task = state.get(task_key)
            if not task:
                raise InvalidInputError(
                    f"the agent has no messages and no {task_key!r}. Fix: start it with "
                    f"{{{task_key!r}: '...'}} or messages"
                )
            new.append(Message.user(str(task)))
        if system and not (history and history[0].role == "system"):
            new.insert(0, Message.system(system))
        errors = 0
        answer = ""
        for turn in range(1, max_iterations + 1):
            options: dict[str, Any] = {"tools": specs} if specs else {}
            if max_tokens is not None:
                options["max_tokens"] = max_tokens
            response = await llm.acomplete([*history, *new], **options)
            answer = response.text
            new.append(Message.assistant(response.text, response.tool_calls))
            if not response.tool_calls:
                return _update(ctx, new, answer, turn, errors, "answered")
            results = await ctx.tools.arun_calls(response.tool_calls)
            for call, result in zip(response.tool_calls, results, strict=True):
                errors += result.status == "invalid"
                new.append(
                    Message.tool(call.id, result.content(), name=call.name, is_error=not result.ok)
                )
        return _update(ctx, new, answer, max_iterations, errors, "max_iterations")

    return agent


def _has_tools(ctx: Any) -> bool:
    try:
        return bool(ctx.tools.names())
    except InvalidInputError:
        return False


def _update(
    ctx: Any, new: list[Message], answer: str, turns: int, errors: int, stopped: str
) -> dict[str, Any]:
    messages = [message_to_dict(m) for m in new]
    if _redacts_checkpoints(ctx):
        messages = redact(messages)
    return {
        "messages": messages,
        "answer": answer,
        "iterations": turns,
        "tool_errors": errors,
        "stopped": stopped,
    }


def _redacts_checkpoints(ctx: Any) -> bool:
    try:
        return bool(ctx.tools.policy.redact_checkpoints)
    except (AttributeError, InvalidInputError):
        return False


def create_agent(
    *,
    role: str = "worker",
    tools: Sequence[str] | None = None,
    system: str | None = None,
    max_iterations: int = 5,
    max_tokens: int | None = None,
    name: str = "agent",
    checkpointer: Any = None,
) -> Any:
    """A whole graph around one ``agent_node``: invoke it with ``{"task": "..."}`` (and
    ``tools=``, ``profile=`` or ``models=`` run options); the result holds ``answer``,
    ``messages``, ``iterations``, ``tool_errors`` and ``stopped``."""
    from orca.graph import END, START, StateGraph

    g = StateGraph(AgentState, name=name)
    g.add_node(
        "agent",
        agent_node(
            role=role,
            tools=tools,
            system=system,
            max_iterations=max_iterations,
            max_tokens=max_tokens,
        ),
    )
    g.add_edge(START, "agent")
    g.add_edge("agent", END)
    return g.compile(checkpointer=checkpointer)
