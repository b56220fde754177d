"""In-process read caches kept honest by PostgreSQL LISTEN/NOTIFY.

Resolving a prompt is the hottest read. Each process caches resolved prompts (and API-key
lookups) for a short TTL; every registry write sends a NOTIFY in its own transaction, so all
processes evict the entry within milliseconds of the commit, and the writing process evicts it
at once (read-your-writes). While the listener is not connected, the caches are bypassed, so a
lost notification can never serve stale data for longer than a reconnect; the TTL is a second
safety net. A generation counter per entry stops a read that raced a write from storing stale
data."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Hashable, Sequence
from typing import Any, Generic, TypeVar

from prompt_ledger import metrics
from prompt_ledger.db.notifications import listening

log = logging.getLogger("prompt_ledger.cache")
CHANNEL = "promptledger_cache"

G = TypeVar("G", bound=Hashable)  # group: what one notification evicts
K = TypeVar("K", bound=Hashable)  # entry within a group
V = TypeVar("V")


class GroupCache(Generic[G, K, V]):
    """Entries grouped so one write evicts every variant (label, version) of one prompt."""

    def __init__(self, name: str, ttl: float, max_groups: int = 10_000) -> None:
        self.name = name
        self.ttl = ttl
        self.max_groups = max_groups
        self._followers: list[GroupCache[G, Any, Any]] = []
        self._enabled = False  # switched on by the listener once it is connected
        self._groups: dict[G, dict[K, tuple[float, V]]] = {}
        self._generations: dict[G, int] = {}
        self._clock = 0  # generations are ticks of one clock, so a clear changes every group's
        self._cleared = 0
        self._hits = metrics.cache_lookups.labels(name, "hit")
        self._misses = metrics.cache_lookups.labels(name, "miss")

    @property
    def enabled(self) -> bool:
        return self._enabled

    @enabled.setter
    def enabled(self, enabled: bool) -> None:
        self._enabled = enabled
        for follower in self._followers:
            follower.enabled = enabled

    def follow(self, leader: GroupCache[G, Any, Any]) -> None:
        """Keep other values of ``leader``'s groups (values derived from what its group names):
        this cache is evicted, cleared and switched on and off with ``leader``, so the
        notifications (and local evictions) that keep ``leader`` honest keep this one honest."""
        leader._followers.append(self)
        self.enabled = leader.enabled

    def get(self, group: G, key: K) -> V | None:
        """The cached value, or None (a miss, also while the cache is bypassed); each lookup is
        counted in ``promptledger_cache_lookups_total{cache, result="hit"|"miss"}``."""
        entry = self._groups.get(group, {}).get(key) if self.enabled else None
        if entry is None or entry[0] < time.monotonic():
            self._misses.inc()
            return None
        self._hits.inc()
        return entry[1]

    def generation(self, group: G) -> int:
        return max(self._generations.get(group, 0), self._cleared)

    def put(self, group: G, key: K, value: V, generation: int) -> None:
        """Store unless the group was evicted since ``generation`` was read."""
        if not self.enabled or self.ttl <= 0 or self.generation(group) != generation:
            return
        if group not in self._groups and len(self._groups) >= self.max_groups:
            self._groups.pop(next(iter(self._groups)))
        self._groups.setdefault(group, {})[key] = (time.monotonic() + self.ttl, value)

    def evict(self, group: G) -> None:
        self._clock += 1
        self._generations[group] = self._clock
        self._groups.pop(group, None)
        for follower in self._followers:
            follower.evict(group)

    def clear(self) -> None:
        """Evict every group, also those a read in flight is about to store."""
        for group in list(self._groups):
            self.evict(group)
        self._clock += 1
        self._cleared = self._clock
        for follower in self._followers:
            follower.clear()


class Listener:
    """One LISTEN connection per process, dispatching ``<cache>|<group>`` payloads."""

    def __init__(self, url: str, caches: Sequence[GroupCache[str, Any, Any]]) -> None:
        self._url = url
        self._caches = {cache.name: cache for cache in caches}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="cache-listener")

    async def stop(self) -> None:
        self._set_enabled(False)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _set_enabled(self, enabled: bool) -> None:
        for cache in self._caches.values():
            cache.clear()
            cache.enabled = enabled

    def dispatch(self, payload: str) -> None:
        name, _, group = payload.partition("|")
        cache = self._caches.get(name)
        if cache is None:
            return
        if group == "*":
            cache.clear()
        else:
            cache.evict(group)

    async def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                async with listening(self._url, CHANNEL) as messages:
                    self._set_enabled(True)
                    delay = 0.5
                    async for message in messages:
                        self.dispatch(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: bypass caches until back
                log.warning("cache listener disconnected (%s); caches bypassed", exc)
            self._set_enabled(False)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


def payload(cache: str, group: str) -> str:
    return f"{cache}|{group}"
