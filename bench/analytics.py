"""Benchmark: analytics answers at 100,000 and 1,000,000 executions, and the write path's cost.

A fresh database gets 100 prompts (three versions, ``production`` and ``staging`` labels) and
three models, then executions over the last 30 days by ``COPY`` (triggers off, as a bulk load
would be), then ``Analytics.rebuild()`` (the rollups recomputed from the ledger: the backfill,
timed). Our gateway runs in its own uvicorn process; each endpoint is fetched ``--samples``
times (after warm-ups) and the server time read from ``Server-Timing: app``. Then 900,000 more
executions are copied, the rollups rebuilt, and the same endpoints measured again.

Targets: p95 <= 100 ms for every endpoint at 1,000,000 executions, and flat: p95 at 1M <= 1.5x
p95 at 100k (answers come from rollups, not from the executions).

A registry read (``GET /v1/prompts/{name}``) is measured alongside as the machine's noise floor.

Write path: the two writes of an execution (``insert_execution`` then ``finish_execution``,
the named queries the service runs) timed with the analytics trigger on and off in pairs of
short batches (ABBA..., ``--write-rounds`` x 4 pairs), at concurrency 1 and 8, with
``synchronous_commit=off`` so that WAL flush waits do not drown the difference: the median of
the pairs' on/off ratios, with their quartiles. And the trigger's own time, read by ``EXPLAIN
ANALYZE`` of the two statements, against theirs. Target: on/off <= 1.05, and the trigger at
most 5 % of the statements' time (the median execution's share).

The database is $DATABASE_URL's server, or an embedded PostgreSQL; either way a fresh database
is created, migrated, seeded and dropped at the end.

Run: ``.venv/bin/python bench/analytics.py [--samples 40] [--executions 1000000] [--json]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import statistics
import sys
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.types.json import Jsonb
from rich.table import Table

from prompt_ledger.db.queries import query
from prompt_ledger.db.store import Database
from prompt_ledger.records import DEFAULT_PROJECT_ID
from prompt_ledger.services.analytics import Analytics

sys.path.append(str(Path(__file__).resolve().parents[1]))  # for `python bench/<this file>`

from bench._common import (
    API_KEY,
    BenchError,
    bench_database,
    check_leftovers,
    environment,
    environment_line,
    err,
    fmt,
    percentile,
    record,
    report_console,
    start_server,
    summary_row,
    target,
    timing_metric,
)

TARGET_P95_MS = 100.0
TARGET_FLAT = 1.5
TARGET_WRITE = 1.05
PROMPTS = 100
MODELS = (
    ("openai", "gpt-4o-mini", 0.15, 0.6),
    ("openai", "gpt-4o", 2.5, 10.0),
    ("anthropic", "claude-3-5-haiku", 0.8, 4.0),
)
SMALL = 100_000
BATCH = 50_000
HOT_PROMPT = "prompt_007"


# --- data ------------------------------------------------------------------------------------


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


# --- reads -----------------------------------------------------------------------------------

BASELINE = ("baseline: GET /v1/prompts/{name}", f"/v1/prompts/{HOT_PROMPT}")
"""A registry read on the same gateway and database: the machine's noise floor in this run."""
ENDPOINTS = [
    ("summary (7d)", "/v1/analytics/summary"),
    ("summary (30d)", "/v1/analytics/summary?window=30d"),
    ("prompt (30d, days)", f"/v1/analytics/prompts/{HOT_PROMPT}?window=30d"),
    ("prompt (7d, hours)", f"/v1/analytics/prompts/{HOT_PROMPT}?window=7d&interval=hour"),
    ("prompt (24h)", f"/v1/analytics/prompts/{HOT_PROMPT}?window=24h"),
]


def measure_reads(base_url: str, samples: int) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=base_url, headers={"X-API-Key": API_KEY}, timeout=60) as client:
        for name, path in [BASELINE, *ENDPOINTS]:
            times = []
            for i in range(samples + 3):  # three warm-ups
                response = client.get(path)
                if response.status_code != 200:
                    raise BenchError(f"{name}: GET {path} -> {response.status_code}")
                app = timing_metric(response.headers.get("server-timing"), "app")
                if app is None:
                    raise BenchError(f"{name}: no Server-Timing app entry")
                if i >= 3:
                    times.append(app)
            times.sort()
            executions = response.json().get("totals", {}).get("executions", 0)
            found[name] = {
                "p50_ms": percentile(times, 50),
                "p95_ms": percentile(times, 95),
                "executions": executions,
            }
    return found


# --- the write path --------------------------------------------------------------------------


TRIGGERS = ("executions_enqueue_finished", "executions_enqueue_inserted")
PAIRS_PER_ROUND = 4
PER_BATCH = 48  # executions per batch (each side of a pair), split among the connections
EXPLAINED = 200  # executions whose two statements are timed by EXPLAIN ANALYZE


async def write_path(url: str, catalogue: Catalogue, rounds: int) -> dict[str, Any]:
    """The write path of an execution (``insert_execution`` then ``finish_execution``) with the
    analytics trigger on vs off, and the trigger's own time.

    On vs off, at concurrency 1 and 8: ``rounds`` x 4 pairs of short batches, the trigger
    enabled for one batch of a pair and disabled for the other, the order alternating (ABBA...),
    so that a load change on the shared machine falls on both sides of most pairs; the ratio of
    each pair (on/off) is kept, and the median of those ratios reported with their quartiles.

    The trigger's own time: ``EXPLAINED`` executions' statements run under ``EXPLAIN (ANALYZE,
    FORMAT JSON)`` (trigger on): the time PostgreSQL spent in the analytics trigger (its insert
    into analytics_pending) against the statements' own planning + execution time (neither
    commit nor network: the smallest denominator, so the share is an upper bound)."""
    prompt_id, versions = catalogue.prompts[7]
    model_id = catalogue.models[0][0]
    insert, finish = query("insert_execution"), query("finish_execution")
    inserted = {
        "project_id": DEFAULT_PROJECT_ID,
        "prompt_id": prompt_id,
        "version_id": versions[1],
        "model_id": model_id,
        "execution_mode": "sync",
        "status": "running",
        "environment": "production",
        "resolved_by": "label:production",
        "served_by": "openai",
        "rendered_prompt": "v2 hello",
        "input_price_per_mtok": 0.15,
        "output_price_per_mtok": 0.6,
        "attempts": 1,
        "correlation_id": None,
        "idempotency_key": None,
        "request_hash": None,
        "worker": "bench",
        "variables": Jsonb({"x": "hello"}),
        "model_config": Jsonb({}),
        "params": Jsonb({}),
    }
    finished = {
        "status": "succeeded",
        "response_text": "a reply",
        "prompt_tokens": 12,
        "response_tokens": 30,
        "latency_ms": 512,
        "provider_latency_ms": 500,
        "time_to_first_token_ms": None,
        "cost_usd": 0.0000198,
        "error_type": None,
        "error_message": None,
        "span_name": "llm.completion",
        "span_input": None,
        "span_output": None,
        "span_model": "openai/gpt-4o-mini",
        "span_attributes": Jsonb({}),
        "attempt_number": 1,
        "parent_span_id": None,
    }

    async def one(conn: psycopg.AsyncConnection[Any], explain: str = "") -> list[Any]:
        """One execution's two writes; with ``explain``, their plans (JSON)."""
        cur = await conn.execute(explain + insert, {**inserted, "trace_id": uuid.uuid4().hex})
        first = await cur.fetchone()
        assert first is not None
        if explain:
            plan = first[0]
            # the row just written (EXPLAIN answers the plan, not the row): the project's latest
            latest = await (await conn.execute(_LATEST, (DEFAULT_PROJECT_ID,))).fetchone()
            execution_id = latest[0] if latest else None
        else:
            execution_id = first[0]
        cur = await conn.execute(explain + finish, {**finished, "execution_id": execution_id})
        second = await cur.fetchone()
        return [plan[0], second[0][0]] if explain and second else []

    async def batch(conns: list[psycopg.AsyncConnection[Any]]) -> float:
        """Mean ms an execution of a batch, the batch split among the connections."""
        each = PER_BATCH // len(conns)

        async def worker(conn: psycopg.AsyncConnection[Any]) -> None:
            for _ in range(each):
                await one(conn)

        started = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in conns))
        return (time.perf_counter() - started) / (each * len(conns)) * 1000

    report: dict[str, Any] = {}
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as admin:

        async def switch(enabled: bool) -> None:
            verb = "ENABLE" if enabled else "DISABLE"
            for trigger in TRIGGERS:
                await admin.execute(f"ALTER TABLE executions {verb} TRIGGER {trigger}")

        for concurrency in (1, 8):
            # synchronous_commit off on both sides: the WAL flush (the noisiest part of a
            # commit on a shared machine) is left out, so the ratio shows the added work alone.
            conns = [
                await psycopg.AsyncConnection.connect(
                    url, autocommit=True, options="-c synchronous_commit=off"
                )
                for _ in range(concurrency)
            ]
            try:
                await batch(conns)  # warm-up (and psycopg's prepared statements)
                ratios: list[float] = []
                sides: dict[bool, list[float]] = {True: [], False: []}
                for pair in range(rounds * PAIRS_PER_ROUND):
                    got = {}
                    for enabled in (True, False) if pair % 2 == 0 else (False, True):
                        await switch(enabled)
                        got[enabled] = await batch(conns)
                        sides[enabled].append(got[enabled])
                    ratios.append(got[True] / got[False])
            finally:
                await switch(True)
                for c in conns:
                    await c.close()
            ratios.sort()
            report[f"c{concurrency}"] = {
                "on_ms_per_execution": statistics.median(sides[True]),
                "off_ms_per_execution": statistics.median(sides[False]),
                "ratio": statistics.median(ratios),
                "ratio_p25": percentile(ratios, 25),
                "ratio_p75": percentile(ratios, 75),
                "pairs": len(ratios),
            }
        report["trigger"] = await trigger_share(url, one)
    return report


_LATEST = (
    "SELECT execution_id FROM executions WHERE project_id = %s ORDER BY created_at DESC LIMIT 1"
)


async def trigger_share(url: str, one: Any) -> dict[str, Any]:
    """The analytics trigger's time against its statements' (see ``write_path``)."""
    trigger_ms, statement_ms, shares = 0.0, 0.0, []
    async with await psycopg.AsyncConnection.connect(
        url, autocommit=True, options="-c synchronous_commit=off"
    ) as conn:
        for i in range(EXPLAINED + 5):
            plans = await one(conn, "EXPLAIN (ANALYZE, FORMAT JSON) ")
            own = sum(p["Planning Time"] + p["Execution Time"] for p in plans)
            spent = sum(
                t["Time"]
                for p in plans
                for t in p.get("Triggers", [])
                if t["Trigger Name"] in TRIGGERS
            )
            if i >= 5:  # warm-ups
                trigger_ms, statement_ms = trigger_ms + spent, statement_ms + own
                shares.append(spent / own)
    shares.sort()
    return {
        "trigger_ms_per_execution": trigger_ms / EXPLAINED,
        "statements_ms_per_execution": statement_ms / EXPLAINED,
        "share": trigger_ms / statement_ms,
        "share_p50": percentile(shares, 50),
        "share_p90": percentile(shares, 90),
    }


# --- main ------------------------------------------------------------------------------------


def summary_rows(
    rows: list[dict[str, Any]],
    writes: dict[str, Any],
    write_targets: dict[str, dict[str, Any]],
    baseline: dict[str, float],
    sizes: list[int],
) -> list[dict[str, Any]]:
    """bench/summary.py's rows: the answers' p95 at both sizes and their ratio, and the write
    path with the trigger on vs off (median of the pairs' ratios) and the trigger's share."""
    pairs = {key: value for key, value in writes.items() if key != "trigger"}
    trigger = writes["trigger"]
    worst = max(rows, key=lambda r: r["p95_ms_large"])
    small, large = (f"{size:,}" for size in sizes)
    at_small = [r["p95_ms_small"] for r in rows]
    at_large = [r["p95_ms_large"] for r in rows]
    flat = [r["flat"]["value"] for r in rows]
    return [
        summary_row(
            "analytics_reads",
            baseline=(
                f"the same answers at {small}: p95 {min(at_small):.1f}-{max(at_small):.1f} ms "
                f"(a registry read: {baseline[str(sizes[1])]:.1f} ms)"
            ),
            ours=(
                f"at {large}: p95 {min(at_large):.1f}-{max(at_large):.1f} ms (slowest: "
                f"{worst['endpoint']})"
            ),
            outcome=(
                f"{large}/{small} {min(flat):.2f}-{max(flat):.2f}x; "
                f"{sum(r['p95']['pass'] for r in rows)}/{len(rows)} within "
                f"{TARGET_P95_MS:g} ms, {sum(r['flat']['pass'] for r in rows)}/{len(rows)} flat"
            ),
            checks=[check for r in rows for check in (r["p95"], r["flat"])],
        ),
        summary_row(
            "analytics_write_path",
            baseline="insert + finish, trigger off: "
            + ", ".join(
                f"c={key[1:]} {value['off_ms_per_execution']:.3f} ms"
                for key, value in pairs.items()
            )
            + f"; their statements' server time {trigger['statements_ms_per_execution']:.3f} ms",
            ours="trigger on: "
            + ", ".join(
                f"c={key[1:]} {value['on_ms_per_execution']:.3f} ms" for key, value in pairs.items()
            )
            + f"; the trigger's time {trigger['trigger_ms_per_execution']:.4f} ms",
            outcome=", ".join(
                f"c={key[1:]} {value['ratio']:.3f}x "
                f"(quartiles {value['ratio_p25']:.3f}-{value['ratio_p75']:.3f})"
                for key, value in pairs.items()
            )
            + f"; trigger {trigger['share_p50']:.1%} of the statements' time (median execution;"
            f" mean {trigger['share']:.1%})",
            checks=list(write_targets.values()),
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--write-rounds", type=int, default=15)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    sizes = [SMALL, args.executions]
    with ExitStack() as stack:
        url, origin = stack.enter_context(bench_database())
        catalogue = seed_catalogue(url)
        gateway = start_server(
            stack, "gateway", "gateway_app", "/health", {"DATABASE_URL": url, "API_KEY": API_KEY}
        )
        reads: dict[int, dict[str, dict[str, float]]] = {}
        backfill: dict[int, float] = {}
        loaded = 0
        for size in sizes:
            err.print(f"[dim]copying {size - loaded:,} executions...[/dim]")
            copy_executions(url, catalogue, size - loaded, seed=size)
            loaded = size
            backfill[size] = asyncio.run(rebuild(url))
            err.print(f"[dim]rollups rebuilt in {backfill[size]:.1f} s; measuring...[/dim]")
            reads[size] = measure_reads(gateway.base_url, args.samples)
            gateway.check_alive()
        err.print("[dim]write path, trigger on vs off...[/dim]")
        writes = asyncio.run(write_path(url, catalogue, args.write_rounds))
    check_leftovers()
    small, large = reads[sizes[0]], reads[sizes[1]]
    rows: list[dict[str, Any]] = []
    for name, _ in ENDPOINTS:
        flat = large[name]["p95_ms"] / small[name]["p95_ms"]
        rows.append(
            {
                "endpoint": name,
                "p95_ms_small": small[name]["p95_ms"],
                "p95_ms_large": large[name]["p95_ms"],
                "p50_ms_large": large[name]["p50_ms"],
                "executions_in_window_large": large[name]["executions"],
                "p95": target(large[name]["p95_ms"], "<=", TARGET_P95_MS),
                "flat": target(flat, "<=", TARGET_FLAT),
            }
        )
    write_targets = {
        key: target(value["ratio"], "<=", TARGET_WRITE)
        for key, value in writes.items()
        if key != "trigger"
    }
    # the median execution's share: the mean of so few is swayed by a stall inside the trigger
    # on a loaded machine (a run at load 20: mean 5.7 %, median 3.0 %, p90 4.0 %)
    write_targets["trigger"] = target(1 + writes["trigger"]["share_p50"], "<=", TARGET_WRITE)
    baseline = {str(size): reads[size][BASELINE[0]]["p95_ms"] for size in sizes}
    report: dict[str, Any] = {
        "benchmark": "analytics",
        "executions": sizes,
        "baseline_p95_ms": baseline,
        "samples": args.samples,
        "rebuild_seconds": {str(k): round(v, 1) for k, v in backfill.items()},
        "reads": rows,
        "write_path": {**writes, "target": write_targets},
        "environment": environment(origin),
    }
    passed = all(r["p95"]["pass"] and r["flat"]["pass"] for r in rows) and all(
        t["pass"] for t in write_targets.values()
    )
    report["passed"] = passed
    record("analytics", summary_rows(rows, writes, write_targets, baseline, sizes))
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0 if passed else 1
    console = report_console()
    table = Table(title=f"Analytics: {sizes[0]:,} -> {sizes[1]:,} executions over 30 days")
    for column in ("endpoint", "p95 ms @100k", "p95 ms @1M", "p50 ms @1M", "1M/100k", "verdict"):
        table.add_column(column, justify="left" if column == "endpoint" else "right")
    for r in rows:
        ok = r["p95"]["pass"] and r["flat"]["pass"]
        table.add_row(
            r["endpoint"],
            fmt(r["p95_ms_small"], ".1f"),
            fmt(r["p95_ms_large"], ".1f"),
            fmt(r["p50_ms_large"], ".1f"),
            fmt(r["flat"]["value"], ".2f"),
            "[green]PASS[/green]" if ok else "[red]MISS[/red]",
        )
    console.print(table)
    writes_table = Table(
        title="Write path (insert + finish), analytics trigger on vs off: "
        "median of the pairs' on/off ratios"
    )
    for column in ("concurrency", "pairs", "on ms", "off ms", "on/off", "quartiles", "verdict"):
        writes_table.add_column(column, justify="right")
    for key, value in writes.items():
        if key == "trigger":
            continue
        writes_table.add_row(
            key[1:],
            str(value["pairs"]),
            fmt(value["on_ms_per_execution"], ".3f"),
            fmt(value["off_ms_per_execution"], ".3f"),
            fmt(value["ratio"], ".3f"),
            f"{value['ratio_p25']:.3f}-{value['ratio_p75']:.3f}",
            "[green]PASS[/green]" if write_targets[key]["pass"] else "[red]MISS[/red]",
        )
    console.print(writes_table)
    trigger = writes["trigger"]
    console.print(
        f"the trigger's own time (EXPLAIN ANALYZE of {EXPLAINED} executions' two statements): "
        f"{trigger['trigger_ms_per_execution']:.4f} ms of "
        f"{trigger['statements_ms_per_execution']:.3f} ms = {trigger['share']:.2%} "
        f"(per execution: median {trigger['share_p50']:.2%}, p90 {trigger['share_p90']:.2%}) "
        + ("[green]PASS[/green]" if write_targets["trigger"]["pass"] else "[red]MISS[/red]")
    )
    floor = ", ".join(f"{int(k):,}: {v:.1f} ms" for k, v in baseline.items())
    console.print(f"{BASELINE[0]} p95 (the machine's floor in this run): {floor}")
    rebuilt = ", ".join(f"{int(k):,}: {v:.1f} s" for k, v in backfill.items())
    console.print(f"rollups rebuilt from the ledger (backfill) in {rebuilt}")
    console.print(environment_line(report["environment"]))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
