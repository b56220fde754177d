"""Chaos as a benchmark: does the ledger account for every provider call when the worker is
killed and the database restarts under load?

On a PostgreSQL of its own (embedded binaries, temporary data directory: never the machine's
server), it runs, each in its own process group:

- the loopback stub LLM (``bench/_stub_llm.py``, ``--latency`` per reply), which records every
  call it receives;
- the gateway (``promptledger serve``);
- the worker (``promptledger worker``), supervised as a platform would: restarted whenever it
  exits, however it exits (the restarts are counted).

Load: ``--sync`` clients loop on ``POST /v1/executions:run`` and ``--async`` clients on
``POST /v1/executions:submit``, each request with a unique marker in its variables, so that the
stub's calls can be matched to executions. Meanwhile, ``--rounds`` times: ``kill -9`` of the
worker's process group once it is inside a provider call (warm, and an attempt row of its own
'calling' for 100 ms), then a restart of PostgreSQL (``pg_ctl stop -m fast``, ``--pg-down``
seconds, start).

Then the load stops, the run waits (up to ``--recovery-timeout``) until no execution is queued
or running, stops everything by process group, checks that nothing is left, and prints:

- lost executions (must be 0): accepted (200/202) but not in the ledger, answered 200 but not
  recorded as succeeded, or a provider call whose execution is not in the ledger at all;
- executions non-terminal after recovery (must be 0);
- duplicate provider calls (calls at the stub beyond one per execution) and whether each call is
  in the ledger: an execution's calls at the stub <= its ``execution_attempts`` rows (must be
  all; an attempt row is written before its call, so a call cut off before it reached the stub
  leaves one row more);
- recovery times: after each PostgreSQL start, until the gateway answers a database-backed
  request again; after the last fault, until every execution is terminal.

Exit status 1 when a "must" figure is missed.

Run: ``.venv/bin/python bench/chaos.py [--rounds 3] [--sync 4] [--async 4] [--latency 0.5]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

sys.path.append(str(Path(__file__).resolve().parents[1]))  # for `python bench/<this file>`

from bench._chaos_report import MARK, Sent, ledger, report, stub_calls
from bench._common import (
    API_KEY,
    BENCH_DIR,
    MODEL,
    MODEL_PRICES,
    PROMPT,
    PROVIDER,
    TEMPLATE,
    BenchError,
    err,
    free_port,
)
from bench._supervised import Group, Supervisor, wait_for_file, wait_for_http

from prompt_ledger import migrate
from prompt_ledger.testing.postgres import ThrowawayPostgres

BIN = Path(sys.executable).parent


# --- load ---------------------------------------------------------------------------------------


@dataclass
class Load:
    base_url: str
    sent: list[Sent] = field(default_factory=list)
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def client(self, mode: str, pause: float) -> None:
        path = "/v1/executions:run" if mode == "sync" else "/v1/executions:submit"
        async with httpx.AsyncClient(
            base_url=self.base_url, headers={"X-API-Key": API_KEY}, timeout=120, trust_env=False
        ) as http:
            while not self.stopping.is_set():
                marker = f"{MARK}{uuid.uuid4().hex}"
                body = {
                    "prompt_name": PROMPT,
                    "variables": {"text": marker},
                    "model": {"provider": PROVIDER, "model_name": MODEL},
                }
                try:
                    response = await http.post(path, json=body)
                except httpx.HTTPError:
                    self.sent.append(Sent(marker, mode, None))
                    await asyncio.sleep(0.2)
                    continue
                sent = Sent(marker, mode, response.status_code)
                if response.status_code in (200, 202):
                    answer = response.json()
                    sent.execution_id = answer["execution_id"]
                    sent.response_status = answer["status"]
                    sent.ledger_pending = response.headers.get("Ledger-Write") == "pending"
                self.sent.append(sent)
                await asyncio.sleep(pause if sent.status in (200, 202) else 0.2)


async def gateway_answers(base_url: str, within: float) -> float:
    """Seconds until the gateway answers a database-backed request with 200."""
    started = time.monotonic()
    async with httpx.AsyncClient(
        base_url=base_url, headers={"X-API-Key": API_KEY}, timeout=5, trust_env=False
    ) as http:
        while time.monotonic() - started < within:
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get("/v1/executions", params={"limit": 1})).status_code == 200:
                    return time.monotonic() - started
            await asyncio.sleep(0.05)
    raise BenchError(f"the gateway did not answer within {within}s of the database restart")


# --- the run ------------------------------------------------------------------------------------


def wait_for_calls_in_flight(url: str, worker: Group, within: float) -> None:
    """Until the worker process, warmed up (one call of its own finished), has been calling the
    provider for 100 ms (or ``within`` passes): a kill then cuts off calls made, not calls about
    to be made."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        process = worker.process
        label = f"{socket.gethostname()[:60]}:{process.pid if process else 0}"
        with contextlib.suppress(psycopg.Error), psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT count(*) FROM execution_attempts "
                "WHERE worker = %(w)s AND outcome = 'calling' "
                "  AND started_at < now() - interval '100 milliseconds' "
                "  AND EXISTS (SELECT 1 FROM execution_attempts "
                "              WHERE worker = %(w)s AND outcome = 'succeeded')",
                {"w": label},
            ).fetchone()
            if row and row[0]:
                return
        time.sleep(0.05)


def unfinished(url: str) -> int:
    with psycopg.connect(url, connect_timeout=5) as conn:
        row = conn.execute(
            "SELECT count(*) FROM executions WHERE status IN ('queued', 'running')"
        ).fetchone()
    return int(row[0]) if row else 0


async def chaos(
    args: argparse.Namespace, pg: ThrowawayPostgres, base_url: str, worker: Group
) -> dict[str, Any]:
    load = Load(base_url)
    clients = [
        *(asyncio.create_task(load.client("sync", 0.0)) for _ in range(args.sync)),
        *(asyncio.create_task(load.client("async", args.async_pause)) for _ in range(args.async_)),
    ]
    kills, gateway_recovery = 0, []
    try:
        await asyncio.sleep(args.warmup)
        for round_number in range(1, args.rounds + 1):
            # Aim at calls in flight: kill once the worker is inside a provider call.
            await asyncio.to_thread(wait_for_calls_in_flight, pg.url, worker, args.pause * 3)
            err.print(f"[dim]round {round_number}: kill -9 of the worker[/dim]")
            worker.kill(signal.SIGKILL)
            kills += 1
            await asyncio.sleep(args.pause)
            err.print(f"[dim]round {round_number}: PostgreSQL restart[/dim]")
            await asyncio.to_thread(pg.stop, "fast")
            await asyncio.sleep(args.pg_down)
            await asyncio.to_thread(pg.start)
            gateway_recovery.append(await gateway_answers(base_url, 60))
            await asyncio.sleep(args.pause)
    finally:
        load.stopping.set()
        await asyncio.gather(*clients, return_exceptions=True)
    last_fault = time.monotonic()
    err.print("[dim]load stopped; waiting for every execution to finish...[/dim]")
    deadline = last_fault + args.recovery_timeout
    left = backlog = unfinished(pg.url)
    while left and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        left = await asyncio.to_thread(unfinished, pg.url)
    return {
        "sent": load.sent,
        "kills": kills,
        "gateway_recovery_s": gateway_recovery,
        "all_terminal_after_s": None if left else time.monotonic() - last_fault,
        "backlog": backlog,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3, help="kill -9 + PostgreSQL restarts")
    parser.add_argument("--sync", type=int, default=4, help="clients looping on :run")
    parser.add_argument("--async", dest="async_", type=int, default=4, help="clients on :submit")
    parser.add_argument("--async-pause", type=float, default=0.1, help="seconds between submits")
    parser.add_argument("--latency", type=float, default=0.5, help="stub reply latency")
    parser.add_argument("--warmup", type=float, default=4.0)
    parser.add_argument("--pause", type=float, default=5.0, help="seconds between faults")
    parser.add_argument("--pg-down", type=float, default=1.0, help="seconds PostgreSQL is down")
    parser.add_argument("--stalled-after", type=float, default=3.0)
    parser.add_argument("--recovery-timeout", type=float, default=180.0)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="pl-chaos-"))
    err.print(f"[dim]logs in {work}; starting a PostgreSQL of our own...[/dim]")
    groups: list[Group] = []
    supervisor: Supervisor | None = None
    pg = ThrowawayPostgres()
    try:
        url = pg.url
        migrate.upgrade(url)
        stub = Group(
            "stub",
            [sys.executable, str(BENCH_DIR / "_stub_llm.py"), "--latency", repr(args.latency),
             "--url-file", str(work / "stub.url"), "--calls-file", str(work / "calls.jsonl")],
            dict(os.environ),
            work / "stub.log",
        ).start()  # fmt: skip
        groups.append(stub)
        stub_url = wait_for_file(work / "stub.url", stub)
        port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.endswith(("_URL", "_KEY"))},
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "DATABASE_URL": url,
            "API_KEY": API_KEY,
            "ENVIRONMENT": "bench",
            "OPENAI_API_KEY": "sk-chaos",
            "OPENAI_BASE_URL": stub_url,
            "PROVIDER_TIMEOUT": "20",
            "LEDGER_WRITE_WAIT_SECONDS": "30",
            "STALLED_AFTER_SECONDS": str(args.stalled_after),
            "ORPHAN_AFTER_SECONDS": "5",
            "WORKER_CONCURRENCY": "8",
            "WORKER_POLL_SECONDS": "0.2",
            "WORKER_METRICS_PORT": "0",
            "WORKER_SHUTDOWN_GRACE": "5",
            "RETRY_BASE_SECONDS": "0.2",
            "CACHE_TTL_SECONDS": "0",
        }
        gateway = Group(
            "gateway",
            [str(BIN / "promptledger"), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env,
            work / "gateway.log",
        ).start()
        groups.append(gateway)
        base_url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base_url}/livez", gateway)
        with httpx.Client(base_url=base_url, headers={"X-API-Key": API_KEY}, timeout=10) as http:
            http.put(f"/v1/prompts/{PROMPT}", json={"template_source": TEMPLATE}).raise_for_status()
            http.put(f"/v1/models/{PROVIDER}/{MODEL}", json=MODEL_PRICES).raise_for_status()
        worker = Group("worker", [str(BIN / "promptledger"), "worker"], env, work / "worker.log")
        groups.append(worker)
        supervisor = Supervisor(worker).start()

        result = asyncio.run(chaos(args, pg, base_url, worker))

        supervisor.stop()
        gateway.stop()
        stub.stop()
        recorded = ledger(url)
    finally:
        if supervisor is not None:
            supervisor.stop()
        for group in groups:
            group.stop()
        pg.close()
    leftovers = [pgid for group in groups for pgid in group.leftovers()]
    calls = stub_calls(work / "calls.jsonl")
    return report(args, result, recorded, calls, supervisor, leftovers, work)


if __name__ == "__main__":
    sys.exit(main())
