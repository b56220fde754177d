"""Benchmark: ``GET /v1/prompts/{name}`` on our gateway against a bare Starlette hello-world.

Both apps run side by side in one run on the same machine, each in its own single-worker uvicorn
process on 127.0.0.1; the load comes from a third process. Rounds are interleaved (hello, ours,
hello, ours, ...) and the report takes medians over rounds, so a noisy machine slows both alike
and the ratios stay meaningful.

The default load generator (``--client raw``) is a lean pure-asyncio HTTP/1.1 keep-alive client:
httpx.AsyncClient (``--client httpx``) costs more CPU per request than the hello server does, so
with it the client, not the server, sets the hello figure and the ratio comes out far too
flattering. The report flags a saturated client, and the server-CPU-per-request row gives a
client-independent ratio either way.

Targets:
- throughput: ours >= 0.5x hello req/s (at --concurrency, default 16);
- latency: our p99 < 5 ms at concurrency 1 (client-observed, so it includes the client's cost).

The database is $DATABASE_URL's server, or an embedded PostgreSQL; either way a fresh database
is created, migrated, seeded with one prompt, and dropped at the end.

Run: ``.venv/bin/python bench/registry_resolve.py [--duration 3] [--rounds 3] [--json]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import platform
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
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
from psycopg import sql
from rich.console import Console
from rich.table import Table

from prompt_ledger import migrate
from prompt_ledger.settings import DEFAULT_API_KEY, libpq_url

BENCH_DIR = Path(__file__).resolve().parent
API_KEY = DEFAULT_API_KEY
PROMPT_NAME = "bench_prompt"
PROMPT_BODY = {"template_source": "Summarize:\n{{text}}", "owner_team": "bench"}
OURS_PATH = f"/v1/prompts/{PROMPT_NAME}"
HELLO_PATH = "/hello"

TARGET_RPS_RATIO = 0.5
TARGET_P99_MS = 5.0
CLIENT_BOUND_CPU = 0.9  # client process busier than this: the client, not the server, is the limit

APPS = ("hello", "ours")
err = Console(stderr=True, highlight=False)


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


# --- servers ----------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    base_url: str

    def cpu_seconds(self) -> float | None:
        """User + system CPU time of the server process so far (Linux only)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(
    stack: ExitStack, name: str, factory: str, ready_path: str, env: dict[str, str]
) -> Server:
    """``_apps:<factory>`` in its own single-worker uvicorn process; returns once it answers."""
    port = _free_port()
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
    ]
    # The servers' own output goes to stderr so that --json keeps stdout clean.
    process = subprocess.Popen(command, env={**os.environ, **env}, stdout=sys.stderr)
    stack.callback(_stop, process)
    server = Server(name, process, f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=server.base_url, trust_env=False, timeout=2.0) as client:
        while True:
            if process.poll() is not None:
                raise BenchError(f"{name} server exited with code {process.returncode}")
            try:
                if client.get(ready_path).status_code == 200:
                    return server
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise BenchError(f"{name} server did not become ready on {server.base_url}")
            time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def seed(server: Server) -> None:
    """Create the prompt and check the endpoint under test returns it."""
    headers = {"X-API-Key": API_KEY}
    with httpx.Client(
        base_url=server.base_url, headers=headers, trust_env=False, timeout=10.0
    ) as client:
        put = client.put(OURS_PATH, json=PROMPT_BODY)
        if put.status_code not in {200, 201}:
            raise BenchError(f"seeding PUT {OURS_PATH} -> {put.status_code}: {put.text[:300]}")
        got = client.get(OURS_PATH)
        if got.status_code != 200:
            raise BenchError(f"GET {OURS_PATH} -> {got.status_code}: {got.text[:300]}")
        view = got.json()
        version = view.get("version") or {}
        if (
            view.get("name") != PROMPT_NAME
            or version.get("version_number") != 1
            or version.get("template_source") != PROMPT_BODY["template_source"]
        ):
            raise BenchError(f"GET {OURS_PATH} returned an unexpected prompt: {got.text[:300]}")


# --- load generator (runs in its own process) -------------------------------------------------

CLIENTS = ("raw", "httpx")


@dataclass(frozen=True)
class LoadSpec:
    url: str
    headers: dict[str, str]
    concurrency: int
    duration: float
    max_requests: int
    client: str = "raw"
    server_timing: bool = False


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


def app_duration(server_timing: str | None) -> float | None:
    """The ``app;dur=<ms>`` entry of a Server-Timing header."""
    for part in (server_timing or "").split(","):
        metric, _, params = part.strip().partition(";")
        if metric == "app" and params.startswith("dur="):
            return float(params[4:])
    return None


class RawConnection:
    """One keep-alive HTTP/1.1 connection sending one fixed GET: the least client work per
    request we can do in Python, so that the servers, not the client, set the pace."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname != "127.0.0.1" or parts.port is None:
            raise BenchError(f"the raw client only talks to http://127.0.0.1:<port>, not {url}")
        self._host, self._port = parts.hostname, parts.port
        lines = [
            f"GET {parts.path or '/'} HTTP/1.1",
            f"Host: {parts.netloc}",
            "User-Agent: prompt-ledger-bench",
            "Accept: */*",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        self._request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self._host, self._port)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()

    async def get(self) -> Reply:
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


def _failure(url: str, reply: Reply) -> str | None:
    if reply.status == 200:
        return None
    return f"GET {url} -> {reply.status}: {reply.body[:300].decode('utf-8', 'replace')}"


async def _fetchers(spec: LoadSpec, stack: contextlib.AsyncExitStack) -> list[Fetch]:
    """One fetch callable per concurrent worker, each with a warm connection."""
    if spec.client == "httpx":
        limits = httpx.Limits(
            max_connections=spec.concurrency, max_keepalive_connections=spec.concurrency
        )
        client = await stack.enter_async_context(
            httpx.AsyncClient(headers=spec.headers, limits=limits, timeout=10.0, trust_env=False)
        )

        async def fetch() -> Reply:
            response = await client.get(spec.url)
            return Reply(
                response.status_code, response.headers.get("server-timing"), response.content
            )

        fetchers: list[Fetch] = [fetch] * spec.concurrency
    else:
        connections = [RawConnection(spec.url, spec.headers) for _ in range(spec.concurrency)]
        for connection in connections:
            stack.push_async_callback(connection.close)
        await asyncio.gather(*(connection.open() for connection in connections))
        fetchers = [connection.get for connection in connections]
    # One untimed request per connection, so connection set-up is not measured.
    for reply in await asyncio.gather(*(fetch() for fetch in fetchers)):
        if (failure := _failure(spec.url, reply)) is not None:
            raise BenchError(failure)
    return fetchers


async def _load(spec: LoadSpec) -> LoadResult:
    async with contextlib.AsyncExitStack() as stack:
        fetchers = await _fetchers(spec, stack)
        latencies_ns: list[int] = []
        app_ms: list[float] = []
        failures: list[str] = []
        remaining = spec.max_requests
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
                    failures.append(f"GET {spec.url}: {type(exc).__name__}: {exc}")
                    return
                latencies_ns.append(time.perf_counter_ns() - sent)
                if (failure := _failure(spec.url, reply)) is not None:
                    failures.append(failure)
                    return
                if spec.server_timing and (dur := app_duration(reply.server_timing)) is not None:
                    app_ms.append(dur)

        try:  # one timer for the round (a per-request wait_for would cost a task each)
            async with asyncio.timeout(spec.duration + 15):
                await asyncio.gather(*(worker(fetch) for fetch in fetchers))
        except TimeoutError:
            raise BenchError(f"GET {spec.url}: the round did not finish in time") from None
        elapsed = time.perf_counter() - started
        client_cpu = (time.process_time() - cpu_started) / elapsed
    if failures:
        raise BenchError(f"{len(failures)} failed request(s); first: {failures[0]}")
    latencies = sorted(ns / 1e6 for ns in latencies_ns)
    app_sorted = sorted(app_ms)
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
    )


def run_load(spec: LoadSpec) -> LoadResult:
    return asyncio.run(_load(spec))


# --- the run ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    duration: float
    concurrency: int
    rounds: int
    warmup: float
    max_requests: int
    client: str


@dataclass(frozen=True)
class Sample:
    round: int
    app: str
    mode: str  # "throughput" (at --concurrency) or "latency" (at concurrency 1)
    concurrency: int
    result: LoadResult


def measure(pool: ProcessPoolExecutor, server: Server, spec: LoadSpec) -> LoadResult:
    cpu_before = server.cpu_seconds()
    result = pool.submit(run_load, spec).result(timeout=spec.duration + 60)
    cpu_after = server.cpu_seconds()
    if server.process.poll() is not None:
        raise BenchError(f"{server.name} server died (exit code {server.process.returncode})")
    if cpu_before is None or cpu_after is None or not result.requests:
        return result
    # Includes the few untimed connection-warming requests: a slight, equal overestimate.
    return replace(result, server_cpu_us_per_req=(cpu_after - cpu_before) / result.requests * 1e6)


def run(config: Config) -> dict[str, Any]:
    samples: list[Sample] = []
    with ExitStack() as stack:
        database_url, db_origin = stack.enter_context(bench_database())
        env = {"DATABASE_URL": database_url, "API_KEY": API_KEY}
        servers = {
            "hello": start_server(stack, "hello", "hello_app", HELLO_PATH, env),
            "ours": start_server(stack, "ours", "gateway_app", "/health", env),
        }
        seed(servers["ours"])
        targets = {
            "hello": (servers["hello"].base_url + HELLO_PATH, {}),
            "ours": (servers["ours"].base_url + OURS_PATH, {"X-API-Key": API_KEY}),
        }
        pool = stack.enter_context(
            ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        )

        def spec(app: str, concurrency: int, duration: float) -> LoadSpec:
            url, headers = targets[app]
            return LoadSpec(
                url,
                headers,
                concurrency,
                duration,
                config.max_requests,
                client=config.client,
                server_timing=app == "ours",
            )

        if config.warmup > 0:  # fills our connection pool, warms caches; not recorded
            for app in APPS:
                measure(pool, servers[app], spec(app, config.concurrency, config.warmup))
        modes = (("throughput", config.concurrency), ("latency", 1))
        for number in range(1, config.rounds + 1):
            for mode, concurrency in modes:
                for app in APPS:
                    result = measure(pool, servers[app], spec(app, concurrency, config.duration))
                    samples.append(Sample(number, app, mode, concurrency, result))
                    err.print(
                        f"[dim]round {number}/{config.rounds} {app:5} {mode:10} "
                        f"c={concurrency:<3} {result.rps:8.0f} req/s  "
                        f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  "
                        f"client cpu {result.client_cpu:4.0%}[/dim]"
                    )
    return report(config, samples, db_origin)


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def report(config: Config, samples: list[Sample], db_origin: str) -> dict[str, Any]:
    summary: dict[str, dict[str, dict[str, float | None]]] = {}
    for app in APPS:
        summary[app] = {}
        for mode in ("throughput", "latency"):
            results = [s.result for s in samples if s.app == app and s.mode == mode]
            summary[app][mode] = {
                key: _median([getattr(r, key) for r in results])
                for key in (
                    "rps",
                    "p50_ms",
                    "p99_ms",
                    "max_ms",
                    "client_cpu",
                    "app_p50_ms",
                    "app_p99_ms",
                    "server_cpu_us_per_req",
                )
            }
    hello_rps = summary["hello"]["throughput"]["rps"] or math.nan
    ours_rps = summary["ours"]["throughput"]["rps"] or math.nan
    ours_p99 = summary["ours"]["latency"]["p99_ms"] or math.nan
    hello_p50 = summary["hello"]["latency"]["p50_ms"] or math.nan
    hello_p99 = summary["hello"]["latency"]["p99_ms"] or math.nan
    ours_p50 = summary["ours"]["latency"]["p50_ms"] or math.nan
    rps_ratio = ours_rps / hello_rps
    hello_client_cpu = summary["hello"]["throughput"]["client_cpu"] or 0.0
    return {
        "benchmark": "registry_resolve",
        "endpoint": f"GET {OURS_PATH}",
        "config": asdict(config),
        "environment": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "loadavg_at_end": _loadavg(),  # others' work on the machine skews both apps
            "database": db_origin,
            "uvicorn_loop": "uvloop" if _has("uvloop") else "asyncio",
            "uvicorn_http": "httptools" if _has("httptools") else "h11",
        },
        "summary": summary,
        "ratios": {
            "rps_ours_over_hello": rps_ratio,
            "p50_ours_over_hello_c1": ours_p50 / hello_p50,
            "p99_ours_over_hello_c1": ours_p99 / hello_p99,
            # Capacity ratio implied by server CPU time per request, whatever the client did.
            "cpu_per_req_hello_over_ours": (
                (summary["hello"]["throughput"]["server_cpu_us_per_req"] or math.nan)
                / (summary["ours"]["throughput"]["server_cpu_us_per_req"] or math.nan)
            ),
        },
        "targets": {
            "rps_ratio": {
                "target": f">= {TARGET_RPS_RATIO}",
                "value": rps_ratio,
                "pass": rps_ratio >= TARGET_RPS_RATIO,
            },
            "ours_p99_ms_c1": {
                "target": f"< {TARGET_P99_MS}",
                "value": ours_p99,
                "pass": ours_p99 < TARGET_P99_MS,
            },
        },
        # The hello figure is only a ceiling for the server if the client kept up with it.
        "client_bound": hello_client_cpu >= CLIENT_BOUND_CPU,
        "samples": [
            {
                "round": s.round,
                "app": s.app,
                "mode": s.mode,
                "concurrency": s.concurrency,
                **asdict(s.result),
            }
            for s in samples
        ],
    }


def _loadavg() -> list[float] | None:
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:
        return None


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None or math.isnan(value) else format(value, spec)


def print_table(result: dict[str, Any]) -> None:
    config, summary, ratios = result["config"], result["summary"], result["ratios"]
    targets = result["targets"]
    hello, ours = summary["hello"], summary["ours"]
    c = config["concurrency"]

    def verdict(name: str, reliable: bool = True) -> str:
        mark = "" if reliable else "*"  # * = client-bound, see the note below
        return f"[green]PASS{mark}[/green]" if targets[name]["pass"] else f"[red]MISS{mark}[/red]"

    table = Table(
        title=f"{result['endpoint']} vs Starlette hello "
        f"(median of {config['rounds']} x {config['duration']:g} s)"
    )
    for column in ("metric", "hello", "ours", "ratio", "target", ""):
        table.add_column(column, justify="left" if column in {"metric", "target"} else "right")
    ht, ot, hl, ol = hello["throughput"], ours["throughput"], hello["latency"], ours["latency"]
    table.add_row(
        f"req/s @c={c}",
        _fmt(ht["rps"], ",.0f"),
        _fmt(ot["rps"], ",.0f"),
        _fmt(ratios["rps_ours_over_hello"], ".2f") + "x",
        f">= {TARGET_RPS_RATIO:.2f}x",
        verdict("rps_ratio", reliable=not result["client_bound"]),
    )
    table.add_row(
        "p50 ms @c=1",
        _fmt(hl["p50_ms"], ".2f"),
        _fmt(ol["p50_ms"], ".2f"),
        _fmt(ratios["p50_ours_over_hello_c1"], ".2f") + "x",
        "",
        "",
    )
    table.add_row(
        "p99 ms @c=1",
        _fmt(hl["p99_ms"], ".2f"),
        _fmt(ol["p99_ms"], ".2f"),
        _fmt(ratios["p99_ours_over_hello_c1"], ".2f") + "x",
        f"< {TARGET_P99_MS:g} ms",
        verdict("ours_p99_ms_c1"),
    )
    info = [  # context, no target
        (f"p50 ms @c={c}", _fmt(ht["p50_ms"], ".2f"), _fmt(ot["p50_ms"], ".2f")),
        (f"p99 ms @c={c}", _fmt(ht["p99_ms"], ".2f"), _fmt(ot["p99_ms"], ".2f")),
        ("req/s @c=1", _fmt(hl["rps"], ",.0f"), _fmt(ol["rps"], ",.0f")),
        (
            "in-app p50/p99 @c=1",
            "-",
            f"{_fmt(ol['app_p50_ms'], '.2f')}/{_fmt(ol['app_p99_ms'], '.2f')}",
        ),
        (f"client CPU @c={c}", _fmt(ht["client_cpu"], ".0%"), _fmt(ot["client_cpu"], ".0%")),
    ]
    for metric, hello_value, ours_value in info:
        table.add_row(metric, hello_value, ours_value, "", "", "")
    table.add_row(  # client-independent: capacity ratio implied by server CPU per request
        f"CPU us/req @c={c}",
        _fmt(ht["server_cpu_us_per_req"], ".0f"),
        _fmt(ot["server_cpu_us_per_req"], ".0f"),
        _fmt(ratios["cpu_per_req_hello_over_ours"], ".2f") + "x",
        "",
        "",
    )
    console = Console()
    console.print(table)
    env = result["environment"]
    console.print(
        f"[dim]python {env['python']}, {env['cpus']} CPUs (load {env['loadavg_at_end']}), uvicorn "
        f"{env['uvicorn_loop']}/{env['uvicorn_http']}, database: {env['database']}; "
        f"client: {config['client']}; latencies are client-observed (they include "
        "the load generator's own cost); in-app = our Server-Timing app;dur[/dim]"
    )
    if result["client_bound"]:
        console.print(
            "[yellow]* the load generator was saturated during the hello rounds, so hello "
            "req/s is a floor for the server and the req/s ratio is optimistic; the CPU us/req "
            "row is the client-independent comparison (try --client raw).[/yellow]"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--duration", type=float, default=3.0, help="seconds per measured round and app (default 3)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=16,
        help="concurrent requests for the throughput rounds (default 16)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="unrecorded warm-up seconds per app (default 1)"
    )
    parser.add_argument(
        "--max-requests",
        type=int,
        default=200_000,
        help="cap on requests per round (default 200000)",
    )
    parser.add_argument(
        "--client",
        choices=CLIENTS,
        default="raw",
        help="load generator: 'raw' (lean asyncio HTTP/1.1 keep-alive, default) "
        "or 'httpx' (httpx.AsyncClient; saturates before the servers do)",
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.concurrency < 1 or args.rounds < 1 or args.max_requests < 1:
        parser.error("--duration, --concurrency, --rounds and --max-requests must be positive")
    config = Config(
        args.duration, args.concurrency, args.rounds, args.warmup, args.max_requests, args.client
    )
    try:
        result = run(config)
    except BenchError as exc:
        err.print(f"[red]benchmark failed: {exc}[/red]")
        return 2
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    missed = not all(t["pass"] for t in result["targets"].values())
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
