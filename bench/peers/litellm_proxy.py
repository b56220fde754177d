"""Peer benchmark: our sync ``POST /v1/executions:run`` side by side with the LiteLLM proxy, both
in front of the same loopback stub LLM (OpenAI chat completions, 50 ms per reply).

- ``direct``: the stub, called with the body our OpenAI adapter sends;
- ``litellm``: LiteLLM proxy (``litellm --config ... --num_workers 1``, no database: it records
  nothing), from its own virtualenv (``.bench-venvs/litellm``, installed by
  ``make bench-peers``; never a dependency of the project), routing ``gpt-4o-mini`` to the stub;
- ``ours``: our gateway (single-worker uvicorn), which also records every execution.

Interleaved rounds (direct, litellm, ours at concurrency 1, then at ``--concurrency``), medians
over rounds. Targets (issue #13): ours >= 4x LiteLLM's req/s at ``--concurrency`` (default 32)
and our added p50 (over direct, concurrency 1) <= 0.25x LiteLLM's.

Run: ``.venv/bin/python bench/peers/litellm_proxy.py [--rounds 3]`` (after ``make bench-peers``
has built the virtualenv; ``BENCH_VENVS`` names its parent directory)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

sys.path.append(str(Path(__file__).resolve().parents[2]))  # for `python bench/peers/<file>`

from bench._common import (
    API_KEY,
    BenchError,
    LoadSpec,
    Server,
    bench_database,
    direct_body,
    err,
    fmt,
    free_port,
    measure,
    median_of,
    run_body,
    seed_executions,
    spawn,
    spawn_pool,
    start_server,
    start_stub_llm,
    summary_row,
    target,
)
from bench._peers import finish_peer, venv_tool

ROOT = Path(__file__).resolve().parents[2]
TARGET_RPS_RATIO = 4.0
TARGET_ADDED_RATIO = 0.25
APPS = ("direct", "litellm", "ours")
MASTER_KEY = "sk-bench-litellm-master-key-0123456789abcdef"
CONFIG = """model_list:
  - model_name: gpt-4o-mini
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {base}
      api_key: sk-bench
litellm_settings:
  telemetry: false
  turn_off_message_logging: true
"""


def litellm_binary() -> Path:
    return venv_tool("litellm", "litellm", "bench-peers", "LiteLLM")


def start_litellm(stack: ExitStack, stub: Server) -> Server:
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pl-bench-litellm-")))
    config = folder / "config.yaml"
    config.write_text(CONFIG.format(base=stub.base_url))
    port = free_port()
    command = [str(litellm_binary()), "--config", str(config), "--host", "127.0.0.1"]
    process = spawn(
        stack,
        [*command, "--port", str(port), "--num_workers", "1"],
        {
            "LITELLM_LOG": "ERROR",
            "LITELLM_TELEMETRY": "False",
            "NO_DOCS": "True",
            "LITELLM_MASTER_KEY": MASTER_KEY,  # it checks a key per request, as ours does
        },
        # no database: LiteLLM would use DATABASE_URL (ours) to log spend
        unset=("DATABASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL"),
        cwd=folder,
    )
    server = Server("litellm", process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 180  # the proxy imports a lot
    with httpx.Client(trust_env=False, timeout=5.0) as client:
        while True:
            server.check_alive()
            try:
                if client.get(server.base_url + "/health/liveliness").status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise BenchError("LiteLLM proxy did not become ready in 180 s")
            time.sleep(0.2)


def run(args: argparse.Namespace) -> dict[str, Any]:
    samples: dict[tuple[str, str], list[Any]] = {}
    with ExitStack() as stack:
        database_url, _ = stack.enter_context(bench_database())
        stub = start_stub_llm(stack, args.latency)
        env = {
            "DATABASE_URL": database_url,
            "API_KEY": API_KEY,
            "BENCH_OPENAI_API_KEY": "sk-bench",
            "BENCH_OPENAI_BASE_URL": stub.base_url,
        }
        ours = start_server(stack, "ours", "gateway_app", "/health", env)
        seed_executions(ours)
        err.print("[dim]starting LiteLLM proxy...[/dim]")
        litellm = start_litellm(stack, stub)
        servers = {"direct": stub, "litellm": litellm, "ours": ours}
        json_headers = {"Content-Type": "application/json"}
        targets = {
            "direct": (stub.base_url + "/chat/completions", json_headers, direct_body()),
            "litellm": (
                litellm.base_url + "/chat/completions",
                {**json_headers, "Authorization": f"Bearer {MASTER_KEY}"},
                direct_body(),
            ),
            "ours": (
                ours.base_url + "/v1/executions:run",
                {**json_headers, "X-API-Key": API_KEY},
                run_body(),
            ),
        }
        expected = {"direct": b'"choices"', "litellm": b'"choices"', "ours": b'"succeeded"'}
        pool: ProcessPoolExecutor = stack.enter_context(spawn_pool())

        def sample(app: str, concurrency: int, duration: float) -> Any:
            url, headers, body = targets[app]
            spec = LoadSpec(
                url,
                headers,
                concurrency,
                duration,
                200_000,
                method="POST",
                body=json.dumps(body).encode(),
                expect_in_body=expected[app],
            )
            return measure(pool, servers[app], spec)

        for app in APPS:  # warm-up, not recorded
            sample(app, args.concurrency, 1.0)
        for number in range(1, args.rounds + 1):
            for mode, concurrency, duration in (
                ("latency", 1, args.latency_duration),
                ("throughput", args.concurrency, args.throughput_duration),
            ):
                for app in APPS:
                    result = sample(app, concurrency, duration)
                    samples.setdefault((app, mode), []).append(result)
                    err.print(
                        f"[dim]round {number}/{args.rounds} {app:8} c={concurrency:<3} "
                        f"{result.rps:7.0f} req/s  p50 {result.p50_ms:6.2f} ms  "
                        f"p99 {result.p99_ms:6.2f} ms[/dim]"
                    )

    def med(app: str, mode: str, key: str) -> float | None:
        return median_of([getattr(r, key) for r in samples[(app, mode)]])

    def added(app: str, key: str) -> float | None:
        deltas = [
            getattr(a, key) - getattr(d, key)
            for a, d in zip(samples[(app, "latency")], samples[("direct", "latency")], strict=True)
        ]
        return median_of(list(deltas))

    ours_added, litellm_added = added("ours", "p50_ms"), added("litellm", "p50_ms")
    ours_rps, litellm_rps = med("ours", "throughput", "rps"), med("litellm", "throughput", "rps")
    rps_ratio = ours_rps / litellm_rps if ours_rps and litellm_rps else None
    added_ratio = (
        ours_added / litellm_added
        if ours_added is not None and litellm_added and litellm_added > 0
        else None
    )
    return {
        "benchmark": "litellm_proxy",
        "rounds": args.rounds,
        "concurrency": args.concurrency,
        "added_p50_ms": {"ours": ours_added, "litellm": litellm_added},
        "added_p99_ms": {"ours": added("ours", "p99_ms"), "litellm": added("litellm", "p99_ms")},
        "rps": {app: med(app, "throughput", "rps") for app in APPS},
        "server_cpu_us_per_req": {
            app: med(app, "throughput", "server_cpu_us_per_req") for app in ("litellm", "ours")
        },
        "targets": {
            "rps_ratio": target(rps_ratio, ">=", TARGET_RPS_RATIO),
            "added_p50_ratio": target(added_ratio, "<=", TARGET_ADDED_RATIO),
        },
    }


def summary_row_of(result: dict[str, Any]) -> dict[str, Any]:
    added, rps, cpu = result["added_p50_ms"], result["rps"], result["server_cpu_us_per_req"]
    targets, c = result["targets"], result["concurrency"]
    return summary_row(
        "sync_vs_litellm",
        baseline=f"LiteLLM +{fmt(added['litellm'], '.1f')} ms p50 (+"
        f"{fmt(result['added_p99_ms']['litellm'], '.1f')} p99), {fmt(rps['litellm'], ',.0f')} "
        f"req/s @c={c}, {fmt(cpu['litellm'], ',.0f')} us CPU/req",
        ours=f"+{fmt(added['ours'], '.1f')} ms p50 (+{fmt(result['added_p99_ms']['ours'], '.1f')} "
        f"p99), {fmt(rps['ours'], ',.0f')} req/s, {fmt(cpu['ours'], ',.0f')} us CPU/req",
        outcome=f"{fmt(targets['rps_ratio']['value'], '.2f')}x its req/s, "
        f"{fmt(targets['added_p50_ratio']['value'], '.2f')}x its added p50",
        checks=[targets["rps_ratio"], targets["added_p50_ratio"]],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--latency", type=float, default=0.05, help="stub seconds per reply")
    parser.add_argument("--latency-duration", type=float, default=4.0)
    parser.add_argument("--throughput-duration", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    return finish_peer(
        "litellm_proxy", "LiteLLM proxy", lambda: run(args), summary_row_of, as_json=args.json
    )


if __name__ == "__main__":
    sys.exit(main())
