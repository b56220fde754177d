"""Peer benchmark: registry writes one at a time, ours side by side with Arize Phoenix's prompt
registry on the same PostgreSQL server.

- ``phoenix``: ``phoenix serve`` from its own virtualenv (``.bench-venvs/phoenix``, installed by
  ``make bench-peers``; never a dependency of the project) on a database of its own: a new
  version is ``POST /v1/prompts`` (Phoenix appends a version to a prompt of that name), a label
  move is ``POST /v1/prompt_versions/{id}/tags`` (Phoenix moves a tag by upsert);
- ``ours``: ``PUT /v1/prompts/{name}`` (new content: a new version) and
  ``PUT /v1/prompts/{name}/labels/production`` (alternating between two versions: each request
  moves the label and records a history event), through our single-worker gateway.

Interleaved rounds, one request at a time from a client in its own process, medians over rounds.
Targets (issue #13): ours p50 <= 4 ms and p99 <= 10 ms for both writes; Phoenix's figures are the
baseline beside them.

Run: ``.venv/bin/python bench/peers/phoenix_writes.py [--versions 200] [--moves 100] [--rounds 3]``
(after ``make bench-peers``; ``BENCH_VENVS`` names the virtualenvs' parent directory)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

sys.path.append(str(Path(__file__).resolve().parents[2]))  # for `python bench/peers/<file>`

from bench._common import (
    API_KEY,
    BenchError,
    Server,
    bench_database,
    check_leftovers,
    create_database,
    drop_database,
    err,
    fmt,
    free_port,
    median_of,
    percentile,
    record,
    report_console,
    spawn,
    spawn_pool,
    start_server,
    summary_row,
    target,
    with_database,
)
from bench._peers import venv_tool
from bench.registry_writes import Timings, timed_writes

ROOT = Path(__file__).resolve().parents[2]
TARGET_P50_MS = 4.0
TARGET_P99_MS = 10.0
WRITES = ("version", "move")


def phoenix_binary() -> Path:
    return venv_tool("phoenix", "phoenix", "bench-peers", "Phoenix")


def start_phoenix(stack: ExitStack, database_url: str) -> Server:
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pl-bench-phoenix-")))
    port = free_port()
    # its access log is chatty; the file closes after the process stops (stack order)
    log = stack.enter_context(open(folder / "phoenix.log", "wb"))  # noqa: SIM115
    process = spawn(
        stack,
        [str(phoenix_binary()), "serve"],
        {
            "PHOENIX_SQL_DATABASE_URL": database_url,
            "PHOENIX_HOST": "127.0.0.1",
            "PHOENIX_PORT": str(port),
            "PHOENIX_GRPC_PORT": str(free_port()),
            "PHOENIX_WORKING_DIR": str(folder),
            "PHOENIX_TELEMETRY_ENABLED": "false",
        },
        unset=("DATABASE_URL",),
        cwd=folder,
        stdout=log,
        stderr=log,
    )
    server = Server("phoenix", process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 180  # it migrates its database and imports a lot
    with httpx.Client(trust_env=False, timeout=5.0) as client:
        while True:
            if process.poll() is not None:
                tail = (folder / "phoenix.log").read_text(errors="replace")[-2000:]
                raise BenchError(f"phoenix exited with {process.returncode}:\n{tail}")
            try:
                if client.get(server.base_url + "/healthz").status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise BenchError("Phoenix did not become ready in 180 s")
            time.sleep(0.3)


def _version_body(name: str, text: str) -> dict[str, Any]:
    return {
        "prompt": {"name": name},
        "version": {
            "model_provider": "OPENAI",
            "model_name": "gpt-4o-mini",
            "template": {"type": "chat", "messages": [{"role": "user", "content": text}]},
            "template_type": "CHAT",
            "template_format": "MUSTACHE",
            "invocation_parameters": {"type": "openai", "openai": {}},
        },
    }


def phoenix_writes(base_url: str, kind: str, count: int, round_number: int) -> Timings:
    """Run in the load-generator process: ``count`` Phoenix writes one after the other."""
    return asyncio.run(_phoenix_timed(base_url, kind, count, round_number))


async def _phoenix_timed(base_url: str, kind: str, count: int, round_number: int) -> Timings:
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=30.0) as client:
        version_ids: list[str] = []
        if kind == "move":  # two versions of the moves prompt, not timed
            for number in (1, 2):
                body = _version_body(f"moves-{round_number}", f"v{number} {{{{text}}}}")
                created = await client.post("/v1/prompts", json=body)
                if created.status_code != 200:
                    raise BenchError(f"phoenix create -> {created.status_code}: {created.text}")
                version_ids.append(created.json()["data"]["id"])
        for i in range(count):
            if kind == "version":
                body = _version_body(
                    f"writes-{round_number}", f"Version {i} of round {round_number}: {{{{text}}}}"
                )
                started = time.perf_counter()
                response = await client.post("/v1/prompts", json=body)
                ok = response.status_code == 200
            else:
                path = f"/v1/prompt_versions/{version_ids[i % 2]}/tags"
                started = time.perf_counter()
                response = await client.post(path, json={"name": "production"})
                ok = response.status_code == 204
            latencies.append((time.perf_counter() - started) * 1000)
            if not ok:
                raise BenchError(f"phoenix {kind} -> {response.status_code}: {response.text}")
    latencies.sort()
    return Timings(
        kind,
        len(latencies),
        percentile(latencies, 50),
        percentile(latencies, 99),
        latencies[-1],
        None,
        None,
    )


def _check_phoenix(base_url: str, rounds: int, versions: int) -> None:
    """Every timed Phoenix write landed: the versions of each round's prompt are all there."""
    with httpx.Client(base_url=base_url, trust_env=False, timeout=30.0) as client:
        for number in range(1, rounds + 1):
            listed = client.get(f"/v1/prompts/writes-{number}/versions", params={"limit": 1000})
            if listed.status_code != 200 or len(listed.json()["data"]) != versions:
                raise BenchError(f"phoenix lost versions of writes-{number}: {listed.text[:300]}")
            tagged = client.get(f"/v1/prompts/moves-{number}/tags/production")
            if tagged.status_code != 200:
                raise BenchError(f"phoenix has no production tag on moves-{number}")


def run(versions: int, moves: int, rounds: int) -> dict[str, Any]:
    samples: list[tuple[str, int, Timings]] = []
    with ExitStack() as stack:
        database_url, origin = stack.enter_context(bench_database())
        phoenix_db = f"pl_bench_phoenix_{uuid.uuid4().hex[:12]}"
        create_database(database_url, phoenix_db)
        stack.callback(drop_database, database_url, phoenix_db)
        err.print("[dim]starting Phoenix (it migrates its own database)...[/dim]")
        phoenix = start_phoenix(stack, with_database(database_url, phoenix_db))
        ours = start_server(
            stack,
            "ours",
            "gateway_app",
            "/health",
            {"DATABASE_URL": database_url, "API_KEY": API_KEY},
        )
        with httpx.Client(base_url=ours.base_url, headers={"X-API-Key": API_KEY}) as client:
            for number in (1, 2):
                put = client.put("/v1/prompts/moves", json={"template_source": f"v{number}"})
                if put.status_code not in (200, 201):
                    raise BenchError(f"seeding our moves prompt -> {put.status_code}: {put.text}")
        pool: ProcessPoolExecutor = stack.enter_context(spawn_pool())
        counts = {"version": versions, "move": moves}
        for kind in WRITES:  # warm-up (round 0), not recorded
            pool.submit(phoenix_writes, phoenix.base_url, kind, 20, 0).result(timeout=300)
            pool.submit(timed_writes, ours.base_url, kind, 20, 0).result(timeout=300)
        for number in range(1, rounds + 1):
            for kind in WRITES:
                for app, work, url in (
                    ("phoenix", phoenix_writes, phoenix.base_url),
                    ("ours", timed_writes, ours.base_url),
                ):
                    timings = pool.submit(work, url, kind, counts[kind], number).result(timeout=900)
                    phoenix.check_alive()
                    ours.check_alive()
                    samples.append((app, number, timings))
                    err.print(
                        f"[dim]round {number}/{rounds} {app:8} {kind:7} {timings.requests} writes"
                        f"  p50 {timings.p50_ms:6.2f} ms  p99 {timings.p99_ms:6.2f} ms[/dim]"
                    )
        _check_phoenix(phoenix.base_url, rounds, versions)
    summary = {
        app: {
            kind: {
                key: median_of(
                    [getattr(t, key) for a, _, t in samples if a == app and t.kind == kind]
                )
                for key in ("p50_ms", "p99_ms", "max_ms")
            }
            for kind in WRITES
        }
        for app in ("phoenix", "ours")
    }
    targets = {
        f"{kind}_{q}": target(summary["ours"][kind][f"{q}_ms"], "<=", limit)
        for kind in WRITES
        for q, limit in (("p50", TARGET_P50_MS), ("p99", TARGET_P99_MS))
    }
    return {
        "benchmark": "phoenix_writes",
        "config": {"versions": versions, "moves": moves, "rounds": rounds},
        "database": origin,
        "summary": summary,
        "targets": targets,
        "samples": [{"app": a, "round": n, **t.__dict__} for a, n, t in samples],
    }


def _pair(figures: dict[str, Any]) -> str:
    return f"p50 {fmt(figures['p50_ms'], '.1f')} / p99 {fmt(figures['p99_ms'], '.1f')} ms"


def summary_row_of(result: dict[str, Any]) -> dict[str, Any]:
    s = result["summary"]
    p99_ratio = {
        kind: (s["ours"][kind]["p99_ms"] or 0) / s["phoenix"][kind]["p99_ms"]
        if s["phoenix"][kind]["p99_ms"]
        else None
        for kind in WRITES
    }
    return summary_row(
        "registry_writes_vs_phoenix",
        baseline=f"Phoenix: create version {_pair(s['phoenix']['version'])}; "
        f"move tag {_pair(s['phoenix']['move'])}",
        ours=f"new version {_pair(s['ours']['version'])}; label move {_pair(s['ours']['move'])}",
        outcome=f"our p99 / Phoenix's: version {fmt(p99_ratio['version'], '.2f')}x, "
        f"move {fmt(p99_ratio['move'], '.2f')}x",
        checks=list(result["targets"].values()),
    )


def _slash(figures: dict[str, Any]) -> str:
    return f"{fmt(figures['p50_ms'], '.2f')}/{fmt(figures['p99_ms'], '.2f')}"


def print_table(result: dict[str, Any]) -> None:
    from rich.table import Table

    s, config = result["summary"], result["config"]
    table = Table(
        title=f"registry writes at c=1, ours and Phoenix on the same PostgreSQL "
        f"({config['versions']} versions, {config['moves']} moves per round; median of "
        f"{config['rounds']} rounds)"
    )
    for column in ("write", "Phoenix p50/p99 ms", "ours p50/p99 ms", "target", "ours"):
        table.add_column(column)
    names = {"version": "new version", "move": "label (tag) move"}
    for kind in WRITES:
        passed = all(result["targets"][f"{kind}_{q}"]["pass"] for q in ("p50", "p99"))
        table.add_row(
            names[kind],
            _slash(s["phoenix"][kind]),
            _slash(s["ours"][kind]),
            f"p50 <= {TARGET_P50_MS:g}, p99 <= {TARGET_P99_MS:g}",
            "PASS" if passed else "MISS",
        )
    report_console().print(table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--versions", type=int, default=200, help="new versions per round")
    parser.add_argument("--moves", type=int, default=100, help="label moves per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)
    if min(args.versions, args.moves, args.rounds) < 1:
        parser.error("--versions, --moves and --rounds must be positive")
    try:
        result = run(args.versions, args.moves, args.rounds)
        check_leftovers()
    except BenchError as exc:
        err.print(f"[red]benchmark failed: {exc}[/red]")
        return 2
    record("phoenix_writes", [summary_row_of(result)])
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
