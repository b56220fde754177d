"""Serving an ASGI app with uvicorn on a socket claimed beforehand (so a busy port is reported
before anything starts, see :func:`prompt_ledger.startup.claim_port`), with a callback once it
accepts requests, and a deadline for each request's headers (uvicorn has none: a client sending
a header byte now and then would hold its connection for ever). The body has its deadline in
the app (http/dispatch.py), whatever server runs it."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
from collections.abc import Callable
from types import FrameType
from typing import Any

import h11
import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.h11_impl import H11Protocol

from prompt_ledger import metrics
from prompt_ledger.errors import RequestTimeout
from prompt_ledger.startup_errors import StartupError


class _Stopped(Exception):
    """SIGTERM, after uvicorn's graceful shutdown."""


def _stopped(signum: int, frame: FrameType | None) -> None:
    raise _Stopped


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_ready: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self._on_ready is not None:
            self._on_ready()


def header_deadline(seconds: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing a connection whose request headers are not all there
    ``seconds`` after their first byte (or after the connection opened): 408 problem+json
    when part of a request came, silently when nothing did."""
    late = RequestTimeout(
        f"The request headers did not arrive within {seconds:g} s (REQUEST_READ_TIMEOUT)."
    )
    body = json.dumps(late.to_problem()).encode()
    answer = (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/problem+json\r\n"
        b"connection: close\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body)
    )

    class HeaderDeadline(H11Protocol):
        _deadline: asyncio.TimerHandle | None = None
        _partial = False  # bytes of the next request came, its headers are not complete

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            if self.conn.their_state is h11.IDLE and self._deadline is None:
                self._arm()  # the first bytes of a request on a kept-alive connection
            super().data_received(data)
            self._partial = self.conn.their_state is h11.IDLE
            if not self._partial:
                self._disarm()  # the headers are complete

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._partial = False

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._expired)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expired(self) -> None:
            self._deadline = None
            if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
                return
            if self._partial:
                metrics.read_timeouts.inc()
                self.transport.write(answer)
            self.transport.close()

    return HeaderDeadline


def serve_on(
    sock: socket.socket,
    app: ASGIApp,
    *,
    log_level: str = "info",
    access_log: bool = True,
    on_ready: Callable[[], None] | None = None,
    read_timeout: float | None = None,
) -> None:
    """Serve ``app`` on ``sock`` until SIGINT/SIGTERM (a graceful shutdown, then return, so
    exit handlers run: the embedded PostgreSQL of ``promptledger dev`` is stopped by one).
    ``read_timeout``: seconds a request's headers may take to arrive."""
    options: dict[str, Any] = (
        {} if read_timeout is None else {"http": header_deadline(read_timeout)}
    )
    config = uvicorn.Config(
        app, lifespan="on", log_level=log_level, access_log=access_log, **options
    )
    server = _Server(config, on_ready)
    # uvicorn re-raises the signal it handled once it has shut down; SIGTERM's default action
    # would then kill the process before its exit handlers run.
    previous = signal.signal(signal.SIGTERM, _stopped)
    try:
        server.run(sockets=[sock])
    except (KeyboardInterrupt, _Stopped):  # the signal, re-raised: the normal way out
        return
    finally:
        signal.signal(signal.SIGTERM, previous)
        sock.close()
    if not server.started:
        raise StartupError("The server did not start: its start-up failed (see the log above).")
