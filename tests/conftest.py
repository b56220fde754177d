"""Test fixtures: a real PostgreSQL, a migrated template database, and one fresh database per
test cloned from it (CREATE DATABASE ... TEMPLATE is fast).

The server is the one DATABASE_URL points at, or else an embedded PostgreSQL started for the
session (the `local` extra), so `make test` works on a machine with no database at all."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
from psycopg import sql

from prompt_ledger import migrate
from prompt_ledger.container import Container
from prompt_ledger.gateway import create_gateway
from prompt_ledger.settings import DEFAULT_API_KEY, Settings, libpq_url

DEV_KEY = DEFAULT_API_KEY

# The CLI's text output must not depend on the terminal the suite runs in: pytest-xdist's workers
# see COLUMNS=80, and the CLI's console takes a width given at import time as fixed. A test that
# wants a width sets COLUMNS itself (CliRunner's env).
for _variable in ("COLUMNS", "LINES"):
    os.environ.pop(_variable, None)


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at another database."""
    parts = urlsplit(libpq_url(url))
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin(url: str) -> psycopg.Connection[tuple[object, ...]]:
    """A server that accepts but never answers fails the fixture instead of hanging it; so does
    a DROP DATABASE that waits on a lock (FORCE ends the sessions, not other DDL)."""
    return psycopg.connect(
        with_database(url, "postgres"),
        autocommit=True,
        connect_timeout=30,
        options="-c lock_timeout=60s",
    )


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    with _admin(server_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        if template:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(template)
                )
            )
        else:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    with _admin(server_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    given = os.environ.get("DATABASE_URL")
    if given:
        yield libpq_url(given)
        return
    from prompt_ledger.embedded import EmbeddedPostgres

    data = Path(tempfile.mkdtemp(prefix="pl-test-pg-")) / "pgdata"
    server = EmbeddedPostgres(data, delete_on_exit=True)
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def template_db(server_url: str) -> Iterator[str]:
    shared = os.environ.get("PROMPTLEDGER_TEST_TEMPLATE_DB")
    if shared:  # `make mutate`: one migrated template for every mutant's test session
        yield shared
        return
    name = f"pl_template_{os.getpid()}"
    url = create_database(server_url, name)
    migrate.upgrade(url)
    yield name
    drop_database(server_url, name)


@pytest.fixture
def database_url(server_url: str, template_db: str) -> Iterator[str]:
    name = f"pl_test_{uuid.uuid4().hex[:12]}"
    url = create_database(server_url, name, template=template_db)
    yield url
    drop_database(server_url, name)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,
        database_url=database_url,
        api_key=DEV_KEY,
        environment="test",
    )


@pytest.fixture
async def container(settings: Settings) -> AsyncIterator[Container]:
    app = Container(settings)
    await app.open()
    yield app
    await app.aclose()


@pytest.fixture
async def client(container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway, in process, authenticated with the bootstrap (dev) key."""
    transport = httpx.ASGITransport(app=create_gateway(container))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"X-API-Key": DEV_KEY}
    ) as http:
        yield http


@pytest.fixture
async def other_project_client(client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A client holding a non-admin key of a second project."""
    project = (await client.post("/v1/projects", json={"name": "other"})).json()
    created = await client.post(
        f"/v1/projects/{project['project_id']}/keys",
        json={
            "name": "other-key",
            "scopes": ["prompts:read", "prompts:write", "labels:promote", "execute"],
        },
    )
    assert created.status_code == 201, created.text
    transport = client._transport  # the same in-process gateway
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        headers={"X-API-Key": created.json()["key"]},
    ) as http:
        yield http
