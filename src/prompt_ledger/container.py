"""The composition root: builds every dependency from Settings, once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

from prompt_ledger.auth import Authenticator, KeyCache
from prompt_ledger.cache import GroupCache, Listener
from prompt_ledger.db.store import Database
from prompt_ledger.services.gauges import Gauges
from prompt_ledger.settings import Settings

if TYPE_CHECKING:
    from prompt_ledger.http.cors import Cors
    from prompt_ledger.providers.catalog import Providers
    from prompt_ledger.queue import Queue
    from prompt_ledger.services.access import Access
    from prompt_ledger.services.analytics import Analytics
    from prompt_ledger.services.browse import Browse
    from prompt_ledger.services.catalog import Catalog
    from prompt_ledger.services.executions import Executions
    from prompt_ledger.services.limits import RateLimits
    from prompt_ledger.services.maintenance import Maintenance
    from prompt_ledger.services.operator import OperatorKeys
    from prompt_ledger.services.preparation import ResolveCache
    from prompt_ledger.services.registry import Registry
    from prompt_ledger.services.registry.base import PromptCache
    from prompt_ledger.services.sessions import Sessions
    from prompt_ledger.services.streams import Streams
    from prompt_ledger.services.traces import Traces


class Container:
    """What every request needs (the pool, the caches and their listener, the key lookup, the
    gauges) is built at once; each service is built, and its module imported, on first use, so a
    function's process (a cold start) pays only for the services its requests reach."""

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
        # what executions resolve to: evicted with the prompts it resolved, and bypassed with them
        self.resolutions: ResolveCache = GroupCache("resolutions", ttl)
        self.resolutions.follow(self.prompt_cache)
        self.listener = Listener(self.db.url, [self.prompt_cache, self.key_cache])
        self.auth = Authenticator(self.db, settings.operator_key, self.key_cache)
        self.gauges = Gauges(
            self.db,
            every=settings.metrics_refresh_seconds,
            stalled_after=settings.stalled_after_seconds,
        )

    @cached_property
    def limits(self) -> RateLimits:
        from prompt_ledger.services.limits import RateLimits

        return RateLimits(
            self.db,
            requests_per_minute=self.settings.rate_limit_requests_per_minute,
            executions_per_minute=self.settings.rate_limit_executions_per_minute,
        )

    @cached_property
    def operator_keys(self) -> OperatorKeys:
        from prompt_ledger.services.operator import OperatorKeys

        return OperatorKeys(self.db, self.key_cache)

    @cached_property
    def registry(self) -> Registry:
        from prompt_ledger.services.registry import Registry

        return Registry(self.db, self.prompt_cache, self.settings.template_render_seconds)

    @cached_property
    def catalog(self) -> Catalog:
        from prompt_ledger.services.catalog import Catalog

        return Catalog(self.db, self.prompt_cache)  # a model write clears the resolutions

    @cached_property
    def access(self) -> Access:
        from prompt_ledger.services.access import Access

        return Access(self.db, self.key_cache)

    @cached_property
    def providers(self) -> Providers:
        from prompt_ledger.providers.catalog import Providers

        return Providers(self.settings)

    @cached_property
    def executions(self) -> Executions:
        from prompt_ledger.services.executions import Executions

        return Executions(self.db, self.providers, self.settings, self.resolutions)

    @cached_property
    def streams(self) -> Streams:
        from prompt_ledger.services.streams import Streams

        return Streams(self.executions, self.db, self.providers, self.settings)

    @cached_property
    def analytics(self) -> Analytics:
        from prompt_ledger.services.analytics import Analytics

        return Analytics(self.db)

    @cached_property
    def traces(self) -> Traces:
        from prompt_ledger.services.traces import Traces

        return Traces(self.db, self.settings)

    # --- console and browser clients
    @cached_property
    def sessions(self) -> Sessions:
        from prompt_ledger.services.sessions import Sessions

        return Sessions(self.db, self.auth, self.settings.console_session_hours * 3600)

    @cached_property
    def cors(self) -> Cors:
        from prompt_ledger.http.cors import Cors

        return Cors(self.settings.allowed_origins)

    @cached_property
    def browse(self) -> Browse:
        from prompt_ledger.services.browse import Browse

        return Browse(self.db)

    # --- operations: the queue (procrastinate) is built on first use too: the registry
    # function never needs it, and importing it costs cold-start time.
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
        if "providers" in self.__dict__:
            await self.providers.aclose()
        if "executions" in self.__dict__:  # one last try for outcomes held in memory
            await self.executions.outcomes.close()
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
