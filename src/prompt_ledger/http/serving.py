"""Serving an ASGI app with uvicorn on a socket claimed beforehand (so a busy port is reported
before anything starts, see :func:`prompt_ledger.startup.claim_port`), with a callback once it
accepts requests."""

from __future__ import annotations

import signal
import socket
from collections.abc import Callable
from types import FrameType

import uvicorn
from starlette.types import ASGIApp

from prompt_ledger.startup import StartupError


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


def serve_on(
    sock: socket.socket,
    app: ASGIApp,
    *,
    log_level: str = "info",
    access_log: bool = True,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Serve ``app`` on ``sock`` until SIGINT/SIGTERM (a graceful shutdown, then return, so
    exit handlers run: the embedded PostgreSQL of ``promptledger dev`` is stopped by one)."""
    config = uvicorn.Config(app, lifespan="on", log_level=log_level, access_log=access_log)
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
