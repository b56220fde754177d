"""``promptledger migrate``, the release / pre-deploy step of every platform, run as a platform
runs it (a subprocess): the schema, then the model catalogue (never a model a user changed), then
in production without ``API_KEY`` the operator key, printed once. And ``promptledger
operator-key``."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import psycopg
import pytest

from prompt_ledger.container import Container
from prompt_ledger.deploy import MIGRATE
from prompt_ledger.gateway import create_gateway
from prompt_ledger.services.catalog import CURATED_MODELS
from prompt_ledger.settings import DEFAULT_API_KEY, Settings
from tests.conftest import DEV_KEY, create_database, drop_database
from tests.processes import KEY, base_environment, run_once

CURATED = len(CURATED_MODELS)


@pytest.fixture
def empty_url(server_url: str) -> Iterator[str]:
    name = f"pl_release_{uuid.uuid4().hex[:12]}"
    yield create_database(server_url, name)
    drop_database(server_url, name)


def promptledger(url: str, *args: str, **env: str) -> tuple[int, str]:
    result = run_once(["promptledger", *args], base_environment(DATABASE_URL=url, **env))
    return result.returncode, result.stdout + result.stderr


def migrate(url: str, *args: str, **env: str) -> str:
    code, out = promptledger(url, *MIGRATE.command[1:], *args, **env)
    assert code == 0, out
    return out


@asynccontextmanager
async def api(
    url: str, api_key: str | None = None, environment: str = "production"
) -> AsyncIterator[httpx.AsyncClient]:
    """A process of this database (the gateway, in process)."""
    settings = Settings(_env_file=None, database_url=url, environment=environment, api_key=api_key)
    container = Container(settings)
    await container.open()
    transport = httpx.ASGITransport(app=create_gateway(container))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http
    finally:
        await container.aclose()


def test_migrate_builds_an_empty_database_with_its_catalogue_and_is_idempotent(
    empty_url: str,
) -> None:
    first = migrate(empty_url, ENVIRONMENT="test")
    assert f"Models: {CURATED} curated ({CURATED} added, 0 updated)" in first
    second = migrate(empty_url, ENVIRONMENT="test")
    assert f"Models: {CURATED} curated (0 added, 0 updated)" in second
    assert KEY.search(first + second) is None  # outside production: the development key
    with psycopg.connect(empty_url) as conn:
        version = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        jobs = conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone()
        sources = conn.execute("SELECT source, count(*) FROM models GROUP BY source").fetchall()
    assert version is not None
    assert jobs == ("procrastinate_jobs",)
    assert sources == [("catalog", CURATED)]


async def test_a_user_price_survives_migrate_and_the_catalogue_follows_its_list(
    empty_url: str,
) -> None:
    migrate(empty_url, API_KEY=DEV_KEY, ENVIRONMENT="test")
    async with api(empty_url, DEV_KEY, "test") as http:
        changed = await http.put(
            "/v1/models/openai/gpt-4o-mini",
            headers={"X-API-Key": DEV_KEY},
            json={"input_price_per_mtok": 9, "output_price_per_mtok": 19, "max_tokens": 1000},
        )
    assert changed.status_code == 200, changed.text
    assert changed.json()["source"] == "user"
    with psycopg.connect(empty_url) as conn:
        # A curated model this database lacks (the list gained it), a catalogue price gone stale.
        conn.execute("DELETE FROM models WHERE model_name = 'gpt-4.1-nano'")
        conn.execute("UPDATE models SET input_price_per_mtok = 99 WHERE model_name = 'gpt-4o'")
    report = json.loads(migrate(empty_url, "--json", API_KEY=DEV_KEY, ENVIRONMENT="test"))
    assert report["models"] == {"curated": CURATED, "added": 1, "updated": 1}
    async with api(empty_url, DEV_KEY, "test") as http:
        listed = await http.get(
            "/v1/models", params={"provider": "openai"}, headers={"X-API-Key": DEV_KEY}
        )
    models = {m["model_name"]: m for m in listed.json()["items"]}
    mine = models["gpt-4o-mini"]
    assert (mine["input_price_per_mtok"], mine["output_price_per_mtok"]) == (
        "9.000000",
        "19.000000",
    )
    assert (mine["max_tokens"], mine["source"]) == (1000, "user")
    assert models["gpt-4.1-nano"]["source"] == "catalog"
    assert models["gpt-4o"]["input_price_per_mtok"] == "2.500000"


async def status(http: httpx.AsyncClient, key: str) -> int:
    return (await http.get("/v1/prompts", headers={"X-API-Key": key})).status_code


async def test_production_without_api_key_gets_an_operator_key_printed_once(
    empty_url: str,
) -> None:
    first = migrate(empty_url, ENVIRONMENT="production")
    keys = KEY.findall(first)
    assert len(keys) == 1, first
    key = keys[0]
    assert "OPERATOR KEY" in first
    assert "Shown once" in first
    second = migrate(empty_url, ENVIRONMENT="production")
    assert KEY.search(second) is None, second  # never printed again
    assert f"Operator key: stored ({key[:10]}..." in second

    async with api(empty_url) as http:  # a process without API_KEY: the stored key
        assert await status(http, key) == 200
        assert await status(http, "pl_" + "x" * 43) == 401
    async with api(empty_url, api_key="set-on-this-service") as http:  # API_KEY wins
        assert await status(http, key) == 401
        assert await status(http, "set-on-this-service") == 200

    code, shown = promptledger(empty_url, "operator-key", "show", ENVIRONMENT="production")
    assert code == 0, shown
    assert key[:10] in shown
    assert key not in shown


async def test_rotate_prints_a_new_operator_key_and_retires_the_old_one_everywhere(
    empty_url: str,
) -> None:
    (old,) = KEY.findall(migrate(empty_url, ENVIRONMENT="production"))
    async with api(empty_url) as http:
        assert await status(http, old) == 200  # now cached in this process
        code, out = await asyncio.to_thread(
            promptledger, empty_url, "operator-key", "rotate", ENVIRONMENT="production"
        )
        assert code == 0, out
        (new,) = KEY.findall(out)
        assert new != old
        deadline = time.monotonic() + 30
        while await status(http, old) != 401:  # evicted through LISTEN/NOTIFY
            assert time.monotonic() < deadline, "the old operator key still works"
            await asyncio.sleep(0.05)
        assert await status(http, new) == 200


def test_rotate_refuses_where_api_key_is_the_operator_key(empty_url: str) -> None:
    migrate(empty_url, ENVIRONMENT="production", API_KEY="a-strong-key")
    code, out = promptledger(
        empty_url, "operator-key", "rotate", ENVIRONMENT="production", API_KEY="a-strong-key"
    )
    assert code == 2
    assert "API_KEY is set here" in out
    assert KEY.search(out) is None


def test_the_development_key_is_still_refused_in_production(empty_url: str) -> None:
    code, out = promptledger(
        empty_url, "migrate", ENVIRONMENT="production", API_KEY=DEFAULT_API_KEY
    )
    assert code != 0
    assert "default development key" in out
