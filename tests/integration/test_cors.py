"""CORS for browser clients of the API: CORS_ORIGINS, preflights answered before auth."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from prompt_ledger.container import Container
from prompt_ledger.gateway import create_gateway
from prompt_ledger.settings import Settings
from tests.conftest import DEV_KEY

APP = "https://app.example.com"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        api_key=DEV_KEY,
        environment="test",
        cors_origins=f" {APP}/ , http://localhost:3000",
    )


@pytest.fixture
async def anonymous(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_gateway(container))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def preflight(method: str, headers: str, origin: str = APP) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }


async def test_a_preflight_from_an_allowed_origin_is_answered_without_a_key(
    anonymous: httpx.AsyncClient,
) -> None:
    answer = await anonymous.options(
        "/v1/executions:run",
        headers=preflight("POST", "x-api-key, content-type, idempotency-key, traceparent"),
    )
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == APP
    assert answer.headers["access-control-allow-methods"] == "OPTIONS, POST"
    allowed = {h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")}
    assert {"x-api-key", "content-type", "idempotency-key", "traceparent"} <= allowed
    assert answer.headers["access-control-max-age"] == "600"
    assert "access-control-allow-credentials" not in answer.headers
    assert answer.headers["vary"] == "Origin"

    methods = await anonymous.options("/v1/prompts/greeting", headers=preflight("PUT", "x-api-key"))
    assert methods.headers["access-control-allow-methods"] == "GET, OPTIONS, PUT"


async def test_responses_to_an_allowed_origin_are_readable_errors_included(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    listed = await client.get("/v1/prompts", headers={"Origin": "http://localhost:3000"})
    assert listed.status_code == 200
    assert listed.headers["access-control-allow-origin"] == "http://localhost:3000"
    exposed = listed.headers["access-control-expose-headers"]
    assert "Server-Timing" in exposed
    assert "X-Request-ID" in exposed
    assert {"Execution-Id", "Ledger-Write", "Idempotent-Replayed"} <= set(exposed.split(", "))
    assert "Origin" in listed.headers["vary"]

    refused = await anonymous.get("/v1/prompts", headers={"Origin": APP})
    assert refused.status_code == 401  # CORS is not authentication
    assert refused.headers["access-control-allow-origin"] == APP


async def test_other_origins_get_no_cors_headers(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    answer = await anonymous.options(
        "/v1/prompts", headers=preflight("GET", "x-api-key", origin="https://evil.example")
    )
    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/problem+json"
    assert "CORS_ORIGINS" in answer.json()["detail"]
    assert "access-control-allow-origin" not in answer.headers
    listed = await client.get("/v1/prompts", headers={"Origin": "https://evil.example"})
    assert listed.status_code == 200
    assert "access-control-allow-origin" not in listed.headers


async def test_a_preflight_for_an_unknown_path_is_a_404(anonymous: httpx.AsyncClient) -> None:
    answer = await anonymous.options("/v1/nothing", headers=preflight("GET", "x-api-key"))
    assert answer.status_code == 404
    assert answer.headers["access-control-allow-origin"] == APP


async def test_no_origin_is_allowed_by_default(database_url: str) -> None:
    settings = Settings(_env_file=None, database_url=database_url, api_key=DEV_KEY)
    assert settings.allowed_origins == frozenset()
    app = Container(settings)
    await app.open()
    try:
        transport = httpx.ASGITransport(app=create_gateway(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            answer = await http.options("/v1/prompts", headers=preflight("GET", "x-api-key"))
            assert answer.status_code == 403
            plain = await http.options("/v1/prompts")  # not a preflight: the methods
            assert plain.status_code == 405
            assert plain.headers["allow"] == "GET"
    finally:
        await app.aclose()


def test_any_origin_with_a_star(database_url: str) -> None:
    settings = Settings(_env_file=None, database_url=database_url, cors_origins="*")
    assert settings.allowed_origins == frozenset({"*"})
