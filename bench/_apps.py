"""ASGI app factories for the benchmarks, loaded by uvicorn as ``_apps:<factory>`` with
``--app-dir bench --factory`` so each app runs in its own server process.

- ``hello_app``: the baseline, a bare Starlette app with one plain-text route.
- ``insert_app``: the baseline with a database write, Starlette + one INSERT per request
  (then, when ``INSERT_WAIT`` is set, an ``asyncio.sleep`` of that many seconds, to stand in
  for a provider's latency).
- ``ledgered_app``: the floor for a ledgered gateway, Starlette + one INSERT (the ``running``
  row) + the HTTP call to the provider (``BENCH_OPENAI_BASE_URL``) + one UPDATE (the outcome):
  what ``POST /v1/executions:run`` must do at the least, with no framework of ours.
- ``gateway_app``: our gateway, on the database named by ``DATABASE_URL`` (and, when
  ``BENCH_OPENAI_BASE_URL`` is set, with its OpenAI provider pointed there).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import psycopg_pool
from psycopg.types.json import Jsonb
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from prompt_ledger.gateway import create_gateway
from prompt_ledger.settings import DEFAULT_API_KEY, Settings, libpq_url

sys.path.append(str(Path(__file__).resolve().parents[1]))  # uvicorn loads this as `_apps`

from bench._common import LEDGER_DDL, SCRATCH_DDL


async def _hello(request: Request) -> PlainTextResponse:
    return PlainTextResponse("hello")


def hello_app() -> Starlette:
    """The floor: what Starlette + uvicorn cost on this machine with no work at all."""
    return Starlette(routes=[Route("/hello", _hello, methods=["GET"])])


async def _autocommit(connection: psycopg.AsyncConnection[Any]) -> None:
    await connection.set_autocommit(True)


def _pool(settings: Settings) -> psycopg_pool.AsyncConnectionPool[psycopg.AsyncConnection[Any]]:
    """An autocommit pool sized like our gateway's."""
    return psycopg_pool.AsyncConnectionPool(
        libpq_url(settings.require_database_url()),
        min_size=settings.db_pool_min_size,
        max_size=settings.db_pool_max_size,
        open=False,
        configure=_autocommit,
    )


def insert_app() -> Starlette:
    """The floor for a write endpoint: parse a JSON body, one INSERT ... RETURNING through a
    psycopg_pool AsyncConnectionPool (sized like our gateway's), answer JSON."""
    settings = Settings(_env_file=None, database_url=os.environ["DATABASE_URL"])
    wait = float(os.environ.get("INSERT_WAIT") or 0)

    pool = _pool(settings)

    async def insert(request: Request) -> JSONResponse:
        body = await request.json()
        async with pool.connection() as connection:
            cursor = await connection.execute(
                "INSERT INTO bench_scratch (payload) VALUES (%s) RETURNING id, created_at",
                [Jsonb(body)],
            )
            row = await cursor.fetchone()
        assert row is not None
        if wait > 0:
            await asyncio.sleep(wait)
        return JSONResponse({"id": row[0], "created_at": row[1].isoformat(), "status": "ok"})

    async def health(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await pool.open(wait=True)
        async with pool.connection() as connection:
            await connection.execute(SCRATCH_DDL)
        try:
            yield
        finally:
            await pool.close()

    return Starlette(
        routes=[
            Route("/insert", insert, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def ledgered_app() -> Starlette:
    """The floor our sync path is measured against: per request, one INSERT of the ``running``
    row, the provider call (httpx, the body our OpenAI adapter sends), one UPDATE with the
    outcome; each statement its own (durable) transaction, as a ledger needs."""
    settings = Settings(_env_file=None, database_url=os.environ["DATABASE_URL"])
    pool = _pool(settings)
    provider = httpx.AsyncClient(
        base_url=os.environ["BENCH_OPENAI_BASE_URL"],
        headers={"Authorization": "Bearer sk-bench"},
        trust_env=False,
        timeout=30.0,
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=None),
    )

    async def run(request: Request) -> JSONResponse:
        body = await request.json()
        messages = [{"role": "user", "content": f"Summarize: {body['variables']['text']}"}]
        call = {"model": body["model"]["model_name"], "messages": messages}
        async with pool.connection() as connection:
            cursor = await connection.execute(
                "INSERT INTO bench_ledger (status, request) VALUES ('running', %s) RETURNING id",
                [Jsonb(call)],
            )
            row = await cursor.fetchone()
        assert row is not None
        reply = await provider.post("/chat/completions", json=call)
        reply.raise_for_status()
        completion = reply.json()
        usage = completion.get("usage") or {}
        async with pool.connection() as connection:
            await connection.execute(
                "UPDATE bench_ledger SET status = 'succeeded', response = %s, "
                "input_tokens = %s, output_tokens = %s, finished_at = now() WHERE id = %s",
                [
                    Jsonb(completion),
                    usage.get("prompt_tokens"),
                    usage.get("completion_tokens"),
                    row[0],
                ],
            )
        text = completion["choices"][0]["message"]["content"]
        return JSONResponse({"id": row[0], "status": "succeeded", "response_text": text})

    async def health(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await pool.open(wait=True)
        async with pool.connection() as connection:
            await connection.execute(LEDGER_DDL)
        try:
            yield
        finally:
            await provider.aclose()
            await pool.close()

    return Starlette(
        routes=[
            Route("/run", run, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def gateway_app() -> Starlette:
    """Our gateway exactly as served in production, pointed at the bench database."""
    settings = Settings(
        _env_file=None,
        database_url=os.environ["DATABASE_URL"],
        api_key=os.environ.get("API_KEY", DEFAULT_API_KEY),
        environment="bench",
        openai_api_key=os.environ.get("BENCH_OPENAI_API_KEY"),
        openai_base_url=os.environ.get("BENCH_OPENAI_BASE_URL"),
    )
    return create_gateway(settings=settings)
