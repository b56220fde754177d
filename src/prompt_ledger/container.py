"""The composition root: builds every dependency from Settings, once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from prompt_ledger.auth import Authenticator
from prompt_ledger.db.store import Database
from prompt_ledger.services.access import Access
from prompt_ledger.services.catalog import Catalog
from prompt_ledger.services.registry import Registry
from prompt_ledger.settings import Settings


class Container:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(
            settings.require_database_url(),
            min_size=settings.db_pool_min_size,
            max_size=settings.db_pool_max_size,
            timeout=settings.db_connect_timeout,
        )
        self.auth = Authenticator(self.db, settings.api_key.get_secret_value())
        self.registry = Registry(self.db)
        self.catalog = Catalog(self.db)
        self.access = Access(self.db)

    async def aclose(self) -> None:
        await self.db.close()


class LazyContainer:
    """For functions-framework processes, which have no startup hook: the container (and its
    pool) is built on the first request, behind a lock."""

    def __init__(self, settings: Callable[[], Settings] = Settings) -> None:
        self._settings = settings
        self._container: Container | None = None
        self._lock = asyncio.Lock()

    async def __call__(self) -> Container:
        if self._container is None:
            async with self._lock:
                if self._container is None:
                    container = Container(self._settings())
                    await container.db.open()
                    self._container = container
        return self._container
