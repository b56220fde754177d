"""The Celery side of bench/peers/celery_drain.py, run with the Python of its own virtualenv
(``.bench-venvs/celery``; Celery is never a dependency of the project).

- as the worker's app (``celery -A _celery_tasks worker``): one task, ``run_execution``, doing
  per job what our worker does at the least: render the prompt (jinja2's sandbox), POST the chat
  completion to the stub (httpx, one shared client), INSERT the outcome (psycopg, one autocommit
  connection per worker thread);
- as a script (``python _celery_tasks.py round JOBS``): one timed round: enqueue JOBS tasks on
  a queue the worker does not consume yet, tell the worker to consume it, and wait until JOBS
  rows are in the table; prints ``{"enqueue_s": ..., "drain_s": ...}`` as JSON.

Configuration comes from the environment: BENCH_BROKER (Redis URL), BENCH_QUEUE, BENCH_WORKER
(the worker's node name), BENCH_DATABASE_URL, BENCH_STUB_URL (the stub's OpenAI base URL).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from functools import lru_cache
from typing import Any

import httpx
import psycopg
from celery import Celery
from jinja2.sandbox import SandboxedEnvironment
from psycopg.types.json import Jsonb

TEMPLATE = "Summarize: {{text}}"
QUEUE = os.environ.get("BENCH_QUEUE", "pl-bench")

app = Celery("pl_bench", broker=os.environ.get("BENCH_BROKER", "redis://127.0.0.1:6379/0"))
app.conf.update(
    task_ignore_result=True,
    task_default_queue=QUEUE + "-idle",  # the worker starts on this one: nothing is sent there
    worker_prefetch_multiplier=4,
    broker_connection_retry_on_startup=True,
)

_local = threading.local()
_sandbox = SandboxedEnvironment(autoescape=False)
_shared: dict[str, httpx.Client] = {}
_shared_lock = threading.Lock()


@lru_cache(maxsize=128)
def _template(source: str) -> Any:
    return _sandbox.from_string(source)


def _client() -> httpx.Client:
    """One client (connection pool) shared by the worker's threads."""
    with _shared_lock:
        if "http" not in _shared:
            _shared["http"] = httpx.Client(
                base_url=os.environ["BENCH_STUB_URL"],
                headers={"Authorization": "Bearer sk-bench"},
                trust_env=False,
                timeout=30.0,
            )
        return _shared["http"]


def _connection() -> psycopg.Connection[Any]:
    connection: psycopg.Connection[Any] | None = getattr(_local, "connection", None)
    if connection is None:
        connection = psycopg.connect(os.environ["BENCH_DATABASE_URL"], autocommit=True)
        _local.connection = connection
    return connection


@app.task(name="run_execution")  # type: ignore[untyped-decorator]
def run_execution(template: str, variables: dict[str, Any]) -> None:
    text = _template(template).render(**variables)
    call = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
    response = _client().post("/chat/completions", json=call)
    response.raise_for_status()
    _connection().execute(
        "INSERT INTO bench_scratch (payload) VALUES (%s)", [Jsonb(response.json())]
    )


def _count(connection: psycopg.Connection[Any]) -> int:
    row = connection.execute("SELECT count(*) FROM bench_scratch").fetchone()
    return int(row[0]) if row else 0


def timed_round(jobs: int, text: str) -> dict[str, float]:
    worker = os.environ["BENCH_WORKER"]
    with psycopg.connect(os.environ["BENCH_DATABASE_URL"], autocommit=True) as connection:
        expected = _count(connection) + jobs
        started = time.perf_counter()
        with app.producer_or_acquire() as producer:
            for _ in range(jobs):
                run_execution.apply_async(
                    (TEMPLATE, {"text": text}), queue=QUEUE, producer=producer
                )
        enqueued = time.perf_counter()
        replies = app.control.add_consumer(QUEUE, destination=[worker], reply=True, timeout=10)
        if not replies:
            raise SystemExit(f"worker {worker} did not answer add_consumer")
        drain_started = time.perf_counter()
        deadline = drain_started + 120 + jobs * 0.1
        while _count(connection) < expected:
            if time.perf_counter() > deadline:
                raise SystemExit(f"the Celery worker did not finish {jobs} jobs in time")
            time.sleep(0.005)
        drained = time.perf_counter()
        app.control.cancel_consumer(QUEUE, destination=[worker], reply=True, timeout=10)
    return {"enqueue_s": enqueued - started, "drain_s": drained - drain_started}


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "round":
        raise SystemExit("usage: python _celery_tasks.py round JOBS TEXT")
    print(json.dumps(timed_round(int(sys.argv[2]), sys.argv[3])))
