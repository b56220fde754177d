"""Helpers shared by the execution tests: a gateway wired to a stub LLM, a worker running in the
test's event loop, and bounded waits that say what they were waiting for."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from prompt_ledger.container import Container
from prompt_ledger.gateway import create_gateway
from prompt_ledger.settings import DEFAULT_API_KEY, Settings
from prompt_ledger.testing.stub_llm import StubLLM
from tests.waiting import cancelled

DEV_KEY = DEFAULT_API_KEY

SEED_TEMPLATE = "Summarize:\n{{text}}"
SEED_RUN: dict[str, Any] = {
    "prompt_name": "doc_summarizer",
    "environment": "dev",
    "variables": {"text": "Your document text here..."},
    "model": {"provider": "openai", "model_name": "gpt-4o-mini"},
    "params": {"max_new_tokens": 800, "temperature": 0.2},
}
GPT_PRICES = {"input_price_per_mtok": 0.15, "output_price_per_mtok": 0.6}


def stub_settings(database_url: str, stub: StubLLM | None, **overrides: Any) -> Settings:
    """Settings as the conftest builds them, with providers pointed at the stub."""
    fields: dict[str, Any] = {
        "database_url": database_url,
        "api_key": DEV_KEY,
        "environment": "test",
        "retry_base_seconds": 0.05,
        "retry_max_seconds": 5.0,
        "provider_timeout": 10.0,
        "worker_poll_seconds": 0.05,
    }
    if stub is not None:
        fields |= {
            "openai_api_key": "sk-test",
            "openai_base_url": stub.openai_base_url,
            "anthropic_api_key": "sk-ant-test",
            "anthropic_base_url": stub.anthropic_base_url,
        }
    fields |= overrides
    return Settings(_env_file=None, **fields)


@contextlib.asynccontextmanager
async def gateway(settings: Settings) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    """A container for ``settings`` and an in-process client holding the bootstrap key."""
    container = Container(settings)
    await container.open()
    transport = httpx.ASGITransport(app=create_gateway(container))
    try:
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://testserver",
            headers={"X-API-Key": DEV_KEY},
            timeout=30,
        ) as client:
            yield container, client
    finally:
        await container.aclose()


@contextlib.asynccontextmanager
async def running_worker(
    container: Container, *, concurrency: int = 4, shutdown_grace: float = 0
) -> AsyncIterator[asyncio.Task[None]]:
    """The real procrastinate worker, in this event loop, until the block exits."""
    task = asyncio.create_task(
        container.queue.run_worker(
            container,
            concurrency=concurrency,
            shutdown_grace=shutdown_grace,
            install_signal_handlers=False,
        )
    )
    try:
        yield task
    finally:
        await cancelled(task, "the queue worker")


async def put_prompt(
    client: httpx.AsyncClient, name: str = "doc_summarizer", **body: Any
) -> dict[str, Any]:
    if "template_source" not in body and "messages" not in body:
        body["template_source"] = SEED_TEMPLATE
    response = await client.put(f"/v1/prompts/{name}", json=body)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


async def put_model(
    client: httpx.AsyncClient,
    provider: str = "openai",
    model_name: str = "gpt-4o-mini",
    **body: Any,
) -> dict[str, Any]:
    response = await client.put(f"/v1/models/{provider}/{model_name}", json=body or GPT_PRICES)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


async def seed(client: httpx.AsyncClient) -> None:
    """The seeds' prompt and model."""
    await put_model(client)
    await put_prompt(client, description="Summarize documents", owner_team="AI-Platform")


async def wait_until(
    check: Callable[[], Awaitable[Any]], what: str, *, within: float = 20.0
) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``within``."""
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {within}s waiting for {what} (last: {last!r})")


async def wait_for_status(
    client: httpx.AsyncClient,
    execution_id: str,
    *statuses: str,
    within: float = 20.0,
) -> dict[str, Any]:
    """Poll GET /v1/executions/{id} until its status is one of ``statuses``."""
    seen: list[str] = []

    async def check() -> dict[str, Any] | None:
        response = await client.get(f"/v1/executions/{execution_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if not seen or seen[-1] != body["status"]:
            seen.append(body["status"])
        return body if body["status"] in statuses else None

    try:
        found: dict[str, Any] = await wait_until(
            check, f"execution {execution_id} to be {'/'.join(statuses)}", within=within
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}; statuses seen: {seen}") from None
    return found


async def sql_rows(database_url: str, query: str, *params: Any) -> list[dict[str, Any]]:
    """Read the database directly (what the API does not show, e.g. procrastinate's tables)."""
    async with await psycopg.AsyncConnection.connect(
        database_url, autocommit=True, row_factory=dict_row
    ) as conn:
        cursor = await conn.execute(query, params)
        return await cursor.fetchall()


async def sql_value(database_url: str, query: str, *params: Any) -> Any:
    rows = await sql_rows(database_url, query, *params)
    return next(iter(rows[0].values())) if rows else None
