"""What the peer comparisons (bench/peers/) and the profiler share: tools that live in their own
virtualenvs under ``$BENCH_VENVS`` (default ``.bench-venvs/``, never the project's
dependencies), and the ending of a peer benchmark: run, check for leftovers, record the summary
row, print it."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench._common import BenchError, check_leftovers, err, record, report_console

ROOT = Path(__file__).resolve().parents[1]


def venv_tool(venv: str, tool: str, make_target: str, what: str) -> Path:
    """``bin/<tool>`` of the virtualenv ``venv`` that ``make <make_target>`` builds."""
    # absolute: make passes a relative one, and a peer may start in a folder of its own
    venvs = Path(os.environ.get("BENCH_VENVS") or ROOT / ".bench-venvs").resolve()
    binary = venvs / venv / "bin" / tool
    if not binary.exists():
        raise BenchError(f"{binary} not found: run `make {make_target}` (it installs {what} there)")
    return binary


def finish_peer(
    benchmark: str,
    peer: str,
    run: Callable[[], dict[str, Any]],
    summary_row_of: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    as_json: bool,
) -> int:
    """Run the comparison, record its summary row and print it (``as_json``: the whole
    result); the exit code: 2 when the benchmark failed."""
    try:
        result = run()
        check_leftovers()
    except BenchError as exc:
        err.print(f"[red]benchmark failed: {exc}[/red]")
        return 2
    row = summary_row_of(result)
    record(benchmark, [row])
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        report_console().print(
            f"{peer} vs ours: {row['baseline']} | ours {row['ours']} -> {row['outcome']}"
        )
    return 0
