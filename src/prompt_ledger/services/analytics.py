"""How prompts are doing: windows of finished executions, answered from the rollups that the
finishing write of each execution maintains (never from a scan of the executions).

A window is made of whole UTC hours, read as the fewest aligned rollup buckets that tile it
(``cover``); the summary's top prompts come from the prompts' running totals (``top_prompts``).
The rows read grow with the versions, labels and models of what is read (and slowly with the
window), not with the number of executions, nor, for the top prompts, the number of prompts."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from prompt_ledger import histogram
from prompt_ledger.auth import Principal, Scope
from prompt_ledger.db.store import Database, Queries
from prompt_ledger.errors import NotFound, ValidationFailed
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

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
DEFAULT_WINDOW = "7d"
MAX_WINDOW = timedelta(days=400)
MAX_HOUR_SERIES = timedelta(days=31)
GRAINS: tuple[tuple[str, timedelta], ...] = (
    ("hour", HOUR),
    ("4h", 4 * HOUR),
    ("day", DAY),
    ("4d", 4 * DAY),
    ("16d", 16 * DAY),
)
"""The rollups' grains (schema/versions/0009): buckets aligned on the Unix epoch, each grain's
made of whole buckets of the previous one."""
_GRAIN_INDEX = {name: i for i, (name, _) in enumerate(GRAINS)}
QUANTILES = (0.5, 0.95, 0.99)
NIL = UUID(int=0)  # a dimension a rollup level collapses
PROMPT_LEVELS = ("prompt", "version", "label", "prompt_model")
_WINDOW = re.compile(r"^([1-9][0-9]{0,3})([hd])$")

S = TypeVar("S", bound=Stats)


@dataclass(frozen=True, slots=True)
class Period:
    """The window's bounds and interval, and the rollup rows that cover it."""

    since: datetime
    until: datetime
    interval: Interval

    def cover(self, *, finest: Interval | None = None) -> dict[str, list[Any]]:
        """Query parameters: the fewest rollup rows covering the window, as ranges of bucket
        starts per grain (see ``cover``); only grains up to ``finest`` (each row then lies in
        one bucket of that interval)."""
        ladder = GRAINS if finest is None else GRAINS[: _GRAIN_INDEX[finest] + 1]
        ranges = cover(self.since, self.until, ladder)
        return {
            "grains": [grain for grain, _, _ in ranges],
            "starts": [start for _, start, _ in ranges],
            "ends": [end for _, _, end in ranges],
        }

    def buckets(self) -> list[datetime]:
        step = HOUR if self.interval == "hour" else DAY
        start = _floor(self.since, step)
        return [start + i * step for i in range(int((self.until - start) / step + 0.999999))]

    @property
    def window(self) -> Window:
        return Window(since=self.since, until=self.until)


def period_of(query: WindowAsked, now: datetime) -> Period:
    """The window a query asks for, aligned to whole UTC hours; 422 when it is empty, longer
    than 400 days, out of the calendar's range, or an hour series longer than 31 days."""
    try:
        until = _ceil((query.until or now).astimezone(UTC), HOUR)
        if query.since is not None:
            since = _floor(query.since.astimezone(UTC), HOUR)
        else:
            match = _WINDOW.match(query.window or DEFAULT_WINDOW)
            assert match is not None  # the query model checked the pattern
            amount, unit = int(match.group(1)), match.group(2)
            since = until - (amount * (HOUR if unit == "h" else DAY))
        _floor(since, DAY), _ceil(until, DAY)  # the day rows' bounds exist too
    except OverflowError:
        raise _invalid("until" if query.since is None else "since", "is out of range") from None
    if since >= until:
        raise _invalid("since", "must be before until")
    if until - since > MAX_WINDOW:
        raise _invalid("window", "must be at most 400 days")
    interval: Interval = query.interval or ("hour" if until - since <= 2 * DAY else "day")
    if interval == "hour" and until - since > MAX_HOUR_SERIES:
        raise _invalid("interval", "an hour series covers at most 31 days; use interval=day")
    return Period(since, until, interval)


def cover(
    since: datetime, until: datetime, ladder: tuple[tuple[str, timedelta], ...] = GRAINS
) -> list[tuple[str, datetime, datetime]]:
    """The fewest aligned buckets of the ladder's grains that tile [since, until) (whole hours),
    as (grain, first bucket start, end) ranges: from ``since`` on, the coarsest bucket that
    starts there and fits, so the buckets grow towards the middle of the window and shrink
    towards its end; at most two ranges per grain, whatever the window's length."""
    ranges: list[tuple[str, datetime, datetime]] = []
    moment = since
    while moment < until:
        grain, step = next(
            (name, step)
            for name, step in reversed(ladder)
            if _floor(moment, step) == moment and moment + step <= until
        )
        if ranges and ranges[-1][0] == grain and ranges[-1][2] == moment:
            ranges[-1] = (grain, ranges[-1][1], moment + step)
        else:
            ranges.append((grain, moment, moment + step))
        moment += step
    return ranges


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


async def top_prompts(q: Queries, project_id: UUID, period: Period, top: int) -> list[UUID]:
    """The ids of the window's first ``top`` prompts by volume and by cost (ties as the answer
    sorts them). A window of up to two days sums its cover's prompt rows (a few a prompt); a
    longer one is ranked without reading every prompt (a threshold algorithm over sorted lists).

    The lists (``ranking_lists``): the prompt rollup rows of the few buckets that cover the
    window, or the prompts' all-time totals; a prompt's window total is at most the sum of its
    values in the lists. The lists are read largest first, a page at a time, and each prompt
    met gets its exact window total from the running totals (schema/versions/0013); the reading
    stops once the sum of the last values read (the most an unmet prompt can have) is below the
    ``top``-th best window total met. When the busy prompts of the window are the busy prompts
    of its buckets, that is a page of each list, whatever the number of prompts."""
    if period.until - period.since <= _SUMMED:
        found_rows = await q.rows(
            "analytics_top_in_window", project_id=project_id, top=top, **period.cover()
        )
        return [r["prompt_id"] for r in found_rows]
    lists = ranking_lists(period)
    window: dict[UUID, dict[str, Any]] = {}  # exact window totals of the prompts met
    found: dict[UUID, None] = {}
    for name, value, order in _ORDERS:
        keys: list[tuple[Any, UUID]] = [(_FIRST[name], _LAST_UUID)] * len(lists)
        last: list[Any] = [None] * len(lists)  # last value read; None: list read to its end
        live = list(range(len(lists)))
        # pages double as a list goes deeper: when many prompts are alike (a flat
        # distribution, many ties), the reading ends in a few round trips, not one per page
        page = max(2 * top, 25)
        while True:
            met: set[UUID] = set()
            for j in live:
                grain, bucket = lists[j]
                rows = await q.rows(
                    name,
                    project_id=project_id,
                    grain=grain,
                    bucket=bucket,
                    after=keys[j][0],
                    after_id=keys[j][1],
                    page=page,
                )
                met.update(r["prompt_id"] for r in rows if r["prompt_id"] not in window)
                if rows:
                    keys[j] = (rows[-1]["bound"], rows[-1]["prompt_id"])
                last[j] = rows[-1]["bound"] if len(rows) == page else None
            page = min(2 * page, _MAX_PAGE)
            if met:
                for r in await q.rows(
                    "analytics_window_totals",
                    project_id=project_id,
                    since=period.since,
                    until=period.until,
                    prompts=list(met),
                ):
                    window[r["prompt_id"]] = r
            live = [j for j in live if last[j] is not None]
            best = sorted((r for r in window.values() if r["executions"] > 0), key=order)[:top]
            unmet = sum(last[j] for j in live)
            if not live or (len(best) == top and unmet < best[-1][value]):
                break
        found.update(dict.fromkeys(r["prompt_id"] for r in best))
    return list(found)


def ranking_lists(period: Period) -> list[tuple[str | None, datetime | None]]:
    """The lists whose values bound a prompt's window total, as (grain, bucket start): the
    buckets of the finest grain of which at most 4 cover the window (a day's two days, a
    week's two or three 4-day buckets, a month's 16-day ones); else 16-day buckets if at most
    8 do; else the all-time totals, (None, None)."""
    for limit, ladder in ((4, GRAINS), (8, GRAINS[-1:])):
        for _, step in ladder:
            first = _floor(period.since, step)
            count = -(-(period.until - first) // step)
            if count <= limit:
                return [(_grain(step), first + i * step) for i in range(count)]
    return [(None, None)]


def _grain(step: timedelta) -> str:
    return next(name for name, size in GRAINS if size == step)


_SUMMED = timedelta(days=2)
"""Windows up to this long are ranked by summing their cover's prompt rows (a few a prompt):
the threshold reading, made for longer windows, meets most prompts of a day when their
executions are spread evenly (measured at 1M executions over 10,000 prompts: 24 h in 280-520 ms
by the lists, 25-50 ms summed)."""
_LAST_UUID = UUID(int=2**128 - 1)
_MAX_PAGE = 3200
_FIRST: dict[str, int | Decimal] = {
    "analytics_top_by_volume": 2**63 - 1,
    "analytics_top_by_cost": Decimal("1e13"),  # above any numeric(20, 8)
}
_ORDERS: tuple[tuple[str, str, Callable[[dict[str, Any]], Any]], ...] = (
    ("analytics_top_by_volume", "executions", lambda r: (-r["executions"], r["name"])),
    ("analytics_top_by_cost", "cost_usd", lambda r: (-r["cost_usd"], -r["executions"], r["name"])),
)
"""The two rankings: their lists' page query, the window value it bounds, and their order."""


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
    counts = dict(zip(row.get("slots") or [], row.get("counts") or [], strict=True))
    p50, p95, p99 = histogram.percentiles(counts, QUANTILES)
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


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def _volume(stats: Stats) -> tuple[int, str]:
    """Most executions first; ties by name."""
    name = getattr(stats, "prompt_name", None) or getattr(stats, "label", None)
    if isinstance(stats, ModelStats):
        name = f"{stats.provider}/{stats.model_name}"
    return (-stats.executions, name or "")


def _floor(moment: datetime, step: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((moment - epoch) // step) * step


def _ceil(moment: datetime, step: timedelta) -> datetime:
    floored = _floor(moment, step)
    return floored if floored == moment else floored + step


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"Invalid analytics window: {field} {message}.",
        errors=[{"loc": ["query", field], "msg": message, "type": "value_error"}],
    )
