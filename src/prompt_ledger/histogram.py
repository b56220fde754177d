"""Latency histograms with fixed log-spaced buckets: mergeable by adding counts, so rollups of
any grain combine into the histogram of any window.

Slot 1 holds 0 ms; slot k (2 ≤ k < SLOTS) holds latencies in [RATIO**(k-2), RATIO**(k-1)) ms;
the last slot holds everything from RATIO**(SLOTS-2) ms (about 15 minutes) on. A percentile is
read as the geometric middle of its slot, so it is within ``sqrt(RATIO) - 1`` (3.9 %) of the
exact nearest-rank value. The SQL function ``analytics_slot`` (schema/versions/0008) is the same
bucketing; ``tests/integration/test_analytics_rollups.py`` keeps the two equal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

RATIO = 1.08
SLOTS = 180
LN_RATIO = math.log(RATIO)


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


def percentiles(counts: Mapping[int, int], quantiles: Iterable[float]) -> list[float | None]:
    """Nearest-rank percentiles (``None`` when there is no latency) of a histogram given as
    slot -> count."""
    total = sum(counts.values())
    wanted = list(quantiles)
    if total == 0:
        return [None for _ in wanted]
    ordered = sorted((s, n) for s, n in counts.items() if n > 0)
    found: list[float | None] = []
    for q in wanted:
        rank = max(1, math.ceil(q * total))
        seen = 0
        for slot_number, n in ordered:
            seen += n
            if seen >= rank:
                found.append(round(value(slot_number), 2))
                break
    return found
