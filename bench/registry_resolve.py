"""Benchmark: ``GET /v1/prompts/{name}`` on our gateway against a bare Starlette hello-world.

Both apps run side by side in one run on the same machine, each in its own single-worker uvicorn
process on 127.0.0.1; the load comes from a third process. Rounds are interleaved (hello, ours,
hello, ours, ...) and the report takes medians over rounds, so a noisy machine slows both alike
and the ratios stay meaningful.

The default load generator (``--client raw``) is a lean pure-asyncio HTTP/1.1 keep-alive client:
httpx.AsyncClient (``--client httpx``) costs more CPU per request than the hello server does, so
with it the client, not the server, sets the hello figure and the ratio comes out far too
flattering. The report flags a saturated client, and the server-CPU-per-request row gives a
client-independent ratio either way.

Targets:
- throughput: ours >= 0.7x hello req/s (at --concurrency, default 16; issue #13);
- latency: our p99 < 5 ms at concurrency 1 (client-observed, so it includes the client's cost).

The database is $DATABASE_URL's server, or an embedded PostgreSQL; either way a fresh database
is created, migrated, seeded with one prompt, and dropped at the end.

Run: ``.venv/bin/python bench/registry_resolve.py [--duration 3] [--rounds 3] [--json]``
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

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
    environment,
    environment_line,
    err,
    fmt,
    measure,
    median_of,
    record,
    report_console,
    spawn_pool,
    start_server,
    summary_row,
)

from prompt_ledger.records import DEFAULT_PROJECT_ID

PROMPT_NAME = "bench_prompt"
PROMPT_BODY = {"template_source": "Summarize:\n{{text}}", "owner_team": "bench"}
OURS_PATH = f"/v1/prompts/{PROMPT_NAME}"
HELLO_PATH = "/hello"

TARGET_RPS_RATIO = 0.7
TARGET_P99_MS = 5.0

APPS = ("hello", "ours")


KEY_LIMIT = 100_000_000
"""``--key project``: the project key's own requests per minute (counted, never reached)."""


def project_key(server: Server) -> str:
    """A project key (not the bootstrap operator key): its requests are counted against its
    rate limit, as every SDK client's are."""
    with api_client(server) as client:
        created = client.post(
            f"/v1/projects/{DEFAULT_PROJECT_ID}/keys",
            json={"name": "bench", "scopes": ["prompts:read"], "requests_per_minute": KEY_LIMIT},
        )
        if created.status_code != 201:
            raise BenchError(f"creating a project key -> {created.status_code}: {created.text}")
        return str(created.json()["key"])


def seed(server: Server) -> None:
    """Create the prompt and check the endpoint under test returns it."""
    with api_client(server) as client:
        put = client.put(OURS_PATH, json=PROMPT_BODY)
        if put.status_code not in {200, 201}:
            raise BenchError(f"seeding PUT {OURS_PATH} -> {put.status_code}: {put.text[:300]}")
        got = client.get(OURS_PATH)
        if got.status_code != 200:
            raise BenchError(f"GET {OURS_PATH} -> {got.status_code}: {got.text[:300]}")
        view = got.json()
        version = view.get("version") or {}
        if (
            view.get("name") != PROMPT_NAME
            or version.get("version_number") != 1
            or version.get("template_source") != PROMPT_BODY["template_source"]
        ):
            raise BenchError(f"GET {OURS_PATH} returned an unexpected prompt: {got.text[:300]}")


# --- the run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    duration: float
    concurrency: int
    rounds: int
    warmup: float
    max_requests: int
    client: str
    key: str = "operator"


@dataclass(frozen=True)
class Sample:
    round: int
    app: str
    mode: str  # "throughput" (at --concurrency) or "latency" (at concurrency 1)
    concurrency: int
    result: LoadResult


def run(config: Config) -> dict[str, Any]:
    samples: list[Sample] = []
    with ExitStack() as stack:
        database_url, db_origin = stack.enter_context(bench_database())
        env = {"DATABASE_URL": database_url, "API_KEY": API_KEY}
        servers = {
            "hello": start_server(stack, "hello", "hello_app", HELLO_PATH, env),
            "ours": start_server(stack, "ours", "gateway_app", "/health", env),
        }
        seed(servers["ours"])
        key = API_KEY if config.key == "operator" else project_key(servers["ours"])
        targets = {
            "hello": (servers["hello"].base_url + HELLO_PATH, {}),
            "ours": (servers["ours"].base_url + OURS_PATH, {"X-API-Key": key}),
        }
        pool: ProcessPoolExecutor = stack.enter_context(spawn_pool())

        def spec(app: str, concurrency: int, duration: float) -> LoadSpec:
            url, headers = targets[app]
            return LoadSpec(
                url,
                headers,
                concurrency,
                duration,
                config.max_requests,
                client=config.client,
                server_timing=app == "ours",
            )

        if config.warmup > 0:  # fills our connection pool, warms caches; not recorded
            for app in APPS:
                measure(pool, servers[app], spec(app, config.concurrency, config.warmup))
        modes = (("throughput", config.concurrency), ("latency", 1))
        for number in range(1, config.rounds + 1):
            for mode, concurrency in modes:
                for app in APPS:
                    result = measure(pool, servers[app], spec(app, concurrency, config.duration))
                    samples.append(Sample(number, app, mode, concurrency, result))
                    err.print(
                        f"[dim]round {number}/{config.rounds} {app:5} {mode:10} "
                        f"c={concurrency:<3} {result.rps:8.0f} req/s  "
                        f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  "
                        f"client cpu {result.client_cpu:4.0%}[/dim]"
                    )
    return report(config, samples, db_origin)


def report(config: Config, samples: list[Sample], db_origin: str) -> dict[str, Any]:
    summary: dict[str, dict[str, dict[str, float | None]]] = {}
    for app in APPS:
        summary[app] = {}
        for mode in ("throughput", "latency"):
            results = [s.result for s in samples if s.app == app and s.mode == mode]
            summary[app][mode] = {
                key: median_of([getattr(r, key) for r in results])
                for key in (
                    "rps",
                    "p50_ms",
                    "p99_ms",
                    "max_ms",
                    "client_cpu",
                    "app_p50_ms",
                    "app_p99_ms",
                    "server_cpu_us_per_req",
                )
            }
    hello_rps = summary["hello"]["throughput"]["rps"] or math.nan
    ours_rps = summary["ours"]["throughput"]["rps"] or math.nan
    ours_p99 = summary["ours"]["latency"]["p99_ms"] or math.nan
    hello_p50 = summary["hello"]["latency"]["p50_ms"] or math.nan
    hello_p99 = summary["hello"]["latency"]["p99_ms"] or math.nan
    ours_p50 = summary["ours"]["latency"]["p50_ms"] or math.nan
    rps_ratio = ours_rps / hello_rps
    hello_client_cpu = summary["hello"]["throughput"]["client_cpu"] or 0.0
    return {
        "benchmark": "registry_resolve",
        "endpoint": f"GET {OURS_PATH}",
        "config": asdict(config),
        "environment": environment(db_origin),
        "summary": summary,
        "ratios": {
            "rps_ours_over_hello": rps_ratio,
            "p50_ours_over_hello_c1": ours_p50 / hello_p50,
            "p99_ours_over_hello_c1": ours_p99 / hello_p99,
            # Capacity ratio implied by server CPU time per request, whatever the client did.
            "cpu_per_req_hello_over_ours": (
                (summary["hello"]["throughput"]["server_cpu_us_per_req"] or math.nan)
                / (summary["ours"]["throughput"]["server_cpu_us_per_req"] or math.nan)
            ),
        },
        "targets": {
            "rps_ratio": {
                "target": f">= {TARGET_RPS_RATIO}",
                "value": rps_ratio,
                "pass": rps_ratio >= TARGET_RPS_RATIO,
            },
            "ours_p99_ms_c1": {
                "target": f"< {TARGET_P99_MS}",
                "value": ours_p99,
                "pass": ours_p99 < TARGET_P99_MS,
            },
        },
        # The hello figure is only a ceiling for the server if the client kept up with it.
        "client_bound": hello_client_cpu >= CLIENT_BOUND_CPU,
        "samples": [
            {
                "round": s.round,
                "app": s.app,
                "mode": s.mode,
                "concurrency": s.concurrency,
                **asdict(s.result),
            }
            for s in samples
        ],
    }


def print_table(result: dict[str, Any]) -> None:
    config, summary, ratios = result["config"], result["summary"], result["ratios"]
    targets = result["targets"]
    hello, ours = summary["hello"], summary["ours"]
    c = config["concurrency"]

    def verdict(name: str, reliable: bool = True) -> str:
        mark = "" if reliable else "*"  # * = client-bound, see the note below
        return f"[green]PASS{mark}[/green]" if targets[name]["pass"] else f"[red]MISS{mark}[/red]"

    table = Table(
        title=f"{result['endpoint']} vs Starlette hello "
        f"(median of {config['rounds']} x {config['duration']:g} s)"
    )
    for column in ("metric", "hello", "ours", "ratio", "target", ""):
        table.add_column(column, justify="left" if column in {"metric", "target"} else "right")
    ht, ot, hl, ol = hello["throughput"], ours["throughput"], hello["latency"], ours["latency"]
    table.add_row(
        f"req/s @c={c}",
        fmt(ht["rps"], ",.0f"),
        fmt(ot["rps"], ",.0f"),
        fmt(ratios["rps_ours_over_hello"], ".2f") + "x",
        f">= {TARGET_RPS_RATIO:.2f}x",
        verdict("rps_ratio", reliable=not result["client_bound"]),
    )
    table.add_row(
        "p50 ms @c=1",
        fmt(hl["p50_ms"], ".2f"),
        fmt(ol["p50_ms"], ".2f"),
        fmt(ratios["p50_ours_over_hello_c1"], ".2f") + "x",
        "",
        "",
    )
    table.add_row(
        "p99 ms @c=1",
        fmt(hl["p99_ms"], ".2f"),
        fmt(ol["p99_ms"], ".2f"),
        fmt(ratios["p99_ours_over_hello_c1"], ".2f") + "x",
        f"< {TARGET_P99_MS:g} ms",
        verdict("ours_p99_ms_c1"),
    )
    info = [  # context, no target
        (f"p50 ms @c={c}", fmt(ht["p50_ms"], ".2f"), fmt(ot["p50_ms"], ".2f")),
        (f"p99 ms @c={c}", fmt(ht["p99_ms"], ".2f"), fmt(ot["p99_ms"], ".2f")),
        ("req/s @c=1", fmt(hl["rps"], ",.0f"), fmt(ol["rps"], ",.0f")),
        (
            "in-app p50/p99 @c=1",
            "-",
            f"{fmt(ol['app_p50_ms'], '.2f')}/{fmt(ol['app_p99_ms'], '.2f')}",
        ),
        (f"client CPU @c={c}", fmt(ht["client_cpu"], ".0%"), fmt(ot["client_cpu"], ".0%")),
    ]
    for metric, hello_value, ours_value in info:
        table.add_row(metric, hello_value, ours_value, "", "", "")
    table.add_row(  # client-independent: capacity ratio implied by server CPU per request
        f"CPU us/req @c={c}",
        fmt(ht["server_cpu_us_per_req"], ".0f"),
        fmt(ot["server_cpu_us_per_req"], ".0f"),
        fmt(ratios["cpu_per_req_hello_over_ours"], ".2f") + "x",
        "",
        "",
    )
    console = report_console()
    console.print(table)
    env = result["environment"]
    console.print(
        f"[dim]{environment_line(env)}; "
        f"client: {config['client']}; latencies are client-observed (they include "
        "the load generator's own cost); in-app = our Server-Timing app;dur[/dim]"
    )
    if result["client_bound"]:
        console.print(
            "[yellow]* the load generator was saturated during the hello rounds, so hello "
            "req/s is a floor for the server and the req/s ratio is optimistic; the CPU us/req "
            "row is the client-independent comparison (try --client raw).[/yellow]"
        )


def summary_row_of(result: dict[str, Any]) -> dict[str, Any]:
    """The row of bench/summary.py this benchmark measures."""
    summary, ratios, targets = result["summary"], result["ratios"], result["targets"]
    c = result["config"]["concurrency"]
    hello, ours = summary["hello"]["throughput"], summary["ours"]["throughput"]
    return summary_row(
        "registry_resolve" if result["config"]["key"] == "operator" else "registry_resolve_key",
        baseline=f"Starlette hello {fmt(hello['rps'], ',.0f')} req/s @c={c}",
        ours=f"{fmt(ours['rps'], ',.0f')} req/s, {fmt(ours['server_cpu_us_per_req'], ',.0f')} "
        "us CPU/req",
        outcome=f"{fmt(ratios['rps_ours_over_hello'], '.2f')}x (CPU per req hello/ours "
        f"{fmt(ratios['cpu_per_req_hello_over_ours'], '.2f')}x)",
        checks=[targets["rps_ratio"]],
        note="client-bound" if result["client_bound"] else "",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--duration", type=float, default=3.0, help="seconds per measured round and app (default 3)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=16,
        help="concurrent requests for the throughput rounds (default 16)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="unrecorded warm-up seconds per app (default 1)"
    )
    parser.add_argument(
        "--max-requests",
        type=int,
        default=200_000,
        help="cap on requests per round (default 200000)",
    )
    parser.add_argument(
        "--client",
        choices=CLIENTS,
        default="raw",
        help="load generator: 'raw' (lean asyncio HTTP/1.1 keep-alive, default) "
        "or 'httpx' (httpx.AsyncClient; saturates before the servers do)",
    )
    parser.add_argument(
        "--key",
        choices=("operator", "project"),
        default="operator",
        help="the key our requests carry: the bootstrap operator key (never rate limited, "
        "default) or a project key with a rate limit of its own (counted per request)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.concurrency < 1 or args.rounds < 1 or args.max_requests < 1:
        parser.error("--duration, --concurrency, --rounds and --max-requests must be positive")
    config = Config(
        args.duration,
        args.concurrency,
        args.rounds,
        args.warmup,
        args.max_requests,
        args.client,
        args.key,
    )
    try:
        result = run(config)
        check_leftovers()
    except BenchError as exc:
        err.print(f"[red]benchmark failed: {exc}[/red]")
        return 2
    record("registry_resolve", [summary_row_of(result)])
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    missed = not all(t["pass"] for t in result["targets"].values())
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
