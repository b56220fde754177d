"""/metrics speaks the Prometheus text format and its counters move with real traffic."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from prompt_ledger.container import Container
from prompt_ledger.gateway import create_gateway
from prompt_ledger.settings import Settings
from tests.conftest import DEV_KEY
from tests.waiting import cancelled


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The database gauges refreshed often: these tests watch them move."""
    return settings.model_copy(update={"metrics_refresh_seconds": 0.05})


def sample(text: str, name: str, **labels: str) -> float:
    """The sum of the samples with these labels (whatever their others: an earlier test on this
    worker may have served the same route from another function), 0 when absent."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and line.split(" ")[0] != name:
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def test_http_counters_move(client: httpx.AsyncClient) -> None:
    before = (await client.get("/metrics")).text
    answered = [
        (await client.put("/v1/prompts/m", json={"template_source": "x"})).status_code,
        (await client.get("/v1/prompts/m")).status_code,
        (await client.get("/v1/prompts/nope")).status_code,
    ]
    assert answered == [201, 200, 404]
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text
    route = "/v1/prompts/{name}"
    for method, status in (("PUT", "201"), ("GET", "200"), ("GET", "404")):
        delta = sample(
            after, "promptledger_http_requests_total", route=route, method=method, status=status
        ) - sample(
            before, "promptledger_http_requests_total", route=route, method=method, status=status
        )
        # at least ours: the registry is the process's, and under xdist a live server of an
        # earlier test on this worker (a thread) may still be answering its own clients
        assert delta >= 1, (method, status)
    assert re.search(
        r'promptledger_http_request_duration_seconds_bucket\{.*route="/v1/prompts/\{name\}"', after
    )
    assert "promptledger_queue_jobs" in after or "# HELP promptledger_queue_jobs" in after


async def test_liveness_needs_no_key(client: httpx.AsyncClient) -> None:
    response = await client.get("/livez", headers={"X-API-Key": ""})
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


async def test_execution_and_job_counters_move_after_real_executions(settings: Settings) -> None:
    app = Container(settings.model_copy(update={"demo_fallback": True}))
    await app.open()
    await app.catalog.seed()
    transport = httpx.ASGITransport(app=create_gateway(app))
    labels = {
        "status": "succeeded",
        "provider": "openai",
        "model": "gpt-4o-mini",
        "served_by": "demo",
    }
    try:
        async with httpx.AsyncClient(
            transport=transport, base_url="http://m", headers={"X-API-Key": DEV_KEY}
        ) as http:
            await http.put("/v1/prompts/m", json={"template_source": "Say {{x}}"})
            before = (await http.get("/metrics")).text
            body = {
                "prompt_name": "m",
                "variables": {"x": "hi"},
                "model": {"provider": "openai", "model_name": "gpt-4o-mini"},
            }
            assert (await http.post("/v1/executions:run", json=body)).status_code == 200
            submitted = await http.post("/v1/executions:submit", json=body)
            assert submitted.status_code == 202
            worker = asyncio.create_task(
                app.queue.run_worker(
                    app, concurrency=1, shutdown_grace=1, install_signal_handlers=False
                )
            )
            try:
                for _ in range(200):
                    got = await http.get(f"/v1/executions/{submitted.json()['execution_id']}")
                    if got.json()["status"] == "succeeded":
                        break
                    await asyncio.sleep(0.05)
                else:
                    pytest.fail("the queued execution did not succeed")
            finally:
                await cancelled(worker, "the queue worker")
            after = (await http.get("/metrics")).text
    finally:
        await app.aclose()
    moved = sample(after, "promptledger_executions_total", **labels) - sample(
        before, "promptledger_executions_total", **labels
    )
    assert moved == 2
    tokens = sample(
        after,
        "promptledger_execution_tokens_total",
        provider="openai",
        model="gpt-4o-mini",
        kind="prompt",
    ) - sample(
        before,
        "promptledger_execution_tokens_total",
        provider="openai",
        model="gpt-4o-mini",
        kind="prompt",
    )
    assert tokens > 0
    jobs = sample(after, "promptledger_jobs_total", task="run_execution", status="succeeded") - (
        sample(before, "promptledger_jobs_total", task="run_execution", status="succeeded")
    )
    assert jobs == 1


async def test_worker_heartbeats_show_in_health_and_metrics(
    container: Container, client: httpx.AsyncClient
) -> None:
    """What the PromptLedgerNoWorkerHeartbeat alert reads: 0 with no worker, 1 while one runs
    (its heartbeat), 0 again once it stopped."""

    async def seen() -> tuple[int, float]:
        health = await client.get("/health")
        assert health.status_code == 200, health.text
        scraped = (await client.get("/metrics")).text
        return health.json()["workers"], sample(scraped, "promptledger_workers_alive")

    assert await seen() == (0, 0.0)
    worker = asyncio.create_task(
        container.queue.run_worker(
            container, concurrency=1, shutdown_grace=0, install_signal_handlers=False
        )
    )
    try:
        for _ in range(200):
            if await seen() == (1, 1.0):
                break
            await asyncio.sleep(0.05)
        assert await seen() == (1, 1.0)
    finally:
        await cancelled(worker, "the queue worker")
    # a worker that stops cleanly unregisters: /health at once, the gauge at the next refresh
    for _ in range(200):
        if await seen() == (0, 0.0):
            break
        await asyncio.sleep(0.05)
    assert await seen() == (0, 0.0)
