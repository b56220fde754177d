"""Shared pieces of the benchmarks: a fresh bench database, servers in their own processes
(uvicorn apps of ``_apps.py`` and the stub LLM), a lean load generator run in a separate
process, and small reporting helpers.

The scripts import this as ``bench._common``: they put the repository root on ``sys.path`` so
that ``python bench/<script>.py`` works as well as ``python -m bench.<script>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib.util
import json
import math
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from psycopg import sql
from rich.console import Console

from prompt_ledger import migrate
from prompt_ledger.settings import DEFAULT_API_KEY, libpq_url

BENCH_DIR = Path(__file__).resolve().parent
API_KEY = DEFAULT_API_KEY
CLIENT_BOUND_CPU = 0.9  # client process busier than this: the client, not the server, is the limit
CLIENTS = ("raw", "httpx")

err = Console(stderr=True, highlight=False, soft_wrap=True)


class BenchError(RuntimeError):
    """The benchmark cannot produce a trustworthy figure (bad response, server died, ...)."""


# --- database ---------------------------------------------------------------------------------


def with_database(url: str, name: str) -> str:
    """The same server URL pointing at another database."""
    return urlunsplit(urlsplit(libpq_url(url))._replace(path=f"/{name}"))


def _admin(server_url: str) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(with_database(server_url, "postgres"), autocommit=True)


def create_database(server_url: str, name: str) -> str:
    drop_database(server_url, name)
    with _admin(server_url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    with _admin(server_url) as conn:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        conn.execute(drop.format(sql.Identifier(name)))


@contextmanager
def bench_database() -> Iterator[tuple[str, str]]:
    """A fresh, migrated database: (its URL, where the server came from)."""
    with ExitStack() as stack:
        given = os.environ.get("DATABASE_URL")
        if given:
            server_url, origin = libpq_url(given), "DATABASE_URL"
        else:
            from prompt_ledger.embedded import EmbeddedPostgres

            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="pl-bench-pg-"))
            err.print("[dim]starting embedded PostgreSQL...[/dim]")
            embedded = EmbeddedPostgres(Path(tmp) / "pgdata", delete_on_exit=True)
            stack.callback(embedded.stop)
            server_url, origin = embedded.url, "embedded"
        name = f"pl_bench_{uuid.uuid4().hex[:12]}"
        url = create_database(server_url, name)
        stack.callback(drop_database, server_url, name)
        migrate.upgrade(url)
        yield url, origin


@contextmanager
def kept_database(name: str, *, reuse: bool) -> Iterator[tuple[str, str]]:
    """$DATABASE_URL's database ``name``, left in place at the end: created and migrated (it
    must not exist yet), or with ``reuse`` an existing one, migrated to this checkout's head so
    that newer migrations apply. Answers (its URL, where the server came from)."""
    given = os.environ.get("DATABASE_URL")
    if not given:
        raise BenchError("a kept database needs DATABASE_URL (a PostgreSQL server of yours)")
    server_url = libpq_url(given)
    with _admin(server_url) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if reuse and not exists:
        raise BenchError(f"no database {name!r} to reuse: seed it first with --keep-db {name}")
    if not reuse and exists:
        raise BenchError(f"database {name!r} exists: reuse it with --reuse-db {name}, or drop it")
    url = with_database(server_url, name)
    if not reuse:
        with _admin(server_url) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    migrate.upgrade(url)
    yield url, "DATABASE_URL"


# --- servers ----------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    base_url: str

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the server process so far (Linux only)."""
        return process_cpu_seconds(self.process.pid)

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise BenchError(f"{self.name} server died (exit code {self.process.returncode})")


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux only)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def spawn(
    stack: ExitStack,
    command: list[str],
    env: dict[str, str],
    *,
    unset: tuple[str, ...] = (),
    **options: Any,
) -> subprocess.Popen[bytes]:
    """``command`` in a session (process group) of its own, stopped with all its descendants
    (e.g. a gunicorn worker) when ``stack`` closes; its environment is ours with ``env`` and
    without ``unset``."""
    # The servers' own output goes to stderr so that --json keeps stdout clean.
    options.setdefault("stdout", sys.stderr)
    environ = {k: v for k, v in {**os.environ, **env}.items() if k not in unset}
    process = subprocess.Popen(command, env=environ, start_new_session=True, **options)
    track_session(process.pid)
    stack.callback(stop_group, process)
    return process


def start_server(
    stack: ExitStack, name: str, factory: str, ready_path: str, env: dict[str, str]
) -> Server:
    """``_apps:<factory>`` in its own single-worker uvicorn process; returns once it answers."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        f"_apps:{factory}",
        "--factory",
        "--app-dir",
        str(BENCH_DIR),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--log-level",
        "warning",
        "--no-access-log",
        # uvicorn's choice by default (uvloop and httptools when installed, as in production);
        # BENCH_LOOP=asyncio BENCH_HTTP=h11 measures without them
        "--loop",
        os.environ.get("BENCH_LOOP", "auto"),
        "--http",
        os.environ.get("BENCH_HTTP", "auto"),
    ]
    server = Server(name, spawn(stack, command, env), f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=server.base_url, trust_env=False, timeout=2.0) as client:
        while True:
            server.check_alive()
            try:
                if client.get(ready_path).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"{name} server did not become ready on {server.base_url}")
            time.sleep(0.05)


def start_stub_llm(stack: ExitStack, latency: float) -> Server:
    """The loopback stub LLM (prompt_ledger.testing.stub_llm) in its own process, so that its
    CPU is not taken from the process under test. ``base_url`` is its OpenAI base URL."""
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pl-bench-stub-")))
    url_file = tmp / "url"
    command = [
        sys.executable,
        str(BENCH_DIR / "_stub_llm.py"),
        "--latency",
        repr(latency),
        "--url-file",
        str(url_file),
    ]
    process = spawn(stack, command, {})
    deadline = time.monotonic() + 30
    while not url_file.exists():
        if process.poll() is not None:
            raise BenchError(f"stub LLM exited with code {process.returncode}")
        if time.monotonic() > deadline:
            raise BenchError("stub LLM did not start")
        time.sleep(0.05)
    return Server("stub", process, url_file.read_text().strip())


def stop_group(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM the process group ``process`` leads (``start_new_session=True``), then SIGKILL
    what is left of it after ``grace`` seconds; reap the leader."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    deadline = time.monotonic() + grace
    while _group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - someone else's group
        return True
    return True


def api_client(server: Server, timeout: float = 10.0) -> httpx.Client:
    """A synchronous client for seeding our gateway, with the bench API key."""
    return httpx.Client(
        base_url=server.base_url, headers={"X-API-Key": API_KEY}, trust_env=False, timeout=timeout
    )


def expect(response: httpx.Response, *statuses: int) -> dict[str, Any]:
    """The JSON body of a response whose status is one of ``statuses``; BenchError otherwise."""
    if response.status_code not in statuses:
        raise BenchError(
            f"{response.request.method} {response.request.url.path} -> "
            f"{response.status_code}: {response.text[:300]}"
        )
    body: dict[str, Any] = response.json()
    return body


# --- executions fixtures (shared by the execution benchmarks) ----------------------------------

PROMPT = "bench"
TEMPLATE = "Summarize: {{text}}"
PROVIDER, MODEL = "openai", "gpt-4o-mini"
MODEL_PRICES = {"input_price_per_mtok": 0.15, "output_price_per_mtok": 0.6}
TEXT = (
    "PromptLedger keeps every prompt version, label move and execution in PostgreSQL, so that "
    "a team can tell which prompt produced which answer, at what cost, and roll back safely."
)


# A scratch table for the baselines that write (Starlette + one INSERT, the equivalent job).
SCRATCH_DDL = (
    "CREATE TABLE IF NOT EXISTS bench_scratch (id bigint GENERATED ALWAYS AS IDENTITY "
    "PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT now(), payload jsonb NOT NULL)"
)


# The minimal ledgered gateway's table (bench/_apps.py: ledgered_app).
LEDGER_DDL = (
    "CREATE TABLE IF NOT EXISTS bench_ledger (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY "
    "KEY, created_at timestamptz NOT NULL DEFAULT now(), status text NOT NULL, request jsonb "
    "NOT NULL, response jsonb, input_tokens int, output_tokens int, finished_at timestamptz)"
)


def run_body(text: str = TEXT, provider: str = PROVIDER, model: str = MODEL) -> dict[str, Any]:
    """The body of ``POST /v1/executions:run`` (or ``:submit``) for the bench prompt."""
    return {
        "prompt_name": PROMPT,
        "variables": {"text": text},
        "model": {"provider": provider, "model_name": model},
    }


def direct_body(text: str = TEXT) -> dict[str, Any]:
    """What our OpenAI adapter sends for ``run_body(text)``: the same call made directly."""
    return {"model": MODEL, "messages": [{"role": "user", "content": f"Summarize: {text}"}]}


def seed_executions(server: Server, provider: str = PROVIDER, model: str = MODEL) -> None:
    """Create the bench prompt and register the model (with prices) on our gateway."""
    with api_client(server) as client:
        expect(client.put(f"/v1/prompts/{PROMPT}", json={"template_source": TEMPLATE}), 200, 201)
        expect(client.put(f"/v1/models/{provider}/{model}", json=MODEL_PRICES), 200, 201)


def spawn_pool() -> ProcessPoolExecutor:
    """A one-process pool (spawned, so no state is inherited) for the load generator or for
    any other work that must not share a CPU-time budget with the orchestrating process."""
    import multiprocessing

    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))


# --- load generator (runs in its own process) -------------------------------------------------


@dataclass(frozen=True)
class LoadSpec:
    url: str
    headers: dict[str, str]
    concurrency: int
    duration: float
    max_requests: int
    client: str = "raw"
    server_timing: bool = False  # collect our Server-Timing (app, overhead) figures
    method: str = "GET"
    body: bytes | None = None  # sent as application/json
    expect_status: int = 200
    expect_in_body: bytes | None = None  # every response body must contain this


@dataclass(frozen=True)
class LoadResult:
    requests: int
    elapsed_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    client_cpu: float  # busy fraction of the load generator's process during the round
    app_p50_ms: float | None = None  # our Server-Timing app;dur, when asked for
    app_p99_ms: float | None = None
    overhead_p50_ms: float | None = None  # our Server-Timing overhead;dur (app minus provider)
    overhead_p99_ms: float | None = None
    server_cpu_us_per_req: float | None = None  # filled in by the parent


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    server_timing: str | None
    body: bytes


Fetch = Callable[[], Awaitable[Reply]]


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def timing_metric(server_timing: str | None, metric: str) -> float | None:
    """The ``<metric>;dur=<ms>`` entry of a Server-Timing header."""
    for part in (server_timing or "").split(","):
        name, _, params = part.strip().partition(";")
        if name == metric and params.startswith("dur="):
            return float(params[4:])
    return None


class RawConnection:
    """One keep-alive HTTP/1.1 connection sending one fixed request: the least client work per
    request we can do in Python, so that the servers, not the client, set the pace."""

    def __init__(
        self, url: str, headers: dict[str, str], method: str = "GET", body: bytes | None = None
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname != "127.0.0.1" or parts.port is None:
            raise BenchError(f"the raw client only talks to http://127.0.0.1:<port>, not {url}")
        self._host, self._port = parts.hostname, parts.port
        lines = [
            f"{method} {parts.path or '/'} HTTP/1.1",
            f"Host: {parts.netloc}",
            "User-Agent: prompt-ledger-bench",
            "Accept: */*",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        if body is not None:
            if not any(name.lower() == "content-type" for name in headers):
                lines.append("Content-Type: application/json")
            lines.append(f"Content-Length: {len(body)}")
        self._request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self._host, self._port)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()

    async def send(self) -> Reply:
        reader, writer = self._reader, self._writer
        if reader is None or writer is None:
            raise BenchError("raw client: open() the connection first")
        writer.write(self._request)
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].split(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        length, timing = 0, None
        for line in header_lines:
            name, _, value = line.partition(b":")
            key = name.strip().lower()
            if key == b"content-length":
                length = int(value)
            elif key == b"server-timing":
                timing = value.strip().decode("latin-1")
            elif key == b"transfer-encoding" or (
                key == b"connection" and value.strip().lower() == b"close"
            ):
                raise BenchError(f"raw client: unsupported response header {line!r}")
        body = await reader.readexactly(length) if length else b""
        return Reply(status, timing, body)


def _failure(spec: LoadSpec, reply: Reply) -> str | None:
    if reply.status == spec.expect_status and (
        spec.expect_in_body is None or spec.expect_in_body in reply.body
    ):
        return None
    wanted = f"{spec.expect_status}" + (
        f" with {spec.expect_in_body.decode()!r}" if spec.expect_in_body else ""
    )
    return (
        f"{spec.method} {spec.url} -> {reply.status} (expected {wanted}): "
        f"{reply.body[:300].decode('utf-8', 'replace')}"
    )


async def _fetchers(spec: LoadSpec, stack: contextlib.AsyncExitStack) -> list[Fetch]:
    """One fetch callable per concurrent worker, each with a warm connection."""
    if spec.client == "httpx":
        limits = httpx.Limits(
            max_connections=spec.concurrency, max_keepalive_connections=spec.concurrency
        )
        headers = dict(spec.headers)
        if spec.body is not None:
            headers.setdefault("Content-Type", "application/json")
        client = await stack.enter_async_context(
            httpx.AsyncClient(headers=headers, limits=limits, timeout=10.0, trust_env=False)
        )

        async def fetch() -> Reply:
            response = await client.request(spec.method, spec.url, content=spec.body)
            return Reply(
                response.status_code, response.headers.get("server-timing"), response.content
            )

        fetchers: list[Fetch] = [fetch] * spec.concurrency
    else:
        connections = [
            RawConnection(spec.url, spec.headers, spec.method, spec.body)
            for _ in range(spec.concurrency)
        ]
        for connection in connections:
            stack.push_async_callback(connection.close)
        await asyncio.gather(*(connection.open() for connection in connections))
        fetchers = [connection.send for connection in connections]
    return fetchers


async def _load(spec: LoadSpec, warm: bool) -> LoadResult:
    async with contextlib.AsyncExitStack() as stack:
        fetchers = await _fetchers(spec, stack)
        remaining = spec.max_requests
        if warm:
            # One untimed request per connection, so connection set-up is not measured.
            remaining -= len(fetchers)
            for reply in await asyncio.gather(*(fetch() for fetch in fetchers)):
                if (failure := _failure(spec, reply)) is not None:
                    raise BenchError(failure)
        latencies_ns: list[int] = []
        app_ms: list[float] = []
        overhead_ms: list[float] = []
        failures: list[str] = []
        started = time.perf_counter()
        deadline = started + spec.duration
        cpu_started = time.process_time()

        async def worker(fetch: Fetch) -> None:
            nonlocal remaining
            while remaining > 0 and not failures and time.perf_counter() < deadline:
                remaining -= 1
                sent = time.perf_counter_ns()
                try:
                    reply = await fetch()
                except (
                    OSError,
                    asyncio.IncompleteReadError,
                    asyncio.LimitOverrunError,
                    httpx.HTTPError,
                    BenchError,
                ) as exc:
                    failures.append(f"{spec.method} {spec.url}: {type(exc).__name__}: {exc}")
                    return
                latencies_ns.append(time.perf_counter_ns() - sent)
                if (failure := _failure(spec, reply)) is not None:
                    failures.append(failure)
                    return
                if spec.server_timing:
                    if (dur := timing_metric(reply.server_timing, "app")) is not None:
                        app_ms.append(dur)
                    if (dur := timing_metric(reply.server_timing, "overhead")) is not None:
                        overhead_ms.append(dur)

        try:  # one timer for the round (a per-request wait_for would cost a task each)
            async with asyncio.timeout(spec.duration + 15):
                await asyncio.gather(*(worker(fetch) for fetch in fetchers))
        except TimeoutError:
            raise BenchError(
                f"{spec.method} {spec.url}: the round did not finish in time"
            ) from None
        elapsed = time.perf_counter() - started
        client_cpu = (time.process_time() - cpu_started) / elapsed
    if failures:
        raise BenchError(f"{len(failures)} failed request(s); first: {failures[0]}")
    latencies = sorted(ns / 1e6 for ns in latencies_ns)
    app_sorted, overhead_sorted = sorted(app_ms), sorted(overhead_ms)
    return LoadResult(
        requests=len(latencies),
        elapsed_s=elapsed,
        rps=len(latencies) / elapsed,
        p50_ms=percentile(latencies, 50),
        p90_ms=percentile(latencies, 90),
        p99_ms=percentile(latencies, 99),
        max_ms=latencies[-1] if latencies else math.nan,
        client_cpu=client_cpu,
        app_p50_ms=percentile(app_sorted, 50) if app_sorted else None,
        app_p99_ms=percentile(app_sorted, 99) if app_sorted else None,
        overhead_p50_ms=percentile(overhead_sorted, 50) if overhead_sorted else None,
        overhead_p99_ms=percentile(overhead_sorted, 99) if overhead_sorted else None,
    )


def run_load(spec: LoadSpec, warm: bool = True) -> LoadResult:
    """Drive one round of load (call it in another process: see ``measure``).

    ``warm``: send one untimed request per connection first (they count in ``max_requests``).
    """
    return asyncio.run(_load(spec, warm))


def measure(
    pool: ProcessPoolExecutor, server: Server, spec: LoadSpec, *, warm: bool = True
) -> LoadResult:
    """One round of ``spec`` against ``server``, from the load-generator process ``pool``, with
    the server's CPU time per request."""
    cpu_before = server.cpu_seconds()
    result = pool.submit(run_load, spec, warm).result(timeout=spec.duration + 60)
    cpu_after = server.cpu_seconds()
    server.check_alive()
    if cpu_before is None or cpu_after is None or not result.requests:
        return result
    # Includes the few untimed connection-warming requests: a slight, equal overestimate.
    return replace(result, server_cpu_us_per_req=(cpu_after - cpu_before) / result.requests * 1e6)


# --- reporting --------------------------------------------------------------------------------


def median_of(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(present) if present else None


def loadavg() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def has_module(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None or math.isnan(value) else format(value, spec)


def verdict(passed: bool, reliable: bool = True) -> str:
    mark = "" if reliable else "*"
    return f"[green]PASS{mark}[/green]" if passed else f"[red]MISS{mark}[/red]"


def target(value: float | None, op: str, limit: float) -> dict[str, Any]:
    """A target entry of the JSON report: ``value op limit`` (op is one of <, <=, >=)."""
    ok = value is not None and not math.isnan(value)
    if ok and value is not None:
        ok = {"<": value < limit, "<=": value <= limit, ">=": value >= limit}[op]
    return {"target": f"{op} {limit:g}", "value": value, "pass": ok}


def environment(db_origin: str) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_at_end": loadavg(),  # others' work on the machine skews both sides
        "database": db_origin,
        "uvicorn_loop": _chosen("BENCH_LOOP", "uvloop", "asyncio"),
        "uvicorn_http": _chosen("BENCH_HTTP", "httptools", "h11"),
    }


def _chosen(variable: str, fast: str, fallback: str) -> str:
    """What uvicorn runs with: BENCH_LOOP/BENCH_HTTP when set, else the fast one if installed."""
    given = os.environ.get(variable, "auto")
    if given != "auto":
        return given
    return fast if has_module(fast) else fallback


def report_console() -> Console:
    """The console for the report: a terminal's width, or 120 columns when piped."""
    return Console(width=None if sys.stdout.isatty() else 120)


def environment_line(env: dict[str, Any]) -> str:
    return (
        f"python {env['python']}, {env['cpus']} CPUs (load {env['loadavg_at_end']}), uvicorn "
        f"{env['uvicorn_loop']}/{env['uvicorn_http']}, database: {env['database']}"
    )


# --- the summary (bench/summary.py) -----------------------------------------------------------

RESULTS_ENV = "BENCH_RESULTS"  # a JSON-lines file each benchmark appends its summary rows to


def summary_row(
    scenario: str,
    *,
    baseline: str,
    ours: str,
    outcome: str,
    checks: list[dict[str, Any]] | None = None,
    note: str = "",
) -> dict[str, Any]:
    """One row of the summary table: ``scenario`` is a key of ``bench/summary.py``'s SCENARIOS;
    ``baseline``/``ours``/``outcome`` are the figures as shown; ``checks`` the ``target()``
    entries the row passes or misses (none: informational)."""
    return {
        "scenario": scenario,
        "baseline": baseline,
        "ours": ours,
        "outcome": outcome,
        "checks": checks or [],
        "note": note,
    }


def record(benchmark: str, rows: list[dict[str, Any]]) -> None:
    """Append ``rows`` (``summary_row``) to the file named by $BENCH_RESULTS, if set, with the
    benchmark's name, the time and the machine, for ``bench/summary.py``."""
    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    machine = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "cpu": _cpu_model(),
        "load": loadavg(),
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as out:
        for row in rows:
            line = {"benchmark": benchmark, "at": stamp, "machine": machine, **row}
            out.write(json.dumps(line) + "\n")


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


# --- processes: every benchmark leaves none behind --------------------------------------------


def _descendants(pid: int) -> list[int]:
    """The live descendants of ``pid`` (Linux /proc; empty elsewhere)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, pending = [], list(children.get(pid, []))
    while pending:
        child = pending.pop()
        found.append(child)
        pending.extend(children.get(child, []))
    return found


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return "?"


_SESSIONS: set[int] = set()


def track_session(pid: int) -> None:
    """Remember that ``pid`` leads a session this benchmark started (``start_new_session``):
    its processes are leftovers too once orphaned (a forked worker whose parent was killed is
    no longer our descendant)."""
    _SESSIONS.add(pid)


def _in_our_sessions() -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            session = int(stat.read_text().rsplit(")", 1)[1].split()[3])
        except (OSError, IndexError, ValueError):
            continue
        if session in _SESSIONS:
            found.append(int(stat.parent.name))
    return found


def leftover_processes(ignore: frozenset[int] = frozenset()) -> list[str]:
    """Descendants of this process, and processes of the sessions it started, still alive,
    except ``ignore`` (e.g. a process pool still open): a benchmark calls
    :func:`check_leftovers` when it is done."""
    pids = set(_descendants(os.getpid())) | set(_in_our_sessions())
    return [
        f"{pid} {command}"
        for pid in sorted(pids - {os.getpid()})
        if pid not in ignore
        and not _is_zombie(pid)
        # multiprocessing's helper lives as long as this process, by design
        and "multiprocessing.resource_tracker" not in (command := _command(pid))
    ]


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def check_leftovers() -> None:
    """BenchError when a process this benchmark started (or one of theirs) is still running."""
    deadline = time.monotonic() + 5  # a process just signalled may take a moment to go
    while (left := leftover_processes()) and time.monotonic() < deadline:
        time.sleep(0.1)
    if left:
        raise BenchError(f"{len(left)} process(es) left behind: " + "; ".join(left[:5]))
