"""Benchmark: span ingest (``POST /v1/traces``, batches of 100 spans) against a bare ``COPY`` of
the same rows into the same table.

The traces function runs as its own functions-framework process (as deployed). Each round sends
``--batches`` batches of 100 spans, one request at a time over one keep-alive connection, then
COPYs as many batches of the same rows (other trace ids) into ``spans`` over one connection,
one COPY per batch; rounds alternate so both see the same machine. Reported: spans/s of each
(median of the rounds), their ratio, and the request time of one 100-span batch (p50, p99).

Target (DESIGN.md §7): ingest >= 0.3x the COPY's spans/s.

Run: ``.venv/bin/python bench/traces_ingest.py [--batches 40] [--rounds 3] [--json]``
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
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.types.json import Jsonb

sys.path.append(str(Path(__file__).resolve().parents[1]))  # for `python bench/<this file>`

from bench._common import (
    API_KEY,
    bench_database,
    check_leftovers,
    free_port,
    percentile,
    record,
    report_console,
    summary_row,
    target,
    track_session,
)

from prompt_ledger.records import DEFAULT_PROJECT_ID

ROOT = Path(__file__).resolve().parents[1]
SPANS = 100
TARGET = 0.3
COLUMNS = (
    "project_id, trace_id, span_id, parent_span_id, name, kind, start_time, end_time, "
    "duration_ms, status, service_name, model, prompt_tokens, completion_tokens, attributes, "
    "events"
)


def batch(trace_id: str) -> list[dict[str, Any]]:
    """100 spans of one trace: a root and its children, half of them LLM calls."""
    start = datetime(2026, 3, 1, 12, tzinfo=UTC)
    spans: list[dict[str, Any]] = []
    for i in range(SPANS):
        llm = i % 2 == 1
        attributes: dict[str, Any] = {"step": i, "route": "/checkout"}
        if llm:
            attributes |= {
                "gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 120 + i,
                "gen_ai.usage.output_tokens": 40 + i,
            }
        spans.append(
            {
                "span_id": f"{i:016x}",
                "parent_span_id": None if i == 0 else f"{0:016x}",
                "name": f"step-{i}",
                "span_type": "LLM" if llm else "internal",
                "started_at": (start + timedelta(milliseconds=i)).isoformat(),
                "ended_at": (start + timedelta(milliseconds=i + 5)).isoformat(),
                "status": "OK",
                "attributes": attributes,
                "events": [],
            }
        )
    return spans


def copy_rows(trace_id: str, spans: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The rows the ingest stores for ``spans``, as COPY gets them."""
    rows = []
    for span in spans:
        attributes = span["attributes"]
        rows.append(
            (
                DEFAULT_PROJECT_ID,
                trace_id,
                span["span_id"],
                span["parent_span_id"],
                span["name"],
                span["span_type"].lower(),
                datetime.fromisoformat(span["started_at"]),
                datetime.fromisoformat(span["ended_at"]),
                5,
                "ok",
                "bench",
                attributes.get("gen_ai.request.model"),
                attributes.get("gen_ai.usage.input_tokens"),
                attributes.get("gen_ai.usage.output_tokens"),
                Jsonb(attributes),
                Jsonb(span["events"]),
            )
        )
    return rows


def start(port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            str(Path(sys.executable).with_name("functions-framework")),
            "--source",
            str(ROOT / "functions" / "main.py"),
            "--target",
            "traces",
            "--host",
            "127.0.0.1",
        ],
        env={**env, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # gunicorn forks a worker: stop the whole group
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


def ingest_round(http: httpx.Client, url: str, batches: int, times: list[float]) -> float:
    """Spans/s of ``batches`` requests, one at a time; each request's ms goes into ``times``."""
    bodies = []
    for _ in range(batches):
        trace_id = uuid.uuid4().hex
        bodies.append(
            json.dumps({"trace_id": trace_id, "service_name": "bench", "spans": batch(trace_id)})
        )
    headers = {"Content-Type": "application/json"}
    began = time.perf_counter()
    for body in bodies:
        sent = time.perf_counter()
        response = http.post(f"{url}/v1/traces", content=body, headers=headers)
        times.append((time.perf_counter() - sent) * 1000)
        if response.status_code != 202:
            raise RuntimeError(f"ingest answered {response.status_code}: {response.text[:300]}")
    return batches * SPANS / (time.perf_counter() - began)


def copy_round(conn: psycopg.Connection[Any], batches: int) -> float:
    """Spans/s of ``batches`` COPYs of 100 rows, one transaction each (as a request is)."""
    prepared = []
    for _ in range(batches):
        trace_id = uuid.uuid4().hex
        prepared.append(copy_rows(trace_id, batch(trace_id)))
    began = time.perf_counter()
    for rows in prepared:
        with conn.transaction(), conn.cursor().copy(f"COPY spans ({COLUMNS}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    return batches * SPANS / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=40, help="batches of 100 per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with bench_database() as (database_url, origin):
        env = {**os.environ, "DATABASE_URL": database_url, "API_KEY": API_KEY}
        env["ENVIRONMENT"] = "test"
        subprocess.run(
            [str(Path(sys.executable).with_name("promptledger")), "seed-models"],
            env=env,
            capture_output=True,
            check=True,
        )
        process = start(port, env)
        track_session(process.pid)
        try:
            wait(url)
            ingest: list[float] = []
            copied: list[float] = []
            times: list[float] = []
            with (
                httpx.Client(headers={"X-API-Key": API_KEY}, timeout=30) as http,
                psycopg.connect(database_url, autocommit=True) as conn,
            ):
                ingest_round(http, url, 5, [])  # warm: connections, caches, first imports
                copy_round(conn, 5)
                for _ in range(args.rounds):
                    ingest.append(ingest_round(http, url, args.batches, times))
                    copied.append(copy_round(conn, args.batches))
        finally:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    check_leftovers()
    times.sort()
    result = {
        "ingest_spans_per_s": statistics.median(ingest),
        "copy_spans_per_s": statistics.median(copied),
        "ratio": statistics.median(ingest) / statistics.median(copied),
        "target_ratio": TARGET,
        "batch_p50_ms": percentile(times, 50),
        "batch_p99_ms": percentile(times, 99),
        "batches": args.batches * args.rounds,
        "spans_per_batch": SPANS,
        "database": origin,
    }
    record(
        "traces_ingest",
        [
            summary_row(
                "traces_ingest",
                baseline=f"bare COPY: {result['copy_spans_per_s']:,.0f} spans/s",
                ours=(
                    f"POST /v1/traces: {result['ingest_spans_per_s']:,.0f} spans/s; one "
                    f"{SPANS}-span request p99 {result['batch_p99_ms']:.1f} ms"
                ),
                outcome=f"{result['ratio']:.2f}x COPY",
                checks=[target(result["ratio"], ">=", TARGET)],
            )
        ],
    )
    if args.json:
        print(json.dumps(result, indent=2))
        return
    verdict = "meets" if result["ratio"] >= TARGET else "MISSES"
    report_console().print(
        f"span ingest, batches of {SPANS}: {result['ingest_spans_per_s']:,.0f} spans/s via "
        f"POST /v1/traces vs {result['copy_spans_per_s']:,.0f} spans/s by bare COPY -> ratio "
        f"{result['ratio']:.2f} ({verdict} the >= {TARGET} target); one 100-span request: p50 "
        f"{result['batch_p50_ms']:.1f} ms, p99 {result['batch_p99_ms']:.1f} ms "
        f"({result['batches']} requests, database: {origin})"
    )


if __name__ == "__main__":
    main()
