"""Issue #11, failure 5: slow clients cannot hold connections (408 within REQUEST_READ_TIMEOUT)
and keys have rate limits shared by every process (429 + Retry-After + metrics)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from prompt_ledger.container import Container
from prompt_ledger.gateway import create_gateway
from prompt_ledger.http.serving import header_deadline
from prompt_ledger.records import DEFAULT_PROJECT_ID
from prompt_ledger.settings import Settings
from tests.execution_fixtures import SEED_RUN, seed, sql_value
from tests.live_gateway import DEV_KEY, LiveServer, demo_settings

READ_TIMEOUT = 1.0
KEYS = f"/v1/projects/{DEFAULT_PROJECT_ID}/keys"


@pytest.fixture
async def live(database_url: str) -> AsyncIterator[str]:
    """A gateway served by uvicorn (a real socket), reading requests within READ_TIMEOUT."""
    settings = demo_settings(database_url).model_copy(update={"request_read_timeout": READ_TIMEOUT})
    app = create_gateway(settings=settings)  # its lifespan opens a container in the server
    with LiveServer(app, http=header_deadline(READ_TIMEOUT)) as server:
        yield server.url


async def _exchange(url: str, sent: bytes) -> bytes:
    """Send ``sent`` and stall; everything the server answers until it closes (30 s at most:
    a server that never closes fails the test)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(sent)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 30)  # read() returns at EOF
    finally:
        writer.close()


async def test_fifty_slow_bodies_get_408_and_are_closed(live: str) -> None:
    """The issue's attack: 50 connections promise 100 bytes of body and send 2."""
    head = (
        "PUT /v1/prompts/slow HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        f"X-API-Key: {DEV_KEY}\r\nContent-Length: 100\r\n\r\n"
    ).encode()
    before = REGISTRY.get_sample_value("promptledger_request_read_timeouts_total") or 0
    answers = await asyncio.gather(*(_exchange(live, head + b'{"') for _ in range(50)))
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert b"application/problem+json" in answer
        assert b"REQUEST_READ_TIMEOUT" in answer
    after = REGISTRY.get_sample_value("promptledger_request_read_timeouts_total") or 0
    assert after - before == 50
    async with httpx.AsyncClient(base_url=live) as client:  # and the server serves on
        assert (await client.get("/livez")).status_code == 200


async def test_slow_headers_get_408_and_are_closed(live: str) -> None:
    answers = await asyncio.gather(
        *(_exchange(live, b"GET /livez HTTP/1.1\r\nHost: te") for _ in range(10))
    )
    for answer in answers:
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert b"headers did not arrive" in answer
    # a connection that sends nothing is closed too, without an answer
    assert await _exchange(live, b"") == b""


# --- rate limits -------------------------------------------------------------------------------


async def _fresh_minute(database_url: str) -> None:
    """Limits count per clock minute: start a test well inside one."""
    left = await sql_value(
        database_url,
        "SELECT extract(epoch FROM date_trunc('minute', now()) + interval '1 minute' - now())",
    )
    if float(left) < 15:
        await asyncio.sleep(float(left) + 0.5)


@pytest.fixture
async def processes(database_url: str) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two gateways with their own containers (pools, caches), as two processes would be,
    with default limits of 5 requests and 2 executions a minute. Clients hold the bootstrap
    operator key (never limited) unless a request names another."""
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        api_key=DEV_KEY,
        environment="test",
        demo_fallback=True,
        rate_limit_requests_per_minute=5,
        rate_limit_executions_per_minute=2,
    )
    containers = [Container(settings), Container(settings)]
    clients: list[httpx.AsyncClient] = []
    for container in containers:
        await container.open()
        clients.append(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_gateway(container)),
                base_url="http://testserver",
                headers={"X-API-Key": DEV_KEY},  # each request below names its key
            )
        )
    try:
        yield clients
    finally:
        for client in clients:
            await client.aclose()
        for container in containers:
            await container.aclose()


async def _key(client: httpx.AsyncClient, **limits: Any) -> dict[str, str]:
    scopes = ["prompts:read", "prompts:write", "execute"]
    created = await client.post(KEYS, json={"name": "limited", "scopes": scopes, **limits})
    assert created.status_code == 201, created.text
    for name, value in limits.items():
        assert created.json()[name] == value
    return {"X-API-Key": created.json()["key"]}


def _limited(response: httpx.Response, kind: str, limit: int) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    problem = response.json()
    assert problem["type"].endswith("/rate-limited")
    assert problem["kind"] == kind
    assert problem["limit"] == limit
    what = kind if limit != 1 else kind[:-1]  # "1 execution", "5 requests"
    assert problem["detail"] == (
        f"This API key may make {limit} {what} per minute; retry in {retry_after} s."
    )


async def test_the_default_limit_is_shared_by_every_process(
    processes: list[httpx.AsyncClient], database_url: str
) -> None:
    a, b = processes
    key = await _key(a)
    await _fresh_minute(database_url)
    before = REGISTRY.get_sample_value("promptledger_rate_limited_total", {"kind": "requests"})
    for client in (a, b, a, b, a):  # 5 requests a minute, wherever they land
        assert (await client.get("/v1/prompts", headers=key)).status_code == 200
    _limited(await b.get("/v1/prompts", headers=key), "requests", 5)
    _limited(await a.get("/v1/prompts", headers=key), "requests", 5)
    after = REGISTRY.get_sample_value("promptledger_rate_limited_total", {"kind": "requests"})
    assert (after or 0) - (before or 0) == 2
    metrics = (await a.get("/metrics")).text
    assert 'promptledger_rate_limited_total{kind="requests"}' in metrics
    # another key has its own count; the bootstrap operator key has none
    assert (await a.get("/v1/prompts", headers=await _key(a))).status_code == 200
    for _ in range(10):
        assert (await b.get("/v1/prompts")).status_code == 200


async def test_the_default_execution_limit_applies_to_a_key_without_its_own(
    processes: list[httpx.AsyncClient], database_url: str
) -> None:
    a, b = processes
    await seed(a)
    key = await _key(a)  # no limits of its own: 5 requests and 2 executions a minute
    await _fresh_minute(database_url)
    for client in (a, b):
        ran = await client.post("/v1/executions:run", json=SEED_RUN, headers=key)
        assert ran.status_code == 200, ran.text
    _limited(await a.post("/v1/executions:submit", json=SEED_RUN, headers=key), "executions", 2)
    assert (await b.get("/v1/prompts", headers=key)).status_code == 200  # 4 requests of 5


async def test_a_key_has_its_own_limits(
    processes: list[httpx.AsyncClient], database_url: str
) -> None:
    a, b = processes
    await seed(a)
    unlimited = await _key(a, requests_per_minute=0)
    tight = await _key(a, requests_per_minute=100, executions_per_minute=1)
    await _fresh_minute(database_url)
    for _ in range(8):  # over the default of 5: this key has no limit
        assert (await b.get("/v1/prompts", headers=unlimited)).status_code == 200
    ran = await a.post("/v1/executions:run", json=SEED_RUN, headers=tight)
    assert ran.status_code == 200, ran.text
    _limited(await b.post("/v1/executions:submit", json=SEED_RUN, headers=tight), "executions", 1)
    assert (await b.get("/v1/prompts", headers=tight)).status_code == 200  # reads go on


async def test_a_refused_request_counts_no_execution(
    processes: list[httpx.AsyncClient], database_url: str
) -> None:
    a, b = processes
    await seed(a)
    scopes = ["prompts:read", "execute"]
    limits = {"requests_per_minute": 2, "executions_per_minute": 5}
    created = (await a.post(KEYS, json={"name": "counted", "scopes": scopes, **limits})).json()
    key = {"X-API-Key": created["key"]}
    await _fresh_minute(database_url)
    assert (await a.post("/v1/executions:run", json=SEED_RUN, headers=key)).status_code == 200
    assert (await b.get("/v1/prompts", headers=key)).status_code == 200
    _limited(await b.post("/v1/executions:run", json=SEED_RUN, headers=key), "requests", 2)
    counts = await sql_value(
        database_url,
        "SELECT string_agg(kind || '=' || count, ',' ORDER BY kind) FROM rate_limit_counts "
        "WHERE key_id = %s",
        created["key_id"],
    )
    assert counts == "executions=1,requests=3"


async def _count(database_url: str, key_id: str) -> int:
    value = await sql_value(
        database_url,
        "SELECT coalesce(sum(count), 0) FROM rate_limit_counts "
        "WHERE key_id = %s AND kind = 'requests'",
        key_id,
    )
    return int(value)


async def test_processes_lease_blocks_of_one_budget_and_never_exceed_it(
    processes: list[httpx.AsyncClient], database_url: str
) -> None:
    """A limit of 64 a minute is leased two calls at a time (64 // 32): one statement per lease,
    not per request, and the leases of both processes together stop at the limit."""
    a, b = processes
    scopes = ["prompts:read"]
    created = await a.post(
        KEYS, json={"name": "leased", "scopes": scopes, "requests_per_minute": 64}
    )
    key_id, key = created.json()["key_id"], {"X-API-Key": created.json()["key"]}
    await _fresh_minute(database_url)
    assert (await a.get("/v1/prompts", headers=key)).status_code == 200
    assert await _count(database_url, key_id) == 2  # one lease of two calls
    assert (await a.get("/v1/prompts", headers=key)).status_code == 200
    assert await _count(database_url, key_id) == 2  # the second call was a's, no statement
    served = 0
    while (answer := await b.get("/v1/prompts", headers=key)).status_code == 200:
        served += 1
        assert served <= 64
    assert served == 62  # what a's lease left of the 64
    _limited(answer, "requests", 64)
    _limited(await a.get("/v1/prompts", headers=key), "requests", 64)
    # each process asked once more and was granted nothing; refusals then cost no statement
    assert await _count(database_url, key_id) == 64 + 2 + 2
    _limited(await b.get("/v1/prompts", headers=key), "requests", 64)
    assert await _count(database_url, key_id) == 64 + 2 + 2


async def test_a_revoked_key_is_refused_by_a_process_holding_its_lease(
    processes: list[httpx.AsyncClient], database_url: str
) -> None:
    a, b = processes
    created = await a.post(
        KEYS, json={"name": "revoked", "scopes": ["prompts:read"], "requests_per_minute": 640}
    )
    key = {"X-API-Key": created.json()["key"]}
    await _fresh_minute(database_url)
    assert (await b.get("/v1/prompts", headers=key)).status_code == 200  # b holds a lease of 20
    revoked = await a.delete(f"{KEYS}/{created.json()['key_id']}")
    assert revoked.status_code == 200, revoked.text
    for _ in range(100):  # b's key cache is evicted by the NOTIFY of the revocation
        if (await b.get("/v1/prompts", headers=key)).status_code == 401:
            break
        await asyncio.sleep(0.05)
    else:
        pytest.fail("the revoked key was still served by the other process")
