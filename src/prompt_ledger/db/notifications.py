"""PostgreSQL LISTEN: one dedicated autocommit connection (outside the pool, which hands its
connections back between queries) that yields the payloads of one channel's notifications.
The NOTIFY side is a named query (``notify_cache``) run inside the writing transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg import sql


@asynccontextmanager
async def listening(url: str, channel: str) -> AsyncIterator[AsyncIterator[str]]:
    """Connect, ``LISTEN channel``, and hand over the stream of payloads once the server has
    confirmed the LISTEN (so nothing committed after entering is missed). The stream ends by
    raising when the connection is lost (psycopg's ``OperationalError``)."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        await connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))

        async def payloads() -> AsyncIterator[str]:
            async for notify in connection.notifies():
                yield notify.payload

        yield payloads()
