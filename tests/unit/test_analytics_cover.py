"""The cover of an analytics window: the fewest aligned rollup buckets that tile it."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from prompt_ledger.services.analytics import GRAINS, cover

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
