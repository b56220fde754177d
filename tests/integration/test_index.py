"""``GET /`` of every function (and of the gateway): what it is, and where its API, OpenAPI
document and health check are; no key needed."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from prompt_ledger.container import Container
from prompt_ledger.functions import FUNCTIONS, build


async def test_the_gateway_says_where_everything_is(client: httpx.AsyncClient) -> None:
    index = await client.get("/", headers={"X-API-Key": ""})
    assert index.status_code == 200
    assert index.headers["content-type"] == "application/json"
    body = index.json()
    assert (body["name"], body["function"]) == ("PromptLedger", "gateway")
    assert body["links"] == {
        "openapi": "/openapi.json",
        "health": "/health",
        "livez": "/livez",
        "metrics": "/metrics",
    }  # and "docs" once a function serves /docs
    assert "POST /v1/prompts:resolve" in body["endpoints"]
    assert "GET /v1/prompts/{name}/versions/{number}" in body["endpoints"]
    for path in body["links"].values():
        assert (await client.get(path)).status_code == 200, path


@pytest.mark.parametrize("name", list(FUNCTIONS))
async def test_each_function_lists_its_own_endpoints(name: str, container: Container) -> None:
    async def provide() -> Container:
        return container

    function = build(name, provide)

    async def endpoint(request: Request) -> Response:
        return await function(request)

    app = Starlette(routes=[Route("/{path:path}", endpoint)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://fn"
    ) as http:
        body = (await http.get("/")).json()
    assert body["function"] == name
    convertor = re.compile(r"{(\w+):\w+}")
    assert body["endpoints"] == [
        e.method + " " + convertor.sub(r"{\1}", e.path) for e in FUNCTIONS[name]
    ]
