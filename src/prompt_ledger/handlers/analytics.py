"""Analytics endpoints: a project's summary and one prompt's analytics, over a window."""

from __future__ import annotations

from prompt_ledger.auth import Scope
from prompt_ledger.bodies_analytics import AnalyticsQuery
from prompt_ledger.handlers.common import prompt_name
from prompt_ledger.http.endpoint import Call, Endpoint, Reply
from prompt_ledger.records_analytics import AnalyticsSummary, PromptAnalytics


async def summary(call: Call) -> Reply:
    return Reply(
        await call.app.analytics.summary(call.principal, call.query_as(AnalyticsQuery).asked())
    )


async def prompt(call: Call) -> Reply:
    return Reply(
        await call.app.analytics.prompt(
            call.principal, prompt_name(call), call.query_as(AnalyticsQuery).asked()
        )
    )


ENDPOINTS = [
    Endpoint(
        "GET",
        "/v1/analytics/summary",
        summary,
        "A project's executions over a window: totals, per model, top prompts",
        Scope.ANALYTICS_READ,
        query=AnalyticsQuery,
        response=AnalyticsSummary,
        tag="analytics",
    ),
    Endpoint(
        "GET",
        "/v1/analytics/prompts/{name}",
        prompt,
        "One prompt's executions over a window: per version, label and model, and a series",
        Scope.ANALYTICS_READ,
        query=AnalyticsQuery,
        response=PromptAnalytics,
        tag="analytics",
    ),
]
