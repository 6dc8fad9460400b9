"""Chat message lists as state: the ``add_messages`` reducer and ``MessagesState``.

``add_messages`` appends new messages, replaces a message that reuses an existing id,
and removes messages on a ``RemoveMessage`` (``RemoveMessage(REMOVE_ALL_MESSAGES)``
clears the list). It reads the shapes LangGraph reads: message objects, dicts with
``role`` and ``content``, ``(role, content)`` tuples and plain strings (a user message).

What a message becomes depends on one optional package:

- with ``langchain_core`` installed, every message is converted to a LangChain message
  (``HumanMessage``, ``AIMessage``, ...), as LangGraph does; checkpoints restore them;
- without it, messages are plain dicts ``{"role": ..., "content": ..., "id": ...}``
  (extra keys kept), and a LangChain-only option (``format=``) says it needs the package.

A message without an id gets one derived from its place in the list and its content,
never a random one: the same run gives the same ids (LangGraph draws uuid4s).
"""

from __future__ import annotations

import hashlib
import importlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

from orca import _serde
from orca.graph.reducers import Reducer

__all__ = [
    "REMOVE_ALL_MESSAGES",
    "MessagesState",
    "RemoveMessage",
    "add_messages",
]

REMOVE_ALL_MESSAGES = "__remove_all__"
"""The id of a ``RemoveMessage`` that clears every message before it."""

_ROLES = frozenset({"human", "user", "ai", "assistant", "system", "developer", "tool", "function"})
_FORMATS = ("langchain-openai",)


@dataclass(frozen=True, slots=True)
class RemoveMessage:
    """Write it to a messages key to remove the message with this id;
    ``RemoveMessage(REMOVE_ALL_MESSAGES)`` removes every message written before it.
    LangChain's ``RemoveMessage`` works the same."""

    id: str

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"RemoveMessage needs a non-empty string id, got {self.id!r}")


_serde.declare(RemoveMessage)


_UNSET: Any = object()
_langchain: Any = _UNSET


def _lc() -> Any:
    """``langchain_core.messages``, or None when the package is not installed."""
    global _langchain
    if _langchain is _UNSET:
        try:
            _langchain = importlib.import_module("langchain_core.messages")
        except ImportError:
            _langchain = None
    return _langchain


def _removal_id(lc: Any, m: Any) -> str | None:
    """The id a removal marker removes, or None when ``m`` is a message."""
    if isinstance(m, RemoveMessage):
        return m.id
    if lc is not None and isinstance(m, lc.RemoveMessage):
        return str(m.id)
    return None


def _as_list(value: Any, side: str) -> list[Any]:
    if value is None:
        if side == "old":
            return []
        raise ValueError(
            "add_messages got None as the new messages. Fix: write a message, a list of "
            "messages, or [] for none"
        )
    # as LangGraph reads it: a list is a list, anything else one message
    return list(value) if isinstance(value, list) else [value]


def _to_lc(lc: Any, m: Any) -> Any:
    if isinstance(m, RemoveMessage):
        return m
    if isinstance(m, lc.BaseMessageChunk):
        return lc.message_chunk_to_message(m)
    if isinstance(m, lc.BaseMessage):
        return m
    if isinstance(m, str | tuple | list | dict):
        return lc.convert_to_messages([m])[0]
    raise TypeError(
        f"add_messages cannot read a {type(m).__name__} as a message. Fix: write a LangChain "
        "message, a dict with 'role' and 'content', a (role, content) tuple or a string"
    )


def _to_dict(m: Any) -> Any:
    if isinstance(m, RemoveMessage):
        return m
    if isinstance(m, str):
        return {"role": "user", "content": m}
    if isinstance(m, tuple | list):
        if len(m) != 2:
            raise TypeError(
                f"a message tuple has {len(m)} items. Fix: write (role, content), e.g. "
                "('user', 'hi')"
            )
        m = {"role": m[0], "content": m[1]}
    if not isinstance(m, dict):
        raise TypeError(
            f"add_messages cannot read a {type(m).__name__} as a message (langchain_core is "
            "not installed, so messages are dicts). Fix: write a dict with 'role' and "
            "'content', a (role, content) tuple or a string"
        )
    role = m.get("role", m.get("type"))
    if role is None or "content" not in m:
        raise ValueError(f"a message dict needs 'role' and 'content' keys, got {sorted(m)}")
    if role not in _ROLES:
        raise ValueError(
            f"unknown message role {role!r}. Fix: use one of {', '.join(sorted(_ROLES))}"
        )
    out = {k: v for k, v in m.items() if k != "type"}
    out["role"] = role
    if out.get("content") is None:
        out["content"] = ""
    return out


def _id_of(m: Any) -> str | None:
    raw = m.get("id") if isinstance(m, dict) else getattr(m, "id", None)
    return None if raw is None else str(raw)


def _with_id(m: Any, new_id: str) -> Any:
    if isinstance(m, dict):
        return {**m, "id": new_id}
    # a copy: the object the node returned is left as it was
    return m.model_copy(update={"id": new_id})


def _derive_id(m: Any, position: int, before: str, taken: set[str]) -> str:
    """A uuid-shaped id from the message's content and where it lands: the same list
    and the same write give the same id; never one already in the list."""
    if isinstance(m, dict):
        body = {k: v for k, v in m.items() if k != "id"}
    else:
        body = {"type": getattr(m, "type", type(m).__name__), "content": m.content}
    seed = _serde.dumps_lenient([position, before, body])
    salt = 0
    while True:
        digest = hashlib.sha256(seed + salt.to_bytes(4, "big")).digest()
        new_id = str(uuid.UUID(bytes=digest[:16], version=5))
        if new_id not in taken:
            return new_id
        salt += 1


def _fill_ids(items: list[Any], taken: set[str], offset: int, before: str) -> list[Any]:
    """``items`` with an id on each message that had none (removal markers as they are)."""
    out: list[Any] = []
    for i, m in enumerate(items):
        if not isinstance(m, RemoveMessage) and _id_of(m) is None:
            m = _with_id(m, _derive_id(m, offset + i, before, taken))
        mid = _id_of(m)
        if mid is not None:
            taken.add(mid)
            before = mid
        out.append(m)
    return out


def _merge(old: Any, new: Any, format: str | None) -> list[Any]:
    if format is not None and format not in _FORMATS:
        raise ValueError(
            f"add_messages(format={format!r}) is not a known format. Fix: use one of "
            f"{', '.join(map(repr, _FORMATS))}, or None"
        )
    lc = _lc()
    if format is not None and lc is None:
        raise RuntimeError(
            f"add_messages(format={format!r}) needs langchain_core. Fix: pip install "
            "langchain-core, or drop format="
        )
    convert: Callable[[Any], Any] = (lambda m: _to_lc(lc, m)) if lc is not None else _to_dict
    left = [convert(m) for m in _as_list(old, "old")]
    right = [convert(m) for m in _as_list(new, "new")]
    taken = {mid for m in (*left, *right) if (mid := _id_of(m)) is not None}
    left = _fill_ids(left, taken, 0, "")
    right = _fill_ids(right, taken, len(left), _id_of(left[-1]) or "" if left else "")
    cleared = [i for i, m in enumerate(right) if _removal_id(lc, m) == REMOVE_ALL_MESSAGES]
    if cleared:  # what came before the last clear-all is gone; what follows merges onto []
        left, right = [], right[cleared[-1] + 1 :]
    result = list(left)
    index = {_id_of(m): i for i, m in enumerate(result)}
    removed: set[str] = set()
    for m in right:
        target = _removal_id(lc, m)
        mid = target if target is not None else _id_of(m)
        if mid in index:
            if target is not None:
                removed.add(target)
            else:  # a message that reuses an id replaces it, where it stood
                removed.discard(str(mid))
                result[index[mid]] = m
        elif target is not None:
            raise ValueError(
                f"RemoveMessage({target!r}) names no message in the list. Fix: remove "
                "a message by the id it has in the state"
            )
        else:
            index[mid] = len(result)
            result.append(m)
    if removed:
        result = [m for m in result if _id_of(m) not in removed]
    if format == "langchain-openai":
        return list(lc.convert_to_messages(lc.convert_to_openai_messages(result)))
    return result


class _AddMessages(Reducer):
    """``add_messages``: a reducer, and, called with ``format=`` alone, a factory of one."""

    __slots__ = ()

    def __call__(self, old: Any = None, new: Any = _UNSET, *, format: str | None = _UNSET) -> Any:
        if new is _UNSET and old is None:
            if format is _UNSET or format is None:
                return self
            _merge([], [], format)  # an unknown format fails here, not at the first write
            chosen = format

            def fn(o: Any, n: Any) -> list[Any]:
                return _merge(o, n, chosen)

            return _AddMessages(f"add_messages:{format}", fn, list)
        if new is _UNSET:
            raise ValueError(
                "add_messages takes the current messages and the new ones. Fix: call "
                "add_messages(old, new), or add_messages(format=...) for a reducer"
            )
        if format is not _UNSET:
            return _merge(old, new, format)
        return self.fn(old, new)


def _plain(old: Any, new: Any) -> list[Any]:
    return _merge(old, new, None)


add_messages: Any = _AddMessages("add_messages", _plain, list)
"""Merge messages by id: append new ones, replace one whose id is already in the list,
remove on ``RemoveMessage(id)`` (or clear on ``RemoveMessage(REMOVE_ALL_MESSAGES)``).

Use it as a reducer, ``messages: Annotated[list, add_messages]``, or call it:
``add_messages(old, new)``. ``add_messages(format="langchain-openai")`` is a reducer
that also normalises message contents to OpenAI's shapes (needs ``langchain_core``).

Raises:
    ValueError: a ``RemoveMessage`` names an id the list does not hold; a dict lacks
        ``role`` or ``content``; an unknown role.
    TypeError: a value that is no message.
"""


class MessagesState(TypedDict):
    """A state with one key, ``messages``, merged by ``add_messages``. Subclass it to add keys."""

    messages: Annotated[list[Any], add_messages]
