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

The database is $DATABASE_URL's server, or an embedded PostgreSQL; either way a fresh database
is created, migrated, seeded and dropped at the end (seeding takes a minute or two).

Run: ``.venv/bin/python bench/console_pages.py [--samples 40] [--executions 1000000] [--json]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import sys
import time
import uuid
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from rich.table import Table

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
    timing_metric,
    verdict,
)
from bench._common import (
    target as goal,
)

TARGET_P95_MS = 150.0
PROMPTS = 10_000
TEAMS = 25
STATUSES = ["succeeded"] * 96 + ["failed"] * 3 + ["queued", "running"]
BATCH = 50_000
APP_TRACES = 2_000  # small traces an application sent (3 spans each)
BIG_TRACE_SPANS = 200  # one trace of nested spans around an execution (the waterfall)


def _copy(cur: psycopg.Cursor[Any], table: str, columns: str, lines: list[str]) -> None:
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        copy.write("".join(lines))


def seed(url: str, executions: int) -> dict[str, Any]:
    """COPY the data set; returns what the pages are pointed at."""
    rng = random.Random(42)
    now = datetime.now(UTC)
    project = DEFAULT_PROJECT_ID
    with psycopg.connect(url, autocommit=True) as conn, conn.cursor() as cur:
        # a bulk load: no per-row triggers (the analytics rollups are rebuilt afterwards)
        cur.execute("SET session_replication_role = replica")
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
        cur.execute("RESET session_replication_role")
    asyncio.run(_rebuild_rollups(url))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return {
        "execution_id": str(sample_id),
        "prompt": f"prompt_{PROMPTS // 2:05d}",
        "trace": sample_trace,
    }


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args()
    with ExitStack() as stack:
        url, origin = stack.enter_context(bench_database())
        started = time.perf_counter()
        target = seed(url, args.executions)
        seeded = time.perf_counter() - started
        err.print(f"[dim]seeded in {seeded:.0f} s; starting the gateway...[/dim]")
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
                baseline=f"{args.executions:,} executions, {PROMPTS:,} prompts",
                ours=f"worst page {worst.page}: server p95 {fmt(worst.server_p95_ms, '.1f')} ms",
                outcome=f"{sum(r.passed for r in results)}/{len(results)} pages within target",
                checks=[goal(r.server_p95_ms, "<=", TARGET_P95_MS) for r in results],
            )
        ],
    )
    report = {
        "benchmark": "console_pages",
        "prompts": PROMPTS,
        "executions": args.executions,
        "samples_per_page": args.samples,
        "seed_seconds": round(seeded, 1),
        "target_p95_ms": TARGET_P95_MS,
        "pages": [asdict(r) for r in results],
        "passed": all(r.passed for r in results),
        "environment": env,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0 if report["passed"] else 1
    table = Table(title=f"Console pages: {PROMPTS:,} prompts, {args.executions:,} executions")
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
    console.print(f"[dim]{environment_line(env)}; seeded in {seeded:.0f} s[/dim]")
    return 0 if report["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
