"""Analytics test data: finished executions written straight into the ledger by SQL (faster than
running them), and the migrations' own modules, for the backfill tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import httpx
import psycopg

from tests.execution_fixtures import put_model, put_prompt


async def synthetic(database_url: str, prompt: str, *, rows: int, seed: float) -> None:
    """``rows`` finished executions of every version of ``prompt`` over the last 20 days, with
    spread latencies (some 0, some unknown), tokens, costs, labels and failures. Half are
    inserted finished; half inserted running, then finished by an UPDATE (as the service does)."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("SELECT setseed(%s)", (seed,))
        await conn.execute(
            """
        WITH v AS (
            SELECT p.project_id, p.prompt_id, array_agg(v.version_id ORDER BY v.version_number)
                   AS versions
            FROM prompts p JOIN prompt_versions v USING (prompt_id)
            WHERE p.name = %s GROUP BY 1, 2
        ), m AS (SELECT array_agg(model_id ORDER BY model_name) AS models FROM models)
        INSERT INTO executions (project_id, prompt_id, version_id, model_id, execution_mode,
                                status, resolved_by, latency_ms, prompt_tokens, response_tokens,
                                cost_usd, created_at, attempts)
        SELECT v.project_id, v.prompt_id,
               v.versions[1 + (i %% cardinality(v.versions))],
               m.models[1 + (i %% cardinality(m.models))], 'sync',
               CASE WHEN i %% 2 = 0 THEN 'running'
                    WHEN random() < 0.1 THEN 'failed' ELSE 'succeeded' END,
               (ARRAY['label:production', 'label:staging', 'active', 'version:1'])[1 + i %% 4],
               CASE WHEN i %% 97 = 0 THEN NULL WHEN i %% 89 = 0 THEN 0
                    ELSE (exp(random() * 9))::int END,
               (random() * 500)::int, (random() * 300)::int,
               round((random() / 1000)::numeric, 8),
               now() - random() * interval '20 days', 1
        FROM v, m, generate_series(1, %s) AS i
        """,
            (prompt, rows),
        )
        await conn.execute(
            "UPDATE executions SET status = CASE WHEN random() < 0.1 THEN 'failed' "
            "ELSE 'succeeded' END, completed_at = now() WHERE status = 'running'"
        )


async def seed_two_prompts(
    client: httpx.AsyncClient,
    database_url: str,
    *,
    summarize: tuple[int, float],
    classify: tuple[int, float],
) -> None:
    """Two models; ``summarize`` (three versions) and ``classify`` (one), each with (rows, seed)
    synthetic executions."""
    await put_model(client)
    await put_model(client, "anthropic", "claude-3-5-haiku", input_price_per_mtok=0.8)
    for text in ("v1 {{x}}", "v2 {{x}}", "v3 {{x}}"):
        await put_prompt(client, "summarize", template_source=text)
    await put_prompt(client, "classify", template_source="c {{x}}")
    await synthetic(database_url, "summarize", rows=summarize[0], seed=summarize[1])
    await synthetic(database_url, "classify", rows=classify[0], seed=classify[1])


def load_migration(name: str) -> Any:
    path = Path(__file__).parents[1] / "schema" / "versions" / name
    spec = importlib.util.spec_from_file_location(name.removesuffix(".py"), path)
    assert spec is not None
    assert spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    return migration
