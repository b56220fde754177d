"""Benchmark: analytics answers at 100,000 and 1,000,000 executions, and the write path's cost.

Two databases get the same 100 prompts (three versions, ``production`` and ``staging``
labels) and three models, and executions over the last 30 days by ``COPY`` (triggers off, as a
bulk load would be), then ``Analytics.rebuild()`` (the rollups recomputed from the ledger: the
backfill, timed): 100,000 in the small one, which is then copied (``CREATE DATABASE ...
TEMPLATE``) and given 900,000 more as the large one. A gateway per database runs in its own
uvicorn process; each endpoint is fetched ``--samples`` times (after warm-ups) from both, the
two sizes interleaved (small, large, large, small...), so that the shared machine's load, which
changes over minutes, weighs on both sides of the ratio alike; the server time is read from
``Server-Timing: app``.

Targets: p95 <= 100 ms for every endpoint at 1,000,000 executions, and flat: p95 at 1M <= 1.5x
p95 at 100k (answers come from rollups, not from the executions).

A registry read (``GET /v1/prompts/{name}``) is measured alongside as the machine's noise floor.

Write path (on the large database): the two writes of an execution (``insert_execution`` then
``finish_execution``, the named queries the service runs) timed with the analytics trigger on
and off in pairs of short batches (ABBA..., ``--write-rounds`` x 4 pairs; 0 leaves it out), at
concurrency 1 and 8, with ``synchronous_commit=off`` so that WAL flush waits do not drown the
difference: the median of the pairs' on/off ratios, with their quartiles. And the trigger's own
time, read by ``EXPLAIN ANALYZE`` of the two statements, against theirs. Target: on/off <=
1.05, and the trigger at most 5 % of the statements' time (the median execution's share).

The databases are on $DATABASE_URL's server, or an embedded PostgreSQL; by default they are
created, migrated, seeded and dropped at the end (the 1M rebuild is most of the time). To seed
once and measure many times (on $DATABASE_URL's server): ``--keep-db PREFIX [--seed-only]``
seeds PREFIX_small and PREFIX_large and leaves them; ``--reuse-db PREFIX`` measures on them
again (migrated to this checkout's head first). The data is dated from its seeding: reuse it
within hours or days, the windows slide over it (alike for both sizes). The write path adds
executions to the large one; ``--write-rounds 0`` keeps it as seeded.

Run: ``.venv/bin/python bench/analytics.py [--samples 40] [--executions 1000000] [--json]
[--write-rounds N] [--keep-db PREFIX [--seed-only] | --reuse-db PREFIX]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.types.json import Jsonb
from rich.table import Table

from prompt_ledger.db.queries import query
from prompt_ledger.records import DEFAULT_PROJECT_ID

sys.path.append(str(Path(__file__).resolve().parents[1]))  # for `python bench/<this file>`

from bench._analytics_seed import SMALL, Catalogue, databases
from bench._common import (
    API_KEY,
    BenchError,
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
HOT_PROMPT = "prompt_007"


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


def measure_reads(bases: dict[int, str], samples: int) -> dict[int, dict[str, dict[str, float]]]:
    """Each endpoint ``samples`` times (after three warm-ups) on each database's gateway, the
    two sizes interleaved (small, large, large, small...) so that a change of the shared
    machine's load falls on both sides of the ratio instead of on one size."""
    found: dict[int, dict[str, dict[str, float]]] = {size: {} for size in bases}
    with ExitStack() as stack:
        clients = {
            size: stack.enter_context(
                httpx.Client(base_url=base, headers={"X-API-Key": API_KEY}, timeout=60)
            )
            for size, base in bases.items()
        }
        for name, path in [BASELINE, *ENDPOINTS]:
            times: dict[int, list[float]] = {size: [] for size in bases}
            executions: dict[int, int] = {}
            for i in range(samples + 3):  # three warm-ups
                for size in list(bases) if i % 2 == 0 else list(bases)[::-1]:
                    response = clients[size].get(path)
                    if response.status_code != 200:
                        raise BenchError(f"{name}: GET {path} -> {response.status_code}")
                    app = timing_metric(response.headers.get("server-timing"), "app")
                    if app is None:
                        raise BenchError(f"{name}: no Server-Timing app entry")
                    if i >= 3:
                        times[size].append(app)
                    executions[size] = response.json().get("totals", {}).get("executions", 0)
            for size, taken in times.items():
                taken.sort()
                found[size][name] = {
                    "p50_ms": percentile(taken, 50),
                    "p95_ms": percentile(taken, 95),
                    "executions": executions[size],
                }
    return found


# --- the write path --------------------------------------------------------------------------


TRIGGERS = ("executions_enqueue_finished", "executions_enqueue_inserted")
PAIRS_PER_ROUND = 4
PER_BATCH = 192  # executions per batch (each side of a pair), split among the connections:
# at 48, a batch at c=8 lasted ~30 ms and its pair ratios spread 0.84-1.20 (quartiles)
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
        """One execution's two writes (its id chosen here, as the service does); with
        ``explain``, their plans (JSON)."""
        execution_id = uuid.uuid4()
        cur = await conn.execute(
            explain + insert,
            {**inserted, "execution_id": execution_id, "trace_id": uuid.uuid4().hex},
        )
        first = await cur.fetchone()
        assert first is not None
        cur = await conn.execute(explain + finish, {**finished, "execution_id": execution_id})
        second = await cur.fetchone()
        return [first[0][0], second[0][0]] if explain and second else []

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
    worst = max(rows, key=lambda r: r["p95_ms_large"])
    small, large = (f"{size:,}" for size in sizes)
    at_small = [r["p95_ms_small"] for r in rows]
    at_large = [r["p95_ms_large"] for r in rows]
    flat = [r["flat"]["value"] for r in rows]
    found = [
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
        )
    ]
    if not writes:  # left out (--write-rounds 0)
        return found
    pairs = {key: value for key, value in writes.items() if key != "trigger"}
    trigger = writes["trigger"]
    return [
        *found,
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


def _short(size: int) -> str:
    """1000000 -> 1M, 110000 -> 110k."""
    if size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    return f"{size / 1000:g}k"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--executions", type=int, default=None, help="default 1,000,000")
    parser.add_argument("--write-rounds", type=int, default=15, help="0: leave the write path out")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--keep-db",
        metavar="PREFIX",
        help="seed into databases PREFIX_small and PREFIX_large on $DATABASE_URL's server and "
        "keep them (for --reuse-db)",
    )
    parser.add_argument(
        "--reuse-db",
        metavar="PREFIX",
        help="measure on the databases seeded earlier with --keep-db PREFIX (migrated first)",
    )
    parser.add_argument(
        "--seed-only", action="store_true", help="with --keep-db: seed, keep, do not measure"
    )
    args = parser.parse_args()
    if args.seed_only and not args.keep_db:
        parser.error("--seed-only needs --keep-db PREFIX")
    if args.keep_db and args.reuse_db:
        parser.error("--keep-db and --reuse-db exclude each other")
    if args.executions is not None and args.executions <= SMALL:
        parser.error(f"--executions must be above {SMALL:,} (the small database's)")
    if args.reuse_db and args.executions is not None:
        parser.error("--executions is the reused databases' own (set when they were seeded)")
    return args


def main() -> int:
    args = _arguments()
    with ExitStack() as stack:
        seeded = stack.enter_context(
            databases(stack, args.executions or 1_000_000, keep=args.keep_db, reuse=args.reuse_db)
        )
        if args.seed_only:
            return 0
        sizes = sorted(seeded.urls)
        origin, catalogue = seeded.origin, seeded.catalogue
        gateways = {
            size: start_server(
                stack,
                f"gateway {size:,}",
                "gateway_app",
                "/health",
                {"DATABASE_URL": url, "API_KEY": API_KEY},
            )
            for size, url in seeded.urls.items()
        }
        err.print("[dim]measuring, the two sizes interleaved...[/dim]")
        reads = measure_reads({s: g.base_url for s, g in sorted(gateways.items())}, args.samples)
        for gateway in gateways.values():
            gateway.check_alive()
        writes: dict[str, Any] = {}
        if args.write_rounds > 0:
            err.print("[dim]write path, trigger on vs off...[/dim]")
            writes = asyncio.run(write_path(seeded.urls[sizes[1]], catalogue, args.write_rounds))
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
                "p50_ms_small": small[name]["p50_ms"],
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
    if writes:
        write_targets["trigger"] = target(1 + writes["trigger"]["share_p50"], "<=", TARGET_WRITE)
    baseline = {str(size): reads[size][BASELINE[0]]["p95_ms"] for size in sizes}
    report: dict[str, Any] = {
        "benchmark": "analytics",
        "executions": sizes,
        "baseline_p95_ms": baseline,
        "samples": args.samples,
        "rebuild_seconds": seeded.meta["rebuild_seconds"],
        "databases": args.keep_db or args.reuse_db,  # None: fresh ones, dropped
        "reads": rows,
        "write_path": {**writes, "target": write_targets} if writes else None,
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
    short_small, short_large = (_short(size) for size in sizes)
    columns = (
        "endpoint",
        f"p95 ms @{short_small}",
        f"p95 ms @{short_large}",
        f"p50 ms @{short_small}",
        f"p50 ms @{short_large}",
        f"{short_large}/{short_small}",
    )
    for column in (*columns, "verdict"):
        table.add_column(column, justify="left" if column == "endpoint" else "right")
    for r in rows:
        ok = r["p95"]["pass"] and r["flat"]["pass"]
        table.add_row(
            r["endpoint"],
            fmt(r["p95_ms_small"], ".1f"),
            fmt(r["p95_ms_large"], ".1f"),
            fmt(r["p50_ms_small"], ".1f"),
            fmt(r["p50_ms_large"], ".1f"),
            fmt(r["flat"]["value"], ".2f"),
            "[green]PASS[/green]" if ok else "[red]MISS[/red]",
        )
    console.print(table)
    if writes:
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
    rebuilt = ", ".join(f"{int(k):,}: {v:.1f} s" for k, v in report["rebuild_seconds"].items())
    console.print(f"rollups rebuilt from the ledger (backfill) in {rebuilt}")
    console.print(environment_line(report["environment"]))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
