"""/metrics: optionally behind METRICS_TOKEN, and cheap: the database gauges are refreshed by a
timer (METRICS_REFRESH_SECONDS), never by a scrape."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr

from prompt_ledger.container import Container
from prompt_ledger.gateway import create_gateway
from prompt_ledger.settings import Settings


async def serving(settings: Settings) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    app = Container(settings)
    await app.open()
    transport = httpx.ASGITransport(app=create_gateway(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield app, http
    await app.aclose()


@pytest.fixture
async def guarded(settings: Settings) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    token = SecretStr("scrape-me")
    async for pair in serving(settings.model_copy(update={"metrics_token": token})):
        yield pair


@pytest.fixture
async def slow_timer(settings: Settings) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    async for pair in serving(settings.model_copy(update={"metrics_refresh_seconds": 3600})):
        yield pair


async def test_a_token_guards_metrics(guarded: tuple[Container, httpx.AsyncClient]) -> None:
    _, http = guarded
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic scrape-me"}):
        refused = await http.get("/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.headers["content-type"] == "application/problem+json"
        assert "METRICS_TOKEN" in refused.json()["detail"]
        assert refused.headers["www-authenticate"].startswith("Bearer")
    allowed = await http.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert allowed.status_code == 200
    assert "promptledger_http_requests_total" in allowed.text
    # only /metrics: the rest of the operational endpoints stay as they were
    assert (await http.get("/livez")).status_code == 200


async def test_without_a_token_metrics_are_open(
    slow_timer: tuple[Container, httpx.AsyncClient],
) -> None:
    _, http = slow_timer
    assert (await http.get("/metrics")).status_code == 200


async def test_a_scrape_reads_the_gauges_the_timer_refreshed(
    slow_timer: tuple[Container, httpx.AsyncClient],
) -> None:
    """The first scrape starts the timer and waits for one refresh; later scrapes query
    nothing (the refresh count stays put), whatever the scrape rate."""
    app, http = slow_timer
    assert app.gauges.refreshes == 0  # nobody scraped: no query ran
    first = await http.get("/metrics")
    assert "promptledger_workers_alive 0.0" in first.text
    assert app.gauges.refreshes == 1
    for _ in range(5):
        assert (await http.get("/metrics")).status_code == 200
    assert app.gauges.refreshes == 1


async def test_the_timer_refreshes_in_the_background(settings: Settings) -> None:
    async for app, http in serving(settings.model_copy(update={"metrics_refresh_seconds": 0.01})):
        await http.get("/metrics")
        for _ in range(500):
            if app.gauges.refreshes >= 3:
                break
            await asyncio.sleep(0.01)
        assert app.gauges.refreshes >= 3
        await app.gauges.stop()
        stopped = app.gauges.refreshes
        await asyncio.sleep(0.05)
        assert app.gauges.refreshes == stopped
