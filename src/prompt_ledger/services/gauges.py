"""The gauges read from the database (queue depth, live workers), refreshed by a timer.

A scrape of ``/metrics`` reads the values of the last refresh and never queries: Prometheus
scraping every function every few seconds costs the database nothing more. The first scrape
starts the timer (a process nobody scrapes never runs the queries) and waits for one refresh,
so it is not empty; the worker starts it with its metrics server."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from prompt_ledger import metrics
from prompt_ledger.db.store import Database

log = logging.getLogger("prompt_ledger.metrics")


class Gauges:
    def __init__(self, db: Database, *, every: float, stalled_after: float) -> None:
        self._db = db
        self._every = every
        self._stalled_after = stalled_after
        self._task: asyncio.Task[None] | None = None
        self._tried = asyncio.Event()  # set once the first refresh ran (or failed)
        self.refreshes = 0  # refreshes that succeeded

    async def live_workers(self) -> int:
        """Queue workers (anywhere) whose heartbeat is younger than STALLED_AFTER_SECONDS."""
        async with self._db.connect() as q:
            row = await q.row("live_workers", fresh_seconds=self._stalled_after)
        return int(row["workers"]) if row else 0

    async def refresh(self) -> None:
        async with self._db.connect() as q:
            metrics.set_queue_depth(await q.rows("queue_depth"))
        metrics.workers_alive.set(await self.live_workers())
        self.refreshes += 1

    async def start(self) -> None:
        """Refresh now, then every ``every`` seconds in the background (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="metrics-gauges")
        await self._tried.wait()  # at once after the first refresh (concurrent first scrapes too)

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception as exc:  # the database may be away: keep the last values
                log.warning("could not refresh the database gauges: %s", exc)
            self._tried.set()
            await asyncio.sleep(self._every)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
