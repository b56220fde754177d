"""The query of the analytics endpoints: a window (what they answer is in
:mod:`prompt_ledger.records_analytics`)."""

from __future__ import annotations

from typing import Self

from pydantic import ConfigDict, Field, model_validator

from prompt_ledger.bodies import Body, not_both
from prompt_ledger.bodies_executions import Timestamp
from prompt_ledger.records_analytics import (
    AnalyticsSummary,
    Interval,
    LabelStats,
    ModelStats,
    PromptAnalytics,
    PromptStats,
    SeriesPoint,
    Stats,
    VersionStats,
    Window,
    WindowAsked,
)

__all__ = [  # the answers, for callers that import them with the query
    "AnalyticsQuery",
    "AnalyticsSummary",
    "Interval",
    "LabelStats",
    "ModelStats",
    "PromptAnalytics",
    "PromptStats",
    "SeriesPoint",
    "Stats",
    "VersionStats",
    "Window",
]

WINDOW_PATTERN = r"^[1-9][0-9]{0,3}[hd]$"


class AnalyticsQuery(Body):
    """The window: ``window`` back from ``until`` (now by default), or ``since``..``until``.
    Both ends are aligned to whole UTC hours (``since`` down, ``until`` up)."""

    model_config = ConfigDict(json_schema_extra=not_both("window", "since"))

    window: str | None = Field(
        default=None,
        pattern=WINDOW_PATTERN,
        description="How far back from until: hours or days, e.g. 24h, 7d, 30d (default 7d; "
        "at most 400d).",
        examples=["7d"],
    )
    since: Timestamp | None = Field(default=None, description="Start (instead of window).")
    until: Timestamp | None = Field(default=None, description="End (default: now).")
    interval: Interval | None = Field(
        default=None,
        description="Bucket of the time series: hour or day (default: hour for windows of "
        "two days or less). Hour series cover at most 31 days.",
    )
    top: int = Field(default=10, ge=1, le=100, description="How many top prompts to list.")

    @model_validator(mode="after")
    def _one_start(self) -> Self:
        if self.window is not None and self.since is not None:
            raise ValueError("give window or since, not both")
        return self

    def asked(self) -> WindowAsked:
        """What the analytics service takes (converted here, at the HTTP edge)."""
        return WindowAsked(self.window, self.since, self.until, self.interval, self.top)
