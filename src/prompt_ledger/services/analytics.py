"""How prompts are doing: windows of finished executions, answered from the rollups that the
finishing write of each execution maintains (never from a scan of the executions).

A window is made of whole UTC hours, read as the fewest aligned rollup buckets that tile it
(``cover``); the summary's top prompts come from the prompts' running totals (``top_prompts``).
The rows read grow with the versions, labels and models of what is read (and slowly with the
window), not with the number of executions, nor, for the top prompts, the number of prompts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from prompt_ledger import histogram
from prompt_ledger.auth import Principal, Scope
from prompt_ledger.db.store import Database, Queries
from prompt_ledger.errors import NotFound
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
    WindowAsked,
)
from prompt_ledger.services.analytics_ranking import top_prompts
from prompt_ledger.services.analytics_windows import period_of

QUANTILES = (0.5, 0.95, 0.99)
NIL = UUID(int=0)  # a dimension a rollup level collapses
PROMPT_LEVELS = ("prompt", "version", "label", "prompt_model")

S = TypeVar("S", bound=Stats)


class Analytics:
    def __init__(self, db: Database, clock: Callable[[], datetime] | None = None) -> None:
        self._db = db
        self._clock = clock or (lambda: datetime.now(UTC))

    async def summary(self, who: Principal, query: WindowAsked) -> AnalyticsSummary:
        """A project's window: totals, per provider and model, and its top prompts by volume
        and by cost."""
        who.require(Scope.ANALYTICS_READ)
        period = period_of(query, self._clock())
        await self.fold(who.project_id)
        window = period.cover()
        async with self._db.connect() as q:
            top = await top_prompts(q, who.project_id, period, query.top)
            rows = await _groups(
                q, who.project_id, ["project", "model", "prompt"], [NIL, *top], window
            )
        totals = next((r for r in rows if r["level"] == "project"), None)
        ranked = {r["prompt_id"]: _stats(PromptStats, r) for r in rows if r["level"] == "prompt"}
        candidates = list(ranked.values())
        by_volume = sorted(candidates, key=_volume)[: query.top]
        by_cost = sorted(candidates, key=lambda s: (-s.cost_usd, *_volume(s)))[: query.top]
        return AnalyticsSummary(
            window=period.window,
            totals=_stats(Stats, totals),
            by_model=sorted(
                (_stats(ModelStats, r) for r in rows if r["level"] == "model"), key=_volume
            ),
            top_prompts_by_volume=by_volume,
            top_prompts_by_cost=by_cost,
        )

    async def prompt(self, who: Principal, name: str, query: WindowAsked) -> PromptAnalytics:
        """One prompt's window: totals, per version, per label and per model, and a time series
        of hour or day buckets. 404 when the project has no prompt of that name."""
        who.require(Scope.ANALYTICS_READ)
        period = period_of(query, self._clock())
        async with self._db.connect() as q:
            found = await q.row("analytics_prompt_id", project_id=who.project_id, name=name)
        if found is None:
            raise NotFound(f"Prompt '{name}' not found.")
        await self.fold(who.project_id)
        only = [found["prompt_id"]]
        async with self._db.connect() as q:
            rows = await _groups(q, who.project_id, list(PROMPT_LEVELS), only, period.cover())
            series = await _groups(
                q,
                who.project_id,
                ["prompt"],
                only,
                period.cover(finest=period.interval),
                interval=period.interval,
            )
        level = {name: [r for r in rows if r["level"] == name] for name in PROMPT_LEVELS}
        by_version = [_stats(VersionStats, r) for r in level["version"]]
        by_label = [_stats(LabelStats, r, label=r["label"] or None) for r in level["label"]]
        periods = {r["period"]: r for r in series}
        return PromptAnalytics(
            prompt_id=found["prompt_id"],
            prompt_name=found["name"],
            window=period.window,
            interval=period.interval,
            totals=_stats(Stats, next(iter(level["prompt"]), None)),
            by_version=sorted(by_version, key=lambda s: -s.version_number),
            by_label=sorted(by_label, key=_volume),
            by_model=sorted((_stats(ModelStats, r) for r in level["prompt_model"]), key=_volume),
            series=[
                _stats(SeriesPoint, periods.get(start), start=start) for start in period.buckets()
            ],
        )

    async def fold(self, project_id: UUID | None = None, *, limit: int | None = None) -> int:
        """Fold pending finished executions (of one project, or of all) into the rollups;
        answers the rollup rows written. Readers fold their project's before reading, so
        answers include every execution finished before the request."""
        if project_id is not None:
            async with self._db.connect() as q:
                found = await q.row("analytics_pending_exists", project_id=project_id)
            if not (found and found["pending"]):
                return 0
        async with self._db.transaction() as q:
            await q.execute("lock_folds")
            return await q.execute("fold_rollups", project_id=project_id, limit=limit)

    async def fold_all(self, batch: int = 5000) -> None:
        """The worker's periodic task: fold everything pending, in bounded batches."""
        while await self.fold(limit=batch):
            pass

    async def rebuild(self) -> int:
        """Recompute every rollup from the ledger (after a bulk load that bypassed the trigger,
        or to repair); folds wait meanwhile. Answers the rollup rows written."""
        async with self._db.transaction() as q:
            await q.execute("lock_folds")
            await q.execute("lock_rollups")
            await q.execute("delete_rollups")
            await q.execute("enqueue_all_finished")
            return await q.execute("fold_rollups", project_id=None, limit=None)


async def _groups(
    q: Queries,
    project_id: UUID,
    levels: list[str],
    prompts: list[UUID] | None,
    window: dict[str, list[Any]],
    *,
    histograms: bool = True,
    interval: Interval | None = None,
) -> list[dict[str, Any]]:
    return await q.rows(
        "analytics_groups",
        project_id=project_id,
        levels=levels,
        prompts=prompts,
        histograms=histograms,
        by_period=interval is not None,
        interval=interval or "day",
        **window,
    )


def _stats(record: type[S], row: dict[str, Any] | None, **extra: Any) -> S:
    """A record of counters and latency percentiles from a rollup row (zeros when none)."""
    row = row or {}
    executions = int(row.get("executions") or 0)
    succeeded = int(row.get("succeeded") or 0)
    failed = int(row.get("failed") or 0)
    prompt_tokens = int(row.get("prompt_tokens") or 0)
    response_tokens = int(row.get("response_tokens") or 0)
    latency_count = int(row.get("latency_count") or 0)
    p50, p95, p99 = _percentiles(row)
    fields = {**row, **extra}
    return record.model_validate(
        {
            **fields,
            "executions": executions,
            "succeeded": succeeded,
            "failed": failed,
            "success_rate": _ratio(succeeded, executions),
            "error_rate": _ratio(failed, executions),
            "prompt_tokens": prompt_tokens,
            "response_tokens": response_tokens,
            "total_tokens": prompt_tokens + response_tokens,
            "cost_usd": row.get("cost_usd") or Decimal(0),
            "latency_avg_ms": (
                round(int(row["latency_ms_sum"]) / latency_count, 2) if latency_count else None
            ),
            "latency_p50_ms": p50,
            "latency_p95_ms": p95,
            "latency_p99_ms": p99,
        }
    )


def _percentiles(row: dict[str, Any]) -> list[float | None]:
    """A group's latency percentiles, from its one rollup row's histogram or the sum of its
    rows' packed histograms (analytics_groups)."""
    if row.get("packed") is not None:
        return histogram.sorted_percentiles(*histogram.unpacked(row["packed"]), QUANTILES)
    return histogram.sorted_percentiles(row.get("slots") or [], row.get("counts") or [], QUANTILES)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def _volume(stats: Stats) -> tuple[int, str]:
    """Most executions first; ties by name."""
    name = getattr(stats, "prompt_name", None) or getattr(stats, "label", None)
    if isinstance(stats, ModelStats):
        name = f"{stats.provider}/{stats.model_name}"
    return (-stats.executions, name or "")
