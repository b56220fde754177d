"""Profile the sync execution path and the worker under bench load, with py-spy (sampling; from
``.bench-venvs/tools``, installed by ``make bench-profile``; never a project dependency).

- ``sync``: the gateway (single-worker uvicorn, ``bench/_apps.py: gateway_app``) serving
  ``POST /v1/executions:run`` at ``--concurrency`` against the loopback stub (50 ms), while
  py-spy samples it for ``--duration`` seconds;
- ``worker``: ``--jobs`` executions submitted through the gateway, then our worker (concurrency
  10, ``bench/async_drain.py``'s drain) run under py-spy until the queue is empty (stub at 0 ms).

For each, the share of samples by package (where the time goes) and the top functions by own
time and by inclusive time, from py-spy's collapsed stacks (kept under ``--out``).

Run: ``.venv/bin/python bench/profile.py [--duration 15] [--jobs 1500] [--out .bench-results]``
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))  # for `python bench/<this file>`

from bench._common import (
    API_KEY,
    BenchError,
    LoadSpec,
    Server,
    bench_database,
    check_leftovers,
    err,
    measure,
    run_body,
    seed_executions,
    spawn,
    spawn_pool,
    start_server,
    start_stub_llm,
)
from bench._peers import venv_tool

ROOT = Path(__file__).resolve().parents[1]
# "function (path/to/module.py:line)" in py-spy's collapsed stacks
FRAME = re.compile(r"^(?P<function>.*?) \((?P<path>.*?)(?::\d+)?\)$")


def py_spy() -> Path:
    return venv_tool("tools", "py-spy", "bench-profile", "py-spy")


def package(path: str) -> str:
    """``prompt_ledger/services/executions.py`` -> ``prompt_ledger.services``; site-packages'
    ``psycopg/...`` -> ``psycopg``; the standard library's ``asyncio/...`` -> ``asyncio``."""
    path = path.replace("\\", "/")
    if "/prompt_ledger/" in path:
        parts = path.split("/prompt_ledger/", 1)[1].split("/")
        return "prompt_ledger" + ("." + parts[0] if len(parts) > 1 else "")
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/")[0].removesuffix(".py")
    if "/lib/python" in path:
        rest = path.split("/lib/python", 1)[1].split("/", 1)[-1]
        return "stdlib:" + rest.split("/")[0].removesuffix(".py")
    return path.rsplit("/", 1)[-1]


def summarise(
    collapsed: Path, top: int, focus: str | None = None, skip: str | None = None
) -> dict[str, object]:
    """Shares of the samples (of those whose stack holds a frame of function ``focus`` and none
    of ``skip``, if given): own time by package, top functions by own and by inclusive time,
    and inclusive time of our own functions (``prompt_ledger``)."""
    own: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames or (focus and not any(f.startswith(focus + " ") for f in frames)):
            continue
        if skip and any(f.startswith(skip + " ") for f in frames):
            continue
        total += count
        names = []
        for frame in frames:
            match = FRAME.match(frame)
            function, path = (match["function"], match["path"]) if match else (frame, "")
            names.append((f"{function} ({package(path)})", package(path)))
        own[names[-1][0]] += count
        packages[names[-1][1]] += count
        for name, where in set(names):
            inclusive[name] += count
            if where.startswith("prompt_ledger"):
                ours[name] += count

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(top)]

    return {
        "samples": total,
        "by_package_own_pct": share(packages),
        "top_own_pct": share(own),
        "top_inclusive_pct": share(inclusive),
        "ours_inclusive_pct": share(ours),
    }


def _record(
    stack: ExitStack,
    out: Path,
    pid: int | None,
    command: list[str] | None,
    duration: float | None = None,
) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` for ``duration`` seconds (or running ``command`` to its end)
    into ``out`` (collapsed stacks); it writes ``out`` when it stops by itself."""
    target = ["--pid", str(pid)] if pid is not None else ["--", *(command or [])]
    options = ["--format", "raw", "--rate", "200", "--nonblocking", "--full-filenames"]
    options += ["-o", str(out)]
    if duration is not None:
        options += ["--duration", str(max(1, round(duration)))]
    return spawn(stack, [str(py_spy()), "record", *options, *target], {})


def profile_sync(args: argparse.Namespace, out: Path, resolve: bool = False) -> Path:
    """The gateway under load: ``executions:run`` at ``--concurrency``, or (``resolve``) the
    registry's ``GET /v1/prompts/{name}`` at 16."""
    with ExitStack() as stack:
        database_url, _ = stack.enter_context(bench_database())
        stub = start_stub_llm(stack, 0.05)
        env = {
            "DATABASE_URL": database_url,
            "API_KEY": API_KEY,
            "BENCH_OPENAI_API_KEY": "sk-bench",
            "BENCH_OPENAI_BASE_URL": stub.base_url,
        }
        ours = start_server(stack, "ours", "gateway_app", "/health", env)
        seed_executions(ours)
        pool: ProcessPoolExecutor = stack.enter_context(spawn_pool())
        spec = LoadSpec(
            ours.base_url + "/v1/executions:run",
            {"Content-Type": "application/json", "X-API-Key": API_KEY},
            args.concurrency,
            2.0,
            200_000,
            method="POST",
            body=json.dumps(run_body()).encode(),
            expect_in_body=b'"succeeded"',
        )
        if resolve:
            spec = LoadSpec(
                ours.base_url + "/v1/prompts/bench", {"X-API-Key": API_KEY}, 16, 2.0, 10**6
            )
        measure(pool, ours, spec)  # warm
        collapsed = out / ("profile-resolve.txt" if resolve else "profile-sync.txt")
        with ExitStack() as recording:
            recorder = _record(recording, collapsed, ours.process.pid, None, args.duration)
            time.sleep(0.5)  # py-spy attached
            result = measure(pool, ours, replace(spec, duration=args.duration + 1))
            recorder.wait(timeout=60)
        err.print(f"[dim]{result.rps:.0f} req/s @c={spec.concurrency} while sampled[/dim]")
    return collapsed


def profile_worker(args: argparse.Namespace, out: Path) -> Path:
    with ExitStack() as stack:
        database_url, _ = stack.enter_context(bench_database())
        stub = start_stub_llm(stack, 0.0)
        env = {
            "DATABASE_URL": database_url,
            "API_KEY": API_KEY,
            "BENCH_OPENAI_API_KEY": "sk-bench",
            "BENCH_OPENAI_BASE_URL": stub.base_url,
        }
        gateway: Server = start_server(stack, "ours", "gateway_app", "/health", env)
        seed_executions(gateway)
        pool: ProcessPoolExecutor = stack.enter_context(spawn_pool())
        spec = LoadSpec(
            gateway.base_url + "/v1/executions:submit",
            {"Content-Type": "application/json", "X-API-Key": API_KEY},
            8,
            600.0,
            args.jobs,
            method="POST",
            body=json.dumps(run_body()).encode(),
            expect_status=202,
        )
        measure(pool, gateway, spec)
        collapsed = out / "profile-worker.txt"
        child = [sys.executable, str(Path(__file__).resolve()), "--drain-child", database_url]
        child += [stub.base_url, str(args.jobs)]
        with ExitStack() as recording:
            _record(recording, collapsed, None, child).wait(timeout=600)
        err.print(f"[dim]worker: drained {args.jobs} jobs while sampled[/dim]")
    return collapsed


def drain_child(database_url: str, stub_url: str, jobs: int) -> None:
    from bench.async_drain import DrainSpec, drain

    result = drain(DrainSpec("ours", database_url, jobs, 10, stub_url))
    print(json.dumps({"jobs_per_s": result.jobs_per_s, "worker_cpu": result.worker_cpu}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds sampled (sync)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--jobs", type=int, default=1500, help="jobs drained (worker)")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--out", type=Path, default=ROOT / ".bench-results")
    parser.add_argument("--only", choices=("sync", "worker", "resolve"))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--drain-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.drain_child:
        drain_child(args.drain_child[0], args.drain_child[1], int(args.drain_child[2]))
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        report = {}
        if args.only in (None, "sync"):
            report["sync"] = summarise(profile_sync(args, args.out), args.top, focus="Route.handle")
        if args.only in (None, "resolve"):
            collapsed = profile_sync(args, args.out, resolve=True)
            report["resolve"] = summarise(collapsed, args.top, focus="Route.handle")
        if args.only in (None, "worker"):
            # the drain only, not the child's imports and start-up
            report["worker"] = summarise(
                profile_worker(args, args.out), args.top, focus="Runner.run", skip="_find_and_load"
            )
        check_leftovers()
    except (BenchError, subprocess.SubprocessError) as exc:
        err.print(f"[red]profile failed: {exc}[/red]")
        return 2
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for name, summary in report.items():
        print(f"== {name}: {summary['samples']} samples")
        for key in ("by_package_own_pct", "top_own_pct", "ours_inclusive_pct"):
            print(f"-- {key}")
            for function, pct in summary[key]:  # type: ignore[attr-defined]
                print(f"{pct:6.1f}%  {function}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
