"""What the analytics function answers: a window, and what happened in it (from the rollups of
finished executions). Pydantic only: the SDK returns these too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from prompt_ledger.records import USD, Record

Interval = Literal["hour", "day"]


@dataclass(frozen=True, slots=True)
class WindowAsked:
    """The window a caller asks for: ``window`` (e.g. ``7d``) back from ``until`` (now by
    default), or ``since``..``until``; the analytics service aligns it to whole UTC hours."""

    window: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    interval: Interval | None = None
    top: int = 10


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
