"""Benchmark: async executions, from ``POST /v1/executions:submit`` to a drained queue.

Side by side in one run, rounds interleaved (bare, ours, bare, ours, ...), medians over rounds:

- ``bare``: a bare procrastinate App (PsycopgConnector, on the same database and a pool sized
  like ours) with a task ``noop`` that returns at once: ``--jobs`` jobs are deferred in one
  batch (untimed), then a worker drains them (timed): the floor the queue itself sets.
- ``ours``: ``--jobs`` executions are submitted through our gateway one at a time (the client
  measures the enqueue latency), then our worker (``Container`` + its procrastinate app, with
  the options ``Queue.run_worker`` uses in production) drains them (timed). Every execution
  must end ``succeeded`` (checked in the database), or the run fails.

Both workers run with the same ``--concurrency`` and ``wait=False`` (they stop once the queue is
empty and their jobs are done), in a worker process of their own; the gateway, the stub LLM and
the load generator each have theirs. Our executions call the loopback stub LLM (latency 0)
through the OpenAI SDK (``--provider stub``, default) or the offline demo provider
(``--provider demo``, no network).

procrastinate's fetch query plans on the statistics of ``procrastinate_jobs``, and our jobs
carry a lock each: with stale statistics (an empty-table estimate facing a burst) the plan
checks the lock of every queued job on every fetch, and fetches are serial in a worker, so a
drain of N jobs costs O(N^2). By default the table is ANALYZEd once the jobs are queued, before
each drain (both sides), so that rounds are comparable; ``--no-analyze`` turns autovacuum off
on the table instead, to measure the burst-on-an-idle-queue case deterministically. The report
shows the planner's row estimate at the start of each drain.

A third side, ``equiv`` (on by default; ``--no-equivalent`` drops it), is a bare procrastinate
task doing what an execution minimally must: POST the chat completion to the stub (httpx), then
INSERT the answer. It is the baseline of the drain target.

Targets (issue #13):
- enqueue latency (client-observed, concurrency 1): p50 <= 2 ms;
- drain rate: ours >= 0.8x the bare HTTP call + INSERT task's jobs/s (and the no-op's shown);
- worker CPU per job: <= 1 ms.

The database is $DATABASE_URL's server, or an embedded PostgreSQL; either way a fresh database
is created, migrated, seeded, and dropped at the end.

Run: ``.venv/bin/python bench/async_drain.py [--jobs 1500] [--rounds 3] [--json] [--check]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
from rich.table import Table

sys.path.append(str(Path(__file__).resolve().parents[1]))  # for `python bench/<this file>`

from bench._common import (
    API_KEY,
    SCRATCH_DDL,
    BenchError,
    LoadResult,
    LoadSpec,
    api_client,
    bench_database,
    check_leftovers,
    direct_body,
    environment,
    environment_line,
    err,
    expect,
    fmt,
    measure,
    median_of,
    record,
    report_console,
    run_body,
    seed_executions,
    spawn_pool,
    start_server,
    start_stub_llm,
    summary_row,
    target,
    verdict,
)

from prompt_ledger.settings import Settings

SUBMIT_PATH = "/v1/executions:submit"
NOOP_QUEUE = "bench_noop"
PROVIDERS = {"stub": ("openai", "gpt-4o-mini"), "demo": ("demo", "demo-echo")}

TARGET_ENQUEUE_P50_MS = 2.0
TARGET_DRAIN_RATIO = 0.8
TARGET_WORKER_CPU_US = 1000.0

SIDES = ("bare", "ours")


# --- the workers (run in a process of their own) ---------------------------------------------


@dataclass(frozen=True)
class DrainSpec:
    side: str  # "bare", "equiv" or "ours"
    database_url: str
    jobs: int  # bare: how many no-op jobs to defer first; ours: how many are queued
    concurrency: int
    openai_base_url: str | None = None
    analyze: bool = True  # ANALYZE procrastinate_jobs once the jobs are in, before the clock


@dataclass(frozen=True)
class DrainResult:
    jobs: int
    elapsed_s: float
    jobs_per_s: float
    worker_cpu: float  # busy fraction of the worker process while draining
    stub_cpu_us_per_job: float | None = None  # filled in by the parent
    # The planner's row estimate for procrastinate_jobs when the drain started (the fetch plan
    # depends on it), and whether the table had been analyzed (by autovacuum or --analyze).
    planner_rows: float | None = None
    analyzed: bool | None = None


def bench_settings(spec: DrainSpec) -> Settings:
    return Settings(
        _env_file=None,
        database_url=spec.database_url,
        api_key=API_KEY,
        environment="bench",
        openai_api_key="sk-bench" if spec.openai_base_url else None,
        openai_base_url=spec.openai_base_url,
        worker_concurrency=spec.concurrency,
    )


def worker_options(settings: Settings) -> dict[str, Any]:
    """The options ``Queue.run_worker`` passes in production (keep in step with
    src/prompt_ledger/queue.py), except ``wait=False``; both sides use the same."""
    return {
        "wait": False,
        "concurrency": settings.worker_concurrency,
        "shutdown_graceful_timeout": settings.worker_shutdown_grace,
        "delete_jobs": "successful",
        "install_signal_handlers": False,
        "fetch_job_polling_interval": settings.worker_poll_seconds,
        "update_heartbeat_interval": min(10.0, settings.stalled_after_seconds / 3),
        "stalled_worker_timeout": settings.stalled_after_seconds,
    }


async def _warm(pool: Any, size: int) -> None:
    """Open the pool's connections before the clock starts (a long-lived worker has them)."""
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(size):
            await stack.enter_async_context(pool.connection())


async def _jobs_table_stats(pool: Any, analyze: bool) -> tuple[float, bool]:
    """(planner's row estimate, analyzed yet?) of procrastinate_jobs, which decide the plan of
    procrastinate's fetch query; ANALYZE the table first when asked to."""
    async with pool.connection() as connection:
        if analyze:
            await connection.execute("ANALYZE procrastinate_jobs")
        cursor = await connection.execute(
            "SELECT c.reltuples, s.last_analyze IS NOT NULL OR s.last_autoanalyze IS NOT NULL "
            "AS analyzed FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid "
            "WHERE c.oid = 'procrastinate_jobs'::regclass"
        )
        row = await cursor.fetchone()
    assert row is not None
    if isinstance(row, dict):  # our pool's connections return dict rows
        return float(row["reltuples"]), bool(row["analyzed"])
    return float(row[0]), bool(row[1])


async def _timed_worker(app: Any, **options: Any) -> tuple[float, float]:
    cpu, started = time.process_time(), time.perf_counter()
    await app.run_worker_async(**options)
    elapsed = time.perf_counter() - started
    return elapsed, (time.process_time() - cpu) / elapsed


async def _drain_bare(spec: DrainSpec) -> DrainResult:
    """``bare``: a no-op task. ``equiv``: a task doing what an execution minimally must, with no
    framework: POST the chat completion to the stub (httpx), then INSERT the answer."""
    import httpx
    import procrastinate
    from psycopg.types.json import Jsonb

    from prompt_ledger.db.store import Database

    settings = bench_settings(spec)
    db = Database(
        settings.require_database_url(),
        min_size=settings.db_pool_min_size,
        max_size=settings.db_pool_max_size,
    )
    await db.open()
    app = procrastinate.App(connector=procrastinate.PsycopgConnector())
    http = httpx.AsyncClient(base_url=spec.openai_base_url or "", trust_env=False)
    request = json.dumps(direct_body()).encode()

    @app.task(name="noop", queue=NOOP_QUEUE)
    async def noop() -> None:
        return None

    @app.task(name="equiv", queue=NOOP_QUEUE)
    async def equiv() -> None:
        response = await http.post(
            "/chat/completions",
            content=request,
            headers={"Content-Type": "application/json", "Authorization": "Bearer sk-bench"},
        )
        response.raise_for_status()
        answer = response.json()
        async with db.connect() as q:
            await q.connection.execute(
                "INSERT INTO bench_scratch (payload) VALUES (%s)", [Jsonb(answer)]
            )

    task = equiv if spec.side == "equiv" else noop
    await app.open_async(pool=db.pool)
    try:
        async with db.connect() as q:
            await q.connection.execute(SCRATCH_DDL)
        await task.batch_defer_async(*({} for _ in range(spec.jobs)))
        rows, analyzed = await _jobs_table_stats(db.pool, spec.analyze)
        await _warm(db.pool, settings.db_pool_max_size)
        if spec.side == "equiv":  # a warm HTTP connection, as the SDK client has
            (await http.post("/chat/completions", content=request)).raise_for_status()
        elapsed, cpu = await _timed_worker(app, queues=[NOOP_QUEUE], **worker_options(settings))
    finally:
        await http.aclose()
        await app.close_async()
        await db.close()
    return DrainResult(
        spec.jobs, elapsed, spec.jobs / elapsed, cpu, planner_rows=rows, analyzed=analyzed
    )


async def _drain_ours(spec: DrainSpec) -> DrainResult:
    from prompt_ledger.container import Container
    from prompt_ledger.queue import EXECUTIONS_QUEUE

    settings = bench_settings(spec)
    container = Container(settings)
    await container.open()
    try:
        await container.queue.open()
        if spec.openai_base_url:
            container.providers.get("openai")  # build the SDK client before the clock starts
        rows, analyzed = await _jobs_table_stats(container.db.pool, spec.analyze)
        await _warm(container.db.pool, settings.db_pool_max_size)
        elapsed, cpu = await _timed_worker(
            container.queue.app,
            queues=[EXECUTIONS_QUEUE],
            additional_context={"container": container},
            **worker_options(settings),
        )
    finally:
        await container.aclose()
    return DrainResult(
        spec.jobs, elapsed, spec.jobs / elapsed, cpu, planner_rows=rows, analyzed=analyzed
    )


def drain(spec: DrainSpec) -> DrainResult:
    """One drain, on the event loop ``promptledger worker`` runs (uvloop when installed; every
    side alike). BENCH_LOOP=asyncio measures on asyncio's."""
    from prompt_ledger.worker import loop_factory

    factory = None if os.environ.get("BENCH_LOOP") == "asyncio" else loop_factory()
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(_drain_ours(spec) if spec.side == "ours" else _drain_bare(spec))


# --- checks (in the parent, on the database) --------------------------------------------------


def _counts(database_url: str, query: str) -> dict[str, int]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return {str(status): int(count) for status, count in conn.execute(query).fetchall()}


def check_bare(database_url: str, equivalents: int) -> None:
    """Successful jobs are deleted (``delete_jobs='successful'``): none may be left; and every
    ``equiv`` job so far wrote its row."""
    left = _counts(
        database_url,
        f"SELECT status, count(*) FROM procrastinate_jobs WHERE queue_name = '{NOOP_QUEUE}' "
        "GROUP BY status",
    )
    if left:
        raise BenchError(f"bare jobs left after the bare drain: {left}")
    if equivalents:
        with psycopg.connect(database_url, autocommit=True) as conn:
            row = conn.execute("SELECT count(*) FROM bench_scratch").fetchone()
        if row is None or row[0] != equivalents:
            raise BenchError(f"expected {equivalents} rows written by equiv jobs, found {row}")


def check_ours(database_url: str, expected: int) -> None:
    """Every async execution so far succeeded, and no execution job is left."""
    statuses = _counts(
        database_url,
        "SELECT status, count(*) FROM executions WHERE execution_mode = 'async' GROUP BY status",
    )
    if statuses != {"succeeded": expected}:
        raise BenchError(f"expected {expected} succeeded executions, found {statuses}")
    left = _counts(
        database_url,
        "SELECT status, count(*) FROM procrastinate_jobs WHERE queue_name = 'executions' "
        "GROUP BY status",
    )
    if left:
        raise BenchError(f"execution jobs left after our drain: {left}")


# --- the run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    jobs: int
    rounds: int
    concurrency: int
    warmup_jobs: int
    provider: str
    client: str
    analyze: bool
    equivalent: bool


@dataclass(frozen=True)
class Round:
    round: int
    drains: dict[str, DrainResult]  # by side: bare, ours, and equiv when asked for
    enqueue: LoadResult


def run(config: Config) -> dict[str, Any]:
    rounds: list[Round] = []
    provider, model = PROVIDERS[config.provider]
    sides = ("bare", "equiv", "ours") if config.equivalent else SIDES
    with ExitStack() as stack:
        database_url, db_origin = stack.enter_context(bench_database())
        if not config.analyze:  # deterministic planner statistics: never analyzed
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute("ALTER TABLE procrastinate_jobs SET (autovacuum_enabled = false)")
        stub = start_stub_llm(stack, 0.0) if config.provider == "stub" else None
        env = {"DATABASE_URL": database_url, "API_KEY": API_KEY}
        if stub is not None:
            env |= {"BENCH_OPENAI_API_KEY": "sk-bench", "BENCH_OPENAI_BASE_URL": stub.base_url}
        gateway = start_server(stack, "ours", "gateway_app", "/health", env)
        seed_executions(gateway, provider, model)
        body = run_body(provider=provider, model=model)
        with api_client(gateway) as client:  # one submission, checked in full
            queued = expect(client.post(SUBMIT_PATH, json=body), 202)
        if queued.get("status") != "queued" or queued.get("served_by") != provider:
            raise BenchError(f"the check submission was not queued for {provider}: {queued}")
        submitted, equivalents = 1, 0
        loader: ProcessPoolExecutor = stack.enter_context(spawn_pool())
        worker: ProcessPoolExecutor = stack.enter_context(spawn_pool())
        base_url = stub.base_url if stub is not None else None

        def submit(jobs: int) -> LoadResult:
            nonlocal submitted
            spec = LoadSpec(
                gateway.base_url + SUBMIT_PATH,
                {"Content-Type": "application/json", "X-API-Key": API_KEY},
                concurrency=1,
                duration=max(60.0, jobs * 0.05),
                max_requests=jobs,
                client=config.client,
                server_timing=True,
                method="POST",
                body=json.dumps(body).encode(),
                expect_status=202,
                expect_in_body=b'"status":"queued"',
            )
            result = measure(loader, gateway, spec)
            submitted += result.requests + 1  # + the untimed connection-warming request
            if result.requests + 1 != jobs:
                raise BenchError(f"submitted {result.requests + 1} of {jobs} executions in time")
            return result

        def drain_side(side: str, jobs: int) -> DrainResult:
            nonlocal equivalents
            spec = DrainSpec(side, database_url, jobs, config.concurrency, base_url, config.analyze)
            stub_before = stub.cpu_seconds() if stub is not None else None
            result = worker.submit(drain, spec).result(timeout=120 + jobs * 0.1)
            if stub is not None:
                stub.check_alive()
                stub_after = stub.cpu_seconds()
                if side != "bare" and stub_before is not None and stub_after is not None:
                    stub_cpu = (stub_after - stub_before) / jobs * 1e6
                    result = replace(result, stub_cpu_us_per_job=stub_cpu)
            if side == "ours":
                check_ours(database_url, submitted)
            else:
                equivalents += jobs if side == "equiv" else 0
                check_bare(database_url, equivalents)
            return result

        # Warm-up (not recorded): imports and connections in every process, our caches; and
        # the check submission above gets drained.
        for side in sides:
            if side == "ours":
                submit(config.warmup_jobs)
                drain_side("ours", submitted)
            else:
                drain_side(side, config.warmup_jobs)
        for number in range(1, config.rounds + 1):
            drains: dict[str, DrainResult] = {}
            enqueue: LoadResult | None = None
            for side in sides:
                if side == "ours":
                    enqueue = submit(config.jobs)
                    err.print(
                        f"[dim]round {number}/{config.rounds} ours   enqueue  "
                        f"{enqueue.requests + 1} submitted, {enqueue.rps:6.0f}/s  "
                        f"p50 {enqueue.p50_ms:5.2f} ms  p99 {enqueue.p99_ms:5.2f} ms  "
                        f"in-app p50 {fmt(enqueue.app_p50_ms, '.2f')} ms[/dim]"
                    )
                drains[side] = drain_side(side, config.jobs)
                _log(number, config.rounds, side, drains[side])
            assert enqueue is not None
            rounds.append(Round(number, drains, enqueue))
    return report(config, rounds, db_origin)


def _log(number: int, total: int, side: str, result: DrainResult) -> None:
    err.print(
        f"[dim]round {number}/{total} {side:6} drain    {result.jobs} jobs in "
        f"{result.elapsed_s:5.2f} s = {result.jobs_per_s:7.0f}/s  "
        f"worker cpu {result.worker_cpu:4.0%}  planner rows {fmt(result.planner_rows, '.0f')}"
        f"{' (analyzed)' if result.analyzed else ''}[/dim]"
    )


def _ratio(rounds: list[Round], side: str, base: str) -> float | None:
    """Median over rounds of side/base jobs/s (same round: same machine state)."""
    return median_of(
        [
            r.drains[side].jobs_per_s / r.drains[base].jobs_per_s
            for r in rounds
            if side in r.drains and base in r.drains
        ]
    )


def report(config: Config, rounds: list[Round], db_origin: str) -> dict[str, Any]:
    sides = [side for side in ("bare", "equiv", "ours") if side in rounds[0].drains]
    summary: dict[str, dict[str, float | None]] = {
        side: {
            key: median_of([getattr(r.drains[side], key) for r in rounds])
            for key in ("jobs_per_s", "elapsed_s", "worker_cpu", "stub_cpu_us_per_job")
        }
        for side in sides
    }
    for side in sides:  # worker CPU per job, from its busy fraction and rate
        cpu, rate = summary[side]["worker_cpu"], summary[side]["jobs_per_s"]
        summary[side]["worker_cpu_us_per_job"] = cpu / rate * 1e6 if cpu and rate else None
    summary["enqueue"] = {
        key: median_of([getattr(r.enqueue, key) for r in rounds])
        for key in (
            "rps",
            "p50_ms",
            "p90_ms",
            "p99_ms",
            "max_ms",
            "app_p50_ms",
            "app_p99_ms",
            "server_cpu_us_per_req",
        )
    }
    ratios: dict[str, float | None] = {"drain_ours_over_bare": _ratio(rounds, "ours", "bare")}
    if "equiv" in sides:
        ratios["drain_ours_over_equiv"] = _ratio(rounds, "ours", "equiv")
    # The target's baseline: the like-for-like task when it ran, else the no-op.
    ratio = ratios.get("drain_ours_over_equiv", ratios["drain_ours_over_bare"])
    enqueue_p50 = summary["enqueue"]["p50_ms"]
    return {
        "benchmark": "async_drain",
        "endpoint": f"POST {SUBMIT_PATH} + worker",
        "config": asdict(config),
        "provider": {
            "stub": "openai SDK -> loopback stub LLM (latency 0)",
            "demo": "offline demo provider (no network)",
        }[config.provider],
        "environment": environment(db_origin),
        "summary": summary,
        "ratios": ratios,
        "targets": {
            "enqueue_p50_ms": target(enqueue_p50, "<=", TARGET_ENQUEUE_P50_MS),
            "drain_ratio": target(ratio, ">=", TARGET_DRAIN_RATIO),
            "worker_cpu_us_per_job": target(
                summary["ours"]["worker_cpu_us_per_job"], "<=", TARGET_WORKER_CPU_US
            ),
        },
        "rounds": [
            {
                "round": r.round,
                **{side: asdict(result) for side, result in r.drains.items()},
                "enqueue": asdict(r.enqueue),
            }
            for r in rounds
        ],
    }


def print_table(result: dict[str, Any]) -> None:
    config, summary, targets = result["config"], result["summary"], result["targets"]
    ratios, enqueue = result["ratios"], summary["enqueue"]
    sides = [side for side in ("bare", "equiv", "ours") if side in summary]
    titles = {"bare": "bare no-op", "equiv": "bare http+insert", "ours": "ours"}

    def mark(name: str) -> str:
        return verdict(targets[name]["pass"])

    def row(
        metric: str, values: dict[str, str], ratio: str = "", goal: str = "", ok: str = ""
    ) -> None:
        table.add_row(metric, *(values.get(side, "") for side in sides), ratio, goal, ok)

    table = Table(
        title=f"async executions: submit + drain ({config['jobs']} jobs per round, median of "
        f"{config['rounds']} rounds, worker concurrency {config['concurrency']})"
    )
    for column in ("metric", *(titles[side] for side in sides), "ours/bare", "target", ""):
        table.add_column(column, justify="left" if column in {"metric", "target"} else "right")

    def per_side(key: str, spec: str) -> dict[str, str]:
        return {side: fmt(summary[side][key], spec) for side in sides}

    equiv = "drain_ours_over_equiv" in ratios
    row(
        "drain jobs/s",
        per_side("jobs_per_s", ",.0f"),
        fmt(ratios["drain_ours_over_bare"], ".2f") + "x",
        "" if equiv else f">= {TARGET_DRAIN_RATIO:.2f}x",
        "" if equiv else mark("drain_ratio"),
    )
    if equiv:
        row(
            "drain ours / bare http+insert",
            {},
            fmt(ratios["drain_ours_over_equiv"], ".2f") + "x",
            f">= {TARGET_DRAIN_RATIO:.2f}x",
            mark("drain_ratio"),
        )
    row("drain seconds", per_side("elapsed_s", ".2f"))
    row("worker CPU busy", per_side("worker_cpu", ".0%"))
    row(
        "worker CPU us/job",
        per_side("worker_cpu_us_per_job", ",.0f"),
        "",
        f"<= {TARGET_WORKER_CPU_US:,.0f} us",
        mark("worker_cpu_us_per_job"),
    )
    row(
        "stub CPU us/job",
        {s: v for s, v in per_side("stub_cpu_us_per_job", ".0f").items() if s != "bare"},
    )
    row(
        "jobs-table planner rows (per round)",
        {
            side: " ".join(
                fmt(r[side]["planner_rows"], ".0f") + ("*" if r[side]["analyzed"] else "")
                for r in result["rounds"]
            )
            for side in sides
        },
    )
    row(
        "enqueue p50 ms @c=1",
        {"ours": fmt(enqueue["p50_ms"], ".2f")},
        "",
        f"<= {TARGET_ENQUEUE_P50_MS:g} ms",
        mark("enqueue_p50_ms"),
    )
    row("enqueue p99 ms @c=1", {"ours": fmt(enqueue["p99_ms"], ".2f")})
    row("enqueue max ms @c=1", {"ours": fmt(enqueue["max_ms"], ".2f")})
    row(
        "enqueue Server-Timing app p50/p99",
        {"ours": f"{fmt(enqueue['app_p50_ms'], '.2f')}/{fmt(enqueue['app_p99_ms'], '.2f')}"},
    )
    row("enqueue server CPU us/req", {"ours": fmt(enqueue["server_cpu_us_per_req"], ".0f")})
    console = report_console()
    console.print(table)
    console.print(
        f"[dim]{environment_line(result['environment'])}; provider: {result['provider']}; "
        "enqueue latency is client-observed; drain = worker start to worker exit "
        "(wait=False); planner rows = pg_class.reltuples of procrastinate_jobs when the drain "
        "started (* = the table had been analyzed): procrastinate's fetch plan depends on "
        "it[/dim]"
    )


def summary_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of bench/summary.py this benchmark measures."""
    summary, ratios, targets = result["summary"], result["ratios"], result["targets"]
    enqueue, ours = summary["enqueue"], summary["ours"]
    equiv = "equiv" in summary
    base = summary["equiv" if equiv else "bare"]
    return [
        summary_row(
            "async_drain",
            baseline=f"{'HTTP call + INSERT task' if equiv else 'no-op task'} "
            f"{fmt(base['jobs_per_s'], ',.0f')} jobs/s "
            f"({fmt(base['worker_cpu_us_per_job'], ',.0f')} us CPU/job); no-op "
            f"{fmt(summary['bare']['jobs_per_s'], ',.0f')} jobs/s",
            ours=f"{fmt(ours['jobs_per_s'], ',.0f')} jobs/s "
            f"({fmt(ours['worker_cpu_us_per_job'], ',.0f')} us CPU/job)",
            outcome=f"{fmt(targets['drain_ratio']['value'], '.2f')}x "
            f"(vs no-op {fmt(ratios['drain_ours_over_bare'], '.2f')}x)",
            checks=[targets["drain_ratio"], targets["worker_cpu_us_per_job"]],
        ),
        summary_row(
            "enqueue",
            baseline="",
            ours=f"p50 {fmt(enqueue['p50_ms'], '.2f')} / p99 {fmt(enqueue['p99_ms'], '.2f')} ms",
            outcome=f"in-app p50 {fmt(enqueue['app_p50_ms'], '.2f')} ms",
            checks=[targets["enqueue_p50_ms"]],
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--jobs", type=int, default=1500, help="jobs per round and side (default 1500)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument(
        "--concurrency", type=int, default=10, help="worker concurrency, both sides (default 10)"
    )
    parser.add_argument(
        "--warmup-jobs", type=int, default=100, help="unrecorded warm-up jobs per side"
    )
    parser.add_argument(
        "--provider",
        choices=tuple(PROVIDERS),
        default="stub",
        help="'stub': the OpenAI SDK against the loopback stub LLM (default); 'demo': offline",
    )
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw")
    parser.add_argument(
        "--analyze",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ANALYZE procrastinate_jobs once the jobs are queued, before each drain (default); "
        "--no-analyze turns autovacuum off on that table instead, so the planner keeps its "
        "empty-table estimate, as for a usually-empty queue hit by a burst",
    )
    parser.add_argument(
        "--equivalent",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also drain a bare procrastinate task doing what an execution minimally must "
        "(POST to the stub with httpx, INSERT the answer): the like-for-like baseline of the "
        "target (default on; stub only)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    if min(args.jobs, args.rounds, args.concurrency, args.warmup_jobs) < 1 or args.jobs < 2:
        parser.error("--jobs (>= 2), --rounds, --concurrency and --warmup-jobs must be positive")
    if args.equivalent and args.provider != "stub":
        args.equivalent = False  # the like-for-like task calls the stub
    config = Config(
        args.jobs,
        args.rounds,
        args.concurrency,
        args.warmup_jobs,
        args.provider,
        args.client,
        args.analyze,
        args.equivalent,
    )
    try:
        result = run(config)
        check_leftovers()
    except BenchError as exc:
        err.print(f"[red]benchmark failed: {exc}[/red]")
        return 2
    record("async_drain", summary_rows(result))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    missed = not all(t["pass"] for t in result["targets"].values())
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
