"""ASGI app factories for the benchmarks, loaded by uvicorn as ``_apps:<factory>`` with
``--app-dir bench --factory`` so each app runs in its own server process.

- ``hello_app``: the baseline, a bare Starlette app with one plain-text route.
- ``gateway_app``: our gateway, on the database named by ``DATABASE_URL``.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from prompt_ledger.gateway import create_gateway
from prompt_ledger.settings import DEFAULT_API_KEY, Settings


async def _hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


def hello_app() -> Starlette:
    """The floor: what Starlette + uvicorn cost on this machine with no work at all."""
    return Starlette(routes=[Route("/hello", _hello, methods=["GET"])])


def gateway_app() -> Starlette:
    """Our gateway exactly as served in production, pointed at the bench database."""
    settings = Settings(
        _env_file=None,
        database_url=os.environ["DATABASE_URL"],
        api_key=os.environ.get("API_KEY", DEFAULT_API_KEY),
        environment="bench",
    )
    return create_gateway(settings=settings)
