"""Peer benchmark: our async executions side by side with Celery + Redis doing the same work
per job: render the prompt, POST the chat completion to the loopback stub (0 ms), INSERT the
outcome into PostgreSQL.

- ``celery``: a Celery worker (``--pool threads --concurrency 10``: one process, like ours;
  from its own virtualenv ``.bench-venvs/celery``, installed by ``make bench-peers``), Redis on
  127.0.0.1:6379 as the broker (the benchmark skips with a message where Redis does not answer).
  Each round enqueues ``--jobs`` tasks on a queue of its own, then tells the warm worker to
  consume it and times until every row is in (``bench/peers/_celery_tasks.py``);
- ``ours``: ``--jobs`` executions submitted through our gateway, then our worker (concurrency
  10, the production options, ``bench/async_drain.py``) drains them; every execution must end
  ``succeeded``.

Rounds interleaved, medians over rounds; our ratio to Celery's jobs/s and both workers' CPU per
job are reported (no target: the issue's target compares ours with a bare procrastinate task,
``bench/async_drain.py``).

Run: ``.venv/bin/python bench/peers/celery_drain.py [--jobs 1000] [--rounds 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import psycopg

sys.path.append(str(Path(__file__).resolve().parents[2]))  # for `python bench/peers/<file>`

from bench._common import (
    API_KEY,
    SCRATCH_DDL,
    TEXT,
    BenchError,
    LoadSpec,
    bench_database,
    err,
    fmt,
    measure,
    median_of,
    process_cpu_seconds,
    run_body,
    seed_executions,
    spawn,
    spawn_pool,
    start_server,
    start_stub_llm,
    summary_row,
)
from bench._peers import finish_peer, venv_tool
from bench.async_drain import DrainSpec, check_ours, drain

ROOT = Path(__file__).resolve().parents[2]
REDIS = ("127.0.0.1", 6379)
CONCURRENCY = 10


def celery_python() -> Path:
    return venv_tool("celery", "python", "bench-peers", "Celery")


def redis_answers() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _celery_env(database_url: str, stub_url: str, queue: str, worker: str) -> dict[str, str]:
    return {
        "BENCH_BROKER": f"redis://{REDIS[0]}:{REDIS[1]}/0",
        "BENCH_QUEUE": queue,
        "BENCH_WORKER": worker,
        "BENCH_DATABASE_URL": database_url,
        "BENCH_STUB_URL": stub_url,
        "PYTHONPATH": str(Path(__file__).resolve().parent),
    }


def _wait_for_worker(python: Path, env: dict[str, str], worker: str) -> None:
    """Until the worker answers a ping (it is connected and consuming its idle queue)."""
    probe = (
        "import sys, _celery_tasks as t; "
        f"sys.exit(0 if t.app.control.ping(destination=[{worker!r}], timeout=1) else 1)"
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = subprocess.run(
            [str(python), "-c", probe],
            env={**os.environ, **env},
            capture_output=True,
            check=False,
        )
        if done.returncode == 0:
            return
        time.sleep(0.5)
    raise BenchError(f"Celery worker {worker} did not answer a ping in 60 s")


# kombu's own key, shared by every kombu user of the Redis: removed only if this run made it
KOMBU_SHARED = "_kombu.binding_deadlines"


def _redis(*words: str) -> bytes:
    """One Redis command (RESP), its first reply line."""
    command = f"*{len(words)}\r\n" + "".join(f"${len(w)}\r\n{w}\r\n" for w in words)
    with socket.create_connection(REDIS, timeout=2) as connection:
        connection.sendall(command.encode())
        return connection.recv(64)


def _delete_queue_keys(queue: str, shared_existed: bool) -> None:
    """Remove this run's Redis keys (the shared Redis keeps no trace of the benchmark)."""
    keys = [
        key
        for name in (queue, f"{queue}-idle")
        for key in (name, f"_kombu.binding.{name}", f"_kombu.binding_permanent.{name}")
    ]
    _redis("DEL", *keys, *(() if shared_existed else (KOMBU_SHARED,)))


def run(args: argparse.Namespace) -> dict[str, Any]:
    python = celery_python()
    rounds: list[dict[str, float]] = []
    queue = f"pl-bench-{uuid.uuid4().hex[:8]}"
    worker = f"{queue}@{socket.gethostname()}"
    with ExitStack() as stack:
        database_url, _ = stack.enter_context(bench_database())
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute(SCRATCH_DDL)
        stub = start_stub_llm(stack, 0.0)
        env = {
            "DATABASE_URL": database_url,
            "API_KEY": API_KEY,
            "BENCH_OPENAI_API_KEY": "sk-bench",
            "BENCH_OPENAI_BASE_URL": stub.base_url,
        }
        gateway = start_server(stack, "ours", "gateway_app", "/health", env)
        seed_executions(gateway)
        celery_env = _celery_env(database_url, stub.base_url, queue, worker)
        shared_existed = _redis("EXISTS", KOMBU_SHARED).startswith(b":1")
        stack.callback(_delete_queue_keys, queue, shared_existed)
        command = [str(python), "-m", "celery", "-A", "_celery_tasks", "worker"]
        options = ["--pool", "threads", "--concurrency", str(CONCURRENCY), "-n", worker]
        quiet = ["--loglevel", "WARNING", "--without-heartbeat", "--without-gossip"]
        celery = spawn(
            stack,
            [*command, *options, *quiet, "--without-mingle"],
            celery_env,
            cwd=Path(__file__).resolve().parent,
        )
        _wait_for_worker(python, celery_env, worker)
        loader: ProcessPoolExecutor = stack.enter_context(spawn_pool())
        drainer: ProcessPoolExecutor = stack.enter_context(spawn_pool())
        submitted = 0

        def ours(jobs: int) -> dict[str, float]:
            nonlocal submitted
            spec = LoadSpec(
                gateway.base_url + "/v1/executions:submit",
                {"Content-Type": "application/json", "X-API-Key": API_KEY},
                concurrency=1,
                duration=max(60.0, jobs * 0.05),
                max_requests=jobs,
                method="POST",
                body=json.dumps(run_body()).encode(),
                expect_status=202,
                expect_in_body=b'"status":"queued"',
            )
            enqueued = measure(loader, gateway, spec)
            submitted += enqueued.requests + 1
            result = drainer.submit(
                drain, DrainSpec("ours", database_url, jobs, CONCURRENCY, stub.base_url)
            ).result(timeout=120 + jobs * 0.1)
            check_ours(database_url, submitted)
            return {
                "jobs_per_s": result.jobs_per_s,
                "cpu_us_per_job": result.worker_cpu * result.elapsed_s / jobs * 1e6,
            }

        def peer(jobs: int) -> dict[str, float]:
            cpu_before = process_cpu_seconds(celery.pid)
            script = str(Path(__file__).with_name("_celery_tasks.py"))
            done = subprocess.run(
                [str(python), script, "round", str(jobs), TEXT],
                env={**os.environ, **celery_env},
                capture_output=True,
                check=False,
                timeout=300 + jobs * 0.1,
            )
            cpu_after = process_cpu_seconds(celery.pid)
            if done.returncode != 0 or celery.poll() is not None:
                raise BenchError(f"the Celery round failed: {done.stderr.decode()[-500:]}")
            timing = json.loads(done.stdout)
            cpu = (cpu_after or 0.0) - (cpu_before or 0.0)
            return {"jobs_per_s": jobs / timing["drain_s"], "cpu_us_per_job": cpu / jobs * 1e6}

        ours(args.warmup_jobs)
        peer(args.warmup_jobs)
        for number in range(1, args.rounds + 1):
            sides = {"celery": peer(args.jobs), "ours": ours(args.jobs)}
            rounds.append({f"{side}_{k}": v for side, r in sides.items() for k, v in r.items()})
            err.print(
                f"[dim]round {number}/{args.rounds}: celery "
                f"{sides['celery']['jobs_per_s']:6.0f} jobs/s "
                f"({sides['celery']['cpu_us_per_job']:,.0f} us CPU/job), ours "
                f"{sides['ours']['jobs_per_s']:6.0f} jobs/s "
                f"({sides['ours']['cpu_us_per_job']:,.0f} us CPU/job)[/dim]"
            )
    summary = {key: median_of([r[key] for r in rounds]) for key in rounds[0]}
    ratio = median_of([r["ours_jobs_per_s"] / r["celery_jobs_per_s"] for r in rounds])
    return {
        "benchmark": "celery_drain",
        "jobs": args.jobs,
        "rounds": args.rounds,
        "summary": summary,
        "ratio": ratio,
    }


def summary_row_of(result: dict[str, Any]) -> dict[str, Any]:
    s = result["summary"]
    return summary_row(
        "async_vs_celery",
        baseline=f"Celery {fmt(s['celery_jobs_per_s'], ',.0f')} jobs/s "
        f"({fmt(s['celery_cpu_us_per_job'], ',.0f')} us CPU/job)",
        ours=f"{fmt(s['ours_jobs_per_s'], ',.0f')} jobs/s "
        f"({fmt(s['ours_cpu_us_per_job'], ',.0f')} us CPU/job)",
        outcome=f"{fmt(result['ratio'], '.2f')}x its jobs/s",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=1000, help="jobs per round and side")
    parser.add_argument("--warmup-jobs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not redis_answers():
        err.print(
            f"[yellow]skipped: no Redis on {REDIS[0]}:{REDIS[1]} (the Celery peer needs one as "
            "its broker)[/yellow]"
        )
        return 0
    return finish_peer(
        "celery_drain", "Celery", lambda: run(args), summary_row_of, as_json=args.json
    )


if __name__ == "__main__":
    sys.exit(main())
