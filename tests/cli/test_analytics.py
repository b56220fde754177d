"""``promptledger analytics [PROMPT]``: the project's summary and one prompt's breakdowns with
inline charts, as text and as JSON; errors in one line with their exit codes."""

from __future__ import annotations

import json

from prompt_ledger.cli.analytics import sparkline
from prompt_ledger.sdk import PromptLedger
from tests.cli.conftest import Cli


def test_sparkline() -> None:
    assert sparkline([0, 1, 2, 3, 4, 5, 6, 7]) == "▁▂▃▄▅▆▇█"
    assert sparkline([5, None, 5]) == "▁ ▁"
    assert sparkline([None, None]) == "  "
    assert sparkline([0.0, 0.5, 1.0]) == "▁▅█"


def three_runs(ledger: PromptLedger) -> None:
    ledger.create_prompt("greet", "Hello {{name}}")
    ledger.set_label("greet", "production", 1)
    for name in ("Ada", "Grace", "Edsger"):
        ledger.execute("greet", {"name": name}, environment="production")


def test_the_summary(cli: Cli, ledger: PromptLedger) -> None:
    three_runs(ledger)
    text = cli.ok("analytics").stdout
    lines = text.splitlines()
    assert lines[0].endswith(" UTC")
    assert " to " in lines[0]
    assert lines[1] == "Executions: 3 (0 failed)"
    assert lines[2] == "Error rate: 0.00%"
    assert "By model:" in lines
    assert "Top prompts by volume:" in lines
    volume = lines[lines.index("Top prompts by volume:") + 3]
    assert volume.split()[:3] == ["greet", "3", "0.0%"]

    data = json.loads(cli.ok("analytics", "--json", "--window", "24h", "--top", "1").stdout)
    assert data["totals"]["executions"] == 3
    assert [p["prompt_name"] for p in data["top_prompts_by_volume"]] == ["greet"]
    assert data == ledger.analytics.summary(window="24h", top=1).model_dump(mode="json")


def test_one_prompt_with_its_charts(cli: Cli, ledger: PromptLedger) -> None:
    three_runs(ledger)
    text = cli.ok("analytics", "greet", "--window", "6h", "--interval", "hour").stdout
    lines = text.splitlines()
    assert lines[0].startswith("greet, ")
    chart = next(line for line in lines if line.startswith("Executions:") and "▁" in line)
    assert chart.split(":", 1)[1].strip() == "▁▁▁▁▁█"  # six hours, the runs in the last
    for title in ("By version:", "By label:", "By model:"):
        assert title in lines
    versions = lines[lines.index("By version:") + 3]
    assert versions.split()[:2] == ["v1", "3"]
    labels = lines[lines.index("By label:") + 3]
    assert labels.split()[:2] == ["production", "3"]

    data = json.loads(cli.ok("analytics", "greet", "--json", "--window", "6h").stdout)
    assert data["interval"] == "hour"
    assert [p["executions"] for p in data["series"]] == [0, 0, 0, 0, 0, 3]


def test_errors_are_one_line_with_their_exit_code(cli: Cli) -> None:
    missing = cli("analytics", "nothing")
    assert missing.exit_code == 3
    assert missing.stderr.count("\n") == 1
    assert "Prompt 'nothing' not found" in missing.stderr
    bad = cli("analytics", "--window", "40d", "--interval", "hour", "nothing")
    assert bad.exit_code == 5
    assert "31 days" in bad.stderr
    both = cli("analytics", "--window", "7d", "--since", "2026-01-01")
    assert both.exit_code == 5
    assert "window or since" in both.stderr
