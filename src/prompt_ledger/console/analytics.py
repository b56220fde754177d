"""Analytics pages: the project's overview (the summary of a window) and one prompt's charts of
volume, error rate, latency percentiles and cost over time, with its versions side by side."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from prompt_ledger.auth import Scope
from prompt_ledger.bodies_analytics import AnalyticsQuery, PromptAnalytics, Stats
from prompt_ledger.console.charts import Chart, Unit, chart
from prompt_ledger.console.web import Visit, endpoint, page, query_of
from prompt_ledger.handlers.common import prompt_name
from prompt_ledger.http.endpoint import Reply

WINDOWS = ("24h", "7d", "30d", "90d")
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
    q = query_of(visit.request, AnalyticsQuery)
    name = prompt_name(visit.call)
    found = await visit.call.app.analytics.prompt(visit.principal, name, q.asked())
    return visit.page(
        "analytics_prompt.html",
        a=found,
        q=q,
        windows=WINDOWS,
        charts=over_time(found),
        metrics=METRICS,
        scale=scales(found.by_version),
    )


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
