"""The waterfall of one trace: its spans as bars on a shared time axis, nested by parent.

A pure layout in one pass over the spans as the traces service answers them: depth first (each
span before its children, siblings by start time), each with its depth (0 for a root). Spans
arrive from any application, so nothing else is assumed: a span whose parent has not arrived (or
is in another trace) is marked orphaned (the service made it a root), a span without an end lasts
its ``duration_ms`` (or nothing), and a zero-length span still gets a visible sliver. What the
page prints of a bar (its labels, its indent) is computed here once, not per span in the
template."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

MIN_WIDTH = 0.5  # percent: a 0-ms span stays visible (and clickable)
MAX_TICKS = 6
MAX_INDENT = 12  # deeper spans are indented as much as this (the page's depth-12 class)
MS = timedelta(milliseconds=1)


class Timed(Protocol):
    """What the layout reads of a span (a pydantic record satisfies it)."""

    @property
    def span_id(self) -> Hashable: ...
    @property
    def parent_span_id(self) -> Hashable | None: ...
    @property
    def depth(self) -> int: ...
    @property
    def start_time(self) -> datetime: ...
    @property
    def end_time(self) -> datetime | None: ...
    @property
    def duration_ms(self) -> int | float | None: ...


S = TypeVar("S", bound=Timed)


@dataclass(frozen=True, slots=True)
class Bar(Generic[S]):
    span: S
    depth: int
    start_ms: float  # from the trace's start
    duration_ms: float
    offset: float  # percent of the axis where the bar starts
    width: float  # percent of the axis the bar covers (at least MIN_WIDTH)
    orphan: bool  # its parent is named but not in this trace (yet)
    start_label: str  # start_ms as the page shows it ("250 ms")
    duration_label: str  # duration_ms as the page shows it

    @property
    def indent(self) -> int:
        return min(self.depth, MAX_INDENT)


@dataclass(frozen=True, slots=True)
class Tick:
    offset: float  # percent of the axis
    label: str


@dataclass(frozen=True, slots=True)
class Waterfall(Generic[S]):
    bars: list[Bar[S]]
    start: datetime | None
    total_ms: float
    ticks: list[Tick]


def _ms(span: Timed, origin: datetime) -> tuple[float, float]:
    """Where the span starts (ms from ``origin``) and how long it lasts."""
    begin = (span.start_time - origin) / MS
    end = span.end_time
    if end is not None and end >= span.start_time:
        return begin, (end - span.start_time) / MS
    if span.duration_ms is not None and span.duration_ms > 0:
        return begin, float(span.duration_ms)
    return begin, 0.0


def layout(spans: Sequence[S]) -> Waterfall[S]:
    """Bars in the spans' order (depth first, as the traces service answers them)."""
    if not spans:
        return Waterfall([], None, 0.0, [])
    origin = min(s.start_time for s in spans)
    timing = [_ms(s, origin) for s in spans]
    total = max(begin + length for begin, length in timing)
    ids = {s.span_id for s in spans}
    labels: dict[float, str] = {}  # spans share starts and lengths: label each value once

    def label(ms: float) -> str:
        text = labels.get(ms)
        if text is None:
            text = labels[ms] = duration_label(ms)
        return text

    bars: list[Bar[S]] = []
    for span, (begin, length) in zip(spans, timing, strict=True):
        if total <= 0:
            offset, width = 0.0, 100.0
        else:
            width = max(length / total * 100, MIN_WIDTH)
            offset = min(begin / total * 100, 100 - width)
        parent = span.parent_span_id
        orphan = parent is not None and parent != span.span_id and parent not in ids
        bars.append(
            Bar(span, span.depth, begin, length, offset, width, orphan, label(begin), label(length))
        )
    return Waterfall(bars, origin, total, ticks(total))


def ticks(total_ms: float) -> list[Tick]:
    """Round steps (1, 2 or 5 times a power of ten ms), at most MAX_TICKS labels, from 0."""
    if total_ms <= 0:
        return [Tick(0.0, duration_label(0))]
    raw = total_ms / (MAX_TICKS - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    count = int(total_ms // step)
    return [Tick(i * step / total_ms * 100, duration_label(i * step)) for i in range(count + 1)]


def duration_label(ms: float) -> str:
    """``0 ms``, ``0.4 ms``, ``250 ms``, ``1.5 s``, ``2 min 5 s``."""
    if ms < 1 and ms != 0:
        return f"{ms:.2g} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.3g} s"
    minutes, seconds = divmod(round(ms / 1000), 60)
    return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
