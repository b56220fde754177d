"""Benchmark: what one forwarding hop adds (one URL for every function of a per-function deploy).

The registry and the executions function run as their own functions-framework processes, each
with the other's URL. The same requests are sent, interleaved, straight to the function that
serves them and through the other function (which forwards them):

- ``GET /v1/prompts/{name}`` (registry), direct vs through executions;
- ``POST /v1/executions:run`` (executions, demo provider), direct vs through registry.

One keep-alive client, one request at a time; the added latency is the difference of the
percentiles. Target: none (a design figure, reported in docs/deployment.md).

Run: ``.venv/bin/python bench/forward_hop.py [--requests 400] [--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import httpx

sys.path.append(str(Path(__file__).resolve().parents[1]))  # for `python bench/<this file>`

from bench._common import (
    API_KEY,
    bench_database,
    check_leftovers,
    free_port,
    record,
    report_console,
    spawn,
    summary_row,
)

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ("registry", "executions")


def start(stack: ExitStack, name: str, port: int, env: dict[str, str]) -> None:
    """The function in a session of its own, its whole group stopped when ``stack`` closes."""
    spawn(
        stack,
        [
            str(Path(sys.executable).with_name("functions-framework")),
            "--source",
            str(ROOT / "functions" / "main.py"),
            "--target",
            name,
            "--host",
            "127.0.0.1",
        ],
        {**env, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not become healthy")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(
    send: Callable[[str], httpx.Response], bases: dict[str, str], n: int
) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in bases}
    for _ in range(20):  # warm both paths (connections, caches)
        for base in bases.values():
            send(base).raise_for_status()
    for _ in range(n):
        for name, base in bases.items():
            started = time.perf_counter()
            response = send(base)
            times[name].append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
    return times


def summary(times: dict[str, list[float]]) -> dict[str, float]:
    direct, hop = times["direct"], times["forwarded"]
    return {
        "direct_p50_ms": statistics.median(direct),
        "forwarded_p50_ms": statistics.median(hop),
        "added_p50_ms": statistics.median(hop) - statistics.median(direct),
        "added_p99_ms": percentile(hop, 0.99) - percentile(direct, 0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    ports = {name: free_port() for name in FUNCTIONS}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    with bench_database() as (url, origin):
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "API_KEY": API_KEY,
            "ENVIRONMENT": "test",
            "DEMO_FALLBACK": "true",
            **{f"{name.upper()}_URL": base for name, base in urls.items()},
        }
        for variable in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY"):
            env.pop(variable, None)
        seeded = subprocess.run(
            [str(Path(sys.executable).with_name("promptledger")), "seed-models"],
            env=env,
            capture_output=True,
            check=False,
        )
        if seeded.returncode != 0:
            raise RuntimeError(seeded.stderr.decode())
        with ExitStack() as stack:
            for name in FUNCTIONS:
                start(stack, name, ports[name], env)
            for base in urls.values():
                wait(base)
            with httpx.Client(headers={"X-API-Key": API_KEY}, timeout=30) as http:
                http.put(
                    f"{urls['registry']}/v1/prompts/hop", json={"template_source": "Hi {{name}}"}
                ).raise_for_status()
                resolve = measure(
                    lambda base: http.get(f"{base}/v1/prompts/hop"),
                    {"direct": urls["registry"], "forwarded": urls["executions"]},
                    args.requests,
                )
                body = {
                    "prompt_name": "hop",
                    "variables": {"name": "Ada"},
                    "model": {"provider": "openai", "model_name": "gpt-4o-mini"},
                }
                run = measure(
                    lambda base: http.post(f"{base}/v1/executions:run", json=body),
                    {"direct": urls["executions"], "forwarded": urls["registry"]},
                    args.requests // 2,
                )
    check_leftovers()
    result = {
        "resolve": summary(resolve),
        "run": summary(run),
        "requests": args.requests,
        "database": origin,
    }
    hop = result["run"]
    assert isinstance(hop, dict)
    record(
        "forward_hop",
        [
            summary_row(
                "forward_hop",
                baseline=f"straight to executions p50 {hop['direct_p50_ms']:.2f} ms",
                ours=f"through registry p50 {hop['forwarded_p50_ms']:.2f} ms",
                outcome=f"+{hop['added_p50_ms']:.2f} ms p50 / +{hop['added_p99_ms']:.2f} ms p99",
            )
        ],
    )
    if args.json:
        print(json.dumps(result, indent=2))
        return
    console = report_console()
    for name, label in (("resolve", "GET /v1/prompts/{name}"), ("run", "POST /v1/executions:run")):
        s = result[name]
        assert isinstance(s, dict)
        console.print(
            f"{label}: direct p50 {s['direct_p50_ms']:.2f} ms, through the other function "
            f"p50 {s['forwarded_p50_ms']:.2f} ms -> one hop adds {s['added_p50_ms']:.2f} ms p50, "
            f"{s['added_p99_ms']:.2f} ms p99"
        )


if __name__ == "__main__":
    main()
