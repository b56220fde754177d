"""The one summary table of ``make bench`` / ``make bench-peers``: every scenario of the
performance targets (issue #13), with the baseline measured in the same run, ours, the
comparison, the target and PASS/MISS.

Each benchmark appends its rows to the JSON-lines file named by ``$BENCH_RESULTS``
(``bench/_common.py: record``); this reads that file (the last row of each scenario wins) and
prints the table, a scenario no benchmark reported as "not run".

Run: ``.venv/bin/python bench/summary.py .bench-results/latest.jsonl [--markdown]``
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

# (key, scenario as the table names it, target as shown, which make target measures it)
SCENARIOS: tuple[tuple[str, str, str, str], ...] = (
    (
        "sync_added_latency",
        "sync `executions:run` added latency vs a direct call to the stub, c=1",
        "≤ +3 ms p50 / ≤ +8 ms p99",
        "bench",
    ),
    (
        "sync_throughput",
        "same, throughput at c=32 vs direct calls to the stub",
        "≥ 0.8x",
        "bench",
    ),
    (
        "sync_floor",
        "same, vs the minimal ledgered gateway (Starlette + INSERT + HTTP call + UPDATE)",
        "(the floor; no target)",
        "bench",
    ),
    (
        "sync_vs_litellm",
        "same, side by side with LiteLLM proxy (1 worker, no database) on the same stub",
        "≥ 4x its req/s, ≤ 0.25x its added p50",
        "bench-peers",
    ),
    (
        "async_drain",
        "async drain, worker concurrency 10, stub at 0 ms, vs a bare task doing the same "
        "HTTP call + INSERT",
        "≥ 0.8x; ≤ 1 ms worker CPU/job",
        "bench",
    ),
    (
        "async_vs_celery",
        "same, side by side with Celery + Redis doing the same work per job",
        "(ratio shown; no target)",
        "bench-peers",
    ),
    ("enqueue", "enqueue (`:submit`) p50, c=1", "≤ 2 ms", "bench"),
    (
        "cold_start",
        "cold start, process start → first 200, vs a bare functions-framework hello",
        "≤ 1.5x",
        "bench",
    ),
    ("registry_resolve", "registry resolve req/s, c=16, vs Starlette hello", "≥ 0.7x", "bench"),
    (
        "registry_resolve_key",
        "same, with a project key (rate limited: its requests counted; `--key project`)",
        "≥ 0.7x",
        "bench",
    ),
    (
        "registry_writes",
        "registry writes, c=1 (PUT new version; label move)",
        "p50 ≤ 4 ms, p99 ≤ 10 ms",
        "bench",
    ),
    (
        "registry_writes_vs_phoenix",
        "same, side by side with Arize Phoenix's prompt registry on the same PostgreSQL",
        "p50 ≤ 4 ms, p99 ≤ 10 ms (Phoenix's figures beside)",
        "bench-peers",
    ),
    ("console_pages", "console pages on a large ledger (worst page)", "p95 ≤ 150 ms", "bench"),
    (
        "analytics_reads",
        "analytics answers (summary, per prompt) at 1,000,000 executions over 30 days, vs the "
        "same at 100,000 (issue #9)",
        "p95 ≤ 100 ms; 1M/100k ≤ 1.5x",
        "bench",
    ),
    (
        "analytics_write_path",
        "an execution's writes with the analytics trigger on vs off (issue #9)",
        "≤ 1.05x",
        "bench",
    ),
    (
        "traces_ingest",
        "span ingest, batches of 100, vs a bare COPY of the same rows (issue #9)",
        "≥ 0.3x",
        "bench",
    ),
    ("forward_hop", "one forwarding hop between functions (run)", "(no target)", "bench"),
    (
        "stream_ttft",
        "streamed `executions:run` time to first token vs a direct streaming call to the stub, c=1",
        "≤ +3 ms p50",
        "bench",
    ),
)
KEYS = {key for key, *_ in SCENARIOS}
NOT_YET: dict[str, str] = {}


def load(path: Path) -> dict[str, dict[str, Any]]:
    """The last row of each scenario in the results file."""
    rows: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            rows[row["scenario"]] = row
    return rows


def verdict(row: dict[str, Any] | None) -> str:
    if row is None:
        return "not run"
    checks = row.get("checks") or []
    if not checks:
        return "-"
    return "PASS" if all(check["pass"] for check in checks) else "MISS"


def table_rows(rows: dict[str, dict[str, Any]]) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for key, scenario, goal, make_target in SCENARIOS:
        row = rows.get(key)
        if row is None:
            found.append((scenario, "", "", f"not run (make {make_target})", goal, "not run"))
            continue
        outcome = row["outcome"] + (f" ({row['note']})" if row.get("note") else "")
        found.append((scenario, row["baseline"], row["ours"], outcome, goal, verdict(row)))
    return found


def machine_line(rows: dict[str, dict[str, Any]]) -> str:
    if not rows:
        return "no results"
    stamps = sorted(row["at"] for row in rows.values())
    machine = next(iter(rows.values()))["machine"]
    loads = [row["machine"].get("load") for row in rows.values() if row["machine"].get("load")]
    peak = max((load[0] for load in loads), default=None)
    return (
        f"measured {stamps[0][:16].replace('T', ' ')}-{stamps[-1][11:16]} UTC on "
        f"{machine.get('cpus')} CPUs ({machine.get('cpu') or 'unknown CPU'}), Python "
        f"{machine.get('python')}; 1-minute load up to {peak} (the machine was shared: "
        "compare ratios, each against a baseline of the same run)"
    )


def print_rich(rows: dict[str, dict[str, Any]]) -> None:
    table = Table(title="PromptLedger performance summary (issue #13)", show_lines=True)
    for column in ("scenario", "baseline (same run)", "ours", "ours vs baseline", "target", ""):
        table.add_column(column, overflow="fold")
    colours = {"PASS": "green", "MISS": "red"}
    for *cells, mark in table_rows(rows):
        colour = colours.get(mark)
        table.add_row(*cells, f"[{colour}]{mark}[/{colour}]" if colour else mark)
    console = Console(width=None if sys.stdout.isatty() else 160)
    console.print(table)
    console.print(f"[dim]{machine_line(rows)}[/dim]")
    for text in NOT_YET.values():
        console.print(f"[dim]{text}[/dim]")


def markdown(rows: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| scenario | baseline (same run) | ours | ours vs baseline | target | |",
        "|---|---|---|---|---|---|",
    ]
    for cells in table_rows(rows):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join([*lines, "", machine_line(rows) + "."])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("results", type=Path, help="the $BENCH_RESULTS file")
    parser.add_argument("--markdown", action="store_true", help="a Markdown table (README)")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if a target is missed or a row is missing"
    )
    args = parser.parse_args(argv)
    rows = load(args.results)
    unknown = sorted(set(rows) - KEYS)
    if unknown:
        print(f"unknown scenarios in {args.results}: {unknown}", file=sys.stderr)
    if args.markdown:
        print(markdown(rows))
    else:
        print_rich(rows)
    marks = [mark for *_, mark in table_rows(rows)]
    return 1 if args.check and ("MISS" in marks or "not run" in marks) else 0


if __name__ == "__main__":
    sys.exit(main())
