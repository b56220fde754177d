"""Analytics from rollups: the trigger on the finishing write keeps them, the answers match what
the ledger's rows say exactly (counters) or within 5 % (percentiles), over any window; the
rebuild recomputes the same rows; projects never see each other's; the scope guards it."""

from __future__ import annotations

import asyncio
import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import psycopg
import pytest

from prompt_ledger import histogram
from prompt_ledger.container import Container
from tests.analytics_data import load_migration, seed_two_prompts
from tests.execution_fixtures import gateway, put_model, put_prompt, sql_rows
from tests.live_gateway import demo_settings

SUMMARY = "/v1/analytics/summary"


EXACT = """
SELECT count(*) AS executions,
       count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       COALESCE(sum(prompt_tokens), 0) AS prompt_tokens,
       COALESCE(sum(response_tokens), 0) AS response_tokens,
       COALESCE(sum(cost_usd), 0) AS cost_usd,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY latency_ms) AS p50,
       percentile_disc(0.95) WITHIN GROUP (ORDER BY latency_ms) AS p95,
       percentile_disc(0.99) WITHIN GROUP (ORDER BY latency_ms) AS p99
FROM executions e JOIN prompts p USING (prompt_id)
WHERE e.status IN ('succeeded', 'failed') AND e.created_at >= %s AND e.created_at < %s
"""


async def exact(database_url: str, window: dict[str, str], where: str = "", *args: Any) -> Any:
    [row] = await sql_rows(database_url, EXACT + where, window["since"], window["until"], *args)
    return row


def assert_matches(stats: dict[str, Any], row: dict[str, Any]) -> None:
    """Counters exactly; percentiles within 5 % of the exact nearest-rank values."""
    for field in ("executions", "succeeded", "failed", "prompt_tokens", "response_tokens"):
        assert stats[field] == row[field], field
    assert Decimal(stats["cost_usd"]) == row["cost_usd"]
    assert stats["total_tokens"] == row["prompt_tokens"] + row["response_tokens"]
    for q in ("p50", "p95", "p99"):
        estimate, truth = stats[f"latency_{q}_ms"], row[q]
        assert estimate == pytest.approx(truth, rel=0.05), (q, estimate, truth)


@pytest.fixture
async def seeded(client: httpx.AsyncClient, database_url: str) -> None:
    await seed_two_prompts(client, database_url, summarize=(3000, 0.25), classify=(1000, 0.5))


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"window": "24h"},
        {"window": "30d"},
        {"window": "36h", "interval": "hour"},
        {"since": "NOW-25d"},
        {"since": "NOW-13d-5h-17m", "until": "NOW-2d-3h-41m"},
    ],
)
async def test_summary_matches_the_ledger(
    client: httpx.AsyncClient, database_url: str, seeded: None, params: dict[str, str]
) -> None:
    params = {key: _relative(value) for key, value in params.items()}
    response = await client.get(SUMMARY, params={**params, "top": 5})
    assert response.status_code == 200, response.text
    body = response.json()
    window = body["window"]
    assert _at_hour(window["since"])
    assert _at_hour(window["until"])
    assert_matches(body["totals"], await exact(database_url, window))
    assert body["totals"]["executions"] > 0 or params.get("window") == "24h"

    by_model = {m["model_name"]: m for m in body["by_model"]}
    assert set(by_model) <= {"gpt-4o-mini", "claude-3-5-haiku"}
    for name, stats in by_model.items():
        where = " AND e.model_id = (SELECT model_id FROM models WHERE model_name = %s)"
        assert_matches(stats, await exact(database_url, window, where, name))
    volume = body["top_prompts_by_volume"]
    assert [p["prompt_name"] for p in volume] == ["summarize", "classify"][: len(volume)]
    for stats in volume:
        assert_matches(
            stats, await exact(database_url, window, " AND p.name = %s", stats["prompt_name"])
        )
    costs = [Decimal(p["cost_usd"]) for p in body["top_prompts_by_cost"]]
    assert costs == sorted(costs, reverse=True)


@pytest.mark.parametrize(
    "params", [{}, {"window": "48h"}, {"window": "20d", "interval": "hour"}, {"window": "400d"}]
)
async def test_prompt_analytics_match_the_ledger(
    client: httpx.AsyncClient, database_url: str, seeded: None, params: dict[str, str]
) -> None:
    response = await client.get("/v1/analytics/prompts/summarize", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    window, only = body["window"], " AND p.name = 'summarize'"
    assert body["prompt_name"] == "summarize"
    assert body["interval"] == params.get(
        "interval", "hour" if params.get("window") == "48h" else "day"
    )
    assert_matches(body["totals"], await exact(database_url, window, only))

    assert [v["version_number"] for v in body["by_version"]] == [3, 2, 1]
    for stats in body["by_version"]:
        where = only + " AND e.version_id = %s"
        assert_matches(stats, await exact(database_url, window, where, stats["version_id"]))
    labels = {s["label"]: s for s in body["by_label"]}
    assert set(labels) == {"production", "staging", None}
    for label, stats in labels.items():
        where = only + " AND analytics_label(e.resolved_by) = %s"
        assert_matches(stats, await exact(database_url, window, where, label or ""))

    series = body["series"]
    step = timedelta(hours=1) if body["interval"] == "hour" else timedelta(days=1)
    starts = [datetime.fromisoformat(p["start"]) for p in series]
    assert all(b - a == step for a, b in itertools.pairwise(starts))
    assert starts[0] <= datetime.fromisoformat(window["since"]) < starts[0] + step
    assert starts[-1] < datetime.fromisoformat(window["until"]) <= starts[-1] + step
    assert sum(p["executions"] for p in series) == body["totals"]["executions"]
    for point in series[-3:]:
        start = datetime.fromisoformat(point["start"])
        bucket = {
            "since": max(start, datetime.fromisoformat(window["since"])).isoformat(),
            "until": min(start + step, datetime.fromisoformat(window["until"])).isoformat(),
        }
        assert_matches(point, await exact(database_url, bucket, only))


async def test_folds_and_rebuild_agree(
    container: Container, database_url: str, seeded: None
) -> None:
    """Folding pending executions in small batches (the worker's task) writes the same rollups
    as one rebuild from the ledger."""
    pending = "SELECT count(*) AS n FROM analytics_pending"
    assert (await sql_rows(database_url, pending))[0]["n"] == 4000  # every finished one
    await container.analytics.fold_all(batch=700)
    assert (await sql_rows(database_url, pending))[0]["n"] == 0
    everything = "SELECT * FROM execution_rollups ORDER BY 1, 2, 3, 4, 5, 6, 7, 8"
    folded = await sql_rows(database_url, everything)
    assert {r["level"] for r in folded} == {
        "project",
        "model",
        "prompt",
        "version",
        "label",
        "prompt_model",
    }
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("DELETE FROM execution_rollups WHERE grain = 'day'")
    written = await container.analytics.rebuild()
    rebuilt = await sql_rows(database_url, everything)
    assert written == len(rebuilt) == len(folded)
    assert rebuilt == folded


async def test_an_execution_enqueued_twice_is_folded_once(
    container: Container, database_url: str, seeded: None
) -> None:
    """The queue has no key (schema/versions/0016): an execution finished again before a fold
    (a crashed server's row taken back to running, then finished) is in it twice, and is counted
    once, also when a batch's limit falls between its two entries."""
    pending = "SELECT count(*) AS n FROM analytics_pending"
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO analytics_pending SELECT execution_id, project_id FROM analytics_pending"
        )
    assert (await sql_rows(database_url, pending))[0]["n"] == 8000
    await container.analytics.fold_all(batch=701)
    assert (await sql_rows(database_url, pending))[0]["n"] == 0
    everything = "SELECT * FROM execution_rollups ORDER BY 1, 2, 3, 4, 5, 6, 7, 8"
    folded = await sql_rows(database_url, everything)
    await container.analytics.rebuild()  # from the ledger: each execution once
    assert await sql_rows(database_url, everything) == folded


async def test_the_0009_backfill_derives_what_the_fold_writes(
    container: Container, database_url: str, seeded: None
) -> None:
    """The migration that added the 4h, 4d and 16d grains derives their rows from the hour rows:
    the same rows as the fold writes from the executions (their packed histograms derived by
    the later 0015, as a database migrated through both gets them)."""
    await container.analytics.fold_all()
    everything = "SELECT * FROM execution_rollups ORDER BY 1, 2, 3, 4, 5, 6, 7, 8"
    folded = await sql_rows(database_url, everything)
    assert {r["grain"] for r in folded} == {"hour", "4h", "day", "4d", "16d"}
    grains = load_migration("0009_rollup_grains_span_services.py")
    packed = load_migration("0015_packed_latency_histograms.py")
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("DELETE FROM execution_rollups WHERE grain IN ('4h', '4d', '16d')")
        for statement in grains.backfill_statements():
            await conn.execute(statement)
        await conn.execute(packed.BACKFILL)
    assert await sql_rows(database_url, everything) == folded


async def test_the_sql_bucketing_is_the_python_one(database_url: str) -> None:
    latencies = [0, 1, 2, 12, 13, 100, 1079, 1080, 1081, 59_999, 10**6, 2**31 - 1]
    latencies += [int(1.08**k) + d for k in range(0, 200, 7) for d in (-1, 0, 1)]
    rows = await sql_rows(
        database_url,
        "SELECT ms, analytics_slot(ms) AS slot FROM unnest(%s::int[]) AS ms",
        latencies,
    )
    assert {r["ms"]: r["slot"] for r in rows} == {ms: histogram.slot(ms) for ms in latencies}


async def test_a_run_through_the_api_is_counted_at_once(database_url: str) -> None:
    """Executions finished by the service (here the demo provider) are in the next answer."""
    async with gateway(demo_settings(database_url)) as (_, api):
        await put_model(api)
        await put_prompt(api, "hello", template_source="Hello {{name}}")
        await api.put("/v1/prompts/hello/labels/production", json={"version": 1})
        ran = []
        for environment in ("production", "production", None):
            body = {"prompt_name": "hello", "variables": {"name": "Ada"}}
            response = await api.post(
                "/v1/executions:run", json={**body, "environment": environment}
            )
            assert response.status_code == 200, response.text
            ran.append(response.json())
        response = await api.get("/v1/analytics/prompts/hello", params={"window": "1h"})
    body = response.json()
    assert body["totals"]["executions"] == 3
    assert body["totals"]["success_rate"] == 1.0
    assert body["totals"]["total_tokens"] == sum(
        r["prompt_tokens"] + r["response_tokens"] for r in ran
    )
    assert Decimal(body["totals"]["cost_usd"]) == sum(Decimal(r["cost_usd"] or 0) for r in ran)
    assert {s["label"]: s["executions"] for s in body["by_label"]} == {"production": 2, None: 1}
    assert [p["executions"] for p in body["series"]] == [3]
    latencies = sorted(r["latency_ms"] for r in ran)
    assert body["totals"]["latency_p50_ms"] == pytest.approx(latencies[1], rel=0.05, abs=0.5)


async def test_projects_see_only_their_own(
    client: httpx.AsyncClient, other_project_client: httpx.AsyncClient, seeded: None
) -> None:
    # the other project's key has no analytics:read: forbidden, naming the scope
    refused = await other_project_client.get(SUMMARY)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["required_scope"] == "analytics:read"

    project = (await client.get("/v1/projects")).json()["items"]
    other = next(p for p in project if p["name"] == "other")
    created = await client.post(
        f"/v1/projects/{other['project_id']}/keys",
        json={"name": "reader", "scopes": ["analytics:read"]},
    )
    reader = {"X-API-Key": created.json()["key"]}
    mine = (await client.get(SUMMARY)).json()
    theirs = await client.get(SUMMARY, headers=reader)
    assert theirs.status_code == 200
    assert mine["totals"]["executions"] > 0
    assert theirs.json()["totals"]["executions"] == 0
    assert theirs.json()["top_prompts_by_volume"] == []
    missing = await client.get("/v1/analytics/prompts/summarize", headers=reader)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "Prompt 'summarize' not found."


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"window": "7d", "since": "2026-01-01T00:00:00Z"}, None),
        ({"window": "0d"}, "window"),
        ({"window": "401d"}, "window"),
        ({"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "since"),
        ({"window": "40d", "interval": "hour"}, "interval"),
        ({"interval": "minute"}, "interval"),
        ({"top": "0"}, "top"),
        ({"since": "yesterday"}, "since"),
        ({"until": "0001-01-01T00:30:00Z"}, "until"),
        ({"since": "9999-12-31T23:30:00Z", "until": "9999-12-31T23:45:00Z"}, "since"),
    ],
)
async def test_bad_windows_are_one_problem(
    client: httpx.AsyncClient, params: dict[str, str], field: str | None
) -> None:
    for path in (SUMMARY, "/v1/analytics/prompts/nothing"):
        response = await client.get(path, params=params)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        if field is not None:
            assert [e["loc"][-1] for e in response.json()["errors"]] == [field]


def _relative(value: str) -> str:
    """``NOW-13d-5h-17m`` -> that moment as RFC 3339 (other values unchanged)."""
    if not value.startswith("NOW"):
        return value
    moment = datetime.now().astimezone()
    for part in value.split("-")[1:]:
        amount, unit = int(part[:-1]), part[-1]
        moment -= timedelta(**{{"d": "days", "h": "hours", "m": "minutes"}[unit]: amount})
    return moment.isoformat()


def _at_hour(text: str) -> bool:
    moment = datetime.fromisoformat(text)
    return (moment.minute, moment.second, moment.microsecond) == (0, 0, 0)


async def test_concurrent_readers_and_writers_count_everything_once(
    client: httpx.AsyncClient, database_url: str
) -> None:
    """Executions finishing while several readers fold: no deadlock, nothing lost or doubled."""
    await put_model(client)
    await put_prompt(client, "busy", template_source="b {{x}}")

    async def writer(n: int) -> None:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
            for i in range(n):
                await conn.execute(
                    """
                    INSERT INTO executions (project_id, prompt_id, version_id, model_id,
                        execution_mode, status, resolved_by, latency_ms, attempts)
                    SELECT p.project_id, p.prompt_id, p.active_version_id, m.model_id, 'sync',
                           'succeeded', 'active', %s, 1
                    FROM prompts p, models m WHERE p.name = 'busy'
                    """,
                    (100 + i,),
                )

    async def reader(times: int) -> None:
        for _ in range(times):
            response = await client.get("/v1/analytics/prompts/busy", params={"window": "1h"})
            assert response.status_code == 200, response.text

    await asyncio.gather(*(writer(40) for _ in range(4)), *(reader(8) for _ in range(4)))
    body = (await client.get("/v1/analytics/prompts/busy", params={"window": "1h"})).json()
    assert body["totals"]["executions"] == 160
    summary = (await client.get(SUMMARY, params={"window": "1h"})).json()
    assert summary["totals"]["executions"] == 160
    assert await sql_rows(database_url, "SELECT * FROM analytics_pending") == []


async def test_each_group_gets_its_own_histogram(
    client: httpx.AsyncClient, database_url: str
) -> None:
    """Histograms are merged per group (version, label, model, series bucket, prompt): each group
    here has latencies of its own, so one merged into another group's answer would show."""
    await put_model(client)
    await put_model(client, "anthropic", "claude-3-5-haiku", input_price_per_mtok=0.8)
    for text in ("v1 {{x}}", "v2 {{x}}", "v3 {{x}}"):
        await put_prompt(client, "distinct", template_source=text)
    await put_prompt(client, "other", template_source="o {{x}}")
    # "distinct" version k, d days back (in the hour before now's, d days earlier): 5 runs of
    # 10**k * (4 + d) ms; staging, production, no label by version; v2 on one model, v1 and v3
    # on the other. "other": 20 runs of 7 ms.
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(
            """
        INSERT INTO executions (project_id, prompt_id, version_id, model_id, execution_mode,
                                status, resolved_by, latency_ms, created_at, attempts)
        SELECT p.project_id, p.prompt_id, v.version_id,
               (SELECT model_id FROM models ORDER BY model_name
                OFFSET CASE WHEN p.name = 'other' THEN 0 ELSE v.version_number % 2 END LIMIT 1),
               'sync', 'succeeded',
               (ARRAY['label:staging', 'label:production', 'active'])[v.version_number],
               CASE WHEN p.name = 'other' THEN 7
                    ELSE (10 ^ v.version_number)::int * (4 + d) END,
               date_trunc('hour', now()) - d * interval '1 day' - i * interval '1 minute', 1
        FROM prompts p JOIN prompt_versions v USING (prompt_id),
             generate_series(0, 3) AS d, generate_series(1, 5) AS i
        WHERE p.name IN ('distinct', 'other')
        """
        )

    params = {"window": "5d", "interval": "hour"}
    response = await client.get("/v1/analytics/prompts/distinct", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    p50 = {s["version_number"]: s["latency_p50_ms"] for s in body["by_version"]}
    assert p50 == pytest.approx({1: 50, 2: 500, 3: 5000}, rel=0.05)
    labels = {s["label"]: s["latency_p50_ms"] for s in body["by_label"]}
    assert labels == pytest.approx({"staging": 50, "production": 500, None: 5000}, rel=0.05)
    models = {s["model_name"]: s["latency_p50_ms"] for s in body["by_model"]}
    assert models == pytest.approx({"claude-3-5-haiku": 500, "gpt-4o-mini": 70}, rel=0.05)
    by_hour = [p["latency_p99_ms"] for p in body["series"] if p["executions"]]
    assert by_hour == pytest.approx([7000, 6000, 5000, 4000], rel=0.05)

    summary = (await client.get(SUMMARY, params={"window": "5d"})).json()
    prompts = {s["prompt_name"]: s["latency_p50_ms"] for s in summary["top_prompts_by_volume"]}
    assert prompts == pytest.approx({"distinct": 500, "other": 7}, rel=0.05)
