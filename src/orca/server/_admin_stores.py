"""The stores the admin API reads and writes, for one tenant: its user database
(``$ORCA_HOME/orca.db`` for the default tenant, found as the CLI finds it) and its
project store, opened with the tenant's side of the server; every call on them runs on
one worker thread of their own, in order, off the event loop."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from orca.store import DEFAULT_TENANT

if TYPE_CHECKING:
    from orca.store import Store

T = TypeVar("T")
JSON = Any  # what an endpoint answers: plain JSON values (see orca.manage.plain)


class Admin:
    """The stores the admin API reads and writes, opened for the app's life."""

    def __init__(self, project: Path, tenant: str = DEFAULT_TENANT) -> None:
        self.project = project
        self.tenant = tenant  # whose budgets, prices, profiles, usage and records
        self.users: Store | None = None
        self.store: Store | None = None
        # one thread: SQLite calls of one connection run one at a time, in order
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="orca-admin")

    def open(self) -> None:
        from orca.store import project_store, user_store

        self.users = user_store(tenant=self.tenant)
        try:
            self.store = project_store(self.project, tenant=self.tenant)
        except BaseException:
            self.users.close()
            raise

    def close(self) -> None:
        for store in (self.store, self.users):
            if store is not None:
                store.close()
        self.store = self.users = None

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn(*args, **kwargs)`` on the stores' worker thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._worker, functools.partial(fn, *args, **kwargs))

    async def shutdown(self) -> None:
        await self.call(self.close)
        self._worker.shutdown(wait=True)
