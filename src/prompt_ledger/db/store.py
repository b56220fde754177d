"""The one port to PostgreSQL: a lazily opened connection pool and a small runner for the named
queries. Foreign (psycopg) errors are translated into ours here, at the boundary."""

from __future__ import annotations

import asyncio
import re
import select
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from functools import cache
from typing import Any, TypeVar, cast

import psycopg
import psycopg_pool
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel

from prompt_ledger.db.queries import query
from prompt_ledger.errors import (
    Conflict,
    PromptLedgerError,
    ServiceUnavailable,
)
from prompt_ledger.startup import schema_missing

R = TypeVar("R", bound=BaseModel)


class Queries:
    """Runs named queries on one connection and returns typed records."""

    def __init__(
        self,
        connection: psycopg.AsyncConnection[dict[str, Any]],
        pipeline: psycopg.AsyncPipeline | None = None,
    ) -> None:
        self.connection = connection
        self._pipeline = pipeline

    async def _run(self, name: str, params: Mapping[str, Any]) -> psycopg.AsyncCursor[Any]:
        """Send a query; in a pipeline, also wait for the answers of every query sent so far,
        since its result is about to be read."""
        statement, values, prepare = _statement(name, params)
        cursor = await self.connection.execute(statement, values, prepare=prepare)
        if self._pipeline is not None:
            await self._pipeline.sync()
        return cursor

    async def rows(self, name: str, /, **params: Any) -> list[dict[str, Any]]:
        cursor = await self._run(name, params)
        return await cursor.fetchall() if cursor.description else []

    async def row(self, name: str, /, **params: Any) -> dict[str, Any] | None:
        cursor = await self._run(name, params)
        return await cursor.fetchone() if cursor.description else None

    async def one(self, name: str, record: type[R], /, **params: Any) -> R | None:
        found = await self.row(name, **params)
        return None if found is None else record.model_validate(found)

    async def all(self, name: str, record: type[R], /, **params: Any) -> list[R]:
        return [record.model_validate(found) for found in await self.rows(name, **params)]

    async def execute(self, name: str, /, **params: Any) -> int:
        statement, values, prepare = _statement(name, params)
        cursor = await self.connection.execute(statement, values, prepare=prepare)
        return cursor.rowcount


_JSONB_PARAMETER = re.compile(r"%\((\w+)\)s::jsonb\b")
# A query whose comment says so is planned for its values at every call, never prepared: its
# optional filters (``%(x)s IS NULL OR ...``) make a generic plan unusable (a sort of every row)
_PER_CALL = re.compile(r"^-- Planned per call\b", re.MULTILINE)


@cache
def _compiled(name: str) -> tuple[sql.SQL, frozenset[str], bool | None]:
    """A named query, its jsonb parameters (those the SQL casts, ``%(name)s::jsonb``) and
    whether psycopg may prepare it (None: after a few calls, as it does by default)."""
    text = query(name)
    prepare = False if _PER_CALL.search(text) else None
    return sql.SQL(cast(Any, text)), frozenset(_JSONB_PARAMETER.findall(text)), prepare


def _statement(
    name: str, params: Mapping[str, Any]
) -> tuple[sql.SQL, Mapping[str, Any], bool | None]:
    """The query, its parameters as psycopg takes them, and whether it may be prepared: services
    pass plain dicts and lists for jsonb parameters (a JSON document already serialised, a str,
    is passed as it is), and the driver's Jsonb wrapper stays in this layer."""
    statement, jsonb, prepare = _compiled(name)
    if not jsonb:
        return statement, params, prepare
    values = {
        key: Jsonb(value) if key in jsonb and isinstance(value, dict | list) else value
        for key, value in params.items()
    }
    return statement, values, prepare


class Database:
    """A connection pool opened on first use (functions-framework has no startup hook)."""

    def __init__(
        self, url: str, *, min_size: int = 1, max_size: int = 10, timeout: float = 5.0
    ) -> None:
        self.url = url
        self.connection_kwargs: dict[str, Any] = {
            "row_factory": dict_row,
            "connect_timeout": max(1, int(timeout)),
        }
        self._pool = psycopg_pool.AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            open=False,
            # autocommit is set in configure, not kwargs: procrastinate's listener reuses kwargs
            # and passes autocommit itself.
            kwargs=self.connection_kwargs,
            configure=_autocommit,
            name="promptledger",
        )
        self._timeout = timeout
        self._open_lock = asyncio.Lock()
        self._opened = False

    @property
    def pool(self) -> psycopg_pool.AsyncConnectionPool[Any]:
        return self._pool

    async def open(self) -> None:
        if self._opened:
            return
        async with self._open_lock:
            if not self._opened:
                await self._pool.open(wait=False)
                self._opened = True

    async def close(self) -> None:
        if self._opened:
            await self._pool.close()
            self._opened = False

    @asynccontextmanager
    async def connect(self, *, wait: float | None = None) -> AsyncIterator[Queries]:
        """A connection in autocommit mode: each query is its own transaction. ``wait``: wait
        for one at most this long (and never longer than the pool's timeout)."""
        await self.open()
        with translate_errors():
            connection = await self._checkout(min(self._timeout, wait or self._timeout))
            try:
                async with connection:  # commit or roll back, as the pool's connection() does
                    yield Queries(cast(psycopg.AsyncConnection[dict[str, Any]], connection))
            finally:
                await self._pool.putconn(connection)

    async def _checkout(self, wait: float) -> psycopg.AsyncConnection[Any]:
        """A pooled connection that still reaches the server. A connection idle in the pool
        while the server restarted has the server's farewell (or EOF) waiting on its socket: a
        free poll sees it, a round trip confirms, and a dead one is replaced at once, so the
        first request after a database recovery does not fail on it."""
        deadline = time.monotonic() + wait
        while True:
            connection = await self._pool.getconn(max(0.001, deadline - time.monotonic()))
            if not _has_input(connection):
                return connection
            try:
                await psycopg_pool.AsyncConnectionPool.check_connection(connection)
            except psycopg.Error:
                await connection.close()
                await self._pool.putconn(connection)  # discarded; the pool opens a new one
                continue
            except BaseException:  # cancelled: give it back, unchecked
                await self._pool.putconn(connection)
                raise
            return connection

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Queries]:
        """A connection inside one transaction, committed when the block exits cleanly."""
        async with self.connect() as queries, queries.connection.transaction():
            yield queries

    @asynccontextmanager
    async def pipeline(self) -> AsyncIterator[Queries]:
        """One transaction whose statements go out without waiting for each other's answers
        (psycopg's pipeline mode): the server still runs them in order, each statement seeing
        what the ones before it locked and wrote, in about one round trip in all until a result
        is read, plus the commit's."""
        async with self.connect() as queries:
            connection = queries.connection
            async with connection.pipeline() as pipeline, connection.transaction():
                yield Queries(connection, pipeline)


def relaxed_pool(db: Database, *, max_size: int) -> psycopg_pool.AsyncConnectionPool[Any]:
    """A pool (unopened) to ``db``'s database whose commits do not wait for the disk
    (``synchronous_commit = off``): for the queue worker's own bookkeeping (fetching and
    finishing jobs), which a database crash can only roll back to a state the recovery retries
    (a job 'doing' again, or 'todo'); the ledger's writes stay on ``db``'s durable pool."""
    kwargs = dict(db.connection_kwargs)
    given = psycopg.conninfo.conninfo_to_dict(db.url).get("options")
    kwargs["options"] = " ".join(filter(None, [str(given or ""), "-c synchronous_commit=off"]))
    return psycopg_pool.AsyncConnectionPool(
        db.url,
        min_size=1,
        max_size=max_size,
        timeout=db.pool.timeout,
        open=False,
        kwargs=kwargs,
        configure=_autocommit,
        name="promptledger-queue",
    )


def _has_input(connection: psycopg.AsyncConnection[Any]) -> bool:
    """Whether an idle connection's socket has something to read (or is closed)."""
    if connection.closed:
        return True
    poller = select.poll()
    poller.register(connection.fileno(), select.POLLIN)
    return bool(poller.poll(0))


async def _autocommit(connection: psycopg.AsyncConnection[Any]) -> None:
    await connection.set_autocommit(True)


class translate_errors:
    """Turn psycopg and pool failures into PromptLedger errors."""

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object
    ) -> None:
        if exc is None or isinstance(exc, PromptLedgerError):
            return
        if _queue_error(exc) and isinstance(exc.__cause__, psycopg.Error):
            exc = exc.__cause__  # the queue's defer on our connection wraps psycopg's error
        if isinstance(exc, psycopg.errors.UniqueViolation):
            constraint = getattr(exc.diag, "constraint_name", None) or "unique"
            raise Conflict(
                f"The request conflicts with an existing resource ({constraint})."
            ) from exc
        if isinstance(
            exc, psycopg_pool.PoolTimeout | psycopg.OperationalError | psycopg.errors.AdminShutdown
        ):
            raise ServiceUnavailable("The database is unavailable; retry shortly.") from exc
        if (unmigrated := schema_missing(exc)) is not None:
            raise ServiceUnavailable(str(unmigrated)) from exc
        # A psycopg.DataError (a value PostgreSQL cannot hold) is not translated: request values
        # that PostgreSQL cannot store are refused at the edge (http/storable.py), so one
        # reaching a query is our own bug, a 500 whose cause the HTTP layer logs.


def _queue_error(exc: BaseException) -> bool:
    """Whether ``exc`` is procrastinate's wrapper of a database error. Not imported here: it
    would import procrastinate (and croniter), a tenth of a cold start, in every function; a
    process that never imported it cannot have raised it."""
    queue_errors = sys.modules.get("procrastinate.exceptions")
    return queue_errors is not None and isinstance(exc, queue_errors.ConnectorException)
