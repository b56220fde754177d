"""Benchmark: server time of each console page with 10,000 prompts and 1,000,000 executions.

A fresh database is seeded with COPY: 10,000 prompts (two versions each, half of them with a
``production`` label and its history), 1,000,000 executions over 30 days with their inputs and
spans (a few queued, running and failed ones among them), the analytics rollups rebuilt from
them (as after a bulk load), an application's traces (one of 200 nested spans around an
execution, and 2,000 small ones), and a few API keys. Our gateway runs
in its own uvicorn process; a signed-in client fetches each page ``--samples`` times in turn
(after a warm-up) and the server time is read from each response's ``Server-Timing: app``
entry, i.e. what the server spent on the page, independent of the client.

Target: p95 <= 150 ms for every page (pagination and indexes, not full scans).

The database is $DATABASE_URL's server, or an embedded PostgreSQL; by default a fresh database
is created, migrated, seeded and dropped at the end (1,000,000 executions take about 25 minutes
on a loaded 2-vCPU machine). To seed once and measure many times (on $DATABASE_URL's server):

- ``--keep-db NAME [--seed-only]``: seed into a new database NAME and leave it in place (what the
  pages are pointed at, the volume and the schema revision are stored in its comment);
- ``--reuse-db NAME``: measure on it again; it is migrated to this checkout's head first (a
  migration that derives its own data, e.g. from the rollups, does so then). Add
  ``--rebuild-rollups`` when a migration changed the rollups without deriving them (that
  rebuild is most of a 1M seed's time). The data is dated from its seeding: reuse it within
  days, the windows (1, 7, 30 days) slide over it.

Run: ``.venv/bin/python bench/console_pages.py [--samples 40] [--executions 1000000] [--json]
[--keep-db NAME [--seed-only] | --reuse-db NAME [--rebuild-rollups]]``
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table

from prompt_ledger.records import DEFAULT_PROJECT_ID

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
    kept_database,
    percentile,
    record,
    report_console,
    start_server,
    summary_row,
    timing_metric,
    verdict,
)
from bench._common import (
    target as goal,
)
from bench._console_seed import (
    PROMPTS,
    read_meta,
    refresh_after_migrations,
    schema_revision,
    seed,
    write_meta,
)

TARGET_P95_MS = 150.0


@dataclass
class PageResult:
    page: str
    path: str
    status: int
    server_p50_ms: float
    server_p95_ms: float
    server_max_ms: float
    client_p50_ms: float
    passed: bool


def pages(target: dict[str, Any], project: str, since: str) -> list[tuple[str, str]]:
    p = target["prompt"]
    return [
        ("prompts", "/prompts"),
        ("prompts, search", "/prompts?search=prompt_0999"),
        ("prompts, owner team", "/prompts?owner_team=team-7"),
        ("prompts, label", "/prompts?label=production"),
        ("prompts, no match", "/prompts?search=nothing-matches"),
        ("prompt", f"/prompts/{p}"),
        ("version", f"/prompts/{p}/versions/1"),
        ("diff", f"/prompts/{p}/diff?from=1&to=2"),
        ("playground", f"/prompts/{p}/playground"),
        ("executions", "/executions"),
        ("executions, prompt", f"/executions?prompt_name={p}"),
        ("executions, failed", "/executions?status=failed"),
        ("executions, running", "/executions?status=running"),
        ("executions, since", f"/executions?since={since}&model_name=gpt-4o-mini"),
        ("executions, correlation", "/executions?correlation_id=req-missing"),
        ("executions, page 2", "CURSOR"),
        ("execution", f"/executions/{target['execution_id']}"),
        ("status fragment", f"/executions/{target['execution_id']}/status"),
        ("traces", "/traces"),
        ("traces, service", "/traces?service=shop"),
        ("traces, errors", "/traces?has_error=true"),
        ("traces, prompt", f"/traces?prompt_name={p}"),
        ("traces, min duration", "/traces?min_duration_ms=3500"),
        ("trace, 200 spans", f"/traces/{target['trace']}"),
        ("analytics", "/analytics"),
        ("analytics, 24 hours", "/analytics?window=24h"),
        ("analytics, 30 days", "/analytics?window=30d"),
        ("prompt analytics", f"/analytics/prompts/{p}"),
        ("prompt analytics, 30 days by hour", f"/analytics/prompts/{p}?window=30d&interval=hour"),
        ("prompt analytics, 7 days by hour", f"/analytics/prompts/{p}?window=7d&interval=hour"),
        ("api keys", f"/admin/projects/{project}"),
        ("docs", "/docs"),
    ]


def measure_page(client: httpx.Client, name: str, path: str, samples: int) -> PageResult:
    server: list[float] = []
    wall: list[float] = []
    status = 0
    for i in range(samples + 3):  # three warm-ups
        started = time.perf_counter()
        response = client.get(path)
        elapsed = (time.perf_counter() - started) * 1000
        status = response.status_code
        if status != 200:
            raise BenchError(f"{name}: GET {path} -> {status}: {response.text[:300]}")
        app = timing_metric(response.headers.get("server-timing"), "app")
        if app is None:
            raise BenchError(f"{name}: no Server-Timing app entry")
        if i >= 3:
            server.append(app)
            wall.append(elapsed)
    server.sort()
    wall.sort()
    p95 = percentile(server, 95)
    return PageResult(
        name,
        path,
        status,
        percentile(server, 50),
        p95,
        server[-1],
        percentile(wall, 50),
        p95 <= TARGET_P95_MS,
    )


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument(
        "--executions", type=int, default=None, help="executions to seed (default 1,000,000)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    kept = parser.add_mutually_exclusive_group()
    kept.add_argument(
        "--keep-db",
        metavar="NAME",
        help="seed into database NAME on $DATABASE_URL's server and keep it (for --reuse-db)",
    )
    kept.add_argument(
        "--reuse-db",
        metavar="NAME",
        help="measure on database NAME seeded earlier with --keep-db (migrated to head first)",
    )
    parser.add_argument(
        "--seed-only", action="store_true", help="with --keep-db: seed, keep, do not measure"
    )
    parser.add_argument(
        "--rebuild-rollups",
        action="store_true",
        help="with --reuse-db: recompute the analytics rollups after migrating (long at 1M)",
    )
    args = parser.parse_args()
    if args.seed_only and not args.keep_db:
        parser.error("--seed-only needs --keep-db NAME")
    if args.rebuild_rollups and not args.reuse_db:
        parser.error("--rebuild-rollups needs --reuse-db NAME")
    if args.reuse_db and args.executions is not None:
        parser.error("--executions is the reused database's own (set when it was seeded)")
    return args


def _prepare(stack: ExitStack, args: argparse.Namespace) -> tuple[str, str, dict[str, Any]]:
    """The database to measure on: (URL, origin, what the seed stored: target, volume...)."""
    if args.reuse_db:
        url, origin = stack.enter_context(kept_database(args.reuse_db, reuse=True))
        try:
            meta = refresh_after_migrations(url, read_meta(url), rebuild=args.rebuild_rollups)
        except ValueError as error:
            raise BenchError(str(error)) from error
        err.print(
            f"[dim]reusing {args.reuse_db}: {meta['executions']:,} executions seeded "
            f"{meta['seeded_at']}[/dim]"
        )
        return url, origin, meta
    executions = args.executions if args.executions is not None else 1_000_000
    if args.keep_db:
        url, origin = stack.enter_context(kept_database(args.keep_db, reuse=False))
    else:
        url, origin = stack.enter_context(bench_database())
    started, began = time.perf_counter(), datetime.now(UTC)
    target = seed(url, executions)
    meta = {
        "target": target,
        "executions": executions,
        "prompts": PROMPTS,
        "seed_seconds": round(time.perf_counter() - started, 1),
        "seeded_at": began.isoformat(timespec="seconds"),  # the data is dated from then
        "revision": schema_revision(url),
    }
    if args.keep_db:
        write_meta(url, meta)
        err.print(f"[dim]kept as {args.keep_db}: reuse it with --reuse-db {args.keep_db}[/dim]")
    return url, origin, meta


def main() -> int:
    args = _arguments()
    with ExitStack() as stack:
        url, origin, meta = _prepare(stack, args)
        if args.seed_only:
            return 0
        target, seeded, executions = meta["target"], meta["seed_seconds"], meta["executions"]
        err.print("[dim]starting the gateway...[/dim]")
        gateway = start_server(
            stack, "gateway", "gateway_app", "/health", {"DATABASE_URL": url, "API_KEY": API_KEY}
        )
        with httpx.Client(
            base_url=gateway.base_url, timeout=30, headers={"Accept": "text/html"}
        ) as client:
            form = client.get("/sign-in").text
            nonce = re.search(r'name="csrf" value="([^"]+)"', form)
            if nonce is None:
                raise BenchError("no sign-in form")
            signed = client.post("/sign-in", data={"csrf": nonce.group(1), "api_key": API_KEY})
            if signed.status_code != 303:
                raise BenchError(f"sign-in -> {signed.status_code}")
            since = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
            first = client.get("/executions").text
            cursor = re.search(r'href="(/executions\?cursor=[^"]+)"', first)
            if cursor is None:
                raise BenchError("no second page of executions")
            results = []
            for name, listed in pages(target, DEFAULT_PROJECT_ID, since):
                path = cursor.group(1).replace("&amp;", "&") if listed == "CURSOR" else listed
                results.append(measure_page(client, name, path, args.samples))
                gateway.check_alive()
    check_leftovers()
    env = environment(origin)
    worst = max(results, key=lambda r: r.server_p95_ms)
    record(
        "console_pages",
        [
            summary_row(
                "console_pages",
                baseline=f"{executions:,} executions, {PROMPTS:,} prompts",
                ours=f"worst page {worst.page}: server p95 {fmt(worst.server_p95_ms, '.1f')} ms",
                outcome=f"{sum(r.passed for r in results)}/{len(results)} pages within target",
                checks=[goal(r.server_p95_ms, "<=", TARGET_P95_MS) for r in results],
            )
        ],
    )
    report = {
        "benchmark": "console_pages",
        "prompts": PROMPTS,
        "executions": executions,
        "samples_per_page": args.samples,
        "seed_seconds": round(seeded, 1),
        "database": args.reuse_db or args.keep_db,  # None: a fresh one, dropped
        "seeded_at": meta["seeded_at"],
        "target_p95_ms": TARGET_P95_MS,
        "pages": [asdict(r) for r in results],
        "passed": all(r.passed for r in results),
        "environment": env,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0 if report["passed"] else 1
    table = Table(title=f"Console pages: {PROMPTS:,} prompts, {executions:,} executions")
    for column in (
        "page",
        "server p50 ms",
        "server p95 ms",
        "server max ms",
        "client p50 ms",
        "p95 ≤ 150 ms",
    ):
        table.add_column(column, justify="left" if column == "page" else "right")
    for r in results:
        table.add_row(
            r.page,
            fmt(r.server_p50_ms, ".1f"),
            fmt(r.server_p95_ms, ".1f"),
            fmt(r.server_max_ms, ".1f"),
            fmt(r.client_p50_ms, ".1f"),
            verdict(r.passed),
        )
    console = report_console()
    console.print(table)
    source = f"reused {args.reuse_db}, " if args.reuse_db else ""
    seeding = f"{source}seeded {meta['seeded_at']} in {seeded:.0f} s"
    console.print(f"[dim]{environment_line(env)}; {seeding}[/dim]")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
