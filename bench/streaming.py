"""Benchmark: time to first token of a streamed run, ``POST /v1/executions:run`` with
``"stream": true``, against a direct streaming call to the stub.

Two servers run side by side, each in its own process on 127.0.0.1, and this process is the
client:

- ``direct``: the loopback stub LLM streaming OpenAI ``chat.completion.chunk`` events, its first
  text ``--latency`` seconds after the request (default 50 ms), called directly with the body our
  OpenAI adapter sends (``stream: true``, ``stream_options.include_usage``);
- ``ours``: our gateway (single-worker uvicorn) running the bench prompt streamed against that
  stub: it resolves, renders, records the running execution, opens the provider's stream and
  relays its deltas as Server-Sent Events, then records the outcome.

Each side is called sequentially (concurrency 1), the two interleaved request by request so a
noisy machine slows both alike; the time to first token is client-observed: from sending the
request to reading the first line carrying text. Every stream is read to its end, and ours must
end with a ``done`` event of a succeeded execution.

Target (issue #13): added time to first token (ours minus direct, p50) <= 3 ms.

Run: ``.venv/bin/python bench/streaming.py [--requests 200] [--json] [--check]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table

sys.path.append(str(Path(__file__).resolve().parents[1]))  # for `python bench/<this file>`

from bench._common import (
    API_KEY,
    BenchError,
    bench_database,
    check_leftovers,
    direct_body,
    environment,
    environment_line,
    err,
    fmt,
    percentile,
    record,
    report_console,
    run_body,
    seed_executions,
    start_server,
    start_stub_llm,
    summary_row,
    target,
    verdict,
)

RUN_PATH = "/v1/executions:run"
DIRECT_PATH = "/chat/completions"  # under the stub's OpenAI base URL (.../v1)
TARGET_ADDED_TTFT_P50_MS = 3.0


def openai_text(line: str) -> bool:
    """A ``chat.completion.chunk`` data line with text."""
    if not line.startswith("data: {"):
        return False
    choices = json.loads(line[6:]).get("choices") or [{}]
    return bool((choices[0].get("delta") or {}).get("content"))


def our_text(line: str) -> bool:
    return line == "event: delta"


def first_token(client: httpx.Client, url: str, body: dict[str, Any], ours: bool) -> float:
    """Seconds from sending to the first line with text; the stream is read to its end (and
    ours must end with a succeeded execution)."""
    has_text = our_text if ours else openai_text
    started = time.perf_counter()
    ttft: float | None = None
    last = ""
    with client.stream("POST", url, json=body) as response:
        if response.status_code != 200:
            response.read()
            raise BenchError(f"{url} answered {response.status_code}: {response.text[:300]}")
        for line in response.iter_lines():
            if ttft is None and has_text(line):
                ttft = time.perf_counter() - started
            if line:
                last = line
    if ttft is None:
        raise BenchError(f"{url}: no text in the stream")
    if ours and '"status":"succeeded"' not in last:
        raise BenchError(f"our stream did not end with a succeeded execution: {last[:300]}")
    return ttft


def run(requests: int, latency: float, warmup: int) -> dict[str, Any]:
    direct_ms: list[float] = []
    ours_ms: list[float] = []
    with ExitStack() as stack:
        database_url, db_origin = stack.enter_context(bench_database())
        stub = start_stub_llm(stack, latency)
        env = {
            "DATABASE_URL": database_url,
            "API_KEY": API_KEY,
            "BENCH_OPENAI_API_KEY": "sk-bench",
            "BENCH_OPENAI_BASE_URL": stub.base_url,
        }
        ours = start_server(stack, "ours", "gateway_app", "/health", env)
        seed_executions(ours)
        direct = {**direct_body(), "stream": True, "stream_options": {"include_usage": True}}
        streamed = {**run_body(), "stream": True}
        client = stack.enter_context(
            httpx.Client(trust_env=False, timeout=30.0, headers={"X-API-Key": API_KEY})
        )
        sides = (
            (direct_ms, stub.base_url + DIRECT_PATH, direct, False),
            (ours_ms, ours.base_url + RUN_PATH, streamed, True),
        )
        for number in range(warmup + requests):
            for into, url, body, is_ours in sides:
                seconds = first_token(client, url, body, is_ours)
                if number >= warmup:
                    into.append(seconds * 1000)
            if number and number % 50 == 0:
                err.print(f"[dim]{number}/{warmup + requests} requests per side[/dim]")
        stub.check_alive()
        ours.check_alive()
    return report(direct_ms, ours_ms, latency, db_origin)


def _stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50_ms": percentile(ordered, 50), "p99_ms": percentile(ordered, 99)}


def report(
    direct_ms: list[float], ours_ms: list[float], latency: float, db_origin: str
) -> dict[str, Any]:
    direct, ours = _stats(direct_ms), _stats(ours_ms)
    added = sorted(o - d for o, d in zip(ours_ms, direct_ms, strict=True))
    added_p50 = percentile(added, 50)
    return {
        "benchmark": "streaming",
        "endpoint": f"POST {RUN_PATH} (stream: true)",
        "config": {"requests": len(ours_ms), "latency": latency},
        "environment": environment(db_origin),
        "summary": {"direct": direct, "ours": ours},
        "ratios": {
            "added_ttft_p50_ms": added_p50,
            "added_ttft_p99_ms": ours["p99_ms"] - direct["p99_ms"],
        },
        "targets": {"added_ttft_p50_ms": target(added_p50, "<=", TARGET_ADDED_TTFT_P50_MS)},
    }


def print_table(result: dict[str, Any]) -> None:
    summary, ratios = result["summary"], result["ratios"]
    config = result["config"]
    table = Table(
        title=f"{result['endpoint']}: time to first token (stub LLM first text after "
        f"{config['latency'] * 1000:g} ms; {config['requests']} requests per side, c=1)"
    )
    for column in ("metric", "direct", "ours", "ours - direct", "target", ""):
        table.add_column(column, justify="left" if column in {"metric", "target"} else "right")
    table.add_row(
        "TTFT p50 ms",
        fmt(summary["direct"]["p50_ms"], ".2f"),
        fmt(summary["ours"]["p50_ms"], ".2f"),
        "+" + fmt(ratios["added_ttft_p50_ms"], ".2f"),
        f"<= +{TARGET_ADDED_TTFT_P50_MS:g} ms",
        verdict(result["targets"]["added_ttft_p50_ms"]["pass"]),
    )
    table.add_row(
        "TTFT p99 ms",
        fmt(summary["direct"]["p99_ms"], ".2f"),
        fmt(summary["ours"]["p99_ms"], ".2f"),
        "+" + fmt(ratios["added_ttft_p99_ms"], ".2f"),
    )
    console = report_console()
    console.print(table)
    console.print(
        f"[dim]{environment_line(result['environment'])}; added p50 = median of the paired "
        "differences (ours minus the direct call made just before it)[/dim]"
    )


def record_summary(result: dict[str, Any]) -> None:
    summary, ratios = result["summary"], result["ratios"]
    direct, ours = summary["direct"], summary["ours"]
    record(
        "streaming",
        [
            summary_row(
                "stream_ttft",
                baseline=f"direct stream: TTFT p50 {direct['p50_ms']:.1f} ms",
                ours=f"TTFT p50 {ours['p50_ms']:.1f} ms / p99 {ours['p99_ms']:.1f} ms",
                outcome=f"+{ratios['added_ttft_p50_ms']:.2f} ms p50",
                checks=[result["targets"]["added_ttft_p50_ms"]],
            )
        ],
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=200, help="per side (after warm-up)")
    parser.add_argument("--warmup", type=int, default=20, help="per side, not recorded")
    parser.add_argument("--latency", type=float, default=0.05, help="stub's time to first text")
    parser.add_argument("--json", action="store_true", help="print the JSON report")
    parser.add_argument("--check", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args()
    try:
        result = run(args.requests, args.latency, args.warmup)
        check_leftovers()
    except BenchError as exc:
        err.print(f"[red]{exc}[/red]")
        return 2
    record_summary(result)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    passed = all(t["pass"] for t in result["targets"].values())
    return 1 if args.check and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
