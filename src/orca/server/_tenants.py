"""``/v1/admin/tenants``: the registry of tenants, for the installation's administrators
(an ``admin`` of the default tenant). A tenant's own administrators manage what is inside
it (its tokens, budgets, prices, profiles), never the registry."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from orca.server._models import PathId
from orca.server._tenancy import side_of
from orca.store import DEFAULT_TENANT

if TYPE_CHECKING:
    from orca.store import TenantRepository


class TenantBody(BaseModel):
    """A tenant to register."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(..., max_length=40, description="1-40 lowercase letters, digits, _ or -")
    display_name: str = Field("", max_length=200, description="what people call it")


class TenantChange(BaseModel):
    """What to change of a tenant."""

    model_config = ConfigDict(extra="forbid")
    disabled: bool = Field(..., description="true: its callers are refused (its data stays)")


def installation_only(request: Request) -> None:
    """Refuse a caller of another tenant than the default one (the installation's).

    Raises:
        HTTPException: 403, naming who may.
    """
    if side_of(request).tenant != DEFAULT_TENANT:
        raise HTTPException(
            403,
            f"{request.url.path} is the installation's: it needs an admin of the default "
            "tenant (a tenant's admins manage what is inside their tenant)",
        )


def _registry(request: Request) -> TenantRepository:
    registry: TenantRepository = request.app.state.tenancy.registry.tenants
    return registry


router = APIRouter(tags=["tenants"])


@router.get("/v1/admin/tenants")
async def list_tenants(request: Request) -> list[dict[str, object]]:
    """The tenants, the default one first (installation admins only)."""
    installation_only(request)
    found = await asyncio.to_thread(_registry(request).list)
    return [r.to_dict() for r in found]


@router.post("/v1/admin/tenants", status_code=201)
async def create_tenant(request: Request, body: TenantBody) -> dict[str, object]:
    """Register a tenant (installation admins only); its first token is made with
    ``orca token create NAME --tenant T --scope admin``, or its callers come from the
    identity provider."""
    installation_only(request)
    made = await asyncio.to_thread(_registry(request).create, body.name, body.display_name)
    return made.to_dict()


@router.patch("/v1/admin/tenants/{name}")
async def change_tenant(request: Request, name: PathId, body: TenantChange) -> dict[str, object]:
    """Disable a tenant (its tokens and callers are refused from their next request;
    its data stays) or enable it again (installation admins only)."""
    installation_only(request)
    registry = _registry(request)
    if await asyncio.to_thread(registry.get, name) is None:
        raise HTTPException(404, f"no tenant is named {name[:40]!r}")
    changed = await asyncio.to_thread(registry.set_disabled, name, body.disabled)
    return changed.to_dict()
