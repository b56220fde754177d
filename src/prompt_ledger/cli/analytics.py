"""``promptledger analytics [PROMPT]``: how the project's prompts are doing, or one prompt's
versions, labels and models with small inline charts of its time series."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from prompt_ledger.cli.app import CLIENT_PANEL, app
from prompt_ledger.cli.dates import utc
from prompt_ledger.cli.output import JsonFlag, Output, usd
from prompt_ledger.cli.session import session

if TYPE_CHECKING:
    from prompt_ledger.records_analytics import Stats
    from prompt_ledger.sdk import AnalyticsSummary, PromptAnalytics
    from prompt_ledger.sdk.options import AnalyticsWindow

BARS = "▁▂▃▄▅▆▇█"
COLUMNS = ["Executions", "Errors", "Tokens", "Cost", "p50 ms", "p95 ms", "p99 ms"]


class Interval(StrEnum):
    hour = "hour"
    day = "day"


def sparkline(values: Sequence[float | None]) -> str:
    """One character per value, ``▁`` (lowest) to ``█`` (highest); a space where there is none."""
    known = [v for v in values if v is not None]
    if not known:
        return " " * len(values)
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    return "".join(
        " " if v is None else BARS[round((v - low) / span * (len(BARS) - 1))] for v in values
    )


@app.command("analytics", rich_help_panel=CLIENT_PANEL)
def analytics(
    ctx: typer.Context,
    *,
    prompt: Annotated[
        str | None,
        typer.Argument(
            help="A prompt: its versions, labels, models and charts (default: the project).",
            show_default=False,
        ),
    ] = None,
    window: Annotated[
        str | None,
        typer.Option(help="How far back: 24h, 7d, 30d ... (default 7d; not with --since)."),
    ] = None,
    since: Annotated[
        datetime | None, typer.Option(help="Start instead of --window (UTC unless given).")
    ] = None,
    until: Annotated[datetime | None, typer.Option(help="End (default: now).")] = None,
    interval: Annotated[
        Interval | None,
        typer.Option(help="Chart buckets (default: hour for two days or less, else day)."),
    ] = None,
    top: Annotated[int, typer.Option(min=1, max=100, help="Top prompts listed.")] = 10,
    json_output: JsonFlag = False,
) -> None:
    """Executions, error rate, tokens, cost and latency percentiles over a window (from the
    server's rollups; needs a key with the analytics:read scope)."""
    out = Output(json_output)
    query: AnalyticsWindow = {"window": window, "since": utc(since), "until": utc(until)}
    with session(ctx) as ledger:
        if prompt is None:
            summary = ledger.analytics.summary(**(query | {"top": top}))
            out.emit(summary.model_dump(mode="json"), lambda: _summary(out, summary))
        else:
            chosen: AnalyticsWindow = {"interval": None if interval is None else interval.value}
            found = ledger.get_prompt_analytics(prompt, **(query | chosen))
            out.emit(found.model_dump(mode="json"), lambda: _prompt(out, found))


def _window(since: datetime, until: datetime) -> str:
    return f"{since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} UTC"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _row(stats: Stats) -> list[str]:
    errors = "-" if stats.error_rate is None else f"{stats.error_rate:.1%}"
    return [
        f"{stats.executions:,}",
        errors,
        f"{stats.total_tokens:,}",
        usd(stats.cost_usd),
        _ms(stats.latency_p50_ms),
        _ms(stats.latency_p95_ms),
        _ms(stats.latency_p99_ms),
    ]


def _totals(out: Output, title: str, stats: Stats) -> None:
    out.line(title)
    out.fields(
        [
            ("Executions", f"{stats.executions:,} ({stats.failed:,} failed)"),
            ("Error rate", "-" if stats.error_rate is None else f"{stats.error_rate:.2%}"),
            ("Tokens", f"{stats.prompt_tokens:,} in, {stats.response_tokens:,} out"),
            ("Cost", usd(stats.cost_usd)),
            (
                "Latency",
                f"p50 {_ms(stats.latency_p50_ms)} ms, p95 {_ms(stats.latency_p95_ms)} ms, "
                f"p99 {_ms(stats.latency_p99_ms)} ms",
            ),
        ]
    )


def _summary(out: Output, summary: AnalyticsSummary) -> None:
    _totals(out, _window(summary.window.since, summary.window.until), summary.totals)
    sections: list[tuple[str, str, list[tuple[str, Stats]]]] = [
        ("By model", "Model", [(f"{m.provider}/{m.model_name}", m) for m in summary.by_model]),
        (
            "Top prompts by volume",
            "Prompt",
            [(p.prompt_name, p) for p in summary.top_prompts_by_volume],
        ),
        (
            "Top prompts by cost",
            "Prompt",
            [(p.prompt_name, p) for p in summary.top_prompts_by_cost],
        ),
    ]
    for title, key, entries in sections:
        if entries:
            out.line()
            out.line(f"{title}:")
            out.table([key, *COLUMNS], [[name, *_row(stats)] for name, stats in entries])


def _prompt(out: Output, found: PromptAnalytics) -> None:
    window = _window(found.window.since, found.window.until)
    _totals(out, f"{found.prompt_name}, {window}", found.totals)
    series = found.series
    if series:
        out.line()
        out.line(f"Per {found.interval} ({series[0].start:%Y-%m-%d %H:%M} on):")
        out.fields(
            [
                ("Executions", sparkline([p.executions for p in series])),
                ("Error rate", sparkline([p.error_rate for p in series])),
                ("p95 ms", sparkline([p.latency_p95_ms for p in series])),
                ("Cost", sparkline([float(p.cost_usd) for p in series])),
            ]
        )
    sections: list[tuple[str, str, list[tuple[str, Stats]]]] = [
        ("By version", "Version", [(f"v{v.version_number}", v) for v in found.by_version]),
        ("By label", "Label", [(lb.label or "(none)", lb) for lb in found.by_label]),
        ("By model", "Model", [(f"{m.provider}/{m.model_name}", m) for m in found.by_model]),
    ]
    for title, key, entries in sections:
        if entries:
            out.line()
            out.line(f"{title}:")
            out.table([key, *COLUMNS], [[name, *_row(stats)] for name, stats in entries])
