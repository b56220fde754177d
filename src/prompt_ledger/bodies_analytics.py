"""Request and response bodies of the analytics function: a window, and what happened in it
(from the rollups of finished executions)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self
from uuid import UUID

from pydantic import ConfigDict, Field, model_validator

from prompt_ledger.bodies import Body, not_both
from prompt_ledger.bodies_executions import Timestamp
from prompt_ledger.records import USD, Record

Interval = Literal["hour", "day"]
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


class Window(Record):
    since: datetime = Field(description="Start of the window (inclusive, a whole UTC hour).")
    until: datetime = Field(description="End of the window (exclusive, a whole UTC hour).")


class Stats(Record):
    """Finished executions (succeeded or failed) created in the window. Latency percentiles are
    nearest-rank, read from merged log-spaced histograms (within 4 % of the exact value)."""

    executions: int
    succeeded: int
    failed: int
    success_rate: float | None = Field(description="succeeded / executions (null when none).")
    error_rate: float | None = Field(description="failed / executions (null when none).")
    prompt_tokens: int
    response_tokens: int
    total_tokens: int
    cost_usd: USD
    latency_avg_ms: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None


class ModelStats(Stats):
    provider: str
    model_name: str


class PromptStats(Stats):
    prompt_id: UUID
    prompt_name: str


class VersionStats(Stats):
    version_id: UUID
    version_number: int


class LabelStats(Stats):
    label: str | None = Field(
        description="The label that resolved the version (null: the active or a pinned version)."
    )


class SeriesPoint(Stats):
    start: datetime = Field(description="Start of the bucket (UTC).")


class AnalyticsSummary(Record):
    window: Window
    totals: Stats
    by_model: list[ModelStats] = Field(description="Per provider and model, most used first.")
    top_prompts_by_volume: list[PromptStats]
    top_prompts_by_cost: list[PromptStats]


class PromptAnalytics(Record):
    prompt_id: UUID
    prompt_name: str
    window: Window
    interval: Interval
    totals: Stats
    by_version: list[VersionStats] = Field(description="Newest version first.")
    by_label: list[LabelStats] = Field(description="Most used first.")
    by_model: list[ModelStats] = Field(description="Most used first.")
    series: list[SeriesPoint] = Field(
        description="One point per bucket of the window, oldest first (empty buckets included)."
    )
