"""Latency histograms with fixed log-spaced buckets: mergeable by adding counts, so rollups of
any grain combine into the histogram of any window.

Slot 1 holds 0 ms; slot k (2 ≤ k < SLOTS) holds latencies in [RATIO**(k-2), RATIO**(k-1)) ms;
the last slot holds everything from RATIO**(SLOTS-2) ms (about 15 minutes) on. A percentile is
read as the geometric middle of its slot, so it is within ``sqrt(RATIO) - 1`` (3.9 %) of the
exact nearest-rank value. The SQL function ``analytics_slot`` (schema/versions/0008) is the same
bucketing; ``tests/integration/test_analytics.py`` keeps the two equal.

Rollup rows hold a histogram twice: sparse (slots, counts) and packed in one number (``unpacked``,
``PACKED_DIGITS``; schema/versions/0015), so that PostgreSQL merges rows by adding numbers.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from itertools import accumulate

RATIO = 1.08
SLOTS = 180
LN_RATIO = math.log(RATIO)
PACKED_DIGITS = 12
"""The decimal digits of a slot's count in a packed histogram: the sum over slots of count *
10 ** (PACKED_DIGITS * slot), so that adding rows' packed histograms adds their counts slot by
slot, without carries while a slot's count stays below 10 ** 12 (rows' counts are int4)."""


def slot(latency_ms: int) -> int:
    """The slot (1-based, as PostgreSQL arrays) a latency falls in."""
    if latency_ms < 1:
        return 1
    return min(SLOTS, 2 + math.floor(math.log(latency_ms) / LN_RATIO))


def value(slot_number: int) -> float:
    """The latency a slot stands for: the geometric middle of its bounds (its lower bound for
    the open-ended last slot)."""
    if slot_number <= 1:
        return 0.0
    if slot_number >= SLOTS:
        return float(RATIO ** (SLOTS - 2))
    return float(RATIO ** (slot_number - 1.5))


def reading(slot_number: int) -> float:
    """A percentile as answers give it: the slot's value in ms, to two decimals."""
    return _READINGS[max(1, min(SLOTS, slot_number))]


def percentiles(counts: Mapping[int, int], quantiles: Iterable[float]) -> list[float | None]:
    """Nearest-rank percentiles (``None`` when there is no latency) of a histogram given as
    slot -> count: for each quantile q, the reading of the first slot (in slot order) by which
    the counts reach the rank ``max(1, ceil(q * total))``."""
    ordered = sorted(counts.items())
    return sorted_percentiles([s for s, _ in ordered], [n for _, n in ordered], quantiles)


def sorted_percentiles(
    slots: Sequence[int], counts: Sequence[int], quantiles: Iterable[float]
) -> list[float | None]:
    """``percentiles`` of a histogram given as its slots in increasing order, each once, and
    their counts, zeros allowed (as rollup rows hold them, or ``unpacked`` gives them): a
    running sum and a binary search per quantile, so the time hardly grows with the slots
    filled."""
    running = list(accumulate(counts))
    wanted = list(quantiles)
    total = running[-1] if running else 0
    if total <= 0:
        return [None for _ in wanted]
    return [reading(slots[bisect_left(running, max(1, math.ceil(q * total)))]) for q in wanted]


def unpacked(packed: str) -> tuple[range, list[int]]:
    """A packed histogram (its decimal digits, as analytics_groups answers the sum of some
    rows'; schema/versions/0015) as consecutive slots, from its lowest filled one up, and their
    counts (some zero): slot s's count is the number written by its digits [PACKED_DIGITS * s,
    PACKED_DIGITS * (s + 1)) counted from the right."""
    end = len(packed)
    low = (end - len(packed.rstrip("0"))) // PACKED_DIGITS  # the lowest slot that may be filled
    width = PACKED_DIGITS
    counts = [int(packed[max(0, i - width) : i]) for i in range(end - width * low, 0, -width)]
    return range(low, low + len(counts)), counts


_READINGS = [round(value(s), 2) for s in range(SLOTS + 1)]
