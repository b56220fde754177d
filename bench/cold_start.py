"""Benchmark: function cold start, process start -> first 200, ours vs a bare hello function.

Each round spawns ``functions-framework --source functions/main.py --target registry`` and
``functions-framework --source bench/_hello_function.py --target hello`` (interleaved), polls
until the first 200 (our ``/health``, which also opens the pool and answers only when the database
does; the hello's ``/``), and kills the process. Medians over rounds.

Target: ours <= 1.5x the bare hello.

Every process is started in a session of its own and its whole group stopped (gunicorn's
forked worker too); the run fails if any process it started is left.

Run: ``.venv/bin/python bench/cold_start.py [--rounds 7] [--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

sys.path.append(str(Path(__file__).resolve().parents[1]))  # for `python bench/<this file>`

from bench._common import (
    API_KEY,
    BenchError,
    bench_database,
    check_leftovers,
    err,
    free_port,
    record,
    report_console,
    spawn,
    summary_row,
    target,
)

ROOT = Path(__file__).resolve().parents[1]
FF = str(Path(sys.executable).with_name("functions-framework"))
TARGET = 1.5


def cold_start(source: Path, target: str, path: str, env: dict[str, str]) -> float:
    port = free_port()
    started = time.perf_counter()
    with ExitStack() as stack:
        # A session of its own: gunicorn forks a worker, and the whole group is stopped (and
        # waited for) when the stack closes.
        command = [FF, "--source", str(source), "--target", target, "--port", str(port)]
        process = spawn(
            stack,
            [*command, "--host", "127.0.0.1"],
            {**env, "PORT": str(port)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = started + 60
        while time.perf_counter() < deadline:
            if process.poll() is not None:
                raise BenchError(f"{target} exited with {process.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                time.sleep(0.005)
        raise BenchError(f"{target} did not answer 200 within 60 s")
    raise AssertionError("unreachable")  # pragma: no cover - mypy: the with block returns


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        with bench_database() as (url, origin):
            env = {**os.environ, "DATABASE_URL": url, "API_KEY": API_KEY}
            hello: list[float] = []
            ours: list[float] = []
            for _ in range(args.rounds):
                hello.append(cold_start(ROOT / "bench" / "_hello_function.py", "hello", "/", env))
                ours.append(cold_start(ROOT / "functions" / "main.py", "registry", "/health", env))
        check_leftovers()
    except BenchError as exc:
        err.print(f"[red]benchmark failed: {exc}[/red]")
        return 2
    result = {
        "hello_s": statistics.median(hello),
        "ours_s": statistics.median(ours),
        "ratio": statistics.median(ours) / statistics.median(hello),
        "target": f"<= {TARGET}x",
        "rounds": args.rounds,
        "database": origin,
    }
    result["pass"] = result["ratio"] <= TARGET
    record(
        "cold_start",
        [
            summary_row(
                "cold_start",
                baseline=f"bare functions-framework hello {result['hello_s'] * 1000:.0f} ms",
                ours=f"{result['ours_s'] * 1000:.0f} ms",
                outcome=f"{result['ratio']:.2f}x",
                checks=[target(result["ratio"], "<=", TARGET)],
            )
        ],
    )
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    console = report_console()
    console.print(
        f"cold start (median of {args.rounds}): hello {result['hello_s'] * 1000:.0f} ms, "
        f"ours {result['ours_s'] * 1000:.0f} ms -> {result['ratio']:.2f}x "
        f"(target <= {TARGET}x: {'PASS' if result['pass'] else 'MISS'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
