"""The worker process: procrastinate executing queued executions and the periodic upkeep.

SIGTERM/SIGINT stop fetching new jobs and give in-flight ones ``WORKER_SHUTDOWN_GRACE`` seconds
to finish; a job still running after that is aborted, and the recovery (at every worker start,
and every minute in a running worker) re-queues its execution once it is older than
``ORPHAN_AFTER_SECONDS``. A worker that dies without shutting down (SIGKILL, OOM, lost machine)
leaves its jobs 'doing': the recovery retries them once its heartbeat is older than
``STALLED_AFTER_SECONDS``.

The worker outlives database outages of any length: when procrastinate stops on an error (its
listener or heartbeat lost the connection, a fetch failed), it is started again after a backoff
(1 s, doubling up to 30 s), and only a signal (or cancellation) ends it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable

import prometheus_client

from prompt_ledger import metrics
from prompt_ledger.container import Container
from prompt_ledger.settings import Settings
from prompt_ledger.startup import database_failure

log = logging.getLogger("prompt_ledger.worker")
RESTART_FIRST_SECONDS = 1.0
RESTART_MAX_SECONDS = 30.0
HEALTHY_RUN_SECONDS = 60.0  # a run this long resets the backoff


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (the server extra has it, except on Windows),
    as uvicorn picks it for the served processes; else asyncio's (None)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - Windows, or an install without it
        return None
    return uvloop.new_event_loop


async def run_worker(settings: Settings, *, install_signal_handlers: bool = True) -> None:
    container = Container(settings)
    await container.open()
    if settings.worker_metrics_port:
        # Prometheus scrapes the worker here: job and execution metrics, and queue depth (the
        # database gauges refreshed by a timer, every METRICS_REFRESH_SECONDS).
        try:
            prometheus_client.start_http_server(settings.worker_metrics_port)
            await container.gauges.start()
        except OSError as exc:  # e.g. a second worker on one host: run, just without metrics
            log.warning(
                "no metrics: cannot listen on port %s (%s)", settings.worker_metrics_port, exc
            )
    try:
        await supervise(container, install_signal_handlers=install_signal_handlers)
    finally:
        await container.aclose()


async def supervise(container: Container, *, install_signal_handlers: bool = True) -> None:
    """Run the queue worker until SIGTERM/SIGINT (with ``install_signal_handlers``) or until
    cancelled, both a graceful stop; start it again, after a backoff, whenever it stops on its
    own (procrastinate stops when its listener or heartbeat loses the database) or on a lost
    database. Any other error (a database that is not migrated) is raised."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    signals = (signal.SIGTERM, signal.SIGINT) if install_signal_handlers else ()
    for signum in signals:
        loop.add_signal_handler(signum, stop.set)
    delay = RESTART_FIRST_SECONDS
    try:
        while True:
            started = time.monotonic()
            run = asyncio.create_task(_run_once(container), name="queue worker")
            stopped = asyncio.create_task(stop.wait())
            try:
                await asyncio.wait({run, stopped}, return_when=asyncio.FIRST_COMPLETED)
            finally:  # cancelled, or a signal: procrastinate stops gracefully on cancellation
                stopped.cancel()
                if not run.done() or stop.is_set():
                    run.cancel()
                    await _stopped(run)
            if stop.is_set():
                return
            failure = run.exception()
            if failure is not None and database_failure(failure) is None:
                raise failure  # e.g. a database that is not migrated: no retry cures it
            if time.monotonic() - started > HEALTHY_RUN_SECONDS:
                delay = RESTART_FIRST_SECONDS
            metrics.worker_restarts.inc()
            log.warning(
                "the worker stopped (%s); starting it again in %.0f s",
                f"{type(failure).__name__}: {failure}" if failure else "the database went away",
                delay,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            if stop.is_set():
                return
            delay = min(delay * 2, RESTART_MAX_SECONDS)
    finally:
        for signum in signals:
            loop.remove_signal_handler(signum)


async def _stopped(run: asyncio.Task[None]) -> None:
    """Wait for a cancelled run. Its graceful stop needs the database (procrastinate unregisters
    the worker): when that is away, the stop still succeeds, with a warning."""
    try:
        await run
    except asyncio.CancelledError:
        pass
    except Exception as error:
        if database_failure(error) is None:
            raise
        log.warning("the worker stopped without the database (%s)", type(error).__name__)


async def _run_once(container: Container) -> None:
    settings = container.settings
    report = await container.maintenance.recover()  # pick up what a dead worker left behind
    log.info("worker starting (concurrency %s); recovery: %s", settings.worker_concurrency, report)
    await container.queue.run_worker(
        container,
        concurrency=settings.worker_concurrency,
        shutdown_grace=settings.worker_shutdown_grace,
        install_signal_handlers=False,  # supervise() handles them
    )
