"""The worker deploy surface (`python jobs/worker.py`) as a real process: a worker SIGKILLed in
the middle of a provider call strands nothing (and both calls are in the ledger), SIGTERM lets
the call in flight finish, and a call that outlives the shutdown grace is run again by the next
worker."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from prompt_ledger.container import Container
from prompt_ledger.testing.stub_llm import Reply, StubLLM
from tests.execution_fixtures import (
    DEV_KEY,
    SEED_RUN,
    gateway,
    seed,
    sql_rows,
    stub_settings,
    wait_for_status,
    wait_until,
)

WORKER_SCRIPT = Path(__file__).resolve().parents[2] / "jobs" / "worker.py"
# Heartbeats every STALLED_AFTER / 3 s: a worker starved of CPU that long on a loaded machine
# (the suite runs in parallel processes) would have its own job retried as stalled.
STALLED_AFTER = 5.0
# The tests where no worker dies: none of their jobs may be retried as stalled.
NO_STALL = {"STALLED_AFTER_SECONDS": "60"}


class WorkerProcess:
    """`python jobs/worker.py` with its output in a log file, for failure messages."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> WorkerProcess:
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                str(WORKER_SCRIPT),
                env=self.env,
                cwd=self.log.parent,  # no stray .env is read
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        return self

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def send(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    async def wait(self, within: float = 30) -> int:
        assert self.process is not None
        try:
            return await asyncio.wait_for(self.process.wait(), within)
        except TimeoutError:
            pytest.fail(f"the worker did not exit within {within}s:\n{self.output()}")

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()


@pytest.fixture
def stub() -> Iterator[StubLLM]:
    with StubLLM() as server:
        yield server


@pytest.fixture
async def app(
    database_url: str, stub: StubLLM
) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    async with gateway(stub_settings(database_url, stub)) as pair:
        await seed(pair[1])
        yield pair


@pytest.fixture
async def workers() -> AsyncIterator[list[WorkerProcess]]:
    """Started by the test with `start_worker`; whatever is still running is killed after."""
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        await worker.stop()


def worker_env(database_url: str, stub: StubLLM, **extra: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_KEY", "_SECONDS"))}
    return keep | {
        "DATABASE_URL": database_url,
        "API_KEY": DEV_KEY,
        "ENVIRONMENT": "test",
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": stub.openai_base_url,
        "STALLED_AFTER_SECONDS": str(STALLED_AFTER),
        "PROVIDER_TIMEOUT": "60",
        "WORKER_CONCURRENCY": "2",
        "WORKER_POLL_SECONDS": "0.2",
        "RETRY_BASE_SECONDS": "0.1",
        **extra,
    }


async def start_worker(
    workers: list[WorkerProcess], env: dict[str, str], tmp_path: Path
) -> WorkerProcess:
    worker = await WorkerProcess(env, tmp_path / f"worker-{len(workers)}.log").start()
    workers.append(worker)
    return worker


async def running_mid_call(
    api: httpx.AsyncClient, execution_id: str, stub: StubLLM, worker: WorkerProcess
) -> dict[str, Any]:
    """Wait until the worker has claimed the execution and is inside the provider call."""
    try:
        running = await wait_for_status(api, execution_id, "running", within=30)
        await wait_until(_calls(stub, 1), "the worker to call the provider", within=10)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nworker output:\n{worker.output()}") from None
    return running


def _calls(stub: StubLLM, count: int) -> Any:
    async def check() -> bool:
        return stub.calls >= count

    return check


async def test_a_worker_killed_mid_call_strands_nothing(
    app: tuple[Container, httpx.AsyncClient],
    stub: StubLLM,
    workers: list[WorkerProcess],
    database_url: str,
    tmp_path: Path,
) -> None:
    _, api = app
    env = worker_env(database_url, stub)
    stub.script(Reply(hang=True))  # the first call never answers; later ones do
    execution_id = (await api.post("/v1/executions:submit", json=SEED_RUN)).json()["execution_id"]

    first = await start_worker(workers, env, tmp_path)
    running = await running_mid_call(api, execution_id, stub, first)
    assert running["attempts"] == 1
    [job] = await sql_rows(
        database_url,
        "SELECT j.id, j.status, j.worker_id FROM procrastinate_jobs j "
        "JOIN executions e ON e.job_id = j.id WHERE e.execution_id = %s",
        execution_id,
    )
    assert job["status"] == "doing"

    first.send(signal.SIGKILL)
    assert await first.wait() == -signal.SIGKILL

    # The dead worker's heartbeat goes stale; a replacement started after that recovers the
    # job at start-up (a running worker also does, from its periodic `recover` task).
    async def heartbeat_stale() -> bool:
        rows = await sql_rows(
            database_url,
            "SELECT 1 FROM procrastinate_workers WHERE id = %s "
            "AND last_heartbeat >= now() - make_interval(secs => %s)",
            job["worker_id"],
            STALLED_AFTER + 0.5,
        )
        return not rows

    await wait_until(heartbeat_stale, "the killed worker's heartbeat to go stale", within=30)
    second = await start_worker(workers, env, tmp_path)
    try:
        done = await wait_for_status(api, execution_id, "succeeded", "failed", within=30)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nworker output:\n{second.output()}") from None
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 2
    assert done["response_text"] == "stub reply to: Summarize:\nYour document text here..."
    assert len(done["spans"]) == 1
    assert stub.calls == 2
    assert "retrying stalled job" in second.output()

    # Both provider calls are in the ledger: the cut-off one as lost, its cost unknown.
    lost, succeeded = done["provider_attempts"]
    assert (lost["attempt_number"], lost["outcome"], lost["cost_unknown"]) == (1, "lost", True)
    assert lost["cost_usd"] is None
    assert lost["error_type"] == "worker_lost"
    assert (succeeded["attempt_number"], succeeded["outcome"]) == (2, "succeeded")
    assert succeeded["cost_usd"] == done["cost_usd"]
    assert not succeeded["cost_unknown"]
    assert succeeded["prompt_tokens"] == done["prompt_tokens"]
    assert lost["worker"] != succeeded["worker"]  # host:pid of each worker process
    repeated = (await api.get("/v1/executions", params={"min_attempts": 2})).json()["items"]
    assert [e["execution_id"] for e in repeated] == [execution_id]

    second.send(signal.SIGTERM)
    assert await second.wait() == 0, second.output()


async def test_sigterm_lets_the_call_in_flight_finish(
    app: tuple[Container, httpx.AsyncClient],
    stub: StubLLM,
    workers: list[WorkerProcess],
    database_url: str,
    tmp_path: Path,
) -> None:
    _, api = app
    stub.latency = 1.0
    env = worker_env(database_url, stub, WORKER_SHUTDOWN_GRACE="10", **NO_STALL)
    execution_id = (await api.post("/v1/executions:submit", json=SEED_RUN)).json()["execution_id"]
    worker = await start_worker(workers, env, tmp_path)
    await running_mid_call(api, execution_id, stub, worker)

    worker.send(signal.SIGTERM)
    assert await worker.wait() == 0, worker.output()
    done = (await api.get(f"/v1/executions/{execution_id}")).json()
    assert done["status"] == "succeeded", f"{done}\nworker output:\n{worker.output()}"
    assert done["attempts"] == 1
    assert stub.calls == 1


async def test_a_call_outliving_the_shutdown_grace_is_run_again(
    app: tuple[Container, httpx.AsyncClient],
    stub: StubLLM,
    workers: list[WorkerProcess],
    database_url: str,
    tmp_path: Path,
) -> None:
    _, api = app
    env = worker_env(
        database_url, stub, WORKER_SHUTDOWN_GRACE="0.2", ORPHAN_AFTER_SECONDS="0", **NO_STALL
    )
    stub.script(Reply(hang=True))
    execution_id = (await api.post("/v1/executions:submit", json=SEED_RUN)).json()["execution_id"]
    first = await start_worker(workers, env, tmp_path)
    await running_mid_call(api, execution_id, stub, first)

    first.send(signal.SIGTERM)
    assert await first.wait() == 0, first.output()
    [job] = await sql_rows(
        database_url,
        "SELECT j.status FROM procrastinate_jobs j JOIN executions e ON e.job_id = j.id "
        "WHERE e.execution_id = %s",
        execution_id,
    )
    assert job["status"] == "aborted"
    assert (await api.get(f"/v1/executions/{execution_id}")).json()["status"] == "running"

    second = await start_worker(workers, env, tmp_path)  # its start-up recovery re-queues it
    try:
        done = await wait_for_status(api, execution_id, "succeeded", "failed", within=30)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nworker output:\n{second.output()}") from None
    assert (done["status"], done["attempts"], stub.calls) == ("succeeded", 2, 2)
    second.send(signal.SIGTERM)
    assert await second.wait() == 0, second.output()
