"""The figures of ``bench/chaos.py``: what the clients sent, what the stub was called with, and
what the ledger recorded, matched by the marker each request carries."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from bench._common import err, report_console, verdict
from bench._supervised import Supervisor
from psycopg.rows import dict_row
from rich.table import Table

MARK = "chaos-"
HOLDING = "holding the outcome of execution"  # what services/outcomes.py logs


@dataclass
class Sent:
    marker: str
    mode: str  # sync | async
    status: int | None  # None: no HTTP answer (connection error, timeout)
    execution_id: str | None = None
    ledger_pending: bool = False
    response_status: str | None = None


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
        "executions queued or running when the load stopped (backlog)", str(result["backlog"])
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
