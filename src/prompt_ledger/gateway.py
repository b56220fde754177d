"""The gateway: one Starlette app serving every function, with a real lifespan.

For local use, small deployments and tests. Same endpoints and behaviour as the per-function
deploys; the container is opened at start-up and closed at shutdown."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from prompt_ledger.container import Container
from prompt_ledger.functions import FUNCTIONS, build
from prompt_ledger.settings import Settings
from prompt_ledger.worker import supervise

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def create_gateway(
    container: Container | None = None,
    settings: Settings | None = None,
    *,
    with_worker: bool = False,
    functions: Sequence[str] | None = None,
) -> Starlette:
    """Serve every function. Pass a ready container (tests) or let the lifespan build one.

    ``with_worker`` also runs a queue worker in this process (``promptledger dev``), started
    again whenever it stops on an error (see :func:`prompt_ledger.worker.supervise`); with
    ``functions`` (names of the catalogue) only those are served, as their own deploys would."""
    state: dict[str, Container] = {}
    if container is not None:
        state["container"] = container

    async def provide() -> Container:
        return state["container"]

    names = list(FUNCTIONS) if functions is None else list(functions)
    every = [endpoint for name in names for endpoint in FUNCTIONS[name]]
    function = build(names[0] if len(names) == 1 else "gateway", provide, every)

    async def endpoint(request: Request) -> Response:
        return await function(request)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        owned = "container" not in state
        if owned:
            state["container"] = Container(settings or Settings())
        app = state["container"]
        await app.open()
        worker = (
            asyncio.create_task(supervise(app, install_signal_handlers=False))
            if with_worker
            else None
        )
        try:
            yield
        finally:
            if worker is not None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            if owned:
                await state.pop("container").aclose()

    return Starlette(
        routes=[Route("/{path:path}", endpoint, methods=METHODS)],
        lifespan=lifespan,
    )
