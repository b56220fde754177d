"""Serving an ASGI app with uvicorn on a socket claimed beforehand (so a busy port is reported
before anything starts, see :func:`prompt_ledger.startup.claim_port`), with a callback once it
accepts requests."""

from __future__ import annotations

import socket
from collections.abc import Callable

import uvicorn
from starlette.types import ASGIApp

from prompt_ledger.startup import StartupError


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
    """Serve ``app`` on ``sock`` until SIGINT/SIGTERM (a graceful shutdown, then return)."""
    config = uvicorn.Config(app, lifespan="on", log_level=log_level, access_log=access_log)
    server = _Server(config, on_ready)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl+C it handled: the normal way out
        return
    finally:
        sock.close()
    if not server.started:
        raise StartupError("The server did not start: its start-up failed (see the log above).")
