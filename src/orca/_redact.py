"""Redaction of secrets and personal data.

``redact_secrets`` masks credentials (API keys, tokens, passwords, private keys) in any
value, keeping its shape: the engine applies it to every event as the event is made, so
that no credential reaches the event log, a stream, a log line or a span. ``redact`` and
``redact_text`` also mask personal data (emails, phone and card numbers): the tool
policy applies them to tool calls (audit rows, ``tool.call`` events) and searches apply
them to what they match and show. Checkpoints (the state) are never redacted here."""

from __future__ import annotations

import copy as _copy
import dataclasses
import datetime as dt
import functools
import itertools
import re
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from typing import Any

MASK = "[REDACTED:{kind}]"

# Credentials: what must never be written down anywhere (``redact_secrets``). Every
# quantifier is bounded or consumes what it matches, so a scan costs time linear in the
# text whatever it holds.
_SECRETS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # a PEM private key block (the header and body; a block cut short is masked too)
    (
        "private_key",
        re.compile(
            r"-----BEGIN[A-Z ]{0,40}PRIVATE KEY-----[A-Za-z0-9+/=\s]{0,16384}"
            r"(?:-----END[A-Z ]{0,40}PRIVATE KEY-----)?"
        ),
    ),
    # the password of a URL: scheme://user:password@host
    (
        "password",
        re.compile(r"(?i)\b([a-z][a-z0-9+.-]{0,30}://[^\s:/@]{0,256}:)([^\s/@]{1,256})(@)"),
    ),
    # a credential given as key=value or "key": "value"
    (
        "secret",
        re.compile(
            r"(?i)(?<![A-Za-z0-9])((?:api[_-]?key|secret|token|password|passwd|pwd)"
            r"[\"']?\s*[:=]\s*[\"']?)([^\s\"',;&]{4,})"
        ),
    ),
    ("bearer", re.compile(r"(?i)\b(bearer\s+)([A-Za-z0-9._~+/=-]{8,})")),
    # Authorization: Basic <base64> (and a bare credential after the label)
    (
        "secret",
        re.compile(r"(?i)\b(authorization[\"']?\s*[:=]\s*[\"']?(?:basic\s+)?)([A-Za-z0-9+/=]{8,})"),
    ),
    (
        "api_key",
        re.compile(
            r"\b(?:sk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}|(?:AKIA|ASIA)[0-9A-Z]{16}"
            r"|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,}|glpat-[A-Za-z0-9_-]{20,}"
            r"|xox[abposr]-[A-Za-z0-9-]{10,}|AIza[0-9A-Za-z_-]{35}|[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"
            r"|hf_[A-Za-z0-9]{30,}|orca_[0-9a-f]{12}_[A-Za-z0-9_-]{43})"
            r"(?![A-Za-z0-9_-])"
        ),
    ),
    # a JSON Web Token (header.payload.signature, both JSON parts start with eyJ)
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
)


# what every credential above holds (lower-cased): text with none of these holds no
# credential, and a few substring tests cost far less than the patterns' scans
_CLUES = (
    "-----begin", "://", "api", "secret", "token", "passw", "pwd", "bearer", "authoriz",
    "sk-", "akia", "asia", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-",
    "xox", "aiza", "k_live_", "k_test_", "hf_", "orca_", "eyj",
)  # fmt: skip


_ANY_CLUE = re.compile("|".join(map(re.escape, _CLUES)))


def _may_hold_secret(text: str) -> bool:
    lowered = text.lower()
    if len(lowered) < 256:  # one scan of a short text is quicker than many searches
        return _ANY_CLUE.search(lowered) is not None
    return any(clue in lowered for clue in _CLUES)  # each a fast substring search


_PERSONAL: tuple[tuple[str, re.Pattern[str]], ...] = (
    # at most 64 characters before the @ and 253 after: a long run of text is no email
    # and a bounded scan stays linear
    (
        "email",
        re.compile(
            r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,63}\b"
        ),
    ),
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


def _masked(kind: str, pattern: re.Pattern[str], text: str) -> str:
    if pattern.groups:  # a label, the value, and what follows it: the value is masked
        after = r"\3" if pattern.groups > 2 else ""
        return pattern.sub(r"\1" + MASK.format(kind=kind) + after, text)
    return pattern.sub(MASK.format(kind=kind), text)


def redact_secret_text(text: str) -> str:
    """``text`` with credentials replaced by ``[REDACTED:<kind>]``: API keys (OpenAI,
    Anthropic, AWS, GitHub, GitLab, Slack, Google, Stripe, Hugging Face, Orca's own
    tokens), bearer and Basic authorizations, ``key=value`` credentials, passwords in
    URLs, JSON Web Tokens and PEM private keys. Labels are kept (``password=``,
    ``Bearer ``, ``postgresql://user:``). ``text`` itself is returned when it holds none."""
    if not _may_hold_secret(text):
        return text
    masked = text
    for kind, pattern in _SECRETS:
        masked = _masked(kind, pattern, masked)
    return text if masked == text else masked


def redact_text(text: str) -> str:
    """``text`` with credentials (``redact_secret_text``), emails, card numbers (Luhn
    valid) and phone numbers replaced by ``[REDACTED:<kind>]``."""
    text = redact_secret_text(text)
    for kind, pattern in _PERSONAL:
        if kind == "card":
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


# words that name a credential in a key (``api_key``, ``clientSecret``, ``X-Auth-Token``)
_SECRET_WORDS = frozenset(
    {"apikey", "secret", "token", "password", "passwd", "pwd", "passphrase", "authorization",
     "credential", "credentials", "privatekey", "secretkey", "accesskey"}
)  # fmt: skip
# a last word that makes the key about a credential, not one (``token_count``)
_NOT_SECRET_TAIL = frozenset(
    {"count", "counts", "limit", "limits", "total", "type", "kind", "len", "length", "used",
     "usage", "ttl", "expiry", "expires", "name", "url", "path", "file", "env", "set"}
)  # fmt: skip
_KEY_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def _secret_key(key: Any) -> bool:
    """Whether a mapping key names a credential, whose whole value is then masked."""
    if not isinstance(key, str) or len(key) > 100:
        return False
    return _names_secret(key)


@functools.lru_cache(maxsize=4096)  # the same few keys come back in every event
def _names_secret(key: str) -> bool:
    words = [w.lower() for w in _KEY_WORDS.findall(key)]
    if not words or words[-1] in _NOT_SECRET_TAIL:
        return False
    pairs = {a + b for a, b in itertools.pairwise(words)}
    return not _SECRET_WORDS.isdisjoint(words) or not _SECRET_WORDS.isdisjoint(pairs)


# -- redacting a value as it is, for the event log ---------------------------------------------

MAX_DEPTH = 300
"""Containers nested deeper than this are replaced by a marker: the event log cannot hold
them either (orjson stops at 255 levels, the lenient log writer at 200)."""
_SCALARS = (int, float, bool, type(None), Decimal, dt.date, dt.time, dt.timedelta, Enum)


def redact_secrets(value: Any) -> Any:
    """``value`` with the credentials in it masked (``redact_secret_text``), keeping its
    shape: strings, bytes (as UTF-8), mapping keys and values, lists, tuples (named ones
    too), sets, dataclass instances and pydantic models are walked and rebuilt as the same
    types; a mapping key that names a credential has its whole value masked. What holds
    no credential is returned as it is (the same object), so a clean value costs one scan
    of its strings and no copy. An object of another type is kept unless its ``repr``
    (what the event log would write) holds a credential: then it becomes that ``repr``,
    redacted. A reference cycle becomes a marker, as do containers nested deeper than
    ``MAX_DEPTH``. Walks without recursion."""
    if _surely_clean(value):
        return value
    leaf = _leaf(value)
    if leaf is not _CONTAINER:
        return leaf
    done: dict[int, Any] = {}  # id -> redacted container (shared parts are redacted once)
    on_path: set[int] = set()
    # each frame: [node, its (slot, child) pairs, next index, redacted children]
    stack: list[list[Any]] = [[value, _children(value), 0, []]]
    on_path.add(id(value))
    while True:
        frame = stack[-1]
        node, kids, i, out = frame
        if i < len(kids):
            frame[2] = i + 1
            slot, child = kids[i]
            if isinstance(node, Mapping) and _secret_key(slot) and child:
                out.append(MASK.format(kind="secret"))
                continue
            got = _leaf(child)
            if got is _CONTAINER:
                if id(child) in done:
                    got = done[id(child)]
                elif id(child) in on_path:
                    got = f"<cycle: {type(child).__name__}>"
                elif len(stack) >= MAX_DEPTH:
                    got = f"<{type(child).__name__} nested deeper than {MAX_DEPTH} levels>"
                else:
                    on_path.add(id(child))
                    stack.append([child, _children(child), 0, []])
                    continue
            out.append(got)
            continue
        stack.pop()
        on_path.discard(id(node))
        rebuilt = _rebuilt(node, kids, out)
        done[id(node)] = rebuilt
        if not stack:
            return rebuilt
        stack[-1][3].append(rebuilt)


_CONTAINER: Any = object()
_PLAIN = frozenset({int, float, bool, type(None)})


def _surely_clean(value: Any) -> bool:
    """Whether ``value`` is plainly free of credentials: only dicts, lists and tuples of
    numbers and strings with no hint of one, under keys that name none. Most event
    payloads are; this look costs a fraction of the walk that rebuilds."""
    stack = [value]
    budget = 256  # containers looked into; beyond (or a cycle), the walk decides
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind in _PLAIN:
            continue
        if kind is str:
            if _may_hold_secret(item):
                return False
            continue
        budget -= 1
        if budget < 0:
            return False
        if kind is dict:
            for k in item:
                if type(k) is not str or _secret_key(k) or _may_hold_secret(k):
                    return False
            stack.extend(item.values())
        elif kind is list or kind is tuple:
            stack.extend(item)
        else:
            return False
    return True


def _leaf(value: Any) -> Any:
    """A value that is not a container, redacted; ``_CONTAINER`` for one that is."""
    if isinstance(value, str):
        return redact_secret_text(value)
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, bytes | bytearray):
        try:
            text = bytes(value).decode()
        except UnicodeDecodeError:
            return value  # binary: no text to hold a credential
        masked = redact_secret_text(text)
        return value if masked is text else type(value)(masked.encode())
    if isinstance(value, Mapping | list | tuple | set | frozenset):
        return _CONTAINER
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _CONTAINER
    if _is_model(value):
        return _CONTAINER
    try:
        shown = repr(value)
    except Exception:  # a repr that fails writes no credential
        return value
    masked = redact_secret_text(shown)
    return value if masked is shown else masked


def _is_model(value: Any) -> bool:
    return hasattr(type(value), "model_fields") and hasattr(value, "model_copy")


def _children(node: Any) -> list[tuple[Any, Any]]:
    if isinstance(node, Mapping):
        return list(node.items())
    if isinstance(node, list | tuple | set | frozenset):
        return list(enumerate(node))
    if _is_model(node):
        return [(name, getattr(node, name, None)) for name in type(node).model_fields]
    return [(f.name, getattr(node, f.name, None)) for f in dataclasses.fields(node)]


def _rebuilt(node: Any, kids: list[tuple[Any, Any]], out: list[Any]) -> Any:
    """``node`` again with its redacted children ``out``: itself when none changed."""
    if isinstance(node, Mapping):
        keys = [_leaf(k) if isinstance(k, str | bytes) else k for k, _ in kids]
        if all(k is old for k, (old, _) in zip(keys, kids, strict=True)) and all(
            v is old for v, (_, old) in zip(out, kids, strict=True)
        ):
            return node
        return dict(zip(keys, out, strict=True))
    if all(v is old for v, (_, old) in zip(out, kids, strict=True)):
        return node
    if isinstance(node, list):
        return out
    if isinstance(node, tuple):
        return type(node)(*out) if hasattr(node, "_fields") else tuple(out)
    if isinstance(node, set | frozenset):
        return type(node)(out) if type(node) in (set, frozenset) else set(out)
    changed = {slot: v for v, (slot, old) in zip(out, kids, strict=True) if v is not old}
    if _is_model(node):
        return node.model_copy(update=changed)
    copy = _copy.copy(node)
    for name, v in changed.items():  # frozen or slotted dataclasses too; no __init__ runs
        object.__setattr__(copy, name, v)
    return copy
