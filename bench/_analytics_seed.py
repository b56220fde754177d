"""The data of ``bench/analytics.py``: its catalogue (prompts, versions, models), executions
copied in bulk, the rollups rebuilt from them, and the pair of databases it measures (100,000
and 1,000,000 executions), fresh or kept for another run."""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import psycopg
from bench._common import (
    BenchError,
    bench_database,
    drop_database,
    err,
    kept_database,
    with_database,
)
from psycopg import sql

from prompt_ledger.db.store import Database
from prompt_ledger.records import DEFAULT_PROJECT_ID
from prompt_ledger.services.analytics import Analytics

PROMPTS = 100
MODELS = (
    ("openai", "gpt-4o-mini", 0.15, 0.6),
    ("openai", "gpt-4o", 2.5, 10.0),
    ("anthropic", "claude-3-5-haiku", 0.8, 4.0),
)
SMALL = 100_000
BATCH = 50_000
META_KIND = "analytics"


@dataclass
class Catalogue:
    prompts: list[tuple[uuid.UUID, list[uuid.UUID]]]  # (prompt_id, [v1, v2, v3])
    models: list[tuple[uuid.UUID, float, float]]  # (model_id, input price, output price)


def _copy(cur: psycopg.Cursor[Any], table: str, columns: str, lines: list[str]) -> None:
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        copy.write("".join(lines))


def seed_catalogue(url: str) -> Catalogue:
    project = DEFAULT_PROJECT_ID
    models = []
    prompts = []
    with psycopg.connect(url, autocommit=True) as conn:
        for provider, name, price_in, price_out in MODELS:
            model_id = uuid.uuid4()
            conn.execute(
                "INSERT INTO models (model_id, provider, model_name, input_price_per_mtok, "
                "output_price_per_mtok) VALUES (%s, %s, %s, %s, %s)",
                (model_id, provider, name, price_in, price_out),
            )
            models.append((model_id, price_in, price_out))
        for i in range(PROMPTS):
            prompt_id = uuid.uuid4()
            conn.execute(
                "INSERT INTO prompts (prompt_id, project_id, name) VALUES (%s, %s, %s)",
                (prompt_id, project, f"prompt_{i:03d}"),
            )
            versions = []
            for number in (1, 2, 3):
                version_id = uuid.uuid4()
                conn.execute(
                    "INSERT INTO prompt_versions (version_id, prompt_id, version_number, "
                    "template_source, checksum_hash, status) VALUES (%s, %s, %s, %s, %s, %s)",
                    (
                        version_id,
                        prompt_id,
                        number,
                        f"v{number} {{{{x}}}}",
                        uuid.uuid4().hex,
                        "active" if number == 3 else "draft",
                    ),
                )
                versions.append(version_id)
            prompts.append((prompt_id, versions))
    return Catalogue(prompts, models)


def load_catalogue(url: str) -> Catalogue:
    """The catalogue ``seed_catalogue`` wrote (a kept database's)."""
    with psycopg.connect(url) as conn:
        models = [
            (row[0], float(row[1]), float(row[2]))
            for provider, name, _, _ in MODELS
            for row in conn.execute(
                "SELECT model_id, input_price_per_mtok, output_price_per_mtok FROM models "
                "WHERE provider = %s AND model_name = %s",
                (provider, name),
            ).fetchall()
        ]
        rows = conn.execute(
            "SELECT p.prompt_id, array_agg(v.version_id ORDER BY v.version_number) "
            "FROM prompts p JOIN prompt_versions v USING (prompt_id) "
            "WHERE p.project_id = %s GROUP BY p.prompt_id, p.name ORDER BY p.name",
            (DEFAULT_PROJECT_ID,),
        ).fetchall()
    prompts = [(prompt_id, list(versions)) for prompt_id, versions in rows]
    if len(prompts) != PROMPTS or len(models) != len(MODELS):
        raise BenchError("the kept database does not hold this benchmark's catalogue")
    return Catalogue(prompts, models)


def copy_executions(url: str, catalogue: Catalogue, count: int, seed: int) -> None:
    """``count`` finished executions over the last 30 days, triggers off (a bulk load)."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    weights = [1 / (i + 1) for i in range(PROMPTS)]  # a few prompts carry most traffic
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("SET session_replication_role = replica")  # no triggers, no FK checks
        for start in range(0, count, BATCH):
            lines = []
            picks = rng.choices(range(PROMPTS), weights, k=min(BATCH, count - start))
            for p in picks:
                prompt_id, versions = catalogue.prompts[p]
                roll = rng.random()
                if roll < 0.7:
                    version, resolved = versions[1], "label:production"
                elif roll < 0.9:
                    version, resolved = versions[2], "label:staging"
                else:
                    version, resolved = versions[2], "active"
                model_id, price_in, price_out = catalogue.models[
                    p % len(catalogue.models) if rng.random() < 0.9 else rng.randrange(3)
                ]
                failed = rng.random() < 0.03
                tokens_in, tokens_out = rng.randrange(50, 2000), rng.randrange(20, 800)
                latency = int(math.exp(rng.gauss(6.8, 0.7)))
                cost = (tokens_in * price_in + tokens_out * price_out) / 1e6
                created = now - timedelta(seconds=rng.uniform(0, 30 * 86400))
                lines.append(
                    f"{uuid.uuid4()}\t{DEFAULT_PROJECT_ID}\t{prompt_id}\t{version}\t{model_id}\t"
                    f"sync\t{'failed' if failed else 'succeeded'}\t{resolved}\t"
                    f"{tokens_in}\t{0 if failed else tokens_out}\t{latency}\t"
                    f"{0 if failed else round(cost, 8)}\t1\t{created.isoformat()}\n"
                )
            _copy(
                cur,
                "executions",
                "execution_id, project_id, prompt_id, version_id, model_id, execution_mode, "
                "status, resolved_by, prompt_tokens, response_tokens, latency_ms, cost_usd, "
                "attempts, created_at",
                lines,
            )
        cur.execute("VACUUM ANALYZE executions")


async def rebuild(url: str) -> float:
    db = Database(url, min_size=1, max_size=2)
    started = time.perf_counter()
    try:
        await Analytics(db).rebuild()
        async with db.connect() as q:  # as autovacuum would after such a bulk change
            await q.connection.execute("VACUUM ANALYZE execution_rollups, analytics_pending")
    finally:
        await db.close()
    return time.perf_counter() - started


# --- the two databases -----------------------------------------------------------------------


@dataclass
class Seeded:
    urls: dict[int, str]  # executions -> database URL
    origin: str  # where the server came from
    catalogue: Catalogue
    meta: dict[str, Any]  # rebuild seconds per size, when seeded


def _name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _clone(url: str, name: str) -> str:
    """A copy of ``url``'s database named ``name`` (CREATE DATABASE ... TEMPLATE)."""
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(_name(url))
            )
        )
    return with_database(url, name)


def _comment(url: str, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Store ``meta`` in the database's comment, or (without) read what is stored there."""
    with psycopg.connect(url, autocommit=True) as conn:
        if meta is not None:
            conn.execute(
                sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                    sql.Identifier(conn.info.dbname),
                    sql.Literal(json.dumps({"kind": META_KIND, **meta})),
                )
            )
            return meta
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
            "WHERE datname = current_database()"
        ).fetchone()
    try:
        found: dict[str, Any] = json.loads(row[0]) if row and row[0] else {}
    except json.JSONDecodeError:
        found = {}
    if found.get("kind") != META_KIND:
        raise BenchError(
            f"database {_name(url)!r} holds no finished analytics seed "
            "(interrupted?): drop it and seed again with --keep-db"
        )
    return found


def names(prefix: str) -> tuple[str, str]:
    return f"{prefix}_small", f"{prefix}_large"


@contextmanager
def databases(
    stack: ExitStack, large: int, *, keep: str | None = None, reuse: str | None = None
) -> Iterator[Seeded]:
    """The two seeded databases: fresh ones (dropped at the end), new ones kept under
    ``keep``'s names, or those kept earlier under ``reuse``'s (migrated to this checkout's head
    first). The large one is a copy of the small one with the rest of the executions added, so
    the 1M data holds the 100k data."""
    if reuse:
        small_name, large_name = names(reuse)
        urls = {}
        metas = []
        for name in (small_name, large_name):
            url, origin = stack.enter_context(kept_database(name, reuse=True))
            metas.append(_comment(url))
            urls[int(metas[-1]["executions"])] = url
        err.print(
            f"[dim]reusing {small_name} and {large_name}: "
            f"{', '.join(f'{n:,}' for n in urls)} executions seeded {metas[0]['seeded_at']}[/dim]"
        )
        meta = {"rebuild_seconds": {str(m["executions"]): m["rebuild_seconds"] for m in metas}}
        yield Seeded(urls, origin, load_catalogue(urls[min(urls)]), meta)
        return
    if keep:
        small_name, large_name = names(keep)
        small_url, origin = stack.enter_context(kept_database(small_name, reuse=False))
    else:
        small_url, origin = stack.enter_context(bench_database())
        large_name = f"{_name(small_url)}_large"
    seeded_at = datetime.now(UTC).isoformat(timespec="seconds")
    catalogue = seed_catalogue(small_url)
    rebuilt: dict[str, float] = {}
    err.print(f"[dim]copying {SMALL:,} executions...[/dim]")
    copy_executions(small_url, catalogue, SMALL, seed=SMALL)
    rebuilt[str(SMALL)] = round(asyncio.run(rebuild(small_url)), 1)
    err.print(f"[dim]rollups rebuilt in {rebuilt[str(SMALL)]} s; copying the database...[/dim]")
    large_url = _clone(small_url, large_name)
    if not keep:
        stack.callback(drop_database, small_url, large_name)
    err.print(f"[dim]copying {large - SMALL:,} more executions...[/dim]")
    copy_executions(large_url, catalogue, large - SMALL, seed=large)
    rebuilt[str(large)] = round(asyncio.run(rebuild(large_url)), 1)
    err.print(f"[dim]rollups rebuilt in {rebuilt[str(large)]} s[/dim]")
    if keep:
        for size, url in ((SMALL, small_url), (large, large_url)):
            _comment(
                url,
                {"executions": size, "seeded_at": seeded_at, "rebuild_seconds": rebuilt[str(size)]},
            )
        err.print(f"[dim]kept as {small_name} and {large_name}: reuse with --reuse-db {keep}[/dim]")
    meta = {"rebuild_seconds": rebuilt}
    yield Seeded({SMALL: small_url, large: large_url}, origin, catalogue, meta)
