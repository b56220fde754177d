"""The in-process prompt and key caches stay correct across processes (LISTEN/NOTIFY)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator

import httpx
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from prompt_ledger.cache import CHANNEL, GroupCache, Listener, payload
from prompt_ledger.container import Container
from prompt_ledger.gateway import create_gateway
from prompt_ledger.settings import Settings
from tests.conftest import DEV_KEY, create_database, drop_database, with_database
from tests.waiting import eventually

PROJECT = "00000000-0000-0000-0000-000000000001"


async def listening(container: Container) -> None:
    async def ready() -> bool:
        return container.prompt_cache.enabled

    await eventually(ready, "the cache listener to connect")


@pytest.fixture
async def second(settings: Settings) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    """Another 'process': its own container, pool, caches and listener on the same database."""
    other = Container(settings)
    await other.open()
    transport = httpx.ASGITransport(app=create_gateway(other))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://second", headers={"X-API-Key": DEV_KEY}
    ) as http:
        yield other, http
    await other.aclose()


async def test_a_write_elsewhere_evicts_this_process_cache(
    client: httpx.AsyncClient,
    container: Container,
    second: tuple[Container, httpx.AsyncClient],
) -> None:
    other, other_client = second
    await listening(container)
    await listening(other)
    await client.put("/v1/prompts/p", json={"template_source": "one"})

    async def cached() -> bool:
        """Read until the other process keeps the answer: the creation's own notification may
        reach it after its first read, and evict (or refuse to store) what that read found."""
        got = await other_client.get("/v1/prompts/p")
        assert got.json()["version"]["template_source"] == "one"
        return other.prompt_cache.get(f"{PROJECT}:p", (None, None)) is not None

    await eventually(cached, "the other process to cache version 1")

    await client.put("/v1/prompts/p", json={"template_source": "two"})

    async def fresh() -> bool:
        got = await other_client.get("/v1/prompts/p")
        return bool(got.json()["version"]["template_source"] == "two")

    await eventually(fresh, "the other process to see version 2")


async def test_label_moves_are_seen_by_every_process(
    client: httpx.AsyncClient,
    container: Container,
    second: tuple[Container, httpx.AsyncClient],
) -> None:
    other, other_client = second
    await listening(other)
    await client.put("/v1/prompts/p", json={"template_source": "one"})
    await client.put("/v1/prompts/p", json={"template_source": "two"})
    await client.put("/v1/prompts/p/labels/production", json={"version": 1})
    production = await other_client.get("/v1/prompts/p", params={"label": "production"})
    assert production.json()["version"]["version_number"] == 1
    await client.put("/v1/prompts/p/labels/production", json={"version": 2})

    async def moved() -> bool:
        got = await other_client.get("/v1/prompts/p", params={"label": "production"})
        return bool(got.json()["version"]["version_number"] == 2)

    await eventually(moved, "the label move to reach the other process")


async def test_revoked_keys_stop_working_everywhere(
    client: httpx.AsyncClient,
    second: tuple[Container, httpx.AsyncClient],
) -> None:
    other, other_client = second
    await listening(other)
    created = (
        await client.post(
            "/v1/projects/00000000-0000-0000-0000-000000000001/keys",
            json={"name": "k", "scopes": ["prompts:read"]},
        )
    ).json()
    headers = {"X-API-Key": created["key"]}
    assert (await other_client.get("/v1/prompts", headers=headers)).status_code == 200  # cached
    await client.delete(
        f"/v1/projects/00000000-0000-0000-0000-000000000001/keys/{created['key_id']}"
    )

    async def refused() -> bool:
        return (await other_client.get("/v1/prompts", headers=headers)).status_code == 401

    await eventually(refused, "the revocation to reach the other process")


async def test_no_caching_while_the_listener_is_down(
    client: httpx.AsyncClient,
    second: tuple[Container, httpx.AsyncClient],
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Correctness first: a process whose LISTEN connection is gone cannot hear of writes, so it
    stops serving from its cache at once (not after the TTL, not after it reconnects)."""
    other, other_client = second
    await listening(other)
    await client.put("/v1/prompts/p", json={"template_source": "one"})
    await client.put("/v1/prompts/p", json={"template_source": "two"})
    await client.put("/v1/prompts/p/labels/production", json={"version": 1})

    async def cached() -> bool:  # (the notifications of the writes above may still arrive)
        got = await other_client.get("/v1/prompts/p", params={"label": "production"})
        assert got.json()["version"]["version_number"] == 1
        return other.prompt_cache.get(f"{PROJECT}:p", ("production", None)) is not None

    await eventually(cached, "the other process to cache the label")

    database = str(conninfo_to_dict(database_url)["dbname"])
    admin = await psycopg.AsyncConnection.connect(with_database(database_url, "postgres"))
    await admin.set_autocommit(True)
    try:
        # Keep the listeners from reconnecting (open connections stay), then cut them.
        await admin.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(database))
        )
        cut = await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND query LIKE 'LISTEN %%'",
            (database,),
        )
        assert len(await cut.fetchall()) == 2  # this process's listener and the other's
        caplog.set_level(logging.WARNING)

        async def noticed() -> bool:  # its warning: "cache listener disconnected ..."
            return any(
                "listener" in r.getMessage() and r.levelno >= logging.WARNING
                for r in caplog.records
            )

        await eventually(noticed, "the listeners to notice")
        await client.put("/v1/prompts/p/labels/production", json={"version": 2})
        # No notification can arrive, and the TTL (60 s) is far away: the move is seen at once.
        moved = await other_client.get("/v1/prompts/p", params={"label": "production"})
        assert moved.json()["version"]["version_number"] == 2
    finally:
        await admin.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(database))
        )
        await admin.close()
    await listening(other)  # and caching again once reconnected
    again = await other_client.get("/v1/prompts/p", params={"label": "production"})
    assert again.json()["version"]["version_number"] == 2


async def test_no_caching_when_the_ttl_is_zero(settings: Settings) -> None:
    """CACHE_TTL_SECONDS=0: no listener is started, and nothing is cached."""
    lonely = Container(settings.model_copy(update={"cache_ttl_seconds": 0}))
    await lonely.open()
    try:
        assert lonely.prompt_cache.enabled is False
        transport = httpx.ASGITransport(app=create_gateway(lonely))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://x", headers={"X-API-Key": DEV_KEY}
        ) as http:
            await http.put("/v1/prompts/p", json={"template_source": "a"})
            await http.get("/v1/prompts/p")
            assert (
                lonely.prompt_cache.get("00000000-0000-0000-0000-000000000001:p", (None, None))
                is None
            )
    finally:
        await lonely.aclose()


async def notify(database_url: str, *payloads: str) -> None:
    """NOTIFY the cache channel as a registry write does, one notification per payload, in
    order (PostgreSQL delivers one session's notifications in the order sent)."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for text in payloads:
            await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, text))


async def listeners_connected(database_url: str) -> int:
    database = str(conninfo_to_dict(database_url)["dbname"])
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        found = await conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND query LIKE 'LISTEN %%'",
            (database,),
        )
        row = await found.fetchone()
        return int(row[0]) if row else 0


async def test_a_notification_evicts_its_group_or_with_a_star_its_cache(database_url: str) -> None:
    """The Listener on its own, against real NOTIFYs: ``<cache>|<group>`` evicts that group of
    that cache only, ``<cache>|*`` the whole cache, an unknown cache name nothing. A last
    notification of a group never filled (its generation moves) marks that the ones before it
    were handled."""
    prompts: GroupCache[str, str, int] = GroupCache("prompts", 60)
    keys: GroupCache[str, str, int] = GroupCache("keys", 60)
    listener = Listener(database_url, [prompts, keys])
    assert (prompts.enabled, keys.enabled) == (False, False)  # until the LISTEN is confirmed
    listener.start()
    listener.start()  # a second start keeps the one listener

    async def ready() -> bool:
        return prompts.enabled and keys.enabled

    await eventually(ready, "the listener to connect")
    try:
        for group in ("a", "b"):
            prompts.put(group, "k", 1, prompts.generation(group))
            keys.put(group, "k", 2, keys.generation(group))

        async def send(*payloads: str) -> None:
            """NOTIFY the payloads, then wait until the last one (a ``keys`` marker) moved its
            group's generation: the ones before it were handled."""
            marker = payloads[-1].split("|", 1)[1]
            before = keys.generation(marker)
            await notify(database_url, *payloads)

            async def seen() -> bool:
                return keys.generation(marker) != before

            await eventually(seen, f"the notification {marker}")

        a, b = prompts.generation("a"), prompts.generation("b")
        await send(payload("prompts", "a"), "nosuch|*", "keys|mark-1")
        assert (prompts.get("a", "k"), prompts.get("b", "k")) == (None, 1)
        assert (prompts.generation("a") != a, prompts.generation("b") == b) == (True, True)
        assert (keys.get("a", "k"), keys.get("b", "k")) == (2, 2)

        # a group may hold the separator: the cache name is what comes before the first
        prompts.put("x|y", "k", 1, prompts.generation("x|y"))
        await send(payload("prompts", "x|y"), "keys|mark-x")
        assert prompts.get("x|y", "k") is None

        b = prompts.generation("b")
        await send("prompts|*", "keys|mark-2")
        assert prompts.get("b", "k") is None
        assert prompts.generation("b") != b  # a read in flight for it will not store
        assert keys.get("b", "k") == 2
        assert await listeners_connected(database_url) == 1
    finally:
        await listener.stop()
    # Stopped: both caches dropped what they held and are bypassed, and the LISTEN connection
    # is closed.
    assert (prompts.enabled, keys.enabled) == (False, False)
    prompts.enabled = keys.enabled = True
    assert (prompts.get("b", "k"), keys.get("a", "k")) == (None, None)

    async def closed() -> bool:
        return await listeners_connected(database_url) == 0

    await eventually(closed, "the LISTEN connection to close")
    listener.start()  # and it can be started again
    try:
        await eventually(ready, "the listener to connect again")
    finally:
        await listener.stop()


async def test_the_listener_retries_until_the_database_answers(
    server_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A listener that cannot connect keeps the caches bypassed and tries again (backing off)
    until the database answers, then switches them on."""
    name = f"pl_test_late_{uuid.uuid4().hex[:12]}"
    cache: GroupCache[str, str, int] = GroupCache("prompts", 60)
    listener = Listener(with_database(server_url, name), [cache])
    caplog.set_level(logging.WARNING, logger="prompt_ledger.cache")

    def failures() -> int:
        return sum("cache listener disconnected" in r.getMessage() for r in caplog.records)

    listener.start()
    try:

        async def failed_twice() -> bool:
            return failures() >= 2

        await eventually(failed_twice, "two failed connections")
        assert cache.enabled is False
        create_database(server_url, name)
        try:

            async def connected() -> bool:
                return cache.enabled

            await eventually(connected, "the listener to connect once the database exists")
        finally:
            await listener.stop()
    finally:
        drop_database(server_url, name)
