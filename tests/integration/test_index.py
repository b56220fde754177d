"""``GET /`` of every function (and of the gateway) for API clients: what it is, where its
console, docs, OpenAPI document and health check are, and the API it serves; no key needed."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from prompt_ledger.container import Container
from prompt_ledger.functions import API, FUNCTIONS, build

CONVERTOR = re.compile(r"{(\w+):\w+}")


def listed(name: str) -> list[str]:
    return [e.method + " " + CONVERTOR.sub(r"{\1}", e.path) for e in API[name]]


async def test_the_gateway_says_where_everything_is(client: httpx.AsyncClient) -> None:
    index = await client.get("/", headers={"X-API-Key": ""})
    assert index.status_code == 200
    assert index.headers["content-type"] == "application/json"
    body = index.json()
    assert (body["name"], body["function"]) == ("PromptLedger", "gateway")
    assert body["links"] == {
        "console": "/",
        "docs": "/docs",
        "openapi": "/openapi.json",
        "health": "/health",
        "livez": "/livez",
        "metrics": "/metrics",
    }
    assert body["functions"] == {name: listed(name) for name in API}
    assert "POST /v1/prompts:resolve" in body["functions"]["registry"]
    for rel, path in body["links"].items():
        if rel != "console":
            assert (await client.get(path)).status_code == 200, path


async def serve(name: str, container: Container, path: str = "/") -> httpx.Response:
    """``GET path`` of function ``name`` deployed on its own."""

    async def provide() -> Container:
        return container

    function = build(name, provide)

    async def endpoint(request: Request) -> Response:
        return await function(request)

    app = Starlette(routes=[Route("/{path:path}", endpoint)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://fn"
    ) as http:
        return await http.get(path, headers={"Accept": "*/*"})


@pytest.mark.parametrize("name", list(API))
async def test_an_api_function_lists_its_own_endpoints(name: str, container: Container) -> None:
    body = (await serve(name, container)).json()
    assert body["function"] == name
    assert body["functions"] == {name: listed(name)}
    assert set(body["links"]) == {"openapi", "health", "livez", "metrics"}  # no console, no docs


async def test_the_console_function_links_its_pages_and_docs(container: Container) -> None:
    body = (await serve("console", container)).json()
    assert body["function"] == "console"
    assert (body["links"]["console"], body["links"]["docs"]) == ("/", "/docs")
    assert body["functions"] == {}  # the API is served elsewhere; /docs documents it
    assert "console" in FUNCTIONS
