"""A tenant's stored secrets (provider API keys) as a repository protocol, their records
and the rules about their names and values. The SQLite repository is
``orca.store.sqlite.SqliteSecrets``, the PostgreSQL one ``PgSecrets``; both seal values
with ``orca.store._sealing`` (AES-256-GCM under a per-tenant key).

A secret is named as the environment variable it stands in for (``OPENAI_API_KEY``):
a model whose key is read from ``OPENAI_API_KEY`` uses the stored secret of that name
when its run's store holds one, else the environment. One name space, no mapping table.

A value goes in once and comes out only through ``reveal``, which the code building an
LLM client calls; records (name, fingerprint, times) are all any listing shows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from orca.errors import InvalidFieldError
from orca.store._sealing import MasterKey

NAME_PATTERN = r"^[A-Z][A-Z0-9_]{0,63}$"
_NAME = re.compile(NAME_PATTERN)
MAX_VALUE_BYTES = 8192
"""The largest value stored (UTF-8 bytes): API keys are far shorter; a service
account's JSON fits."""


@dataclass(frozen=True, slots=True)
class SecretRecord:
    """A stored secret as anyone may see it: never its value.

    Attributes:
        name: the environment variable it stands in for (``OPENAI_API_KEY``).
        fingerprint: 12 hex digits that tell two values apart (equal values, equal
            fingerprints, within one tenant and master key) and reveal nothing of them.
        created_at, updated_at: ISO-8601 UTC times of the first and the latest ``put``.
    """

    name: str
    fingerprint: str
    created_at: str
    updated_at: str

    def to_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "fingerprint": self.fingerprint,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def check_secret_name(name: str) -> str:
    """``name`` if it is an environment variable's name in capitals: a letter, then up to
    63 capitals, digits or ``_`` (``OPENAI_API_KEY``).

    Raises:
        InvalidFieldError: it is not (field ``name``).
    """
    if not isinstance(name, str) or not _NAME.match(name):
        shown = repr(name[:80]) if isinstance(name, str) else type(name).__name__
        hint = ""
        if isinstance(name, str) and re.fullmatch(r"[a-z][a-z0-9-]{0,40}", name):
            variable = name.upper().replace("-", "_")  # "openai" names a provider
            hint = f" (for a provider's key, name the variable it reads, e.g. {variable}_API_KEY)"
        raise InvalidFieldError(
            f"secret name {shown} is not an environment variable's name in capitals{hint}",
            field="name",
            fix="use a capital letter, then capitals, digits or '_' (at most 64), named after "
            "the variable the provider reads: OPENAI_API_KEY, ANTHROPIC_API_KEY",
        )
    return name


def check_secret_value(value: str) -> str:
    """``value`` if it is text of 1 to ``MAX_VALUE_BYTES`` UTF-8 bytes, not only
    whitespace, without NUL. The value is never quoted in an error.

    Raises:
        InvalidFieldError: it is not (field ``value``).
    """
    problem = None
    if not isinstance(value, str):
        problem = f"is a {type(value).__name__}, not text"
    elif not value.strip():
        problem = "is empty"
    elif "\x00" in value:
        problem = "holds a NUL character (U+0000)"
    else:
        try:
            size = len(value.encode())
        except UnicodeEncodeError:
            problem = "is not valid Unicode text (a lone surrogate)"
        else:
            if size > MAX_VALUE_BYTES:
                problem = f"is {size} bytes, over the {MAX_VALUE_BYTES} a secret may hold"
    if problem is not None:
        raise InvalidFieldError(
            f"the secret's value {problem}",
            field="value",
            fix="give the provider's key itself, as text (no NUL, at most "
            f"{MAX_VALUE_BYTES} bytes)",
        )
    return value


@runtime_checkable
class SecretRepository(Protocol):
    """Where one tenant's secrets are kept, sealed. Safe to share between threads.

    ``put`` and ``reveal`` need the master key (read on first use: ``ORCA_SECRET_KEY``,
    ``[secrets] key_file`` or ``$ORCA_HOME/secret.key``); ``list`` and ``delete`` do not.
    """

    tenant: str

    def put(self, name: str, value: str) -> SecretRecord:
        """Store ``value`` as secret ``name``, replacing any value it had (its
        ``created_at`` kept). Returns its record, never the value.

        Raises:
            InvalidFieldError: a bad name or value (names the field).
            SecretKeyError: the master key is missing or malformed.
        """

    def list(self) -> list[SecretRecord]:
        """Every secret's record, by name."""

    def delete(self, name: str) -> bool:
        """Forget secret ``name``; whether there was one."""

    def reveal(self, name: str) -> str | None:
        """Secret ``name``'s value (None: none is stored). Only the code that builds an
        LLM client calls this.

        Raises:
            SecretKeyError: the master key is missing, or not the one that sealed it.
            CorruptDatabaseError: the row was altered, or copied from another secret or
                tenant (it does not open).
        """

    def rekey(self, old: MasterKey, new: MasterKey) -> int:
        """Seal every secret again under ``new``, in one transaction (those already under
        ``new`` are left as they are); returns how many were sealed again.

        Raises:
            SecretKeyError: a secret is under neither key (nothing is changed).
            CorruptDatabaseError: a secret does not open under ``old`` (nothing is changed).
        """

    def close(self) -> None:
        """Release resources."""
