"""Redaction of secrets and personal data in anything Orca writes down about a tool call
(audit rows, events, logs and, where configured, checkpoints)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "[REDACTED:{kind}]"

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # a credential given as key=value or "key": "value"
    (
        "secret",
        re.compile(
            r"(?i)(?<![A-Za-z0-9])((?:api[_-]?key|secret|token|password|passwd|pwd)"
            r"[\"']?\s*[:=]\s*[\"']?)([^\s\"',;&]{4,})"
        ),
    ),
    ("bearer", re.compile(r"(?i)\b(bearer\s+)([A-Za-z0-9._~+/=-]{8,})")),
    (
        "api_key",
        re.compile(
            r"\b(?:sk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,}"
            r"|xox[abprs]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35})\b"
        ),
    ),
    ("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")),
    # digits after a decimal point are a number, not a card
    ("card", re.compile(r"(?<![\d.])(?:\d[ -]?){12,18}\d(?!\d)")),
    (
        "phone",
        re.compile(
            r"(?<![\w.:/+-])(?:(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}"
            r"(?:[ .-]\d{2,4}){1,4}|\+\d{9,14}|0\d{9,10})(?![\w.:/-])"
        ),
    ),
)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def redact_text(text: str) -> str:
    """``text`` with API keys, bearer tokens, credentials, emails, card numbers (Luhn
    valid) and phone numbers replaced by ``[REDACTED:<kind>]``."""
    for kind, pattern in _PATTERNS:
        if kind in ("secret", "bearer"):  # keep the label, mask the value
            text = pattern.sub(r"\1" + MASK.format(kind=kind), text)
        elif kind == "card":
            text = pattern.sub(lambda m: _card(m.group(0)), text)
        elif kind == "phone":
            text = pattern.sub(lambda m: _phone(m.group(0)), text)
        else:
            text = pattern.sub(MASK.format(kind=kind), text)
    return text


def _card(found: str) -> str:
    digits = re.sub(r"\D", "", found)
    return MASK.format(kind="card") if 13 <= len(digits) <= 19 and _luhn(digits) else found


def _phone(found: str) -> str:
    if re.fullmatch(r"\d{1,3}(?:\.\d{1,3}){3}", found):  # an IPv4 address
        return found
    digits = re.sub(r"\D", "", found)
    return MASK.format(kind="phone") if 9 <= len(digits) <= 15 else found


def redact(value: Any) -> Any:
    """``value`` with every string in it redacted (dicts, lists and tuples walked; keys
    that name a secret have their whole value masked). Walks without recursion, so a
    value nested any depth is redacted whole rather than crashing the caller."""
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]  # (item, container, slot)
    while stack:
        item, parent, slot = stack.pop()
        if isinstance(item, str):
            parent[slot] = redact_text(item)
        elif isinstance(item, Mapping):
            out: dict[Any, Any] = dict.fromkeys(item)
            parent[slot] = out
            for k in item:
                if _secret_key(k) and item[k]:
                    out[k] = MASK.format(kind="secret")
                else:
                    stack.append((item[k], out, k))
        elif isinstance(item, list | tuple):
            seq: list[Any] = [None] * len(item)
            parent[slot] = seq
            stack.extend((v, seq, i) for i, v in enumerate(item))
        else:
            parent[slot] = item
    return root[0]


def _secret_key(key: Any) -> bool:
    return isinstance(key, str) and bool(
        re.fullmatch(r"(?i).*(api[_-]?key|secret|token|password|passwd|authorization).*", key)
    )
