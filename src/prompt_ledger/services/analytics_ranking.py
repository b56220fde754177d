"""The summary's top prompts, found without reading every prompt of the project.

A window of up to two days sums its cover's prompt rows; a longer one is ranked by a threshold
algorithm over sorted lists (``top_prompts``) whose values bound a prompt's window total: the
prompts' totals of the 8 days from the day the window starts in (a week), the prompt rows of
the few buckets that cover the window, or the prompts' all-time totals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from prompt_ledger.db.store import Queries
from prompt_ledger.services.analytics_windows import DAY, GRAINS, Period, floor_to


async def top_prompts(q: Queries, project_id: UUID, period: Period, top: int) -> list[UUID]:
    """The ids of the window's first ``top`` prompts by volume and by cost (ties as the answer
    sorts them). A window of up to two days sums its cover's prompt rows (a few a prompt); a
    longer one is ranked without reading every prompt (a threshold algorithm over sorted lists).

    The lists (``ranking_lists``): the prompts' totals of the 8 days from the day the window
    starts in, the prompt rollup rows of the few buckets that cover the window, or the
    prompts' all-time totals; a prompt's window total is at most the sum of its values in the
    lists. The lists are read largest first, a page at a time, and each prompt
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
    8-day totals of the day the window starts in, when they cover it (any window of up to a
    week: one list, whose bounds exceed the window totals by at most a day's executions, where
    two or three 4-day buckets exceeded them by up to 5 days'); else the buckets of the finest
    grain of which at most 4 cover the window (a month's 16-day ones); else 16-day buckets if
    at most 8 do; else the all-time totals, (None, None)."""
    day = floor_to(period.since, DAY)
    if period.until <= day + EIGHT_DAYS:
        return [("8d", day)]
    for limit, ladder in ((4, GRAINS), (8, GRAINS[-1:])):
        for _, step in ladder:
            first = floor_to(period.since, step)
            count = -(-(period.until - first) // step)
            if count <= limit:
                return [(_grain(step), first + i * step) for i in range(count)]
    return [(None, None)]


def _grain(step: timedelta) -> str:
    return next(name for name, size in GRAINS if size == step)


EIGHT_DAYS = timedelta(days=8)
"""The span of a prompt's 8-day totals (schema/versions/0014), from each UTC day's start."""
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
