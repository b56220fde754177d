"""Per-prompt running totals (schema/versions/0013) and 8-day totals (0014): exactly what the
ledger says at every hour and day, however the fold's batches fall (executions folded out of
order, late ones), the same after a rebuild or the migrations' backfills; the summary's top
prompts, ranked from them without reading every prompt, are the ranking of a direct aggregate
over the executions, per project."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest

from prompt_ledger.container import Container
from prompt_ledger.records import DEFAULT_PROJECT_ID
from tests.execution_fixtures import put_model, sql_rows

SUMMARY = "/v1/analytics/summary"
PROMPTS = 130  # more than a page of the ranking (services/analytics_ranking.py: top_prompts)

RUNNING = "SELECT * FROM prompt_running_totals ORDER BY project_id, prompt_id, hour"
TOTALS = "SELECT * FROM prompt_totals ORDER BY project_id, prompt_id"
EIGHT_DAYS = "SELECT * FROM prompt_eight_day_totals ORDER BY project_id, day, prompt_id"

# Each running total, as the ledger says: the prompt's finished executions before the end of
# that hour; and each hour in which a prompt ran has its row.
RUNNING_TRUTH = """
SELECT h.project_id, h.prompt_id, h.hour, count(*) AS executions,
       COALESCE(sum(e.cost_usd), 0) AS cost_usd
FROM (SELECT DISTINCT project_id, prompt_id, date_trunc('hour', created_at, 'UTC') AS hour
      FROM executions WHERE status IN ('succeeded', 'failed')) h
JOIN executions e ON e.project_id = h.project_id AND e.prompt_id = h.prompt_id
     AND e.status IN ('succeeded', 'failed') AND e.created_at < h.hour + interval '1 hour'
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""
TOTALS_TRUTH = """
SELECT project_id, prompt_id, count(*) AS executions, COALESCE(sum(cost_usd), 0) AS cost_usd
FROM executions WHERE status IN ('succeeded', 'failed') GROUP BY 1, 2 ORDER BY 1, 2
"""
# Each 8-day total, as the ledger says: the prompt's finished executions in the 8 days from the
# start of that UTC day; a row for each day in which the prompt ran and the 7 before.
EIGHT_DAYS_TRUTH = """
SELECT e.project_id, d.day, e.prompt_id, count(*) AS executions,
       COALESCE(sum(e.cost_usd), 0) AS cost_usd
FROM executions e
CROSS JOIN LATERAL generate_series(date_trunc('day', e.created_at, 'UTC') - interval '7 days',
                                   date_trunc('day', e.created_at, 'UTC'), interval '1 day') d(day)
WHERE e.status IN ('succeeded', 'failed') GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""


async def prompts_with_traffic(database_url: str, project_id: UUID | str, *, shift: int) -> None:
    """``PROMPTS`` prompts of one version each; prompt i ran (i * 7 + shift) % 23 times 10 to
    20 days ago and (PROMPTS - i + shift) % 11 times in the last 20 hours (so the busiest
    prompts of all time are not the busiest of a recent window; many ties), some failed, at
    random costs (some none)."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("SELECT setseed(%s)", (shift / 100,))
        await conn.execute(
            """
            WITH p AS (
                INSERT INTO prompts (prompt_id, project_id, name)
                SELECT gen_random_uuid(), %(project)s, 'p' || lpad(i::text, 3, '0')
                FROM generate_series(0, %(n)s - 1) AS i
                RETURNING prompt_id, name
            )
            INSERT INTO prompt_versions (version_id, prompt_id, version_number, template_source,
                                         checksum_hash, status)
            SELECT gen_random_uuid(), prompt_id, 1, 'x', md5(name), 'active' FROM p
            """,
            {"project": project_id, "n": PROMPTS},
        )
        await conn.execute(
            """
            INSERT INTO executions (project_id, prompt_id, version_id, model_id, execution_mode,
                                    status, resolved_by, latency_ms, cost_usd, created_at,
                                    attempts)
            SELECT p.project_id, p.prompt_id, v.version_id,
                   (SELECT model_id FROM models LIMIT 1), 'sync',
                   CASE WHEN random() < 0.1 THEN 'failed' ELSE 'succeeded' END, 'active',
                   (random() * 900)::int + 10,
                   CASE WHEN random() < 0.2 THEN NULL ELSE round((random() / 1000)::numeric, 8)
                   END,
                   CASE WHEN k.old THEN now() - interval '10 days' - random() * interval '10 days'
                        ELSE now() - random() * interval '20 hours' END, 1
            FROM prompts p JOIN prompt_versions v USING (prompt_id),
                 LATERAL (SELECT substring(p.name FROM 2)::int AS i) n,
                 LATERAL (SELECT true AS old, generate_series(1, (n.i * 7 + %(shift)s) %% 23)
                          UNION ALL
                          SELECT false, generate_series(1, (%(n)s - n.i + %(shift)s) %% 11)) k
            WHERE p.project_id = %(project)s
            """,
            {"project": project_id, "n": PROMPTS, "shift": shift},
        )


async def ranking(
    database_url: str, project_id: UUID | str, since: datetime, until: datetime, top: int
) -> tuple[list[tuple[str, int, Decimal]], list[tuple[str, int, Decimal]]]:
    """The window's top prompts by volume and by cost, from a direct aggregate: (name,
    executions, cost), ties as the service breaks them (names in code point order)."""
    rows = await sql_rows(
        database_url,
        """
        SELECT p.name, count(*) AS n, COALESCE(sum(e.cost_usd), 0) AS cost
        FROM executions e JOIN prompts p USING (prompt_id)
        WHERE e.project_id = %s AND e.status IN ('succeeded', 'failed')
          AND e.created_at >= %s AND e.created_at < %s
        GROUP BY p.name
        """,
        project_id,
        since,
        until,
    )
    found = [(r["name"], r["n"], r["cost"]) for r in rows]
    by_volume = sorted(found, key=lambda r: (-r[1], r[0]))[:top]
    by_cost = sorted(found, key=lambda r: (-r[2], -r[1], r[0]))[:top]
    return by_volume, by_cost


def answered(stats: list[dict[str, Any]]) -> list[tuple[str, int, Decimal]]:
    return [(s["prompt_name"], s["executions"], Decimal(s["cost_usd"])) for s in stats]


@pytest.fixture
async def other_project(client: httpx.AsyncClient) -> tuple[UUID, dict[str, str]]:
    """A second project, and the headers of an analytics:read key of it."""
    project = (await client.post("/v1/projects", json={"name": "other"})).json()
    created = await client.post(
        f"/v1/projects/{project['project_id']}/keys",
        json={"name": "reader", "scopes": ["analytics:read"]},
    )
    assert created.status_code == 201, created.text
    return UUID(project["project_id"]), {"X-API-Key": created.json()["key"]}


async def test_running_totals_are_the_ledgers_at_every_hour(
    client: httpx.AsyncClient,
    container: Container,
    database_url: str,
    other_project: tuple[UUID, dict[str, str]],
) -> None:
    await put_model(client)
    await prompts_with_traffic(database_url, DEFAULT_PROJECT_ID, shift=0)
    await prompts_with_traffic(database_url, other_project[0], shift=5)
    # small batches in execution id order: each batch's hours fall before and after those
    # already folded
    await container.analytics.fold_all(batch=97)
    assert await sql_rows(database_url, RUNNING) == await sql_rows(database_url, RUNNING_TRUTH)
    assert await sql_rows(database_url, TOTALS) == await sql_rows(database_url, TOTALS_TRUTH)
    eight_days = await sql_rows(database_url, EIGHT_DAYS)
    assert eight_days == await sql_rows(database_url, EIGHT_DAYS_TRUTH)

    # a late execution (finished now, created 15 days ago) moves every later running total
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(
            """
            INSERT INTO executions (project_id, prompt_id, version_id, model_id, execution_mode,
                                    status, resolved_by, cost_usd, created_at, attempts)
            SELECT p.project_id, p.prompt_id, v.version_id,
                   (SELECT model_id FROM models LIMIT 1), 'sync', 'succeeded', 'active',
                   0.5, now() - interval '15 days', 1
            FROM prompts p JOIN prompt_versions v USING (prompt_id)
            WHERE p.project_id = %s AND p.name IN ('p007', 'p100')
            """,
            (DEFAULT_PROJECT_ID,),
        )
    await container.analytics.fold_all()
    folded = await sql_rows(database_url, RUNNING)
    assert folded == await sql_rows(database_url, RUNNING_TRUTH)
    assert await sql_rows(database_url, TOTALS) == await sql_rows(database_url, TOTALS_TRUTH)
    folded_eight_days = await sql_rows(database_url, EIGHT_DAYS)
    assert folded_eight_days == await sql_rows(database_url, EIGHT_DAYS_TRUTH)
    assert folded_eight_days != eight_days  # the late executions' day and the 7 before

    await container.analytics.rebuild()
    assert await sql_rows(database_url, RUNNING) == folded
    assert await sql_rows(database_url, TOTALS) == await sql_rows(database_url, TOTALS_TRUTH)
    assert await sql_rows(database_url, EIGHT_DAYS) == folded_eight_days


@pytest.mark.parametrize(
    ("revision", "tables"),
    [
        ("0013_prompt_running_totals", ["prompt_running_totals", "prompt_totals"]),
        ("0014_prompt_eight_day_totals", ["prompt_eight_day_totals"]),
    ],
)
async def test_a_backfill_derives_what_the_fold_writes(
    client: httpx.AsyncClient,
    container: Container,
    database_url: str,
    revision: str,
    tables: list[str],
) -> None:
    await put_model(client)
    await prompts_with_traffic(database_url, DEFAULT_PROJECT_ID, shift=3)
    await container.analytics.fold_all()
    queries = [RUNNING, TOTALS, EIGHT_DAYS]
    folded = [await sql_rows(database_url, query) for query in queries]
    assert all(folded)
    path = Path(__file__).parents[2] / "schema" / "versions" / f"{revision}.py"
    spec = importlib.util.spec_from_file_location(revision, path)
    assert spec is not None
    assert spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for table in tables:
            await conn.execute(f"DELETE FROM {table}")
        for statement in migration.BACKFILL:
            await conn.execute(statement)
    assert [await sql_rows(database_url, query) for query in queries] == folded


@pytest.mark.parametrize(
    ("window", "top"),
    [
        ("24h", 5),
        ("3d", 2),
        ("7d", 3),
        ("7d", 10),
        ("8d", 6),
        ("30d", 5),
        ("30d", 1),
        ("16d-9d", 4),
        ("13d-6d", 7),
        ("400d", 12),
    ],
)
async def test_top_prompts_are_a_direct_rankings_per_project(
    client: httpx.AsyncClient,
    database_url: str,
    other_project: tuple[UUID, dict[str, str]],
    window: str,
    top: int,
) -> None:
    await put_model(client)
    other_id, other_reader = other_project
    await prompts_with_traffic(database_url, DEFAULT_PROJECT_ID, shift=0)
    await prompts_with_traffic(database_url, other_id, shift=5)  # the same names, other counts
    if "-" in window:
        now = datetime.now(UTC)
        older, newer = (int(part[:-1]) for part in window.split("-"))
        params: dict[str, Any] = {
            "since": (now - timedelta(days=older)).isoformat(),
            "until": (now - timedelta(days=newer)).isoformat(),
        }
    else:
        params = {"window": window}
    readers: list[tuple[UUID | str, dict[str, str]]] = [
        (DEFAULT_PROJECT_ID, {}),
        (other_id, other_reader),
    ]
    for project_id, headers in readers:
        response = await client.get(SUMMARY, params={**params, "top": top}, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        since, until = (datetime.fromisoformat(body["window"][k]) for k in ("since", "until"))
        by_volume, by_cost = await ranking(database_url, project_id, since, until, top)
        assert answered(body["top_prompts_by_volume"]) == by_volume
        assert answered(body["top_prompts_by_cost"]) == by_cost
        assert len(by_volume) == top


async def test_a_weeks_top_prompts_are_read_from_its_first_days_eight_day_totals(
    client: httpx.AsyncClient, database_url: str
) -> None:
    """A week starting at noon is ranked from the 8-day totals of its first day: prompts busy
    that morning (before the window) lead the list but not the answer, a prompt busy only that
    afternoon (the window's first hours) is met on the first page, and the reading stops there
    (30 of the 50 quiet prompts never read): the answer is the direct ranking's."""
    await put_model(client)
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=20)
    since, until = day + timedelta(hours=12), day + timedelta(days=7, hours=12)
    # (name, executions, hours after the day's start): the window is [12 h, 180 h)
    traffic = [
        ("morning", 30, 2),  # before the window, in its list: the list's first
        ("afternoon", 20, 13),  # the window's first hours (a list of the next day misses it)
        *((f"late{i}", 10 + i, 170) for i in range(3)),  # the window's last day
        *((f"quiet{i:02d}", 5, 100) for i in range(50)),
    ]
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        for name, executions, hours in traffic:
            await conn.execute(
                """
                WITH p AS (
                    INSERT INTO prompts (prompt_id, project_id, name)
                    VALUES (gen_random_uuid(), %(project)s, %(name)s) RETURNING prompt_id
                ), v AS (
                    INSERT INTO prompt_versions (version_id, prompt_id, version_number,
                                                 template_source, checksum_hash, status)
                    SELECT gen_random_uuid(), prompt_id, 1, 'x', md5(%(name)s), 'active' FROM p
                    RETURNING prompt_id, version_id
                )
                INSERT INTO executions (project_id, prompt_id, version_id, model_id,
                                        execution_mode, status, resolved_by, latency_ms,
                                        cost_usd, created_at, attempts)
                SELECT %(project)s, v.prompt_id, v.version_id,
                       (SELECT model_id FROM models LIMIT 1), 'sync', 'succeeded', 'active',
                       100, 0.001, %(at)s, 1
                FROM v CROSS JOIN generate_series(1, %(n)s)
                """,
                {
                    "project": DEFAULT_PROJECT_ID,
                    "name": name,
                    "n": executions,
                    "at": day + timedelta(hours=hours),
                },
            )
    params: dict[str, str | int] = {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "top": 3,
    }
    response = await client.get(SUMMARY, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    by_volume, by_cost = await ranking(database_url, DEFAULT_PROJECT_ID, since, until, 3)
    assert answered(body["top_prompts_by_volume"]) == by_volume
    assert answered(body["top_prompts_by_cost"]) == by_cost
    assert [name for name, _, _ in by_volume] == ["afternoon", "late2", "late1"]
