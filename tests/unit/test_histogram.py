"""Percentiles of latency histograms: the running-sum reading is the nearest-rank walk, and a
packed histogram (schema/versions/0015) reads back as the slots and counts packed into it."""

from __future__ import annotations

import math
import random

import pytest

from prompt_ledger import histogram

QUANTILES = (0.5, 0.95, 0.99)


def walk(counts: dict[int, int], quantiles: tuple[float, ...]) -> list[float | None]:
    """The definition: walk the filled slots in order until the counts reach the rank."""
    total = sum(counts.values())
    if total == 0:
        return [None for _ in quantiles]
    found: list[float | None] = []
    for q in quantiles:
        rank, seen = max(1, math.ceil(q * total)), 0
        for slot, n in sorted(counts.items()):
            seen += n
            if seen >= rank:
                found.append(round(histogram.value(slot), 2))
                break
    return found


def packed(counts: dict[int, int]) -> str:
    return str(sum(n * 10 ** (histogram.PACKED_DIGITS * s) for s, n in counts.items()))


def histograms() -> list[dict[int, int]]:
    rng = random.Random(9)
    found: list[dict[int, int]] = [
        {},
        {1: 1},
        {histogram.SLOTS: 3},
        {1: 2**31 - 1, histogram.SLOTS: 2**31 - 1},
        {40: 19, 41: 1},  # ranks at a slot's boundary: 0.95 * 20 = 19
        {7: 50, 9: 50},  # 0.5 * 100 = 50
    ]
    for size in (1, 2, 3, 5, 20, 60, 180):
        for _ in range(40):
            slots = rng.sample(range(1, histogram.SLOTS + 1), size)
            top = rng.choice((3, 1000, 2**31 - 1))
            found.append({s: rng.randint(1, top) for s in slots})
    return found


@pytest.mark.parametrize("counts", histograms())
def test_percentiles_are_the_nearest_rank_walk(counts: dict[int, int]) -> None:
    expected = walk(counts, QUANTILES)
    assert histogram.percentiles(counts, QUANTILES) == expected
    slots = sorted(counts)
    assert histogram.sorted_percentiles(slots, [counts[s] for s in slots], QUANTILES) == expected
    with_zeros = {**counts, **{s: 0 for s in range(1, 5) if s not in counts}}
    assert histogram.percentiles(with_zeros, QUANTILES) == expected


@pytest.mark.parametrize("counts", histograms())
def test_a_packed_histogram_reads_back(counts: dict[int, int]) -> None:
    slots, read = histogram.unpacked(packed(counts))
    assert {s: n for s, n in zip(slots, read, strict=True) if n} == counts
    assert histogram.sorted_percentiles(slots, read, QUANTILES) == walk(counts, QUANTILES)


def test_packed_histograms_add_slot_by_slot() -> None:
    """The sum of packed histograms is the packed merged histogram (no carry between slots while
    a slot's count stays below 10 ** PACKED_DIGITS: 400 rows of int4 counts do)."""
    rng = random.Random(3)
    rows = [dict.fromkeys(rng.sample(range(1, 181), 30), 2**31 - 1) for _ in range(400)]
    merged: dict[int, int] = {}
    for row in rows:
        for s, n in row.items():
            merged[s] = merged.get(s, 0) + n
    total = str(sum(int(packed(row)) for row in rows))
    slots, read = histogram.unpacked(total)
    assert {s: n for s, n in zip(slots, read, strict=True) if n} == merged


def test_no_latency_no_percentiles() -> None:
    assert histogram.sorted_percentiles([], [], QUANTILES) == [None, None, None]
    assert histogram.percentiles({}, QUANTILES) == [None, None, None]
