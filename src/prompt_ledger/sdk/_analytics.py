"""``ledger.analytics``: how prompts are doing (GET /v1/analytics/...), in both clients."""

from __future__ import annotations

from typing import TYPE_CHECKING, Unpack

from prompt_ledger.sdk import _specs as specs
from prompt_ledger.sdk.options import AnalyticsWindow
from prompt_ledger.sdk.types import AnalyticsSummary, PromptAnalytics

if TYPE_CHECKING:
    from prompt_ledger.sdk._async import AsyncPromptLedger
    from prompt_ledger.sdk._sync import PromptLedger


class Analytics:
    """``ledger.analytics.summary(window="30d")``, ``ledger.analytics.prompt("name")``. Needs a
    key with the ``analytics:read`` scope."""

    def __init__(self, client: PromptLedger) -> None:
        self._client = client

    def summary(self, **window: Unpack[AnalyticsWindow]) -> AnalyticsSummary:
        """The project's executions over the window: totals, per model, top prompts."""
        return self._client._request(specs.analytics_summary(window))

    def prompt(self, name: str, **window: Unpack[AnalyticsWindow]) -> PromptAnalytics:
        """One prompt over the window: per version, label and model, and a time series."""
        return self._client._request(specs.prompt_analytics(name, window))


class AsyncAnalytics:
    """The async twin of :class:`Analytics`."""

    def __init__(self, client: AsyncPromptLedger) -> None:
        self._client = client

    async def summary(self, **window: Unpack[AnalyticsWindow]) -> AnalyticsSummary:
        """The project's executions over the window: totals, per model, top prompts."""
        return await self._client._request(specs.analytics_summary(window))

    async def prompt(self, name: str, **window: Unpack[AnalyticsWindow]) -> PromptAnalytics:
        """One prompt over the window: per version, label and model, and a time series."""
        return await self._client._request(specs.prompt_analytics(name, window))
