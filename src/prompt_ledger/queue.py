"""The Postgres job queue (procrastinate): the execution task and the periodic maintenance.

Tasks find their services in the worker's ``additional_context["container"]``; each periodic
task is a thin wrapper around a function of ``services/maintenance.py`` that the CLI also runs
once, for platform cron."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol
from uuid import UUID

import procrastinate
from procrastinate import JobContext, RetryDecision
from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy

from prompt_ledger import metrics
from prompt_ledger.db.store import Database, Queries, relaxed_pool
from prompt_ledger.services.attempts import RetryLater
from prompt_ledger.services.executions import EXECUTIONS_QUEUE, RUN_EXECUTION, Executions
from prompt_ledger.settings import Settings

log = logging.getLogger("prompt_ledger.queue")
MAINTENANCE_QUEUE = "maintenance"
__all__ = ["EXECUTIONS_QUEUE", "MAINTENANCE_QUEUE", "RUN_EXECUTION", "Queue", "build_app"]


class HonourRetryLater(BaseRetryStrategy):
    """Retry only RetryLater, after the delay the service computed (backoff, Retry-After)."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, RetryLater):
            return RetryDecision(
                retry_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=exception.delay)
            )
        return None


class Periodic(Protocol):
    """The periodic work (``services/maintenance.py``'s Maintenance)."""

    async def recover(self) -> object: ...

    async def prune(self) -> None: ...


class Services(Protocol):
    """What the tasks need of the worker's container (``prompt_ledger.container.Container``,
    which builds this queue: named by what it offers, so the queue does not import it)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def executions(self) -> Executions: ...

    @property
    def db(self) -> Database: ...

    @property
    def maintenance(self) -> Periodic: ...


def container_of(context: JobContext) -> Services:
    container: Services = context.additional_context["container"]
    return container


def build_app() -> procrastinate.App:
    """A procrastinate app with our tasks. One per Container (each bound to its own pool), so
    nothing is shared between containers of one process (tests, `promptledger dev`)."""
    app = procrastinate.App(connector=procrastinate.PsycopgConnector())

    @app.task(
        name=RUN_EXECUTION, queue=EXECUTIONS_QUEUE, retry=HonourRetryLater(), pass_context=True
    )
    async def run_execution(context: JobContext, execution_id: str) -> None:
        await container_of(context).executions.attempt(UUID(execution_id), job_id=context.job.id)

    @app.periodic(cron="* * * * *", periodic_id="recover")
    @app.task(name="recover", queue=MAINTENANCE_QUEUE, pass_context=True, queueing_lock="recover")
    async def recover(context: JobContext, timestamp: int) -> None:
        await container_of(context).maintenance.recover()

    @app.periodic(cron="17 * * * *", periodic_id="prune")
    @app.task(name="prune", queue=MAINTENANCE_QUEUE, pass_context=True, queueing_lock="prune")
    async def prune(context: JobContext, timestamp: int) -> None:
        await container_of(context).maintenance.prune()

    return app


async def measure_job(
    call_next: Callable[[], Awaitable[Any]], context: JobContext, worker: Any
) -> Any:
    """Job metrics (the seeds' jobs_total, jobs_duration_seconds, jobs_failed_total,
    active_jobs) for every job this worker runs."""
    task = context.job.task_name
    metrics.active_jobs.labels(task).inc()
    started = time.perf_counter()
    try:
        result = await call_next()
    except RetryLater:
        metrics.jobs.labels(task, "retried").inc()
        raise
    except BaseException:
        metrics.jobs.labels(task, "failed").inc()
        metrics.jobs_failed.labels(task).inc()
        raise
    else:
        metrics.jobs.labels(task, "succeeded").inc()
        return result
    finally:
        metrics.active_jobs.labels(task).dec()
        metrics.jobs_duration.labels(task).observe(time.perf_counter() - started)


class Queue:
    """The procrastinate app bound to our connection pool."""

    def __init__(self, pool: Any) -> None:
        self._pool = pool
        self.app = build_app()
        self._open = False

    async def open(self, pool: Any = None) -> None:
        """Bind procrastinate to our pool (no I/O); every method below does it on first use."""
        if not self._open:
            await self.app.open_async(pool=pool or self._pool)
            self._open = True

    async def close(self) -> None:
        if self._open:
            await self.app.close_async()
            self._open = False

    async def defer_execution(self, queries: Queries, execution_id: UUID) -> int:
        """Defer on the caller's connection, so the job commits with what it writes (an orphan
        deferred again; a submission defers its job in ``submit_execution`` itself).

        No procrastinate lock: its fetch query checks locks against every queued job, which
        makes draining a backlog quadratic when table statistics are stale. Two jobs of one
        execution are kept apart by ``claim_execution`` instead."""
        await self.open()
        task = self.app.tasks[RUN_EXECUTION]
        return await task.configure(connection=queries.connection).defer_async(
            execution_id=str(execution_id)
        )

    async def cancel_job(self, job_id: int) -> None:
        await self.open()
        await self.app.job_manager.cancel_job_by_id_async(job_id, abort=True)

    async def retry_stalled_jobs(self, seconds_since_heartbeat: float) -> int:
        await self.open()
        stalled = list(
            await self.app.job_manager.get_stalled_jobs(
                seconds_since_heartbeat=seconds_since_heartbeat
            )
        )
        for job in stalled:
            log.warning("retrying stalled job %s (%s)", job.id, job.task_name)
            await self.app.job_manager.retry_job(job, retry_at=dt.datetime.now(dt.UTC))
        return len(stalled)

    async def delete_finished_jobs(self, hours: int) -> None:
        await self.open()
        await self.app.job_manager.delete_old_jobs(
            nb_hours=hours, include_failed=True, include_cancelled=True, include_aborted=True
        )

    async def run_worker(
        self,
        container: Services,
        *,
        concurrency: int,
        shutdown_grace: float,
        install_signal_handlers: bool = True,
    ) -> None:
        # The worker's own procrastinate app, on a pool whose commits do not wait for the disk:
        # fetching and finishing a job are two of the three commits per job, and a database
        # crash can only undo them into states the recovery handles (a stalled 'doing' job is
        # retried; claim_execution keeps a finished execution from running again). The ledger's
        # writes, the outcome included, stay durable on the container's pool.
        pool = relaxed_pool(container.db, max_size=max(2, concurrency + 2))
        worker_app = build_app()
        await pool.open(wait=False)
        try:
            await worker_app.open_async(pool=pool)
            await self._run(
                worker_app, container, concurrency, shutdown_grace, install_signal_handlers
            )
        finally:
            await worker_app.close_async()
            await pool.close()

    async def _run(
        self,
        app: procrastinate.App,
        container: Services,
        concurrency: int,
        shutdown_grace: float,
        install_signal_handlers: bool,
    ) -> None:
        await app.run_worker_async(
            queues=[EXECUTIONS_QUEUE, MAINTENANCE_QUEUE],
            concurrency=concurrency,
            shutdown_graceful_timeout=shutdown_grace,
            delete_jobs="successful",
            additional_context={"container": container},
            install_signal_handlers=install_signal_handlers,
            # Retries are scheduled in the future and send no notification: without polling
            # often, a 1 s Retry-After would wait for procrastinate's default 5 s poll.
            fetch_job_polling_interval=container.settings.worker_poll_seconds,
            update_heartbeat_interval=min(10.0, container.settings.stalled_after_seconds / 3),
            stalled_worker_timeout=container.settings.stalled_after_seconds,
            worker_middleware=[measure_job],
        )
