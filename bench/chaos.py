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
worker's process group once it is inside a provider call (an attempt row 'calling' for 50 ms),
then a restart of PostgreSQL (``pg_ctl stop -m fast``, ``--pg-down`` seconds, start).

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

Run: ``.venv/bin/python bench/chaos.py [--rounds 3] [--sync 4] [--async 4] [--latency 0.2]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row
from rich.table import Table

sys.path.append(str(Path(__file__).resolve().parents[1]))  # for `python bench/<this file>`

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
    report_console,
    verdict,
)

from prompt_ledger import migrate
from prompt_ledger.testing.postgres import ThrowawayPostgres

BIN = Path(sys.executable).parent
MARK = "chaos-"
HOLDING = "holding the outcome of execution"  # what services/outcomes.py logs


# --- processes ----------------------------------------------------------------------------------


class Group:
    """A command in its own process group (so its children die with it), output to a log."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self.process: subprocess.Popen[bytes] | None = None
        self.pgids: set[int] = set()

    def start(self) -> Group:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pgids.add(self.process.pid)
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM to the group, SIGKILL after ``grace``; then reap."""
        if self.process is None:
            return
        self.kill(signal.SIGTERM)
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.kill(signal.SIGKILL)
            self.process.wait(10)
        self.kill(signal.SIGKILL)  # children the leader left behind

    def leftovers(self) -> list[int]:
        """Process groups this command ever had that still have a member."""
        left = []
        for pgid in self.pgids:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                continue
            except PermissionError:
                pass
            left.append(pgid)
        return left


class Supervisor:
    """Restarts the worker whenever it exits, as a platform's restart policy does."""

    def __init__(self, worker: Group, delay: float = 0.5) -> None:
        self.worker = worker
        self.delay = delay
        self.restarts = 0
        self.exits: Counter[int] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    def start(self) -> Supervisor:
        self.worker.start()
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(0.1):
            process = self.worker.process
            if process is not None and process.poll() is not None:
                self.exits[process.returncode] += 1
                self.worker.kill()  # whatever its group left behind
                if self._stop.wait(self.delay):
                    return
                self.worker.start()
                self.restarts += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.worker.stop()


# --- load ---------------------------------------------------------------------------------------


@dataclass
class Sent:
    marker: str
    mode: str  # sync | async
    status: int | None  # None: no HTTP answer (connection error, timeout)
    execution_id: str | None = None
    ledger_pending: bool = False
    response_status: str | None = None


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


def wait_for_file(path: Path, process: Group, within: float = 30) -> str:
    deadline = time.monotonic() + within
    while not path.exists():
        if not process.alive():
            raise BenchError(f"{process.name} exited: see {process.log}")
        if time.monotonic() > deadline:
            raise BenchError(f"{process.name} did not start: see {process.log}")
        time.sleep(0.05)
    return path.read_text().strip()


def wait_for_http(url: str, process: Group, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while True:
        if not process.alive():
            raise BenchError(f"{process.name} exited: see {process.log}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2, trust_env=False).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise BenchError(f"{process.name} did not answer {url}: see {process.log}")
        time.sleep(0.1)


def wait_for_calls_in_flight(url: str, within: float) -> None:
    """Until an attempt of the worker is calling the provider (or ``within`` passes)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(psycopg.Error), psycopg.connect(url, connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT count(*) FROM execution_attempts "
                "WHERE outcome = 'calling' AND job_id IS NOT NULL "
                "  AND started_at < now() - interval '50 milliseconds'"
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
            await asyncio.to_thread(wait_for_calls_in_flight, pg.url, args.pause * 2)
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
    left = unfinished(pg_url(pg))
    while left and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        left = await asyncio.to_thread(unfinished, pg_url(pg))
    return {
        "sent": load.sent,
        "kills": kills,
        "gateway_recovery_s": gateway_recovery,
        "all_terminal_after_s": None if left else time.monotonic() - last_fault,
    }


def pg_url(pg: ThrowawayPostgres) -> str:
    return pg.url


def ledger(url: str) -> dict[str, dict[str, Any]]:
    """Per marker: the execution and its attempts, as the ledger has them."""
    with psycopg.connect(url, row_factory=dict_row) as conn:
        rows = conn.execute(
            "SELECT i.variables_json->>'text' AS marker, e.execution_id::text AS execution_id, "
            "       e.status, e.execution_mode, e.attempts, "
            "       count(a.attempt_number) AS attempt_rows, "
            "       count(*) FILTER (WHERE a.outcome = 'lost') AS lost_attempts, "
            "       count(*) FILTER (WHERE a.cost_unknown) AS unknown_cost, "
            "       string_agg(a.attempt_number || ':' || a.outcome || '@' || a.worker || "
            "                  coalesce('/' || a.error_type, ''), ' ' "
            "                  ORDER BY a.attempt_number) AS attempt_log "
            "FROM executions e JOIN execution_inputs i USING (execution_id) "
            "LEFT JOIN execution_attempts a USING (execution_id) "
            "GROUP BY 1, 2, 3, 4, 5"
        ).fetchall()
    return {row["marker"]: row for row in rows}


def stub_calls(path: Path) -> Counter[str]:
    calls: Counter[str] = Counter()
    for line in path.read_text().splitlines():
        text = json.loads(line)
        start = text.find(MARK)
        if start >= 0:
            calls[text[start : start + len(MARK) + 32]] += 1
    return calls


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


def report(
    args: argparse.Namespace,
    result: dict[str, Any],
    recorded: dict[str, dict[str, Any]],
    calls: Counter[str],
    supervisor: Supervisor | None,
    leftovers: list[int],
    work: Path,
) -> int:
    sent: list[Sent] = result["sent"]
    accepted = [s for s in sent if s.status in (200, 202)]
    lost_accepted = [s for s in accepted if s.marker not in recorded]
    lost_answers = [
        s
        for s in accepted
        if s.mode == "sync" and recorded.get(s.marker, {}).get("status") != "succeeded"
    ]
    unledgered_calls = [m for m in calls if m not in recorded]
    lost = len(lost_accepted) + len(lost_answers) + len(unledgered_calls)
    stuck = sum(1 for r in recorded.values() if r["status"] in ("queued", "running"))
    duplicates = sum(n - 1 for n in calls.values() if n > 1)
    repeated = [m for m, n in calls.items() if n > 1]
    rows = {m: int(recorded.get(m, {}).get("attempt_rows", 0)) for m in calls}
    unaccounted = sum(max(0, n - rows[m]) for m, n in calls.items())
    dup_accounted = sum(1 for m in repeated if rows[m] >= calls[m])
    lost_attempts = sum(int(r["lost_attempts"]) for r in recorded.values())
    for marker, r in recorded.items():
        if int(r["attempt_rows"]) > 1 or calls.get(marker, 0) > 1:
            err.print(
                f"[dim]{r['execution_id']} ({r['execution_mode']}, {r['status']}): "
                f"{calls.get(marker, 0)} calls at the stub; attempts {r['attempt_log']}[/dim]"
            )
    unknown_cost = sum(int(r["unknown_cost"]) for r in recorded.values())
    statuses = Counter(f"{s.mode} {s.status or 'no answer'}" for s in sent)
    pending = sum(1 for s in sent if s.ledger_pending)
    recoveries = result["gateway_recovery_s"]
    terminal_after = result["all_terminal_after_s"]
    ok = lost == 0 and stuck == 0 and unaccounted == 0 and not leftovers

    table = Table(title="chaos: kill -9 of the worker and PostgreSQL restarts under load")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("must", justify="right")
    table.add_column("", justify="center")
    table.add_row(
        "rounds (kill -9 of the worker, then PostgreSQL restart)", str(args.rounds), "", ""
    )
    table.add_row("requests sent (by mode and HTTP status)", str(len(sent)), "", "")
    for key, count in sorted(statuses.items()):
        table.add_row(f"  {key}", str(count), "", "")
    table.add_row("executions in the ledger", str(len(recorded)), "", "")
    by_status = Counter(f"{r['execution_mode']} {r['status']}" for r in recorded.values())
    for key, count in sorted(by_status.items()):
        table.add_row(f"  {key}", str(count))
    table.add_row("lost executions", str(lost), "0", verdict(lost == 0))
    table.add_row("  accepted (200/202) but not in the ledger", str(len(lost_accepted)), "0", "")
    table.add_row("  answered 200 but not recorded as succeeded", str(len(lost_answers)), "0", "")
    table.add_row(
        "  provider calls with no execution in the ledger", str(len(unledgered_calls)), "0", ""
    )
    table.add_row("non-terminal executions after recovery", str(stuck), "0", verdict(stuck == 0))
    table.add_row("provider calls at the stub", str(sum(calls.values())), "", "")
    table.add_row("duplicate provider calls (beyond one per execution)", str(duplicates), "", "")
    table.add_row(
        "  executions called more than once / with every call in the ledger",
        f"{len(repeated)} / {dup_accounted}",
        "all",
        verdict(dup_accounted == len(repeated)),
    )
    table.add_row(
        "provider calls not in the ledger (no attempt row)",
        str(unaccounted),
        "0",
        verdict(unaccounted == 0),
    )
    table.add_row(
        "attempts recorded as lost (cost unknown)", f"{lost_attempts} ({unknown_cost})", "", ""
    )
    cut_short = sum(max(0, int(r["attempt_rows"]) - calls.get(m, 0)) for m, r in recorded.items())
    table.add_row("  of which cut off before the call reached the stub", str(cut_short))
    held = (work / "gateway.log").read_text(errors="replace").count(HOLDING)
    table.add_row("sync answers held by the gateway while the database was away", str(held))
    table.add_row("sync answers returned with Ledger-Write: pending", str(pending), "", "")
    table.add_row(
        "gateway recovery after each PostgreSQL start (s)",
        ", ".join(f"{r:.2f}" for r in recoveries),
        "",
        "",
    )
    table.add_row(
        "every execution terminal, after the last fault (s)",
        "-" if terminal_after is None else f"{terminal_after:.1f}",
        f"<= {args.recovery_timeout:g}",
        verdict(terminal_after is not None),
    )
    if supervisor is not None:
        exits = ", ".join(f"{code}: {n}" for code, n in sorted(supervisor.exits.items()))
        table.add_row(
            "worker restarts by the supervisor (exit codes)",
            f"{supervisor.restarts} ({exits})",
            "",
            "",
        )
        table.add_row("  of which after our kill -9", str(result["kills"]), "", "")
    table.add_row("processes left after the run", str(len(leftovers)), "0", verdict(not leftovers))
    console = report_console()
    console.print(table)
    console.print(
        f"logs: {work}; stalled-after {args.stalled_after:g}s, stub latency {args.latency:g}s"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
