"""What an execution resolves to (prompt, version, model and prices) is cached per process and
stays correct: a registry write or a model/price write is seen by the next execution, in the
writing process at once and in every other one through LISTEN/NOTIFY. And a sync run whose
running row a database crash lost keeps its finished execution in the ledger."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from prompt_ledger.container import Container
from prompt_ledger.settings import Settings
from prompt_ledger.testing.stub_llm import Reply, StubLLM
from tests.execution_fixtures import (
    SEED_RUN,
    gateway,
    put_model,
    put_prompt,
    seed,
    sql_rows,
    stub_settings,
)
from tests.waiting import eventually

RUN = "/v1/executions:run"
SUBMIT = "/v1/executions:submit"


@pytest.fixture
def stub() -> Iterator[StubLLM]:
    with StubLLM() as server:
        yield server


@pytest.fixture
def exec_settings(database_url: str, stub: StubLLM) -> Settings:
    return stub_settings(database_url, stub, cache_ttl_seconds=300)


@pytest.fixture
async def first(exec_settings: Settings) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    async with gateway(exec_settings) as pair:
        await listening(pair[0])
        yield pair


@pytest.fixture
async def second(exec_settings: Settings) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    """Another 'process' on the same database: its own pool, caches and listener."""
    async with gateway(exec_settings) as pair:
        await listening(pair[0])
        yield pair


async def listening(container: Container) -> None:
    async def ready() -> bool:
        return container.resolutions.enabled

    await eventually(ready, "the cache listener to connect")


def cached(container: Container) -> int:
    """Resolutions this process holds for the seeds' prompt."""
    project = "00000000-0000-0000-0000-000000000001"
    key = (None, None, "dev", "openai", "gpt-4o-mini")
    return int(container.resolutions.get(f"{project}:doc_summarizer", key) is not None)


async def run(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await api.post(RUN, json={**SEED_RUN, **body})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_a_resolution_is_cached_and_a_new_version_is_run_at_once_by_its_writer(
    first: tuple[Container, httpx.AsyncClient],
) -> None:
    container, api = first
    await listening(container)  # the cache is bypassed until its listener is connected
    await seed(api)

    async def kept() -> bool:
        """Run until this process keeps the resolution: the seed's own notifications may
        arrive after a run, and evict (or refuse to store) what it resolved."""
        assert (await run(api))["version_number"] == 1
        return cached(container) == 1

    await eventually(kept, "the resolution to be cached")
    await put_prompt(api, template_source="Version two: {{ text }}")
    assert cached(container) == 0  # evicted with the prompt, in the writing process
    executed = await run(api)
    assert executed["version_number"] == 2
    assert executed["rendered_prompt"].startswith("Version two: ")


async def test_a_label_move_in_another_process_is_run_by_this_one(
    first: tuple[Container, httpx.AsyncClient],
    second: tuple[Container, httpx.AsyncClient],
) -> None:
    container, api = first
    _, other = second
    await seed(api)
    await put_prompt(api, template_source="Version two: {{ text }}")
    assert await other.put("/v1/prompts/doc_summarizer/labels/production", json={"version": 1})
    assert (await run(api, environment="production"))["version_number"] == 1

    moved = await other.put("/v1/prompts/doc_summarizer/labels/production", json={"version": 2})
    assert moved.status_code == 200, moved.text

    async def moved_here() -> bool:
        return bool((await run(api, environment="production"))["version_number"] == 2)

    await eventually(moved_here, "this process to run the moved label")
    assert container.resolutions.enabled


async def test_a_price_change_is_charged_by_every_process(
    first: tuple[Container, httpx.AsyncClient],
    second: tuple[Container, httpx.AsyncClient],
) -> None:
    _, api = first
    _, other = second
    await seed(api)
    before = await run(other)
    assert Decimal(before["input_price_per_mtok"]) == Decimal("0.15")

    await put_model(api, input_price_per_mtok=3.0, output_price_per_mtok=6.0)
    mine = await run(api)  # the writing process: at once
    assert Decimal(mine["input_price_per_mtok"]) == Decimal("3.0")

    async def repriced() -> bool:
        return Decimal((await run(other))["input_price_per_mtok"]) == Decimal("3.0")

    await eventually(repriced, "the other process to charge the new price")


async def test_a_submission_writes_its_row_and_its_job_in_one_statement(
    first: tuple[Container, httpx.AsyncClient], database_url: str
) -> None:
    _, api = first
    await seed(api)
    response = await api.post(SUBMIT, json=SEED_RUN)
    assert response.status_code == 202, response.text
    execution_id = response.json()["execution_id"]
    [row] = await sql_rows(
        database_url,
        "SELECT e.status, j.task_name, j.queue_name, j.args, j.status AS job_status "
        "FROM executions e JOIN procrastinate_jobs j ON j.id = e.job_id "
        "WHERE e.execution_id = %s",
        execution_id,
    )
    assert (row["status"], row["job_status"]) == ("queued", "todo")
    assert (row["task_name"], row["queue_name"]) == ("run_execution", "executions")
    assert row["args"] == {"execution_id": execution_id}


async def test_a_running_row_lost_by_the_database_is_written_again_with_its_outcome(
    first: tuple[Container, httpx.AsyncClient], database_url: str, stub: StubLLM
) -> None:
    """A database crash can lose a running row (committed without waiting for the disk); the
    outcome then finds no row to finish. Here the row is lost while the provider answers."""
    _, api = first
    await seed(api)
    gate = threading.Event()
    stub.script(Reply(gate=gate))
    call = asyncio.create_task(api.post(RUN, json=SEED_RUN))

    async def calling() -> bool:
        return stub.calls >= 1

    await eventually(calling, "the provider to be called")
    lost = await sql_rows(
        database_url, "DELETE FROM executions WHERE status = 'running' RETURNING execution_id"
    )
    gate.set()
    response = await call
    assert response.status_code == 200, response.text
    executed = response.json()
    assert [str(row["execution_id"]) for row in lost] == [executed["execution_id"]]
    assert executed["status"] == "succeeded"
    [row] = await sql_rows(
        database_url,
        "SELECT e.status, e.response_text, e.rendered_prompt, a.outcome, "
        "(SELECT count(*) FROM spans s WHERE s.execution_id = e.execution_id) AS spans "
        "FROM executions e JOIN execution_attempts a USING (execution_id) "
        "WHERE e.execution_id = %s",
        executed["execution_id"],
    )
    assert (row["status"], row["outcome"], row["spans"]) == ("succeeded", "succeeded", 1)
    assert row["response_text"] == executed["response_text"]
    assert row["rendered_prompt"] == executed["rendered_prompt"]
