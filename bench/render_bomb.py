"""Benchmark: does a template bomb starve the process? ``GET /livez`` latency of our gateway
while idle, against the same while ``--bombs`` renders of issue #11's macro bomb are in flight
(``{{ f(depth) }}`` with depth 21: about 30 s of CPU without a budget), measured side by side in
one run; and how long each bomb takes to be stopped (``TEMPLATE_RENDER_SECONDS``, default 2 s).

Without a budget off the event loop, /livez gets no answer until the bomb ends (tens of seconds);
with it, /livez is answered throughout and the ratio stays small.

Run: ``.venv/bin/python bench/render_bomb.py [--bombs 4] [--probes 200]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

sys.path.append(str(Path(__file__).resolve().parents[1]))  # for `python bench/<this file>`

from bench._common import (
    API_KEY,
    api_client,
    bench_database,
    check_leftovers,
    expect,
    start_server,
)

BOMB = (
    "{% macro f(n) %}{% if n > 0 %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(depth) }}"
)


def livez_ms(base_url: str, probes: int, stop: threading.Event | None = None) -> list[float]:
    """Sequential GET /livez round trips (ms), ``probes`` of them or until ``stop``."""
    times: list[float] = []
    with httpx.Client(base_url=base_url, trust_env=False, timeout=120) as client:
        while len(times) < probes and not (stop is not None and stop.is_set()):
            started = time.perf_counter()
            client.get("/livez").raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bombs", type=int, default=4, help="bomb renders in flight at once")
    parser.add_argument("--probes", type=int, default=200, help="/livez probes per phase")
    args = parser.parse_args()
    with ExitStack() as stack:
        url, _ = stack.enter_context(bench_database())
        server = start_server(stack, "ours", "gateway_app", "/livez", {"DATABASE_URL": url})
        with api_client(server) as client:
            expect(client.put("/v1/prompts/bomb", json={"template_source": BOMB}), 200, 201)
        idle = livez_ms(server.base_url, args.probes)

        stopped_after: list[float] = []
        statuses: list[int] = []

        def bomb() -> None:
            started = time.perf_counter()
            with httpx.Client(
                base_url=server.base_url, headers={"X-API-Key": API_KEY}, timeout=600
            ) as http:
                answer = http.post("/v1/prompts/bomb:render", json={"variables": {"depth": 21}})
            statuses.append(answer.status_code)
            stopped_after.append(time.perf_counter() - started)

        threads = [threading.Thread(target=bomb) for _ in range(args.bombs)]
        for thread in threads:
            thread.start()
        time.sleep(0.2)  # the bombs are rendering
        done = threading.Event()

        def wait_for_bombs() -> None:
            for thread in threads:
                thread.join()
            done.set()

        waiter = threading.Thread(target=wait_for_bombs)
        waiter.start()
        loaded = livez_ms(server.base_url, args.probes, stop=done)
        waiter.join()
    check_leftovers()

    def p(values: list[float], q: int) -> float:
        if len(values) < 2:
            return values[0]
        return statistics.quantiles(values, n=100, method="inclusive")[q - 1]

    print(f"bombs in flight: {args.bombs}; answers: {sorted(set(statuses))}")
    print(f"bomb stopped after: max {max(stopped_after):.2f} s")
    print(f"/livez idle:        p50 {p(idle, 50):.2f} ms  p99 {p(idle, 99):.2f} ms")
    print(
        f"/livez under bombs: p50 {p(loaded, 50):.2f} ms  p99 {p(loaded, 99):.2f} ms  "
        f"max {max(loaded):.2f} ms  ({len(loaded)} probes answered during the bombs)"
    )
    print(f"ratio p50 under bombs / idle: {p(loaded, 50) / p(idle, 50):.1f}x")


if __name__ == "__main__":
    main()
