"""The server's bearer tokens (``orca token create|list|revoke``, ``/v1/auth/tokens``):
made, listed and revoked in the project's (default tenant's) store, each for one tenant,
the same way from every face. A token itself is answered once, when made; only its hash
is kept."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orca.errors import InvalidFieldError
from orca.store import DEFAULT_TENANT

if TYPE_CHECKING:
    from orca.store import TokenRepository


def highest_scope(scopes: list[str]) -> str:
    """The one scope a token holds for ``scopes``: the highest of them (admin holds run,
    run holds read).

    Raises:
        InvalidFieldError: ``scopes`` is empty or holds something else.
    """
    from orca.store import SCOPES

    if not scopes or any(s not in SCOPES for s in scopes):
        bad = next((s for s in scopes if s not in SCOPES), None)
        said = "scopes is empty" if bad is None else f"scope {bad[:40]!r} is not one"
        raise InvalidFieldError(
            said, field="scopes", fix=f"list one or more of {', '.join(SCOPES)}"
        )
    return max(scopes, key=SCOPES.index)


def create(
    tokens: TokenRepository, name: str, scope: str, tenant: str = DEFAULT_TENANT
) -> dict[str, Any]:
    """Make a token of ``tenant``: its record (``id``, ``name``, ``scope``, ``scopes``,
    ``tenant``, times) and the token itself (``token``), which is never kept and never
    shown again.

    Raises:
        InvalidInputError: a bad name, scope or tenant, or a live token of the tenant
            has that name.
    """
    record, token = tokens.create(name, scope, tenant=tenant)
    return {**record.to_dict(), "token": token}


def list_(
    tokens: TokenRepository, *, revoked: bool = False, tenant: str | None = DEFAULT_TENANT
) -> list[dict[str, Any]]:
    """The tenant's tokens (every tenant's with ``tenant=None``), oldest first (revoked
    ones too with ``revoked``), never their secrets."""
    return [r.to_dict() for r in tokens.list(revoked=revoked, tenant=tenant)]


def revoke(tokens: TokenRepository, name: str, tenant: str = DEFAULT_TENANT) -> dict[str, Any]:
    """Revoke the tenant's live token ``name``: a running server refuses it from its next
    request.

    Raises:
        InvalidInputError: no live token of the tenant has that name.
    """
    return tokens.revoke(name, tenant=tenant).to_dict()
