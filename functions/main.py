"""functions-framework deploy surface: one tiny ASGI function per target.

    functions-framework --source functions/main.py --target registry

All behaviour lives in the prompt_ledger package; each target only delegates to it. Settings are
validated here, at start-up, so a misconfigured deploy (e.g. the default API key in production)
fails before serving; the database pool opens on the first request. A request for another
function's endpoint is forwarded to it when its URL is set (REGISTRY_URL, EXECUTIONS_URL, ...).
"""

from __future__ import annotations

import functions_framework.aio
from starlette.requests import Request
from starlette.responses import Response

from prompt_ledger.container import LazyContainer
from prompt_ledger.functions import build, forwarder
from prompt_ledger.http.dispatch import HttpFunction
from prompt_ledger.startup import load_settings

_settings = load_settings()  # a bad setting stops the deploy here, in one line
_container = LazyContainer(lambda: _settings)
_built: dict[str, HttpFunction] = {}


def _function(name: str) -> HttpFunction:
    """The target's function, built on its first request: a process serves one target, and
    imports that one's handlers only (a cold start)."""
    found = _built.get(name)
    if found is None:
        found = _built[name] = build(name, _container, forwarder=forwarder(name, _settings))
    return found


@functions_framework.aio.http
async def registry(request: Request) -> Response:
    return await _function("registry")(request)


@functions_framework.aio.http
async def executions(request: Request) -> Response:
    return await _function("executions")(request)


@functions_framework.aio.http
async def traces(request: Request) -> Response:
    return await _function("traces")(request)


@functions_framework.aio.http
async def console(request: Request) -> Response:
    return await _function("console")(request)


@functions_framework.aio.http
async def analytics(request: Request) -> Response:
    return await _function("analytics")(request)
