"""A window's latency percentiles are exactly ``histogram.percentiles`` of the histogram of the
executions in it, though groups of several rollup rows are merged as sums of packed histograms
(schema/versions/0015); the fold keeps the packed histogram equal to the sparse one, and the
migration derives the same from the sparse one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from prompt_ledger import histogram
from prompt_ledger.container import Container
from prompt_ledger.services.analytics import QUANTILES
from tests.analytics_data import load_migration, seed_two_prompts
from tests.execution_fixtures import sql_rows

SLOTS = """
SELECT analytics_slot(e.latency_ms) AS slot, count(*) AS n
FROM executions e JOIN prompts p USING (prompt_id)
WHERE e.status IN ('succeeded', 'failed') AND e.latency_ms IS NOT NULL
  AND e.created_at >= %s AND e.created_at < %s
"""


@pytest.fixture
async def seeded(client: httpx.AsyncClient, database_url: str) -> None:
    await seed_two_prompts(client, database_url, summarize=(2000, 0.75), classify=(700, 0.125))


async def expected(database_url: str, window: dict[str, str], where: str = "", *args: Any) -> Any:
    """histogram.percentiles of the window's executions' histogram (of those ``where`` keeps)."""
    rows = await sql_rows(
        database_url, SLOTS + where + " GROUP BY 1", window["since"], window["until"], *args
    )
    return histogram.percentiles({r["slot"]: r["n"] for r in rows}, QUANTILES)


def percentiles(stats: dict[str, Any]) -> list[float | None]:
    return [stats[f"latency_{q}_ms"] for q in ("p50", "p95", "p99")]


def windows() -> Iterator[dict[str, str]]:
    now = datetime.now(UTC)
    for back, length in ((30, 30), (13.3, 11.1), (6.9, 5.05), (2.2, 1.3), (19.7, 0.9)):
        since = now - timedelta(days=back)
        yield {"since": since.isoformat(), "until": (since + timedelta(days=length)).isoformat()}


async def test_summary_percentiles_are_those_of_the_windows_histogram(
    client: httpx.AsyncClient, database_url: str, seeded: None
) -> None:
    for asked in windows():
        body = (await client.get("/v1/analytics/summary", params=asked)).json()
        window = body["window"]
        assert percentiles(body["totals"]) == await expected(database_url, window)
        for stats in body["by_model"]:
            where = " AND e.model_id = (SELECT model_id FROM models WHERE model_name = %s)"
            assert percentiles(stats) == await expected(
                database_url, window, where, stats["model_name"]
            )
        assert body["top_prompts_by_volume"]
        for stats in body["top_prompts_by_volume"]:
            assert percentiles(stats) == await expected(
                database_url, window, " AND p.name = %s", stats["prompt_name"]
            )


async def test_a_prompts_percentiles_are_those_of_the_windows_histogram(
    client: httpx.AsyncClient, database_url: str, seeded: None
) -> None:
    only = " AND p.name = 'summarize'"
    for asked in windows():
        body = (await client.get("/v1/analytics/prompts/summarize", params=asked)).json()
        window = body["window"]
        assert percentiles(body["totals"]) == await expected(database_url, window, only)
        for stats in body["by_version"]:
            where = only + " AND e.version_id = %s"
            assert percentiles(stats) == await expected(
                database_url, window, where, stats["version_id"]
            )
        for stats in body["by_label"]:
            where = only + " AND analytics_label(e.resolved_by) = %s"
            assert percentiles(stats) == await expected(
                database_url, window, where, stats["label"] or ""
            )
        step = timedelta(hours=1) if body["interval"] == "hour" else timedelta(days=1)
        for point in body["series"][:2] + body["series"][-2:]:  # the edges: several rows a point
            start = datetime.fromisoformat(point["start"])
            bucket = {
                "since": max(start, datetime.fromisoformat(window["since"])).isoformat(),
                "until": min(start + step, datetime.fromisoformat(window["until"])).isoformat(),
            }
            assert percentiles(point) == await expected(database_url, bucket, only)


PACKED = (
    "SELECT latency_slots, latency_counts, latency_packed::text AS packed FROM execution_rollups"
)


async def test_the_fold_keeps_the_packed_histogram_and_0015_derives_it(
    container: Container, database_url: str, seeded: None
) -> None:
    """Folded in small batches (rows merged by the fold's ON CONFLICT), every rollup row's packed
    histogram is its sparse one; the migration's backfill derives the same values."""
    await container.analytics.fold_all(batch=300)
    rows = await sql_rows(database_url, PACKED)
    assert len(rows) > 1000
    for row in rows:
        slots, counts = histogram.unpacked(row["packed"])
        assert [(s, n) for s, n in zip(slots, counts, strict=True) if n] == list(
            zip(row["latency_slots"], row["latency_counts"], strict=True)
        )
    everything = "SELECT * FROM execution_rollups ORDER BY 1, 2, 3, 4, 5, 6, 7, 8"
    folded = await sql_rows(database_url, everything)
    migration = load_migration("0015_packed_latency_histograms.py")
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("UPDATE execution_rollups SET latency_packed = 0")
        await conn.execute(migration.BACKFILL)
    assert await sql_rows(database_url, everything) == folded
