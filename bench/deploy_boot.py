"""Benchmark: local boot time of each platform file, release + start -> every web service 200.

Each platform file (render.yaml, app.json + Procfile, .railway/railway.py, infra/compose.yaml)
is booted as tests/deploy/boot.py boots it for the first-contact tests: on an EMPTY database,
its release commands (each service's pre-deploy, all at once), then its web and worker
processes, until every web service answers ``/health``. Also reported: the resident memory of
the long-running processes once up (what a usage-priced platform bills). Medians over rounds;
no target (platform build and scheduling time come on top).

Run: ``.venv/bin/python bench/deploy_boot.py [--rounds 3] [--json]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))  # for `python bench/<this file>`

from bench._common import (
    bench_database,
    check_leftovers,
    create_database,
    drop_database,
    report_console,
)
from tests.deploy.boot import PLANS, boot


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its descendants (gunicorn workers), in MB."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += next(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")
        )
        pending += [int(child) for child in children]
    return total / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, dict[str, object]] = {}
    with bench_database() as (template_url, origin), tempfile.TemporaryDirectory() as logs:
        server = template_url.rsplit("/", 1)[0] + "/postgres"
        for platform, plan_for in sorted(PLANS.items()):
            seconds: list[float] = []
            memory: dict[str, float] = {}
            for round_ in range(args.rounds):
                name = f"pl_bench_boot_{uuid.uuid4().hex[:8]}"
                url = create_database(server, name)
                try:
                    booted = boot(plan_for(url), Path(logs) / f"{platform}{round_}")
                    try:
                        seconds.append(booted.boot_seconds)
                        for process in booted.processes:
                            assert process.popen is not None
                            memory[process.name] = rss_mb(process.popen.pid)
                    finally:
                        booted.stop()
                finally:
                    drop_database(server, name)
            results[platform] = {
                "boot_s": statistics.median(seconds),
                "rss_mb": {name: round(mb) for name, mb in memory.items()},
                "rounds": args.rounds,
            }
    check_leftovers()  # every platform's processes stopped
    if args.json:
        print(json.dumps({"platforms": results, "database": origin}, indent=2))
        return
    console = report_console()
    for platform, result in results.items():
        rss = result["rss_mb"]
        assert isinstance(rss, dict)
        parts = ", ".join(f"{name} {mb} MB" for name, mb in rss.items())
        console.print(
            f"{platform}: release + start -> all web 200 in {result['boot_s']:.1f} s "
            f"(median of {args.rounds}); memory once up: {parts}"
        )


if __name__ == "__main__":
    main()
