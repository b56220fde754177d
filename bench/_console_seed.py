"""The console benchmark's data set (``console_pages.py``): 10,000 prompts, N executions with
their inputs and spans, an application's traces; COPYed into a migrated database with the bulk
tables' secondary indexes dropped during the load and rebuilt after it.

A seeded database can be kept (``--keep-db NAME``) and reused later (``--reuse-db NAME``): what
the pages are pointed at, the volume and the schema revision it was seeded under are stored as
JSON in the database's comment.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from bench._common import err
from psycopg import sql

from prompt_ledger.db.store import Database
from prompt_ledger.records import DEFAULT_PROJECT_ID
from prompt_ledger.services.analytics import Analytics

PROMPTS = 10_000
TEAMS = 25
STATUSES = ["succeeded"] * 96 + ["failed"] * 3 + ["queued", "running"]
BATCH = 50_000
APP_TRACES = 2_000  # small traces an application sent (3 spans each)
BIG_TRACE_SPANS = 200  # one trace of nested spans around an execution (the waterfall)
BULK_TABLES = ("executions", "execution_inputs", "spans")
META_KIND = "console_pages"


def _copy(cur: psycopg.Cursor[Any], table: str, columns: str, lines: list[str]) -> None:
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        copy.write("".join(lines))


def seed(url: str, executions: int) -> dict[str, Any]:
    """COPY the data set; returns what the pages are pointed at."""
    rng = random.Random(42)
    now = datetime.now(UTC)
    project = DEFAULT_PROJECT_ID
    phases: dict[str, float] = {}
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        # a bulk load: no per-row triggers (the analytics rollups are rebuilt afterwards), no
        # flush per batch, and the bulk tables' secondary indexes built once at the end
        cur.execute("SET session_replication_role = replica")
        cur.execute("SET synchronous_commit = off")
        cur.execute("SET maintenance_work_mem = '512MB'")
        indexes = _drop_secondary_indexes(cur)
        model_id = uuid.uuid4()
        cur.execute(
            "INSERT INTO models (model_id, provider, model_name, input_price_per_mtok, "
            "output_price_per_mtok) VALUES (%s, 'openai', 'gpt-4o-mini', 0.15, 0.6)",
            (model_id,),
        )
        prompts, versions, labels, history = [], [], [], []
        prompt_ids, version_ids = [], []
        for i in range(PROMPTS):
            prompt_id, v1, v2 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
            created = now - timedelta(days=60, minutes=i)
            prompts.append(
                f"{prompt_id}\t{project}\tprompt_{i:05d}\tfull\tPrompt number {i}\t"
                f"team-{i % TEAMS}\t{v2}\t{created.isoformat()}\t{created.isoformat()}\n"
            )
            for number, version_id, status in ((1, v1, "draft"), (2, v2, "active")):
                body = f"Version {number} of prompt {i}:\\n{{{{text}}}} for {{{{audience}}}}"
                versions.append(
                    f"{version_id}\t{prompt_id}\t{number}\ttext\t{body}\t{{}}\t"
                    f"{{text,audience}}\t{uuid.uuid4().hex}{uuid.uuid4().hex}\t{status}\t"
                    f"{created.isoformat()}\n"
                )
            if i % 2 == 0:
                labels.append(f"{prompt_id}\tproduction\t{v1}\tbench\n")
                history.append(f"{prompt_id}\tproduction\t\\N\t{v1}\tbench\tfirst release\n")
            prompt_ids.append(prompt_id)
            version_ids.append((v1, v2))
        # prompts.active_version_id references versions: load them with the check deferred
        cur.execute("ALTER TABLE prompts DROP CONSTRAINT fk_prompts_active_version")
        _copy(
            cur,
            "prompts",
            "prompt_id, project_id, name, mode, description, owner_team, "
            "active_version_id, created_at, updated_at",
            prompts,
        )
        _copy(
            cur,
            "prompt_versions",
            "version_id, prompt_id, version_number, kind, "
            "template_source, model_defaults, variables, checksum_hash, status, created_at",
            versions,
        )
        cur.execute(
            "ALTER TABLE prompts ADD CONSTRAINT fk_prompts_active_version FOREIGN KEY "
            "(active_version_id) REFERENCES prompt_versions (version_id) ON DELETE SET NULL"
        )
        _copy(cur, "prompt_labels", "prompt_id, label, version_id, updated_by", labels)
        _copy(
            cur,
            "label_history",
            "prompt_id, label, from_version_id, to_version_id, actor, reason",
            history,
        )
        err.print(f"[dim]{PROMPTS:,} prompts copied; copying {executions:,} executions...[/dim]")
        sample_id, sample_trace, sample_start = None, "", now
        for start in range(0, executions, BATCH):
            rows, inputs, spans = [], [], []
            for _ in range(min(BATCH, executions - start)):
                execution_id = uuid.uuid4()
                p = rng.randrange(PROMPTS)
                status = rng.choice(STATUSES)
                created = now - timedelta(seconds=rng.randrange(30 * 86400))
                done = status in ("succeeded", "failed")
                tokens_in, tokens_out = rng.randrange(50, 2000), rng.randrange(20, 800)
                latency = rng.randrange(200, 4000)
                cost = (tokens_in * 0.15 + tokens_out * 0.6) / 1e6
                trace = uuid.uuid4().hex
                finished = (created + timedelta(milliseconds=latency)).isoformat()
                rows.append(
                    f"{execution_id}\t{project}\t{prompt_ids[p]}\t{version_ids[p][1]}\t"
                    f"{model_id}\tsync\t{status}\tproduction\tversion:2\topenai\t"
                    f"Version 2 of prompt {p}: some text for readers\t"
                    f"{'A response.' if status == 'succeeded' else chr(92) + 'N'}\t"
                    f"{tokens_in if done else chr(92) + 'N'}\t"
                    f"{tokens_out if status == 'succeeded' else chr(92) + 'N'}\t"
                    f"{latency if done else chr(92) + 'N'}\t0.15\t0.6\t"
                    f"{cost if status == 'succeeded' else 0}\t"
                    f"{'timeout' if status == 'failed' else chr(92) + 'N'}\t1\t"
                    f"req-{rng.randrange(10**9)}\t{trace}\t{created.isoformat()}\t"
                    f"{created.isoformat()}\t{finished if done else chr(92) + 'N'}\n"
                )
                inputs.append(
                    f'{execution_id}\t{{"text": "doc", "audience": "all"}}\t'
                    f'{{"provider": "openai", "model_name": "gpt-4o-mini"}}\t{{}}\n'
                )
                if done:
                    spans.append(
                        f"{project}\t{trace}\t{execution_id}\tllm.completion\tllm\t"
                        f"{created.isoformat()}\t{finished}\t{latency}\t"
                        f"{'ok' if status == 'succeeded' else 'error'}\tgpt-4o-mini\n"
                    )
                if sample_id is None and done:
                    sample_id, sample_trace, sample_start = execution_id, trace, created
            _copy(
                cur,
                "executions",
                "execution_id, project_id, prompt_id, version_id, model_id, "
                "execution_mode, status, environment, resolved_by, served_by, rendered_prompt, "
                "response_text, prompt_tokens, response_tokens, latency_ms, "
                "input_price_per_mtok, output_price_per_mtok, cost_usd, error_type, attempts, "
                "correlation_id, trace_id, created_at, started_at, completed_at",
                rows,
            )
            _copy(
                cur,
                "execution_inputs",
                "execution_id, variables_json, model_config_json, params_json",
                inputs,
            )
            _copy(
                cur,
                "spans",
                "project_id, trace_id, execution_id, name, kind, start_time, "
                "end_time, duration_ms, status, model",
                spans,
            )
            err.print(f"[dim]  {start + len(rows):,} executions[/dim]")
        _copy(cur, "spans", SPAN_COLUMNS, app_spans(rng, project, now, sample_trace, sample_start))
        phases["copy"] = _lap(started)
        err.print(f"[dim]rebuilding {len(indexes)} indexes...[/dim]")
        for definition in indexes:
            cur.execute(definition)  # pg_get_indexdef: the index as created
        phases["indexes"] = _lap(started, phases)
        cur.execute("RESET session_replication_role")
    asyncio.run(_rebuild_rollups(url))
    phases["rollups"] = _lap(started, phases)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    phases["vacuum"] = _lap(started, phases)
    err.print(
        "[dim]seed phases: " + ", ".join(f"{k} {v:.0f} s" for k, v in phases.items()) + "[/dim]"
    )
    return {
        "execution_id": str(sample_id),
        "prompt": f"prompt_{PROMPTS // 2:05d}",
        "trace": sample_trace,
    }


def _lap(started: float, before: dict[str, float] | None = None) -> float:
    """Seconds since ``started`` minus the phases already counted."""
    return time.perf_counter() - started - sum((before or {}).values())


def _drop_secondary_indexes(cur: psycopg.Cursor[Any]) -> list[str]:
    """Drop the bulk tables' indexes that back no constraint; answers their definitions."""
    cur.execute(
        "SELECT n.nspname, ic.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace "
        "WHERE i.indrelid = ANY(%s::regclass[]) AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid "
        "AND c.conrelid = i.indrelid)",
        (list(BULK_TABLES),),
    )
    found = cur.fetchall()
    for schema, name, _ in found:
        cur.execute(
            sql.SQL("DROP INDEX {}.{}").format(sql.Identifier(schema), sql.Identifier(name))
        )
    return [definition for _, _, definition in found]


SPAN_COLUMNS = (
    "project_id, trace_id, span_id, parent_span_id, name, kind, service_name, start_time, "
    "end_time, duration_ms, status, error_message"
)


def app_spans(
    rng: random.Random, project: str, now: datetime, big_trace: str, big_start: datetime
) -> list[str]:
    """Spans applications sent: a request of BIG_TRACE_SPANS nested spans joined by the sample
    execution (its llm span's trace), and APP_TRACES small traces (a few failed)."""

    def line(
        trace: str,
        span: str,
        parent: str | None,
        name: str,
        start: datetime,
        ms: int,
        service: str,
        failed: bool = False,
    ) -> str:
        end = start + timedelta(milliseconds=ms)
        return (
            f"{project}\t{trace}\t{span}\t{parent or chr(92) + 'N'}\t{name}\tchain\t{service}\t"
            f"{start.isoformat()}\t{end.isoformat()}\t{ms}\t{'error' if failed else 'ok'}\t"
            f"{'timeout' if failed else chr(92) + 'N'}\n"
        )

    root = big_start - timedelta(milliseconds=500)
    lines = [line(big_trace, "root", None, "POST /batch", root, 6000, "checkout")]
    for i in range(BIG_TRACE_SPANS - 1):
        parent = "root" if i < 20 else f"s{i % 20}"
        offset = timedelta(milliseconds=rng.randrange(0, 5000))
        lines.append(line(big_trace, f"s{i}", parent, f"step {i}", root + offset, 200, "checkout"))
    for t in range(APP_TRACES):
        trace = uuid.uuid4().hex
        start = now - timedelta(seconds=rng.randrange(30 * 86400))
        failed = t % 50 == 0
        lines.append(line(trace, "a", None, "GET /cart", start, rng.randrange(50, 4000), "shop"))
        lines.append(line(trace, "b", "a", "load cart", start, 30, "shop"))
        lines.append(line(trace, "c", "a", "price", start, 20, "shop", failed))
    return lines


async def _rebuild_rollups(url: str) -> None:
    db = Database(url, min_size=1, max_size=2)
    await db.open()
    try:
        rows = await Analytics(db).rebuild()
        err.print(f"[dim]analytics rollups rebuilt: {rows:,} rows[/dim]")
    finally:
        await db.close()


# --- a kept database ------------------------------------------------------------------------


def schema_revision(url: str) -> str | None:
    """The alembic revision the database is at."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT string_agg(version_num, ',') FROM alembic_version").fetchone()
    return row[0] if row else None


def write_meta(url: str, meta: dict[str, Any]) -> None:
    """Store what a reuse needs in the database's comment."""
    with psycopg.connect(url, autocommit=True) as conn:
        name = conn.info.dbname
        comment = sql.SQL("COMMENT ON DATABASE {} IS {}").format(
            sql.Identifier(name), sql.Literal(json.dumps({"kind": META_KIND, **meta}))
        )
        conn.execute(comment)


def read_meta(url: str) -> dict[str, Any]:
    """What ``write_meta`` stored; BenchError-worthy ValueError when the seed never finished."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
            "WHERE datname = current_database()"
        ).fetchone()
    try:
        meta: dict[str, Any] = json.loads(row[0]) if row and row[0] else {}
    except json.JSONDecodeError:
        meta = {}
    if meta.get("kind") != META_KIND:
        raise ValueError(
            f"database {url.rsplit('/', 1)[-1]!r} holds no finished console_pages seed "
            "(interrupted?): drop it and seed again with --keep-db"
        )
    return meta


def refresh_after_migrations(url: str, meta: dict[str, Any], *, rebuild: bool) -> dict[str, Any]:
    """After migrating a reused database: with ``rebuild``, recompute the analytics rollups from
    the ledger (for a migration that changed their shape without deriving them; about as long
    as the seed's own rebuild, most of a 1M seed's time) and the statistics."""
    revision = schema_revision(url)
    if revision != meta.get("revision"):
        err.print(f"[dim]schema migrated from {meta.get('revision')} to {revision}[/dim]")
    if rebuild:
        err.print("[dim]rebuilding the rollups...[/dim]")
        asyncio.run(_rebuild_rollups(url))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
    if revision != meta.get("revision"):
        meta = {**meta, "revision": revision}
        write_meta(url, {k: v for k, v in meta.items() if k != "kind"})
    return meta
