"""SDK fixtures: a live gateway (uvicorn on a loopback port, in a thread, with a worker) for the
sync client, and the in-process gateway (ASGITransport) for the async client. Both run with the
demo provider, so executions need no provider account."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp

from prompt_ledger import AsyncPromptLedger, PromptLedger
from prompt_ledger.container import Container
from prompt_ledger.gateway import create_gateway
from prompt_ledger.settings import Settings
from tests.conftest import DEV_KEY
from tests.sdk.fakes import AsyncRecordingTransport, Log, RecordingTransport


def demo_settings(database_url: str) -> Settings:
    """The test settings, with the demo provider answering and no real provider configured."""
    return Settings(
        _env_file=None,
        database_url=database_url,
        api_key=DEV_KEY,
        environment="test",
        demo_fallback=True,
        openai_api_key=None,
        openai_base_url=None,
        anthropic_api_key=None,
        anthropic_base_url=None,
    )


class LiveServer:
    """An ASGI app served by uvicorn on 127.0.0.1 (a free port), in a thread."""

    def __init__(self, app: ASGIApp) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(app, lifespan="on", log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name="sdk-live-gateway"
        )

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("the live gateway did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._sock.close()


def free_port_url() -> str:
    """A loopback URL where nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def live_url(database_url: str) -> Iterator[str]:
    """The gateway and a queue worker, served on a loopback port, with the default model."""
    app = create_gateway(settings=demo_settings(database_url), with_worker=True)
    with LiveServer(app) as server:
        seeded = httpx.put(
            f"{server.url}/v1/models/openai/gpt-4o-mini",
            headers={"X-API-Key": DEV_KEY},
            json={"input_price_per_mtok": 0.15, "output_price_per_mtok": 0.6},
        )
        assert seeded.status_code in (200, 201), seeded.text
        yield server.url


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
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
