"""Analytics windows: the hours a query asks for, and the aligned rollup buckets that tile them.

A window is made of whole UTC hours, read as the fewest aligned rollup buckets that tile it
(``cover``) at the rollups' grains (``GRAINS``, schema/versions/0009)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prompt_ledger.errors import ValidationFailed
from prompt_ledger.records_analytics import Interval, Window, WindowAsked

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
_WINDOW = re.compile(r"^([1-9][0-9]{0,3})([hd])$")


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
        start = floor_to(self.since, step)
        return [start + i * step for i in range(int((self.until - start) / step + 0.999999))]

    @property
    def window(self) -> Window:
        return Window(since=self.since, until=self.until)


def period_of(query: WindowAsked, now: datetime) -> Period:
    """The window a query asks for, aligned to whole UTC hours; 422 when it is empty, longer
    than 400 days, out of the calendar's range, or an hour series longer than 31 days."""
    try:
        until = ceil_to((query.until or now).astimezone(UTC), HOUR)
        if query.since is not None:
            since = floor_to(query.since.astimezone(UTC), HOUR)
        else:
            match = _WINDOW.match(query.window or DEFAULT_WINDOW)
            assert match is not None  # the query model checked the pattern
            amount, unit = int(match.group(1)), match.group(2)
            since = until - (amount * (HOUR if unit == "h" else DAY))
        floor_to(since, DAY), ceil_to(until, DAY)  # the day rows' bounds exist too
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
            if floor_to(moment, step) == moment and moment + step <= until
        )
        if ranges and ranges[-1][0] == grain and ranges[-1][2] == moment:
            ranges[-1] = (grain, ranges[-1][1], moment + step)
        else:
            ranges.append((grain, moment, moment + step))
        moment += step
    return ranges


def floor_to(moment: datetime, step: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + ((moment - epoch) // step) * step


def ceil_to(moment: datetime, step: timedelta) -> datetime:
    floored = floor_to(moment, step)
    return floored if floored == moment else floored + step


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(
        f"Invalid analytics window: {field} {message}.",
        errors=[{"loc": ["query", field], "msg": message, "type": "value_error"}],
    )
