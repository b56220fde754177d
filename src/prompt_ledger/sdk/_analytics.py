"""``ledger.analytics``: how prompts are doing (GET /v1/analytics/...), in both clients."""

from __future__ import annotations

from typing import Protocol, TypeVar, Unpack

from prompt_ledger.sdk import _specs as specs
from prompt_ledger.sdk.options import AnalyticsWindow
from prompt_ledger.sdk.types import AnalyticsSummary, PromptAnalytics

T = TypeVar("T")


class _Client(Protocol):
    """What the namespace needs of :class:`PromptLedger` (no import of the client: no cycle)."""

    def _request(self, spec: specs.Spec[T]) -> T: ...


class _AsyncClient(Protocol):
    async def _request(self, spec: specs.Spec[T]) -> T: ...


class Analytics:
    """``ledger.analytics.summary(window="30d")``, ``ledger.analytics.prompt("name")``. Needs a
    key with the ``analytics:read`` scope."""

    def __init__(self, client: _Client) -> None:
        self._client = client

    def summary(self, **window: Unpack[AnalyticsWindow]) -> AnalyticsSummary:
        """The project's executions over the window: totals, per model, top prompts."""
        return self._client._request(specs.analytics_summary(window))

    def prompt(self, name: str, **window: Unpack[AnalyticsWindow]) -> PromptAnalytics:
        """One prompt over the window: per version, label and model, and a time series."""
        return self._client._request(specs.prompt_analytics(name, window))


class AsyncAnalytics:
    """The async twin of :class:`Analytics`."""

    def __init__(self, client: _AsyncClient) -> None:
        self._client = client

    async def summary(self, **window: Unpack[AnalyticsWindow]) -> AnalyticsSummary:
        """The project's executions over the window: totals, per model, top prompts."""
        return await self._client._request(specs.analytics_summary(window))

    async def prompt(self, name: str, **window: Unpack[AnalyticsWindow]) -> PromptAnalytics:
        """One prompt over the window: per version, label and model, and a time series."""
        return await self._client._request(specs.prompt_analytics(name, window))
