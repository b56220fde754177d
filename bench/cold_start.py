"""Benchmark: function cold start, process start -> first 200, ours vs a bare hello function.

Each round spawns ``functions-framework --source functions/main.py --target registry`` and
``functions-framework --source bench/_hello_function.py --target hello`` (interleaved), polls
until the first 200 (our ``/health``, which also opens the pool and answers only when the database
does; the hello's ``/``), and kills the process. Medians over rounds.

Target: ours <= 1.5x the bare hello.

Run: ``.venv/bin/python bench/cold_start.py [--rounds 7] [--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

sys.path.append(str(Path(__file__).resolve().parents[1]))  # for `python bench/<this file>`

from bench._common import API_KEY, bench_database, free_port, report_console

ROOT = Path(__file__).resolve().parents[1]
FF = str(Path(sys.executable).with_name("functions-framework"))
TARGET = 1.5


def cold_start(source: Path, target: str, path: str, env: dict[str, str]) -> float:
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            FF,
            "--source",
            str(source),
            "--target",
            target,
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
        ],
        env={**env, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # gunicorn forks a worker: stop the whole group
    )
    try:
        deadline = started + 60
        while time.perf_counter() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{target} exited with {process.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                time.sleep(0.005)
        raise RuntimeError(f"{target} did not answer 200 within 60 s")
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with bench_database() as (url, origin):
        env = {**os.environ, "DATABASE_URL": url, "API_KEY": API_KEY}
        hello: list[float] = []
        ours: list[float] = []
        for _ in range(args.rounds):
            hello.append(cold_start(ROOT / "bench" / "_hello_function.py", "hello", "/", env))
            ours.append(cold_start(ROOT / "functions" / "main.py", "registry", "/health", env))
    result = {
        "hello_s": statistics.median(hello),
        "ours_s": statistics.median(ours),
        "ratio": statistics.median(ours) / statistics.median(hello),
        "target": f"<= {TARGET}x",
        "rounds": args.rounds,
        "database": origin,
    }
    result["pass"] = result["ratio"] <= TARGET
    if args.json:
        print(json.dumps(result, indent=2))
        return
    console = report_console()
    console.print(
        f"cold start (median of {args.rounds}): hello {result['hello_s'] * 1000:.0f} ms, "
        f"ours {result['ours_s'] * 1000:.0f} ms -> {result['ratio']:.2f}x "
        f"(target <= {TARGET}x: {'PASS' if result['pass'] else 'MISS'})"
    )


if __name__ == "__main__":
    main()
