"""Benchmark: registry writes one at a time: new versions (``PUT /v1/prompts/{name}``) and label
moves (``PUT /v1/prompts/{name}/labels/{label}``), against a bare Starlette endpoint doing one
INSERT through a psycopg_pool pool (``bench/_apps.py: insert_app``): the floor for a durable
write on this machine's PostgreSQL, measured in the same run.

Rounds are interleaved (insert, new versions, insert, label moves, ...), one request at a time
from a client in its own process; each round of ours is checked (every PUT of new content
creates a version, every move lands). The label moves alternate between two versions, so each
one moves the label (and records a history event).

Targets (issue #13): p50 <= 4 ms and p99 <= 10 ms for both writes. The report gives our
Server-Timing ``app`` time beside the client-observed one, and the floor's figures, so that a
p99 the floor shares (the database's commit) is told from one of ours.

Run: ``.venv/bin/python bench/registry_writes.py [--versions 200] [--moves 100] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table

sys.path.append(str(Path(__file__).resolve().parents[1]))  # for `python bench/<this file>`

from bench._common import (
    API_KEY,
    BenchError,
    api_client,
    bench_database,
    check_leftovers,
    environment,
    environment_line,
    err,
    expect,
    fmt,
    median_of,
    percentile,
    record,
    report_console,
    spawn_pool,
    start_server,
    summary_row,
    target,
    timing_metric,
    verdict,
)

TARGET_P50_MS = 4.0
TARGET_P99_MS = 10.0
KINDS = ("version", "move", "insert")


@dataclass(frozen=True)
class Timings:
    kind: str
    requests: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    app_p50_ms: float | None
    app_p99_ms: float | None


def _requests(kind: str, count: int, round_number: int) -> list[tuple[str, str, dict[str, Any]]]:
    if kind == "version":  # new content each time: a new version each time
        return [
            (
                "PUT",
                f"/v1/prompts/writes-{round_number}",
                {"template_source": f"Version {i} of round {round_number}: {{{{text}}}}"},
            )
            for i in range(count)
        ]
    if kind == "move":  # between versions 1 and 2 of the moves prompt: each request moves it
        return [
            ("PUT", "/v1/prompts/moves/labels/production", {"version": 1 + i % 2})
            for i in range(count)
        ]
    return [("POST", "/insert", {"round": round_number, "i": i}) for i in range(count)]


def timed_writes(base_url: str, kind: str, count: int, round_number: int) -> Timings:
    """Run in the load-generator process: ``count`` writes one after the other."""
    return asyncio.run(_timed(base_url, kind, count, round_number))


async def _timed(base_url: str, kind: str, count: int, round_number: int) -> Timings:
    headers = {"X-API-Key": API_KEY}
    latencies: list[float] = []
    app: list[float] = []
    async with httpx.AsyncClient(base_url=base_url, headers=headers, trust_env=False) as client:
        await client.get("/health")  # a warm connection
        for method, path, body in _requests(kind, count, round_number):
            started = time.perf_counter()
            response = await client.request(method, path, json=body)
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code not in (200, 201):
                raise BenchError(f"{method} {path} -> {response.status_code}: {response.text}")
            if kind == "version" and not response.json().get("created"):
                raise BenchError(f"{method} {path} did not create a version: {response.text}")
            if (dur := timing_metric(response.headers.get("server-timing"), "app")) is not None:
                app.append(dur)
    latencies.sort()
    app.sort()
    return Timings(
        kind,
        len(latencies),
        percentile(latencies, 50),
        percentile(latencies, 99),
        latencies[-1],
        percentile(app, 50) if app else None,
        percentile(app, 99) if app else None,
    )


def run(versions: int, moves: int, rounds: int) -> dict[str, Any]:
    samples: list[tuple[int, Timings]] = []
    with ExitStack() as stack:
        database_url, origin = stack.enter_context(bench_database())
        env = {"DATABASE_URL": database_url, "API_KEY": API_KEY}
        ours = start_server(stack, "ours", "gateway_app", "/health", env)
        floor = start_server(stack, "insert", "insert_app", "/health", env)
        with api_client(ours) as client:
            for number in (1, 2):
                put = client.put("/v1/prompts/moves", json={"template_source": f"v{number}"})
                expect(put, 200, 201)
        pool: ProcessPoolExecutor = stack.enter_context(spawn_pool())
        counts = {"version": versions, "move": moves, "insert": max(versions, moves)}
        urls = {"version": ours.base_url, "move": ours.base_url, "insert": floor.base_url}
        for kind in KINDS:  # warm-up, not recorded
            pool.submit(timed_writes, urls[kind], kind, 20, 0).result(timeout=300)
        for number in range(1, rounds + 1):
            for kind in KINDS:
                timings = pool.submit(timed_writes, urls[kind], kind, counts[kind], number).result(
                    timeout=600
                )
                ours.check_alive()
                floor.check_alive()
                samples.append((number, timings))
                err.print(
                    f"[dim]round {number}/{rounds} {kind:7} {timings.requests} writes  "
                    f"p50 {timings.p50_ms:6.2f} ms  p99 {timings.p99_ms:6.2f} ms  "
                    f"max {timings.max_ms:6.2f} ms  in-app p50/p99 "
                    f"{fmt(timings.app_p50_ms, '.2f')}/{fmt(timings.app_p99_ms, '.2f')} ms[/dim]"
                )
        with api_client(ours) as client:  # every move landed: 1 + moves per round events
            history = expect(client.get("/v1/prompts/moves/labels/history?limit=1"), 200)
        if not history.get("items"):
            raise BenchError("no label history after the moves")
    summary = {
        kind: {
            key: median_of([getattr(t, key) for _, t in samples if t.kind == kind])
            for key in ("p50_ms", "p99_ms", "max_ms", "app_p50_ms", "app_p99_ms")
        }
        for kind in KINDS
    }
    targets = {
        f"{kind}_{q}": target(summary[kind][f"{q}_ms"], "<=", limit)
        for kind in ("version", "move")
        for q, limit in (("p50", TARGET_P50_MS), ("p99", TARGET_P99_MS))
    }
    return {
        "benchmark": "registry_writes",
        "config": {"versions": versions, "moves": moves, "rounds": rounds},
        "environment": environment(origin),
        "summary": summary,
        "targets": targets,
        "samples": [{"round": n, **asdict(t)} for n, t in samples],
    }


def summary_row_of(result: dict[str, Any]) -> dict[str, Any]:
    s, targets = result["summary"], result["targets"]

    def pair(kind: str) -> str:
        return f"p50 {fmt(s[kind]['p50_ms'], '.1f')} / p99 {fmt(s[kind]['p99_ms'], '.1f')} ms"

    return summary_row(
        "registry_writes",
        baseline=f"Starlette + one INSERT {pair('insert')}",
        ours=f"new version {pair('version')}; label move {pair('move')}",
        outcome=f"in-app p99: version {fmt(s['version']['app_p99_ms'], '.1f')} ms, move "
        f"{fmt(s['move']['app_p99_ms'], '.1f')} ms",
        checks=list(targets.values()),
    )


def print_table(result: dict[str, Any]) -> None:
    s, targets, config = result["summary"], result["targets"], result["config"]
    table = Table(
        title=f"registry writes at c=1 ({config['versions']} new versions, {config['moves']} "
        f"label moves per round; median of {config['rounds']} rounds)"
    )
    for column in ("write", "p50 ms", "p99 ms", "max ms", "in-app p50/p99 ms", "target", ""):
        table.add_column(column, justify="left" if column in {"write", "target"} else "right")
    names = {"version": "PUT new version", "move": "label move", "insert": "floor: one INSERT"}
    for kind in KINDS:
        ok = kind == "insert" or (targets[f"{kind}_p50"]["pass"] and targets[f"{kind}_p99"]["pass"])
        table.add_row(
            names[kind],
            fmt(s[kind]["p50_ms"], ".2f"),
            fmt(s[kind]["p99_ms"], ".2f"),
            fmt(s[kind]["max_ms"], ".2f"),
            f"{fmt(s[kind]['app_p50_ms'], '.2f')}/{fmt(s[kind]['app_p99_ms'], '.2f')}",
            "" if kind == "insert" else f"p50 <= {TARGET_P50_MS:g}, p99 <= {TARGET_P99_MS:g}",
            "" if kind == "insert" else verdict(ok),
        )
    console = report_console()
    console.print(table)
    console.print(f"[dim]{environment_line(result['environment'])}; client-observed[/dim]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--versions", type=int, default=200, help="new versions per round")
    parser.add_argument("--moves", type=int, default=100, help="label moves per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    if min(args.versions, args.moves, args.rounds) < 1:
        parser.error("--versions, --moves and --rounds must be positive")
    try:
        result = run(args.versions, args.moves, args.rounds)
        check_leftovers()
    except BenchError as exc:
        err.print(f"[red]benchmark failed: {exc}[/red]")
        return 2
    record("registry_writes", [summary_row_of(result)])
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    missed = not all(t["pass"] for t in result["targets"].values())
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
