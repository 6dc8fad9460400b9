"""The server's tenants: each tenant's side of the server, and how a request finds its
caller's.

A side is everything the server keeps for one tenant: its runs (on its own store, with
the served workflows rebound onto it), its LLM tasks and sessions, and the stores the
admin API reads (its budgets, prices, profiles, usage). The capacity (the runs' and the
tasks' admission) is one for all sides, shared fairly. A request reaches only its
caller's side (``side_of``): there is no call that takes a tenant from the request, so
another tenant's runs, threads or tasks are not there to be found, and the answer is the
same 404 as for an id that never existed.

The default tenant's side opens with the server (its workflows load then: a workflow
that cannot be loaded stops the start). Every registered tenant's side opens at start-up
too, so runs a dead server left behind are taken up; a tenant registered later gets its
side on its first request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request
from starlette.exceptions import HTTPException

from orca.store import DEFAULT_TENANT

if TYPE_CHECKING:
    from orca.server._admin_stores import Admin
    from orca.server._runs import Runs
    from orca.server._tasks import Tasks
    from orca.store import Store

log = logging.getLogger("orca.server")

REGISTRY_TTL_S = 2.0
"""How long the server believes its copy of the registry of tenants (an OIDC caller's
tenant disabled elsewhere is refused within this)."""


@dataclass(eq=False)
class Side:
    """One tenant's side of the server."""

    tenant: str
    runs: Runs
    tasks: Tasks
    admin: Admin


class Tenancy:
    """Every tenant's side: the default one made with the app, the others opened on
    their first use (or at start-up, for the registered ones)."""

    def __init__(self, default: Side, make: Callable[[str], Side]) -> None:
        self.default = default
        self._make = make  # another tenant's side, not yet open (blocking)
        self._sides: dict[str, Side] = {DEFAULT_TENANT: default}
        self._opening: dict[str, asyncio.Future[Side]] = {}
        self._registry: dict[str, bool] = {}  # tenant -> disabled, as last read
        self._read_at = float("-inf")

    @property
    def registry(self) -> Store:
        """The default tenant's store: the registry of tenants, and the tokens."""
        return self.default.runs.store

    async def usable(self, tenant: str) -> str | None:
        """Why ``tenant`` (an OIDC token's claim) cannot be served: not registered, or
        disabled; None when it can. Answers from a copy at most ``REGISTRY_TTL_S`` old."""
        loop = asyncio.get_running_loop()
        if loop.time() - self._read_at > REGISTRY_TTL_S:
            listed = await asyncio.to_thread(self.registry.tenants.list)
            self._registry = {r.name: r.disabled for r in listed}
            self._read_at = loop.time()
        disabled = self._registry.get(tenant)
        if disabled is None:
            return "unknown"
        return "disabled" if disabled else None

    async def start(self) -> None:
        """At start-up: open the default side's tasks and admin stores, take up what a
        dead server left, then do the same for every registered tenant."""
        await self._start(self.default)
        tenants = await asyncio.to_thread(self.registry.tenants.list)
        for record in tenants:
            if record.name != DEFAULT_TENANT and not record.disabled:
                await self.side(record.name)

    async def _start(self, side: Side) -> None:
        await side.admin.call(side.admin.open)
        await side.tasks.open()
        await side.runs.recover()

    async def side(self, tenant: str) -> Side:
        """Tenant ``tenant``'s side, opened now when it is not yet (once, however many
        requests ask at the same time)."""
        found = self._sides.get(tenant)
        if found is not None:
            return found
        opening = self._opening.get(tenant)
        if opening is None:
            opening = asyncio.ensure_future(self._open(tenant))
            self._opening[tenant] = opening
        try:
            return await asyncio.shield(opening)
        finally:
            if opening.done():
                self._opening.pop(tenant, None)

    async def _open(self, tenant: str) -> Side:
        side = await asyncio.to_thread(self._make, tenant)
        try:
            await self._start(side)
        except BaseException:
            await _close(side)
            raise
        self._sides[tenant] = side
        log.info("opened the side of tenant %s", tenant)
        return side

    async def close(self) -> None:
        """Close every side; the default one last (its store holds the registry)."""
        for tenant, side in list(self._sides.items()):
            if tenant != DEFAULT_TENANT:
                await _close(side)
        await _close(self.default)


async def _close(side: Side) -> None:
    await side.runs.close()
    await side.tasks.close()
    await side.admin.shutdown()


def side_of(request: Request) -> Side:
    """The side of the request's caller: its tenant's, which ``Authorize`` found before
    the route ran; without auth (the open local mode), the default tenant's.

    Raises:
        RuntimeError: auth is on and the request has no caller (a route that reads data
            on a path served to anyone: a bug, refused rather than answered with the
            default tenant's data).
    """
    found: Side | None = getattr(request.state, "side", None)
    if found is not None:
        return found
    if request.app.state.auth.required:
        raise RuntimeError(f"{request.url.path} reached a tenant's data without a caller")
    tenancy: Tenancy = request.app.state.tenancy
    return tenancy.default


def stores(request: Request) -> tuple[Admin, Store, Store]:
    """The caller's tenant's ``Admin``, its user database and its project store (503
    while the app starts or stops)."""
    admin = side_of(request).admin
    if admin.users is None or admin.store is None:
        raise HTTPException(503, "the server is starting or stopping")
    return admin, admin.users, admin.store
