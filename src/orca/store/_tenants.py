"""Tenants: who owns what a store holds, and the pure rules about them.

A tenant is a namespace of the store. Each tenant's repositories live apart from every
other tenant's: on SQLite in their own database files (``tenant_path``), on PostgreSQL in
their own schema (``schema_of``). A query of one tenant's store cannot name another
tenant's rows, because they are not in the tables it can see; there is no ``WHERE
tenant = ...`` to forget.

The default tenant (``DEFAULT_TENANT``) is a single user's, and the installation's own: its
store keeps the files and schema Orca always used, and it also holds what is shared by
every tenant (the registry of tenants, the server's tokens and the run queue).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from orca.errors import InvalidInputError

DEFAULT_TENANT = "default"
"""The tenant of a single user's store, and of the installation's own data."""
TENANT_ENV = "ORCA_TENANT"
"""The environment variable naming the tenant the CLI and library act for (``orca
--tenant NAME`` sets it); unset, the default tenant."""

TENANT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
"""What a tenant's name is."""


@dataclass(frozen=True, slots=True)
class TenantRecord:
    """A tenant (an organization) as the registry keeps it.

    Attributes:
        name: its id: 1 to 40 lowercase letters, digits, ``_`` or ``-``.
        display_name: what people call it.
        created_at: ISO-8601 UTC; ``disabled_at`` too, once it is disabled (its tokens
            are refused then; its data stays).
    """

    name: str
    display_name: str
    created_at: str
    disabled_at: str | None = None

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "display_name": self.display_name,
            "created_at": self.created_at,
            "disabled_at": self.disabled_at,
        }


def check_tenant(name: str, *, field: str = "tenant") -> str:
    """``name`` if it can name a tenant.

    Raises:
        InvalidInputError: it is not 1 to 40 lowercase letters, digits, ``_`` or ``-``
            starting with a letter or digit (the message names ``field``).
    """
    if not isinstance(name, str) or not TENANT_NAME.match(name):
        shown = name[:60] if isinstance(name, str) else name
        raise InvalidInputError(
            f"{field} {shown!r} is not a tenant name. Fix: use 1 to 40 lowercase letters, "
            "digits, '_' or '-', starting with a letter or digit (e.g. acme)"
        )
    return name


def check_display_name(text: str) -> str:
    """``text`` if it can be a tenant's display name (at most 200 characters, no control
    characters).

    Raises:
        InvalidInputError: it cannot.
    """
    if not isinstance(text, str) or len(text) > 200 or any(ord(c) < 32 for c in text):
        raise InvalidInputError(
            "display_name is not up to 200 printable characters. Fix: shorten it and "
            "remove control characters"
        )
    return text


def current_tenant() -> str:
    """The tenant named by ``ORCA_TENANT``, else the default tenant.

    Raises:
        InvalidInputError: ``ORCA_TENANT`` is not a tenant name.
    """
    named = os.environ.get(TENANT_ENV, "").strip()
    return check_tenant(named, field=TENANT_ENV) if named else DEFAULT_TENANT


def tenant_path(path: str | Path, tenant: str) -> Path:
    """Where tenant ``tenant``'s twin of the SQLite file ``path`` lives:
    ``path`` itself for the default tenant, else ``<dir>/tenants/<tenant>/<name>``."""
    where = Path(path)
    if tenant == DEFAULT_TENANT:
        return where
    return where.parent / "tenants" / check_tenant(tenant) / where.name


def schema_of(tenant: str) -> str | None:
    """The PostgreSQL schema of tenant ``tenant``'s tables: None (the connection's own,
    ``public`` unless the URL says otherwise) for the default tenant, else
    ``orca_t_<tenant>``."""
    if tenant == DEFAULT_TENANT:
        return None
    return "orca_t_" + check_tenant(tenant)


@runtime_checkable
class TenantRepository(Protocol):
    """The registry of tenants (in the default tenant's store). Safe to share between
    threads. The default tenant is always there and cannot be disabled."""

    def create(self, name: str, display_name: str = "") -> TenantRecord:
        """Register tenant ``name``.

        Raises:
            InvalidInputError: a bad name, or a tenant of that name exists.
        """

    def get(self, name: str) -> TenantRecord | None:
        """Tenant ``name``'s record, or None when there is no such tenant."""

    def list(self) -> list[TenantRecord]:
        """Every tenant, the default one first, then by name."""

    def set_disabled(self, name: str, disabled: bool) -> TenantRecord:
        """Disable tenant ``name`` (its callers are refused; its data stays) or enable it
        again.

        Raises:
            InvalidInputError: no such tenant, or it is the default one.
        """

    def close(self) -> None:
        """Release resources."""
