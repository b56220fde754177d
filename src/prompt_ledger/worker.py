"""The worker process: procrastinate executing queued executions and the periodic upkeep.

SIGTERM/SIGINT stop fetching new jobs and give in-flight ones ``WORKER_SHUTDOWN_GRACE`` seconds
to finish; a job still running after that is aborted, and the recovery (at every worker start,
and every minute in a running worker) re-queues its execution once it is older than
``ORPHAN_AFTER_SECONDS``. A worker that dies without shutting down (SIGKILL, OOM, lost machine)
leaves its jobs 'doing': the recovery retries them once its heartbeat is older than
``STALLED_AFTER_SECONDS``."""

from __future__ import annotations

import asyncio
import logging

import prometheus_client

from prompt_ledger.container import Container
from prompt_ledger.settings import Settings

log = logging.getLogger("prompt_ledger.worker")


async def run_worker(settings: Settings, *, install_signal_handlers: bool = True) -> None:
    container = Container(settings)
    await container.open()
    refresher = None
    if settings.worker_metrics_port:
        # Prometheus scrapes the worker here: job and execution metrics, and queue depth.
        try:
            prometheus_client.start_http_server(settings.worker_metrics_port)
            refresher = asyncio.create_task(_refresh_gauges(container))
        except OSError as exc:  # e.g. a second worker on one host: run, just without metrics
            log.warning(
                "no metrics: cannot listen on port %s (%s)", settings.worker_metrics_port, exc
            )
    try:
        report = await container.maintenance.recover()  # pick up what a dead worker left behind
        log.info(
            "worker starting (concurrency %s); recovery: %s", settings.worker_concurrency, report
        )
        await container.queue.run_worker(
            container,
            concurrency=settings.worker_concurrency,
            shutdown_grace=settings.worker_shutdown_grace,
            install_signal_handlers=install_signal_handlers,
        )
    finally:
        if refresher is not None:
            refresher.cancel()
        await container.aclose()


async def _refresh_gauges(container: Container) -> None:
    while True:
        try:
            await container.refresh_gauges()
        except Exception as exc:  # the database may be away; metrics must not kill the worker
            log.warning("could not refresh queue gauges: %s", exc)
        await asyncio.sleep(15)
