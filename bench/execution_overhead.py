"""Benchmark: the overhead of a synchronous execution, ``POST /v1/executions:run``.

Three servers run side by side, each in its own process on 127.0.0.1, and the load comes from
a fourth:

- ``direct``: the loopback stub LLM (OpenAI chat-completions, ``--latency`` seconds per reply,
  default 50 ms), called directly with the body our OpenAI adapter sends;
- ``ours``: our gateway (single-worker uvicorn) running the bench prompt against that stub, so
  each execution resolves, renders, records, calls the stub through the OpenAI SDK and records
  the outcome;
- ``floor``: the minimal ledgered gateway (``bench/_apps.py: ledgered_app``): Starlette + one
  INSERT of the ``running`` row + the same HTTP call to the stub (httpx) + one UPDATE with the
  outcome, each statement committed: what a ledgered sync run costs with no framework of ours.

Rounds are interleaved (direct, floor, ours at concurrency 1, then at ``--concurrency``) and
the report takes medians over rounds, so a noisy machine slows every side alike. Every
response must be 200 (and, for ours, an execution with status ``succeeded``), or the run fails.

Targets (issue #13):
- added latency at concurrency 1 (ours minus direct, client-observed): p50 <= 3 ms,
  p99 <= 8 ms; the server's own ``Server-Timing: overhead`` (app minus provider time) is
  reported alongside, and the floor's added latency beside ours;
- throughput at ``--concurrency`` (default 32): ours >= 0.8x direct calls to the stub (at
  concurrency C and stub latency L no side passes C / L req/s: 640 at the defaults). Ours over
  the floor, and the server CPU per request of both, are reported alongside.

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
    timing_metric,
    verdict,
)

RUN_PATH = "/v1/executions:run"
DIRECT_PATH = "/chat/completions"  # under the stub's OpenAI base URL (.../v1)
FLOOR_PATH = "/run"

TARGET_ADDED_P50_MS = 3.0
TARGET_ADDED_P99_MS = 8.0
TARGET_RPS_RATIO = 0.8

APPS = ("direct", "floor", "ours")
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
        }
        servers = {
            "direct": stub,
            "ours": start_server(stack, "ours", "gateway_app", "/health", env),
            "floor": start_server(stack, "floor", "ledgered_app", "/health", env),
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
            "floor": (
                servers["floor"].base_url + FLOOR_PATH,
                json_headers,
                run_body(),
                b'"status":"succeeded"',
            ),
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
            if stub_before is not None and stub_after is not None:
                stub_cpu = (stub_after - stub_before) / max(1, result.requests) * 1e6
            if app == "direct":  # the stub is the server: its CPU is already counted
                result = replace(result, server_cpu_us_per_req=None)
            return Sample(number, app, mode, concurrency, result, stub_cpu)

        schedule: list[tuple[str, str, int, float]] = [
            *((LATENCY, app, 1, config.latency_duration) for app in APPS),
            *((THROUGHPUT, app, config.concurrency, config.throughput_duration) for app in APPS),
        ]
        if config.warmup > 0:  # fills connection pools, warms caches and the SDK; not recorded
            for app in ("ours", "floor", "direct"):
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
    floor_p50 = _paired(samples, "p50_ms", "floor", "direct", LATENCY)
    floor_p99 = _paired(samples, "p99_ms", "floor", "direct", LATENCY)
    ours_t, direct_t = summary["ours"][THROUGHPUT], summary["direct"][THROUGHPUT]
    floor_t = summary["floor"][THROUGHPUT]
    rps_ratio = _ratio(ours_t.get("rps"), direct_t.get("rps"))
    direct_client_cpu = direct_t.get("client_cpu") or 0.0
    return {
        "benchmark": "execution_overhead",
        "endpoint": f"POST {RUN_PATH}",
        "config": asdict(config),
        "environment": environment(db_origin),
        "summary": summary,
        "ratios": {
            "added_p50_ms_c1": added_p50,
            "added_p99_ms_c1": added_p99,
            "floor_added_p50_ms_c1": floor_p50,
            "floor_added_p99_ms_c1": floor_p99,
            "rps_ours_over_direct": rps_ratio,
            "rps_ours_over_floor": _ratio(ours_t.get("rps"), floor_t.get("rps")),
            # Capacity ratio implied by server-process CPU per request, whatever the client did
            # (both exclude the stub's CPU, which is reported on its own).
            "cpu_per_req_floor_over_ours": _ratio(
                floor_t.get("server_cpu_us_per_req"), ours_t.get("server_cpu_us_per_req")
            ),
        },
        "targets": {
            "added_p50_ms_c1": target(added_p50, "<=", TARGET_ADDED_P50_MS),
            "added_p99_ms_c1": target(added_p99, "<=", TARGET_ADDED_P99_MS),
            "rps_ratio": target(rps_ratio, ">=", TARGET_RPS_RATIO),
        },
        # The direct figure is only a ceiling for the stub if the client kept up with it.
        "client_bound": direct_client_cpu >= CLIENT_BOUND_CPU,
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
    latency = {app: summary[app][LATENCY] for app in APPS}
    throughput = {app: summary[app][THROUGHPUT] for app in APPS}

    def ms(value: float | None) -> str:
        return fmt(value, ".2f")

    def mark(name: str, reliable: bool = True) -> str:
        return verdict(targets[name]["pass"], reliable)

    table = Table(
        title=f"{result['endpoint']} overhead (stub LLM {config['latency'] * 1000:g} ms; median of "
        f"{config['rounds']} rounds x {config['latency_duration']:g} s @c=1, "
        f"{config['throughput_duration']:g} s @c={c})"
    )
    for column in ("metric", "direct", "floor", "ours", "ours vs direct", "target", ""):
        table.add_column(column, justify="left" if column in {"metric", "target"} else "right")

    def per_app(mode: dict[str, dict[str, float | None]], key: str, spec: str) -> list[str]:
        return [fmt(mode[app].get(key), spec) for app in APPS]

    table.add_row(
        "p50 ms @c=1",
        *per_app(latency, "p50_ms", ".2f"),
        "+" + ms(ratios["added_p50_ms_c1"]),
        f"<= +{TARGET_ADDED_P50_MS:g} ms",
        mark("added_p50_ms_c1"),
    )
    table.add_row(
        "p99 ms @c=1",
        *per_app(latency, "p99_ms", ".2f"),
        "+" + ms(ratios["added_p99_ms_c1"]),
        f"<= +{TARGET_ADDED_P99_MS:g} ms",
        mark("added_p99_ms_c1"),
    )
    table.add_row(
        "floor's added p50/p99 ms @c=1",
        "",
        f"+{ms(ratios['floor_added_p50_ms_c1'])}/+{ms(ratios['floor_added_p99_ms_c1'])}",
        "",
        "",
        "",
        "",
    )
    table.add_row(
        "Server-Timing overhead p50/p99 @c=1",
        "",
        "",
        f"{ms(latency['ours'].get('overhead_p50_ms'))}/{ms(latency['ours'].get('overhead_p99_ms'))}",
        "",
        "",
        "",
    )
    table.add_row(
        f"req/s @c={c}",
        *per_app(throughput, "rps", ",.0f"),
        fmt(ratios["rps_ours_over_direct"], ".2f") + "x",
        f">= {TARGET_RPS_RATIO:.2f}x",
        mark("rps_ratio", reliable=not result["client_bound"]),
    )
    table.add_row(
        f"ours / floor req/s @c={c}", "", "", fmt(ratios["rps_ours_over_floor"], ".2f") + "x"
    )
    table.add_row(f"p50 ms @c={c}", *per_app(throughput, "p50_ms", ".2f"))
    table.add_row(f"p99 ms @c={c}", *per_app(throughput, "p99_ms", ".2f"))
    table.add_row(
        f"server CPU us/req @c={c}",
        "",
        *per_app(throughput, "server_cpu_us_per_req", ".0f")[1:],
        "floor/ours " + fmt(ratios["cpu_per_req_floor_over_ours"], ".2f") + "x",
    )
    table.add_row(f"stub CPU us/req @c={c}", *per_app(throughput, "stub_cpu_us_per_req", ".0f"))
    table.add_row(f"client CPU @c={c}", *per_app(throughput, "client_cpu", ".0%"))
    console = report_console()
    console.print(table)
    console.print(
        f"[dim]{environment_line(result['environment'])}; client: {config['client']}; "
        "latencies are client-observed; Server-Timing overhead = our app time minus the "
        "provider call (the OpenAI SDK's own work is inside the provider time)[/dim]"
    )
    if result["client_bound"]:
        console.print(
            "[yellow]* the load generator was saturated during the direct rounds, so direct "
            "req/s is a floor for the stub and the req/s ratio is optimistic.[/yellow]"
        )


def summary_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of bench/summary.py this benchmark measures."""
    summary, ratios, targets = result["summary"], result["ratios"], result["targets"]
    c = result["config"]["concurrency"]
    direct_l, ours_l = summary["direct"][LATENCY], summary["ours"][LATENCY]
    direct_t, floor_t, ours_t = (summary[app][THROUGHPUT] for app in ("direct", "floor", "ours"))

    def ms(value: float | None) -> str:
        return fmt(value, ".2f")

    return [
        summary_row(
            "sync_added_latency",
            baseline=f"direct p50 {ms(direct_l.get('p50_ms'))} / p99 "
            f"{ms(direct_l.get('p99_ms'))} ms",
            ours=f"p50 {ms(ours_l.get('p50_ms'))} / p99 {ms(ours_l.get('p99_ms'))} ms",
            outcome=f"+{ms(ratios['added_p50_ms_c1'])} ms p50 / +{ms(ratios['added_p99_ms_c1'])} "
            f"ms p99 (floor +{ms(ratios['floor_added_p50_ms_c1'])} / "
            f"+{ms(ratios['floor_added_p99_ms_c1'])})",
            checks=[targets["added_p50_ms_c1"], targets["added_p99_ms_c1"]],
        ),
        summary_row(
            "sync_throughput",
            baseline=f"direct {fmt(direct_t.get('rps'), ',.0f')} req/s @c={c}",
            ours=f"{fmt(ours_t.get('rps'), ',.0f')} req/s, "
            f"{fmt(ours_t.get('server_cpu_us_per_req'), ',.0f')} us CPU/req",
            outcome=fmt(ratios["rps_ours_over_direct"], ".2f") + "x",
            checks=[targets["rps_ratio"]],
            note="client-bound" if result["client_bound"] else "",
        ),
        summary_row(
            "sync_floor",
            baseline=f"floor {fmt(floor_t.get('rps'), ',.0f')} req/s, "
            f"{fmt(floor_t.get('server_cpu_us_per_req'), ',.0f')} us CPU/req @c={c}",
            ours=f"{fmt(ours_t.get('rps'), ',.0f')} req/s",
            outcome=f"{fmt(ratios['rps_ours_over_floor'], '.2f')}x req/s; floor/ours CPU per "
            f"req {fmt(ratios['cpu_per_req_floor_over_ours'], '.2f')}x",
        ),
    ]


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
        default=32,
        help="concurrent requests for the throughput rounds (default 32)",
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
    )
    try:
        result = run(config)
        check_leftovers()
    except BenchError as exc:
        err.print(f"[red]benchmark failed: {exc}[/red]")
        return 2
    record("execution_overhead", summary_rows(result))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    missed = not all(t["pass"] for t in result["targets"].values())
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
