"""Issue #11, failure 2: the worker outlives a database outage. The test starts its own
PostgreSQL (embedded, in a temporary directory), stops it under a running worker, starts it
again, and the worker runs what is submitted next: the standalone `jobs/worker.py` process and
the in-process worker of `promptledger dev` (the gateway's)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from prompt_ledger import migrate
from prompt_ledger.embedded import EmbeddedPostgres
from prompt_ledger.gateway import create_gateway
from prompt_ledger.testing.stub_llm import StubLLM
from tests.acceptance.test_worker_recovery import WorkerProcess, start_worker, worker_env
from tests.conftest import create_database
from tests.execution_fixtures import (
    SEED_RUN,
    gateway,
    seed,
    sql_rows,
    stub_settings,
    wait_for_status,
    wait_until,
)

OUTAGE_SECONDS = 8.0  # the worker of issue #11 died 2.6 s after the database stopped


class OwnPostgres:
    """A PostgreSQL this test starts and stops (never the machine's server)."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.server: EmbeddedPostgres | None = EmbeddedPostgres(data)
        self.url = create_database(self.server.url, "outage")
        migrate.upgrade(self.url)

    def stop(self) -> None:
        assert self.server is not None
        self.server.stop()
        self.server = None

    def start(self) -> None:
        self.server = EmbeddedPostgres(self.data)  # same data directory, same socket


@pytest.fixture
def postgres(tmp_path: Path) -> Iterator[OwnPostgres]:
    own = OwnPostgres(tmp_path / "pgdata")
    yield own
    if own.server is not None:
        own.server.stop()


@pytest.fixture
def stub() -> Iterator[StubLLM]:
    with StubLLM() as server:
        yield server


async def live_workers(url: str) -> int:
    rows = await sql_rows(
        url,
        "SELECT id FROM procrastinate_workers WHERE last_heartbeat > now() - interval '5 seconds'",
    )
    return len(rows)


async def submit_and_finish(url: str, stub: StubLLM, *, within: float = 60) -> None:
    """What is submitted once the database is back runs to the end."""
    async with gateway(stub_settings(url, stub)) as (_, api):
        await seed(api)
        response = await api.post("/v1/executions:submit", json=SEED_RUN)
        assert response.status_code == 202, response.text
        done = await wait_for_status(
            api, response.json()["execution_id"], "succeeded", within=within
        )
        assert done["response_text"] == "stub reply to: Summarize:\nYour document text here..."
        health = await api.get("/health")
        assert health.status_code == 200
        assert health.json()["workers"] >= 1  # the worker's heartbeat, seen by every function


async def test_the_worker_process_outlives_a_database_outage(
    postgres: OwnPostgres, stub: StubLLM, tmp_path: Path
) -> None:
    workers: list[WorkerProcess] = []
    env = worker_env(postgres.url, stub, WORKER_METRICS_PORT="0", STALLED_AFTER_SECONDS="3")
    worker = await start_worker(workers, env, tmp_path)
    try:
        await wait_until(lambda: live_workers(postgres.url), "the worker's first heartbeat")
        postgres.stop()
        await asyncio.sleep(OUTAGE_SECONDS)
        assert worker.process is not None
        assert worker.process.returncode is None, f"the worker exited:\n{worker.output()}"
        postgres.start()
        try:
            await submit_and_finish(postgres.url, stub)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\nworker output:\n{worker.output()}") from None
        assert "starting it again" in worker.output()
        worker.send(signal.SIGTERM)
        assert await worker.wait() == 0, worker.output()
    finally:
        await worker.stop()


async def test_the_dev_in_process_worker_outlives_a_database_outage(
    postgres: OwnPostgres, stub: StubLLM
) -> None:
    settings = stub_settings(postgres.url, stub, stalled_after_seconds=3.0)
    app = create_gateway(settings=settings, with_worker=True)
    async with app.router.lifespan_context(app):
        await wait_until(lambda: live_workers(postgres.url), "the in-process worker's heartbeat")
        postgres.stop()
        await asyncio.sleep(OUTAGE_SECONDS)
        postgres.start()
        await submit_and_finish(postgres.url, stub)
