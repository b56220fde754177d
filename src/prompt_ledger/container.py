"""The composition root: builds every dependency from Settings, once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from prompt_ledger.auth import Authenticator, KeyCache
from prompt_ledger.cache import GroupCache, Listener
from prompt_ledger.db.store import Database
from prompt_ledger.http.cors import Cors
from prompt_ledger.providers.catalog import Providers
from prompt_ledger.services.access import Access
from prompt_ledger.services.analytics import Analytics
from prompt_ledger.services.browse import Browse
from prompt_ledger.services.catalog import Catalog
from prompt_ledger.services.executions import Executions
from prompt_ledger.services.gauges import Gauges
from prompt_ledger.services.limits import RateLimits
from prompt_ledger.services.operator import OperatorKeys
from prompt_ledger.services.registry import PromptCache, Registry
from prompt_ledger.services.sessions import Sessions
from prompt_ledger.services.streams import Streams
from prompt_ledger.services.traces import Traces
from prompt_ledger.settings import Settings

if TYPE_CHECKING:
    from prompt_ledger.queue import Queue
    from prompt_ledger.services.maintenance import Maintenance


class Container:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(
            settings.require_database_url(),
            min_size=settings.db_pool_min_size,
            max_size=settings.db_pool_max_size,
            timeout=settings.db_connect_timeout,
        )
        ttl = settings.cache_ttl_seconds
        self.prompt_cache: PromptCache = GroupCache("prompts", ttl)
        self.key_cache: KeyCache = GroupCache("keys", ttl)
        self.listener = Listener(self.db.url, [self.prompt_cache, self.key_cache])
        self.auth = Authenticator(self.db, settings.operator_key, self.key_cache)
        self.limits = RateLimits(
            self.db,
            requests_per_minute=settings.rate_limit_requests_per_minute,
            executions_per_minute=settings.rate_limit_executions_per_minute,
        )
        self.operator_keys = OperatorKeys(self.db, self.key_cache)
        self.registry = Registry(self.db, self.prompt_cache, settings.template_render_seconds)
        self.catalog = Catalog(self.db)
        self.access = Access(self.db, self.key_cache)
        self.providers = Providers(settings)
        self.executions = Executions(self.db, self.providers, settings)
        self.streams = Streams(self.executions, self.db, self.providers, settings)
        self.analytics = Analytics(self.db)
        self.traces = Traces(self.db, settings)
        # --- console and browser clients
        self.sessions = Sessions(self.db, self.auth, settings.console_session_hours * 3600)
        self.cors = Cors(settings.allowed_origins)
        self.browse = Browse(self.db)
        # --- operations
        self.gauges = Gauges(
            self.db,
            every=settings.metrics_refresh_seconds,
            stalled_after=settings.stalled_after_seconds,
        )

    # The queue (procrastinate) is built on first use: the registry function never needs it,
    # and importing it costs cold-start time.
    @cached_property
    def queue(self) -> Queue:
        from prompt_ledger.queue import Queue

        return Queue(self.db.pool)

    @cached_property
    def maintenance(self) -> Maintenance:
        from prompt_ledger.services.maintenance import Maintenance

        return Maintenance(self.db, self.queue, self.settings, self.analytics, self.traces)

    async def open(self) -> None:
        """Open the pool (without waiting for connections) and start the cache listener."""
        await self.db.open()
        if self.settings.cache_ttl_seconds > 0:
            self.listener.start()

    async def live_workers(self) -> int:
        """Queue workers (anywhere) whose heartbeat is younger than STALLED_AFTER_SECONDS."""
        return await self.gauges.live_workers()

    async def aclose(self) -> None:
        await self.gauges.stop()
        await self.listener.stop()
        if "queue" in self.__dict__:
            await self.queue.close()
        await self.providers.aclose()
        await self.executions.outcomes.close()  # one last try for outcomes held in memory
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
                    await container.open()
                    self._container = container
        return self._container
