"""SDK fixtures: a live gateway (uvicorn on a loopback port, in a thread, with a worker; shared
with the CLI tests in tests/live_gateway.py) for the sync client, and the in-process gateway
(ASGITransport) for the async client. Both run with the demo provider, so executions need no
provider account."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.types import ASGIApp

from prompt_ledger import AsyncPromptLedger, PromptLedger
from prompt_ledger.container import Container
from prompt_ledger.gateway import create_gateway
from tests.conftest import DEV_KEY
from tests.live_gateway import demo_settings, live_url
from tests.sdk.fakes import AsyncRecordingTransport, Log, RecordingTransport
from tests.topology import one_url
from tests.waiting import cancelled

# Shared fixtures made available to the SDK tests: the live gateway, and one URL of either
# topology (the gateway, or one function of a per-function deploy).
__all__ = ["live_url", "one_url"]


@pytest.fixture
def live_log() -> Log:
    return Log()


@pytest.fixture
def ledger(live_url: str, live_log: Log) -> Iterator[PromptLedger]:
    """The sync client against the live gateway; ``live_log`` sees every request."""
    http = httpx.Client(transport=RecordingTransport(httpx.HTTPTransport(), live_log))
    with PromptLedger(api_url=live_url, api_key=DEV_KEY, http_client=http) as client:
        yield client
    http.close()


@pytest.fixture
def raw(live_url: str) -> Iterator[httpx.Client]:
    """Plain HTTP to the live gateway, bypassing the SDK (and its cache)."""
    with httpx.Client(base_url=live_url, headers={"X-API-Key": DEV_KEY}) as http:
        yield http


@pytest.fixture
async def demo_container(database_url: str) -> AsyncIterator[Container]:
    container = Container(demo_settings(database_url))
    await container.open()
    await container.catalog.seed()
    yield container
    await container.aclose()


@pytest.fixture
def asgi_app(demo_container: Container) -> ASGIApp:
    return create_gateway(demo_container)


@pytest.fixture
def alog() -> Log:
    return Log()


def async_http(app: ASGIApp, log: Log) -> httpx.AsyncClient:
    transport = AsyncRecordingTransport(httpx.ASGITransport(app=app), log)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def aledger(asgi_app: ASGIApp, alog: Log) -> AsyncIterator[AsyncPromptLedger]:
    """The async client over the in-process gateway; ``alog`` sees every request."""
    async with (
        async_http(asgi_app, alog) as http,
        AsyncPromptLedger("http://testserver", DEV_KEY, http_client=http) as client,
    ):
        yield client


@pytest.fixture
async def araw(asgi_app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=asgi_app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"X-API-Key": DEV_KEY}
    ) as http:
        yield http


@contextlib.asynccontextmanager
async def running_worker(container: Container) -> AsyncIterator[None]:
    """The real queue worker, in the test's event loop, until the block exits."""
    import asyncio

    task = asyncio.create_task(
        container.queue.run_worker(
            container, concurrency=2, shutdown_grace=0, install_signal_handlers=False
        )
    )
    try:
        yield
    finally:
        await cancelled(task, "the queue worker")
