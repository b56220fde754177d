"""Benchmark: what a prompt-cache hit costs in the SDK, against a dict lookup.

``PromptLedger.get_prompt`` on a warm cache must cost microseconds: no I/O and no lock, just a
dict lookup, a monotonic clock read and a comparison. This measures it side by side with the
floor (``dict.get`` on the same key) in one run, plus, for scale, the async twin, a local render
through the cache, a 304 revalidation and a cold fetch (one HTTP round trip on loopback).

The server is a loopback stub answering ``GET /v1/prompts/{name}`` with a real PromptView body
and ETag (so the network and parsing costs are real and no database is needed), or a running
PromptLedger with ``--url``/``--key`` (``promptledger dev``), where the prompt is created first.

Run: ``.venv/bin/python bench/sdk_cache.py [--hits 200000] [--fetches 300] [--json]``
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prompt_ledger import AsyncPromptLedger, PromptLedger

NAME = "bench_prompt"
TEMPLATE = "Summarize for {{audience}}:\n{{text}}"
ROUNDS = 5
PROMPT_VIEW: dict[str, Any] = {
    "prompt_id": "0b7e6c2a-1d4f-4e8b-9c3a-5f6d7e8f9a0b",
    "name": NAME,
    "mode": "full",
    "description": "bench",
    "owner_team": "bench",
    "active_version_id": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
    "created_at": "2026-01-01T00:00:00Z",
    "updated_at": "2026-01-01T00:00:00Z",
    "active_version_number": 1,
    "labels": {"production": 1},
    "version": {
        "version_id": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
        "prompt_id": "0b7e6c2a-1d4f-4e8b-9c3a-5f6d7e8f9a0b",
        "version_number": 1,
        "kind": "text",
        "template_source": TEMPLATE,
        "messages": None,
        "model_defaults": {},
        "variables": ["audience", "text"],
        "checksum_hash": "0" * 64,
        "status": "active",
        "created_by": "bench",
        "commit_message": None,
        "created_at": "2026-01-01T00:00:00Z",
    },
    "resolved_by": "active",
}


class StubHandler(BaseHTTPRequestHandler):
    """``GET /v1/prompts/{NAME}``: the PromptView, with an ETag; 304 on If-None-Match."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes
    body = json.dumps(PROMPT_VIEW).encode()
    etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'

    def do_GET(self) -> None:
        if self.path.split("?")[0] != f"/v1/prompts/{NAME}":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.headers.get("If-None-Match") == self.etag:
            self.send_response(304)
            self.send_header("ETag", self.etag)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("ETag", self.etag)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def stub_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Row:
    case: str
    ns_per_op: float
    vs_dict: float
    ops: int


def per_op_ns(run: Callable[[int], None], n: int) -> float:
    """Best-of-rounds median: run ``n`` operations per round, report the median ns/op."""
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter_ns()
        run(n)
        samples.append((time.perf_counter_ns() - started) / n)
    return statistics.median(samples)


def measure(url: str, key: str, hits: int, fetches: int) -> list[tuple[str, float, int]]:
    results: list[tuple[str, float, int]] = []
    with PromptLedger(url, key, cache_ttl=3600, stale_ttl=0) as ledger:
        ledger.get_prompt(NAME)  # warm
        table = {(NAME, None, None): ledger.get_prompt(NAME)}
        lookup_key = (NAME, None, None)

        def dict_get(n: int) -> None:
            get = table.get
            for _ in range(n):
                get(lookup_key)

        def warm_hit(n: int) -> None:
            get = ledger.get_prompt
            for _ in range(n):
                get(NAME)

        def warm_render(n: int) -> None:
            render = ledger.render_local
            variables = {"audience": "executives", "text": "Quarterly numbers are up."}
            for _ in range(n):
                render(NAME, variables)

        def cold_fetch(n: int) -> None:
            for _ in range(n):
                ledger.clear_cache()
                ledger.get_prompt(NAME)

        results.append(("dict.get (baseline)", per_op_ns(dict_get, hits), hits))
        results.append(("get_prompt, warm cache", per_op_ns(warm_hit, hits), hits))

        async def async_hits(n: int) -> float:
            async with AsyncPromptLedger(url, key, cache_ttl=3600) as aledger:
                await aledger.get_prompt(NAME)
                samples = []
                for _ in range(ROUNDS):
                    started = time.perf_counter_ns()
                    for _ in range(n):
                        await aledger.get_prompt(NAME)
                    samples.append((time.perf_counter_ns() - started) / n)
                return statistics.median(samples)

        results.append(("await get_prompt, warm (async)", asyncio.run(async_hits(hits)), hits))
        renders = max(1, hits // 50)
        results.append(
            (
                "render_local, warm (get + sandboxed render)",
                per_op_ns(warm_render, renders),
                renders,
            )
        )
        results.append(
            ("get_prompt, cold fetch (HTTP 200)", per_op_ns(cold_fetch, fetches), fetches)
        )

    with PromptLedger(url, key, cache_ttl=0, stale_ttl=0) as revalidating:
        revalidating.get_prompt(NAME)

        def revalidate(n: int) -> None:
            for _ in range(n):
                revalidating.get_prompt(NAME)

        results.append(("get_prompt, expired (HTTP 304)", per_op_ns(revalidate, fetches), fetches))
    return results


def fmt_ns(ns: float) -> str:
    if ns >= 1_000_000:
        return f"{ns / 1_000_000:.2f} ms"
    if ns >= 1_000:
        return f"{ns / 1_000:.2f} µs"
    return f"{ns:.0f} ns"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hits", type=int, default=200_000, help="cache hits per round")
    parser.add_argument("--fetches", type=int, default=300, help="HTTP fetches per round")
    parser.add_argument("--url", help="a running PromptLedger (default: a loopback stub)")
    parser.add_argument("--key", default="dev-key-change-in-production")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args()

    with stub_server() as stub_url:
        url = args.url or stub_url
        if args.url:
            with PromptLedger(url, args.key) as setup:
                setup.create_prompt(NAME, TEMPLATE, owner_team="bench")
        raw = measure(url, args.key, args.hits, args.fetches)

    baseline = raw[0][1]
    rows = [Row(case, round(ns, 1), round(ns / baseline, 1), ops) for case, ns, ops in raw]
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
        return
    print(
        f"SDK prompt cache, {'server ' + url if args.url else 'loopback stub server'}; "
        f"median of {ROUNDS} rounds"
    )
    width = max(len(r.case) for r in rows)
    print(f"{'case':<{width}}  {'per call':>10}  {'x dict.get':>10}")
    for r in rows:
        print(f"{r.case:<{width}}  {fmt_ns(r.ns_per_op):>10}  {r.vs_dict:>10.1f}")


if __name__ == "__main__":
    main()
