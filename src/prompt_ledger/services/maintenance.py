"""Periodic upkeep, run by the worker's cron and by `promptledger jobs ...` for platform cron."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prompt_ledger import metrics
from prompt_ledger.db.store import Database
from prompt_ledger.services.traces import Traces
from prompt_ledger.settings import Settings

if TYPE_CHECKING:
    from prompt_ledger.queue import Queue
    from prompt_ledger.services.analytics import Analytics

log = logging.getLogger("prompt_ledger.maintenance")


@dataclass(frozen=True)
class RecoveryReport:
    stalled_jobs_retried: int
    orphans_requeued: int
    abandoned_sync_runs: int
    attempts_lost: int = 0

    def __str__(self) -> str:
        return (
            f"{self.stalled_jobs_retried} stalled jobs retried, {self.orphans_requeued} "
            f"orphaned executions re-queued, {self.abandoned_sync_runs} abandoned sync runs "
            f"failed, {self.attempts_lost} attempts of dead workers recorded as lost"
        )


class Maintenance:
    def __init__(
        self,
        db: Database,
        queue: Queue,
        settings: Settings,
        analytics: Analytics,
        traces: Traces,
    ) -> None:
        self._db = db
        self._queue = queue
        self._settings = settings
        self._analytics = analytics
        self._traces = traces

    async def recover(self) -> RecoveryReport:
        """Retry jobs of dead workers (their calls in flight are recorded as lost attempts, cost
        unknown), re-queue unfinished async executions that lost their job (deleted, or aborted
        when a worker's shutdown grace ran out), and fail sync runs whose server died mid-call."""
        stalled = await self._queue.retry_stalled_jobs(self._settings.stalled_after_seconds)
        requeued = 0
        async with self._db.connect() as q:
            orphans = await q.rows(
                "orphaned_executions",
                min_age_seconds=self._settings.orphan_after_seconds,
                limit=500,
            )
        for orphan in orphans:
            async with self._db.transaction() as q:
                job_id = await self._queue.defer_execution(q, orphan["execution_id"])
                await q.execute(
                    "set_execution_job", job_id=job_id, execution_id=orphan["execution_id"]
                )
            requeued += 1
        async with self._db.connect() as q:
            lost = await q.execute("lose_stalled_attempts")
            row = await q.row(
                "abandon_sync_executions",
                older_than_seconds=self._settings.provider_timeout * 2 + 60,
            )
        abandoned = int(row["abandoned"]) if row else 0
        metrics.provider_attempts_lost.inc(lost + abandoned)
        report = RecoveryReport(stalled, requeued, abandoned, lost)
        if stalled or requeued or abandoned or lost:
            log.warning("recovery: %s", report)
        return report

    async def prune(self) -> None:
        """Delete finished queue jobs older than the retention period (the ledger keeps all),
        the rate limit counts of past minutes, and application spans received more than
        TRACE_RETENTION_DAYS ago (bounded batches; executions' spans stay); and fold the
        executions that finished since into the analytics rollups (readers fold their project's
        too; this keeps the backlog short while nobody reads)."""
        await self._queue.delete_finished_jobs(self._settings.job_retention_hours)
        async with self._db.connect() as q:
            await q.execute("prune_rate_limits")
        await self._traces.purge()
        await self._analytics.fold_all()
