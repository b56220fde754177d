"""Analytics pages: the project's overview (the summary of a window) and one prompt's charts of
volume, error rate, latency percentiles and cost over time, with its versions side by side."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from prompt_ledger.auth import Scope
from prompt_ledger.bodies_analytics import AnalyticsQuery, PromptAnalytics, Stats
from prompt_ledger.console.charts import Chart, Unit, chart
from prompt_ledger.console.web import Visit, endpoint, page, query_of
from prompt_ledger.errors import ValidationFailed
from prompt_ledger.handlers.common import prompt_name
from prompt_ledger.http.endpoint import Reply
from prompt_ledger.services.analytics_windows import period_of

WINDOWS = ("24h", "7d", "30d", "90d")
MAX_HOURLY_CHART = timedelta(days=7)
"""The longest window the console draws by hour (168 points a chart); longer ones by day."""
METRICS: list[tuple[str, str, Unit]] = [  # (Stats field, title, unit) compared per version
    ("executions", "Executions", "count"),
    ("error_rate", "Error rate", "percent"),
    ("latency_p50_ms", "Latency p50", "ms"),
    ("latency_p95_ms", "Latency p95", "ms"),
    ("latency_p99_ms", "Latency p99", "ms"),
    ("cost_usd", "Cost", "usd"),
]


@page(Scope.ANALYTICS_READ)
async def overview(visit: Visit) -> Reply:
    q = query_of(visit.request, AnalyticsQuery)
    summary = await visit.call.app.analytics.summary(visit.principal, q.asked())
    return visit.page("analytics.html", summary=summary, q=q, windows=WINDOWS)


@page(Scope.ANALYTICS_READ)
async def prompt_page(visit: Visit) -> Reply:
    asked = query_of(visit.request, AnalyticsQuery)
    q = charted(asked, datetime.now(UTC))
    name = prompt_name(visit.call)
    found = await visit.call.app.analytics.prompt(visit.principal, name, q.asked())
    return visit.page(
        "analytics_prompt.html",
        a=found,
        q=q,
        coarser=q.interval != asked.interval,
        windows=WINDOWS,
        charts=over_time(found),
        metrics=METRICS,
        scale=scales(found.by_version),
    )


def charted(q: AnalyticsQuery, now: datetime) -> AnalyticsQuery:
    """The query the page draws: hour buckets only for windows up to ``MAX_HOURLY_CHART``
    (an hour series of a month is 720 points a chart, slow to build and unreadable); a longer
    window asked by hour is drawn by day. A window the API refuses is left for it to name."""
    if q.interval != "hour":
        return q
    try:
        period = period_of(q.asked(), now)
    except ValidationFailed:
        return q
    if period.until - period.since <= MAX_HOURLY_CHART:
        return q
    return q.model_copy(update={"interval": "day"})


def over_time(found: PromptAnalytics) -> list[Chart]:
    """The prompt's series: volume, error rate, latency percentiles and cost per bucket."""
    points = found.series

    def one(key: str, title: str, unit: Unit, lines: dict[str, Callable[[Stats], Any]]) -> Chart:
        return chart(
            key,
            title,
            unit,
            [(p.start, label, value(p)) for p in points for label, value in lines.items()],
            order=lines,
        )

    def percent(p: Stats) -> float | None:
        return None if p.error_rate is None else p.error_rate * 100

    return [
        one(
            "volume",
            "Executions",
            "count",
            {"succeeded": lambda p: p.succeeded, "failed": lambda p: p.failed},
        ),
        one("errors", "Error rate", "percent", {"error rate": percent}),
        one(
            "latency",
            "Latency percentiles",
            "ms",
            {
                "p50": lambda p: p.latency_p50_ms,
                "p95": lambda p: p.latency_p95_ms,
                "p99": lambda p: p.latency_p99_ms,
            },
        ),
        one("cost", "Cost", "usd", {"cost": lambda p: p.cost_usd}),
    ]


def scales(rows: Sequence[Stats]) -> dict[str, float]:
    """The largest value of each compared metric (bars are drawn as a share of it)."""
    return {
        field: max((float(getattr(r, field) or 0) for r in rows), default=0.0)
        for field, _, _ in METRICS
    }


ENDPOINTS = [
    endpoint("GET", "/analytics", overview, "Analytics overview"),
    endpoint("GET", "/analytics/prompts/{name}", prompt_page, "A prompt's analytics"),
]
