"""A live gateway for client tests (the SDK's and the CLI's): uvicorn on a free loopback port,
in a thread, with a queue worker and the demo provider, so executions need no provider account.

conftest modules import ``live_url`` to make the fixture available to their tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp

from prompt_ledger.gateway import create_gateway
from prompt_ledger.settings import Settings
from tests.conftest import DEV_KEY

__all__ = ["DEV_KEY", "LiveServer", "demo_settings", "free_port_url", "live_url"]


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
    """An ASGI app served by uvicorn on 127.0.0.1 (a free port), in a thread.

    Its stop is bounded: uvicorn waits for open connections to finish their responses (a
    streamed one may never finish) and then for the app's lifespan shutdown, so after
    ``STOP_WITHIN`` seconds the connections are dropped (``force_exit``), and a server still
    running ``FORCED_STOP_WITHIN`` seconds later fails the test. The thread is a daemon: a server
    that never stops cannot keep the test process from exiting."""

    START_WITHIN = 30.0
    STOP_WITHIN = 30.0
    FORCED_STOP_WITHIN = 30.0

    def __init__(self, app: ASGIApp, **options: Any) -> None:
        """``options``: more ``uvicorn.Config`` settings."""
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            app, lifespan="on", log_level="warning", access_log=False, **options
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            name=f"live-server-{port}",
            daemon=True,
        )

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + self.START_WITHIN
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()  # a slow start must not go on serving after the test
                pytest.fail(f"the live server at {self.url} did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=self.STOP_WITHIN)
        if self._thread.is_alive():  # connections still open: drop them
            self._server.force_exit = True
            self._thread.join(timeout=self.FORCED_STOP_WITHIN)
        self._sock.close()
        if self._thread.is_alive():
            pytest.fail(
                f"the live server at {self.url} did not stop within "
                f"{self.STOP_WITHIN + self.FORCED_STOP_WITHIN:g} s (its lifespan's shutdown "
                "hangs); its thread is left running"
            )


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
