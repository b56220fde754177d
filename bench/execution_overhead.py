"""Benchmark: the overhead of a synchronous execution, ``POST /v1/executions:run``.

Three servers run side by side, each in its own process on 127.0.0.1, and the load comes from
a fourth:

- ``direct``: the loopback stub LLM (OpenAI chat-completions, ``--latency`` seconds per reply,
  default 50 ms), called directly with the body our OpenAI adapter sends;
- ``ours``: our gateway (single-worker uvicorn) running the bench prompt against that stub, so
  each execution resolves, renders, records, calls the stub through the OpenAI SDK and records
  the outcome;
- ``insert``: a bare Starlette endpoint doing one INSERT through a psycopg_pool pool: the
  floor for an endpoint that writes to PostgreSQL.

Rounds are interleaved (direct, ours at concurrency 1; insert, ours at ``--concurrency``) and
the report takes medians over rounds, so a noisy machine slows every side alike. Every
response must be 200 (and, for ours, an execution with status ``succeeded``), or the run fails.

Targets:
- added latency at concurrency 1 (ours minus direct, client-observed): p50 <= 3 ms,
  p99 <= 10 ms; the server's own ``Server-Timing: overhead`` (app minus provider time) is
  reported alongside;
- throughput at ``--concurrency`` (default 50): ours >= 0.5x the Starlette + one INSERT req/s.
  Mind the ceiling: at concurrency C and stub latency L, ours cannot pass C / L req/s (Little's
  law; 1000 req/s at the defaults) however little CPU it uses, while the insert baseline is only
  CPU-bound; ``--insert-wait L`` puts the baseline under the same ceiling. The server CPU per
  request row compares the two independently of both.

The database is $DATABASE_URL's server, or an embedded PostgreSQL; either way a fresh database
is created, migrated, seeded, and dropped at the end.

Run: ``.venv/bin/python bench/execution_overhead.py [--rounds 3] [--json] [--check]``
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table

sys.path.append(str(Path(__file__).resolve().parents[1]))  # for `python bench/<this file>`

from bench._common import (
    API_KEY,
    CLIENT_BOUND_CPU,
    CLIENTS,
    BenchError,
    LoadResult,
    LoadSpec,
    Server,
    api_client,
    bench_database,
    direct_body,
    environment,
    environment_line,
    err,
    expect,
    fmt,
    measure,
    median_of,
    report_console,
    run_body,
    seed_executions,
    spawn_pool,
    start_server,
    start_stub_llm,
    target,
    timing_metric,
    verdict,
)

RUN_PATH = "/v1/executions:run"
DIRECT_PATH = "/chat/completions"  # under the stub's OpenAI base URL (.../v1)
INSERT_PATH = "/insert"

TARGET_ADDED_P50_MS = 3.0
TARGET_ADDED_P99_MS = 10.0
TARGET_RPS_RATIO = 0.5

APPS = ("direct", "ours", "insert")
LATENCY, THROUGHPUT = "latency", "throughput"
SUMMARY_KEYS = (
    "requests",
    "rps",
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "max_ms",
    "client_cpu",
    "app_p50_ms",
    "app_p99_ms",
    "overhead_p50_ms",
    "overhead_p99_ms",
    "server_cpu_us_per_req",
    "stub_cpu_us_per_req",
)


@dataclass(frozen=True)
class Config:
    latency: float
    latency_duration: float
    throughput_duration: float
    concurrency: int
    rounds: int
    warmup: float
    max_requests: int
    client: str
    direct_throughput: bool
    insert_wait: float


@dataclass(frozen=True)
class Sample:
    round: int
    app: str
    mode: str  # LATENCY (concurrency 1) or THROUGHPUT (--concurrency)
    concurrency: int
    result: LoadResult
    stub_cpu_us_per_req: float | None = None  # the stub's CPU per request of this round


def check_once(ours: Server, stub: Server) -> None:
    """One execution and one direct call, checked in full before any load."""
    with api_client(ours, timeout=30.0) as client:
        response = client.post(RUN_PATH, json=run_body())
        execution = expect(response, 200)
    if execution.get("status") != "succeeded" or execution.get("served_by") != "openai":
        raise BenchError(f"the check execution did not succeed on openai: {execution}")
    timing = response.headers.get("server-timing")
    if timing_metric(timing, "provider") is None or timing_metric(timing, "overhead") is None:
        raise BenchError(f"no provider/overhead in the Server-Timing header: {timing!r}")
    with httpx.Client(trust_env=False, timeout=30.0) as client:
        completion = expect(client.post(stub.base_url + DIRECT_PATH, json=direct_body()), 200)
    if not completion.get("choices"):
        raise BenchError(f"the stub answered without choices: {completion}")


def run(config: Config) -> dict[str, Any]:
    samples: list[Sample] = []
    with ExitStack() as stack:
        database_url, db_origin = stack.enter_context(bench_database())
        stub = start_stub_llm(stack, config.latency)
        env = {
            "DATABASE_URL": database_url,
            "API_KEY": API_KEY,
            "BENCH_OPENAI_API_KEY": "sk-bench",
            "BENCH_OPENAI_BASE_URL": stub.base_url,
            "INSERT_WAIT": repr(config.insert_wait),
        }
        servers = {
            "direct": stub,
            "ours": start_server(stack, "ours", "gateway_app", "/health", env),
            "insert": start_server(stack, "insert", "insert_app", "/health", env),
        }
        seed_executions(servers["ours"])
        check_once(servers["ours"], stub)
        json_headers = {"Content-Type": "application/json"}
        targets: dict[str, tuple[str, dict[str, str], dict[str, Any], bytes | None]] = {
            "direct": (stub.base_url + DIRECT_PATH, json_headers, direct_body(), b'"choices"'),
            "ours": (
                servers["ours"].base_url + RUN_PATH,
                {**json_headers, "X-API-Key": API_KEY},
                run_body(),
                b'"status":"succeeded"',
            ),
            "insert": (servers["insert"].base_url + INSERT_PATH, json_headers, run_body(), None),
        }
        pool: ProcessPoolExecutor = stack.enter_context(spawn_pool())

        def spec(app: str, concurrency: int, duration: float) -> LoadSpec:
            url, headers, body, must_contain = targets[app]
            return LoadSpec(
                url,
                headers,
                concurrency,
                duration,
                config.max_requests,
                client=config.client,
                server_timing=app == "ours",
                method="POST",
                body=json.dumps(body).encode(),
                expect_status=200,
                expect_in_body=must_contain,
            )

        def sample(number: int, app: str, mode: str, concurrency: int, duration: float) -> Sample:
            stub_before = stub.cpu_seconds()
            result = measure(pool, servers[app], spec(app, concurrency, duration))
            stub_after = stub.cpu_seconds()
            stub.check_alive()
            stub_cpu = None
            if app != "insert" and stub_before is not None and stub_after is not None:
                stub_cpu = (stub_after - stub_before) / max(1, result.requests) * 1e6
            if app == "direct":  # the stub is the server: its CPU is already counted
                result = replace(result, server_cpu_us_per_req=None)
            return Sample(number, app, mode, concurrency, result, stub_cpu)

        schedule: list[tuple[str, str, int, float]] = [
            (LATENCY, "direct", 1, config.latency_duration),
            (LATENCY, "ours", 1, config.latency_duration),
            (THROUGHPUT, "insert", config.concurrency, config.throughput_duration),
            (THROUGHPUT, "ours", config.concurrency, config.throughput_duration),
        ]
        if config.direct_throughput:
            schedule.append((THROUGHPUT, "direct", config.concurrency, config.throughput_duration))
        if config.warmup > 0:  # fills connection pools, warms caches and the SDK; not recorded
            for app in ("ours", "insert", "direct"):
                sample(0, app, THROUGHPUT, config.concurrency, config.warmup)
        for number in range(1, config.rounds + 1):
            for mode, app, concurrency, duration in schedule:
                s = sample(number, app, mode, concurrency, duration)
                samples.append(s)
                r = s.result
                overhead = (
                    f"  overhead p50 {r.overhead_p50_ms:5.2f} p99 {r.overhead_p99_ms:5.2f} ms"
                    if r.overhead_p50_ms is not None and r.overhead_p99_ms is not None
                    else ""
                )
                err.print(
                    f"[dim]round {number}/{config.rounds} {app:6} {mode:10} c={concurrency:<3} "
                    f"{r.rps:7.0f} req/s  p50 {r.p50_ms:6.2f} ms  p99 {r.p99_ms:6.2f} ms  "
                    f"client cpu {r.client_cpu:4.0%}{overhead}[/dim]"
                )
    return report(config, samples, db_origin)


def _summary(samples: list[Sample], app: str, mode: str) -> dict[str, float | None]:
    chosen = [s for s in samples if s.app == app and s.mode == mode]
    if not chosen:
        return {}
    summary: dict[str, float | None] = {}
    for key in SUMMARY_KEYS:
        if key == "stub_cpu_us_per_req":
            summary[key] = median_of([s.stub_cpu_us_per_req for s in chosen])
        else:
            summary[key] = median_of([getattr(s.result, key) for s in chosen])
    return summary


def _paired(samples: list[Sample], key: str, app: str, base: str, mode: str) -> float | None:
    """Median over rounds of (app's figure - base's figure) within the same round."""
    deltas: list[float | None] = []
    for number in sorted({s.round for s in samples}):
        ours = [s for s in samples if s.round == number and s.app == app and s.mode == mode]
        other = [s for s in samples if s.round == number and s.app == base and s.mode == mode]
        if ours and other:
            deltas.append(getattr(ours[0].result, key) - getattr(other[0].result, key))
    return median_of(deltas)


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0 or math.isnan(a) or math.isnan(b):
        return None
    return a / b


def report(config: Config, samples: list[Sample], db_origin: str) -> dict[str, Any]:
    summary = {
        app: {mode: _summary(samples, app, mode) for mode in (LATENCY, THROUGHPUT)} for app in APPS
    }
    added_p50 = _paired(samples, "p50_ms", "ours", "direct", LATENCY)
    added_p99 = _paired(samples, "p99_ms", "ours", "direct", LATENCY)
    ours_t, insert_t = summary["ours"][THROUGHPUT], summary["insert"][THROUGHPUT]
    rps_ratio = _ratio(ours_t.get("rps"), insert_t.get("rps"))
    insert_client_cpu = insert_t.get("client_cpu") or 0.0
    return {
        "benchmark": "execution_overhead",
        "endpoint": f"POST {RUN_PATH}",
        "config": asdict(config),
        "environment": environment(db_origin),
        "summary": summary,
        "ratios": {
            "added_p50_ms_c1": added_p50,
            "added_p99_ms_c1": added_p99,
            "rps_ours_over_insert": rps_ratio,
            # Capacity ratio implied by server-process CPU per request, whatever the client did
            # (ours excludes the stub's CPU, which is reported on its own).
            "cpu_per_req_insert_over_ours": _ratio(
                insert_t.get("server_cpu_us_per_req"), ours_t.get("server_cpu_us_per_req")
            ),
        },
        "targets": {
            "added_p50_ms_c1": target(added_p50, "<=", TARGET_ADDED_P50_MS),
            "added_p99_ms_c1": target(added_p99, "<=", TARGET_ADDED_P99_MS),
            "rps_ratio": target(rps_ratio, ">=", TARGET_RPS_RATIO),
        },
        # The insert figure is only a ceiling for that server if the client kept up with it.
        "client_bound": insert_client_cpu >= CLIENT_BOUND_CPU,
        "samples": [
            {
                "round": s.round,
                "app": s.app,
                "mode": s.mode,
                "concurrency": s.concurrency,
                **asdict(s.result),
                "stub_cpu_us_per_req": s.stub_cpu_us_per_req,
            }
            for s in samples
        ],
    }


def print_table(result: dict[str, Any]) -> None:
    config, summary, ratios = result["config"], result["summary"], result["ratios"]
    targets = result["targets"]
    c = config["concurrency"]
    dl, ol = summary["direct"][LATENCY], summary["ours"][LATENCY]
    it, ot, dt = (
        summary["insert"][THROUGHPUT],
        summary["ours"][THROUGHPUT],
        summary["direct"][THROUGHPUT],
    )

    def ms(value: float | None) -> str:
        return fmt(value, ".2f")

    def mark(name: str, reliable: bool = True) -> str:
        return verdict(targets[name]["pass"], reliable)

    table = Table(
        title=f"{result['endpoint']} overhead (stub LLM {config['latency'] * 1000:g} ms; median of "
        f"{config['rounds']} rounds x {config['latency_duration']:g} s @c=1, "
        f"{config['throughput_duration']:g} s @c={c})"
    )
    for column in ("metric", "baseline", "ours", "ours-base / ratio", "target", ""):
        table.add_column(column, justify="left" if column in {"metric", "target"} else "right")
    table.add_row(
        "p50 ms @c=1 (base: direct)",
        ms(dl.get("p50_ms")),
        ms(ol.get("p50_ms")),
        "+" + ms(ratios["added_p50_ms_c1"]),
        f"<= +{TARGET_ADDED_P50_MS:g} ms",
        mark("added_p50_ms_c1"),
    )
    table.add_row(
        "p99 ms @c=1 (base: direct)",
        ms(dl.get("p99_ms")),
        ms(ol.get("p99_ms")),
        "+" + ms(ratios["added_p99_ms_c1"]),
        f"<= +{TARGET_ADDED_P99_MS:g} ms",
        mark("added_p99_ms_c1"),
    )
    table.add_row(
        "Server-Timing overhead p50/p99 @c=1",
        "",
        f"{ms(ol.get('overhead_p50_ms'))}/{ms(ol.get('overhead_p99_ms'))}",
        "",
        "",
        "",
    )
    table.add_row(
        "Server-Timing app p50/p99 @c=1",
        "",
        f"{ms(ol.get('app_p50_ms'))}/{ms(ol.get('app_p99_ms'))}",
        "",
        "",
        "",
    )
    table.add_row(
        f"req/s @c={c} (base: insert)",
        fmt(it.get("rps"), ",.0f"),
        fmt(ot.get("rps"), ",.0f"),
        fmt(ratios["rps_ours_over_insert"], ".2f") + "x",
        f">= {TARGET_RPS_RATIO:.2f}x",
        mark("rps_ratio", reliable=not result["client_bound"]),
    )
    table.add_row(f"p50 ms @c={c}", ms(it.get("p50_ms")), ms(ot.get("p50_ms")), "", "", "")
    table.add_row(f"p99 ms @c={c}", ms(it.get("p99_ms")), ms(ot.get("p99_ms")), "", "", "")
    table.add_row(
        f"Server-Timing overhead p50/p99 @c={c}",
        "",
        f"{ms(ot.get('overhead_p50_ms'))}/{ms(ot.get('overhead_p99_ms'))}",
        "",
        "",
        "",
    )
    table.add_row(
        f"server CPU us/req @c={c}",
        fmt(it.get("server_cpu_us_per_req"), ".0f"),
        fmt(ot.get("server_cpu_us_per_req"), ".0f"),
        fmt(ratios["cpu_per_req_insert_over_ours"], ".2f") + "x",
        "",
        "",
    )
    table.add_row(
        f"stub CPU us/req @c={c}", "", fmt(ot.get("stub_cpu_us_per_req"), ".0f"), "", "", ""
    )
    table.add_row(
        f"client CPU @c={c}",
        fmt(it.get("client_cpu"), ".0%"),
        fmt(ot.get("client_cpu"), ".0%"),
        "",
        "",
        "",
    )
    if dt:
        table.add_row(
            f"direct (stub alone) req/s, p99 ms @c={c}",
            f"{fmt(dt.get('rps'), ',.0f')}, {ms(dt.get('p99_ms'))}",
            "",
            "",
            "",
            "",
        )
    console = report_console()
    console.print(table)
    console.print(
        f"[dim]{environment_line(result['environment'])}; client: {config['client']}; "
        "latencies are client-observed; Server-Timing overhead = our app time minus the "
        "provider call (the OpenAI SDK's own work is inside the provider time)[/dim]"
    )
    if result["client_bound"]:
        console.print(
            "[yellow]* the load generator was saturated during the insert rounds, so insert "
            "req/s is a floor for that server and the req/s ratio is optimistic; see the "
            "server CPU us/req row.[/yellow]"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--latency", type=float, default=0.05, help="stub LLM seconds per reply (default 0.05)"
    )
    parser.add_argument(
        "--latency-duration",
        type=float,
        default=5.0,
        help="seconds per concurrency-1 round and app (default 5)",
    )
    parser.add_argument(
        "--throughput-duration",
        type=float,
        default=3.0,
        help="seconds per throughput round and app (default 3)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=50,
        help="concurrent requests for the throughput rounds (default 50)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="unrecorded warm-up seconds per app (default 1)"
    )
    parser.add_argument(
        "--max-requests", type=int, default=200_000, help="cap on requests per round"
    )
    parser.add_argument(
        "--client",
        choices=CLIENTS,
        default="raw",
        help="load generator: 'raw' (lean asyncio HTTP/1.1 keep-alive, default) or 'httpx'",
    )
    parser.add_argument(
        "--direct-throughput",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also load the stub alone at --concurrency (its ceiling; default on)",
    )
    parser.add_argument(
        "--insert-wait",
        type=float,
        default=0.0,
        help="seconds the insert baseline sleeps after its INSERT (default 0; e.g. the stub "
        "latency, so that both sides face the same concurrency/latency ceiling)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    if (
        args.latency < 0
        or min(args.latency_duration, args.throughput_duration) <= 0
        or min(args.concurrency, args.rounds, args.max_requests) < 1
    ):
        parser.error("durations, --concurrency, --rounds and --max-requests must be positive")
    config = Config(
        latency=args.latency,
        latency_duration=args.latency_duration,
        throughput_duration=args.throughput_duration,
        concurrency=args.concurrency,
        rounds=args.rounds,
        warmup=args.warmup,
        max_requests=args.max_requests,
        client=args.client,
        direct_throughput=args.direct_throughput,
        insert_wait=args.insert_wait,
    )
    try:
        result = run(config)
    except BenchError as exc:
        err.print(f"[red]benchmark failed: {exc}[/red]")
        return 2
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    missed = not all(t["pass"] for t in result["targets"].values())
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
