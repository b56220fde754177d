"""The cover of an analytics window: the fewest aligned rollup buckets that tile it."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from prompt_ledger.services.analytics_ranking import ranking_lists
from prompt_ledger.services.analytics_windows import GRAINS, Period, cover

HOUR = timedelta(hours=1)
STEP = dict(GRAINS)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def tiles(since: datetime, until: datetime, ladder: tuple[tuple[str, timedelta], ...]) -> None:
    ranges = cover(since, until, ladder)
    moment = since
    for grain, start, end in ranges:
        step = STEP[grain]
        assert start == moment
        assert end > start
        assert (start - EPOCH) % step == timedelta(0)  # aligned as date_bin places buckets
        assert (end - start) % step == timedelta(0)
        moment = end
    assert moment == until
    names = [grain for grain, _, _ in ranges]
    assert all(names.count(name) <= 2 for name in set(names))
    assert set(names) <= {name for name, _ in ladder}


def test_random_windows_are_tiled_by_aligned_buckets() -> None:
    rng = random.Random(7)
    base = datetime(2026, 11, 26, 17, tzinfo=UTC)
    for _ in range(100):
        until = base - rng.randrange(0, 24 * 40) * HOUR
        since = until - rng.randrange(1, 24 * 400) * HOUR
        tiles(since, until, GRAINS)
        tiles(since, until, GRAINS[:3])  # a day series: no row spans two days
        short = until - rng.randrange(1, 24 * 31) * HOUR
        tiles(short, until, GRAINS[:1])  # an hour series (31 days at most): hour rows only


@pytest.mark.parametrize("days", [1, 7, 30, 400])
def test_long_windows_read_few_buckets(days: int) -> None:
    until = datetime(2026, 11, 26, 17, tzinfo=UTC)
    buckets = sum(
        (end - start) // STEP[grain] for grain, start, end in cover(until - days * 24 * HOUR, until)
    )
    # per end at most 3 hours, 5 times 4 hours, 3 days and 3 times 4 days; 16-day ones between
    assert buckets <= 2 * (3 + 5 + 3 + 3) + days // 16


def test_the_rankings_lists_cover_the_window_with_few_buckets() -> None:
    """The top prompts' lists: the 8-day totals of the day the window starts in when they cover
    it (any window of up to a week), else aligned buckets of one grain covering the window, the
    finest grain of which at most 4 do (16-day buckets up to 8), else the all-time totals."""
    rng = random.Random(11)
    base = datetime(2026, 11, 26, 17, tzinfo=UTC)
    seen: set[str | None] = set()
    for _ in range(200):
        until = base - rng.randrange(0, 24 * 40) * HOUR
        since = until - rng.randrange(1, 24 * 400) * HOUR
        lists = ranking_lists(Period(since, until, "day"))
        day = since - (since - EPOCH) % STEP["day"]
        if until - since <= 7 * 24 * HOUR:
            assert lists == [("8d", day)]
        if lists[0][0] == "8d":
            assert lists == [("8d", day)]
            assert until <= day + 8 * STEP["day"]
            seen.add("8d")
            continue
        assert until > day + 8 * STEP["day"]  # the 8-day totals would not have covered it
        if lists == [(None, None)]:
            assert until - since > 7 * STEP["16d"]
            seen.add(None)
            continue
        grains = {grain for grain, _ in lists}
        assert len(grains) == 1
        grain = grains.pop()
        assert grain is not None
        seen.add(grain)
        step = STEP[grain]
        starts = [start for _, start in lists if start is not None]
        assert len(starts) == len(lists)
        assert all((start - EPOCH) % step == timedelta(0) for start in starts)
        assert starts == [starts[0] + i * step for i in range(len(starts))]
        assert starts[0] <= since < starts[0] + step
        assert starts[-1] < until <= starts[-1] + step
        assert len(lists) <= (8 if grain == "16d" else 4)
        finer = [s for name, s in GRAINS if s < step]
        if finer and len(lists) <= 4:  # no finer grain would have done with at most 4
            first = since - (since - EPOCH) % finer[-1]
            assert -(-(until - first) // finer[-1]) > 4
    assert seen == {"8d", "4d", "16d", None}
