"""The server's bearer tokens as a repository protocol (the SQLite one is
``orca.store.sqlite.SqliteTokens``), their values and the pure rules about them: what a
token looks like, how it is hashed, which scopes a scope grants.

A token is ``orca_<id>_<secret>``: ``id`` (12 hex digits) is public and finds the row,
``secret`` is 256 random bits. Only the SHA-256 of the whole token is stored; it is
compared in constant time. The token itself is shown once, when it is made.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from orca.errors import InvalidInputError
from orca.store._tenants import DEFAULT_TENANT

SCOPES = ("read", "run", "admin")
"""From least to most: each grants those before it (admin > run > read)."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_TOKEN = re.compile(r"^orca_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A token as the store keeps it: never the token, only who it is and what it may do.

    Attributes:
        id: the token's public part (``orca_<id>_...``).
        name: what its maker called it; one live token per name in its tenant.
        scope: the highest scope it grants (``grants`` lists them all).
        created_at, last_used_at, revoked_at: ISO-8601 UTC times (None: not yet).
        tenant: the tenant whose data it reaches (and only that tenant's).
    """

    id: str
    name: str
    scope: str
    created_at: str
    last_used_at: str | None = None
    revoked_at: str | None = None
    tenant: str = DEFAULT_TENANT

    @property
    def grants(self) -> tuple[str, ...]:
        """Every scope this token holds (``admin`` holds ``run`` and ``read``)."""
        return granted(self.scope)

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def allows(self, needed: str) -> bool:
        """Whether this token may do what needs scope ``needed``."""
        return allows(self.scope, needed)

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "scope": self.scope,
            "scopes": list(self.grants),
            "created_at": self.created_at,
            "last_used_at": self.last_used_at,
            "revoked_at": self.revoked_at,
            "tenant": self.tenant,
        }


def granted(scope: str) -> tuple[str, ...]:
    """The scopes ``scope`` holds: itself and every one below it."""
    return SCOPES[: SCOPES.index(scope) + 1]


def allows(scope: str, needed: str) -> bool:
    """Whether a token of ``scope`` may do what needs ``needed``."""
    return SCOPES.index(scope) >= SCOPES.index(needed)


def check_scope(scope: str) -> str:
    """``scope`` if it is one of read, run, admin.

    Raises:
        InvalidInputError: it is not (the message names the three).
    """
    if scope not in SCOPES:
        raise InvalidInputError(
            f"scope {scope!r} is not read, run or admin. Fix: --scope read (GET only), "
            "run (start and cancel runs too) or admin (everything)"
        )
    return scope


def check_token_name(name: str) -> str:
    """``name`` if it is 1 to 64 letters, digits, ``.``, ``_`` or ``-`` (starting with a
    letter or digit).

    Raises:
        InvalidInputError: it is not.
    """
    if not _NAME.match(name):
        raise InvalidInputError(
            f"token name {name!r} is not 1 to 64 letters, digits, '.', '_' or '-' "
            "(starting with a letter or digit). Fix: name it after who uses it, e.g. ci-bot"
        )
    return name


def mint() -> tuple[str, str]:
    """A new token: (its id, the token). 256 bits of the token are random."""
    token_id = secrets.token_hex(6)
    return token_id, f"orca_{token_id}_{secrets.token_urlsafe(32)}"


def split_token(token: str) -> str | None:
    """The id of a token of Orca's shape, else None."""
    found = _TOKEN.match(token)
    return found.group(1) if found else None


def token_hash(token: str) -> str:
    """What the store keeps of a token: its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_hash(stored: str, token: str) -> bool:
    """Whether ``token`` hashes to ``stored``, compared in constant time."""
    return hmac.compare_digest(stored.encode(), token_hash(token).encode())


@runtime_checkable
class TokenRepository(Protocol):
    """Where the server's tokens are kept. Safe to share between threads."""

    def create(
        self, name: str, scope: str, *, tenant: str = DEFAULT_TENANT
    ) -> tuple[TokenRecord, str]:
        """A new token of ``tenant`` named ``name`` with ``scope``: its record and the
        token itself (which is not kept, so it can never be shown again).

        Raises:
            InvalidInputError: a bad name or scope, no such tenant (or it is disabled),
                or a live token of the tenant has that name.
        """

    def list(
        self, *, revoked: bool = True, tenant: str | None = DEFAULT_TENANT
    ) -> list[TokenRecord]:
        """The tenant's tokens (every tenant's with ``tenant=None``), oldest first
        (``revoked=False``: the live ones only)."""

    def revoke(self, name: str, *, tenant: str = DEFAULT_TENANT) -> TokenRecord:
        """Revoke the tenant's live token named ``name``; returns its record.

        Raises:
            InvalidInputError: no live token of the tenant has that name (the message
                names those that do).
        """

    def verify(self, token: str) -> TokenRecord | None:
        """The live token's record, if ``token`` is one; else None (unknown, malformed,
        revoked, or its tenant is disabled). Marks it used (at most once a minute per
        token)."""

    def live(self) -> int:
        """How many tokens are live (not revoked), of every tenant."""

    def close(self) -> None:
        """Release resources."""
