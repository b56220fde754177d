"""The waterfall of one trace: its spans as bars on a shared time axis, nested by parent.

A pure layout: spans in, rows out (depth, where the bar starts and how wide it is, as percents
of the trace's duration), plus the axis ticks. Spans arrive from any application, so nothing is
assumed: a span whose parent has not arrived (or is in another trace) is shown as a root and
marked orphaned, a parent cycle is broken where it is first met, a span without an end lasts its
``duration_ms`` (or nothing), and a zero-length span still gets a visible sliver."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

MIN_WIDTH = 0.5  # percent: a 0-ms span stays visible (and clickable)
MAX_TICKS = 6


class Timed(Protocol):
    """What the layout reads of a span (a pydantic record satisfies it)."""

    @property
    def span_id(self) -> Hashable: ...
    @property
    def parent_span_id(self) -> Hashable | None: ...
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
    children: int  # direct children shown under it
    orphan: bool  # its parent is named but not in this trace (yet)


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


def _end(span: Timed) -> datetime:
    if span.end_time is not None and span.end_time >= span.start_time:
        return span.end_time
    if span.duration_ms is not None and span.duration_ms > 0:
        return span.start_time + timedelta(milliseconds=float(span.duration_ms))
    return span.start_time


def _ms(delta: timedelta) -> float:
    return delta / timedelta(milliseconds=1)


def layout(spans: Sequence[S]) -> Waterfall[S]:
    """Depth-first from the roots, siblings by start time; every span appears exactly once."""
    if not spans:
        return Waterfall([], None, 0.0, [])
    start = min(s.start_time for s in spans)
    total = max(_ms(_end(s) - start) for s in spans)
    ids = {s.span_id for s in spans}
    children: dict[Hashable, list[S]] = {}
    roots: list[S] = []
    for span in spans:
        parent = span.parent_span_id
        if parent is None or parent not in ids or parent == span.span_id:
            roots.append(span)
        else:
            children.setdefault(parent, []).append(span)

    def order(group: list[S]) -> list[S]:
        return sorted(group, key=lambda s: (s.start_time, _end(s), str(s.span_id)))

    bars: list[Bar[S]] = []
    placed: set[int] = set()  # by object identity: ids may repeat in what an application sent

    def visit(first: S, first_depth: int) -> None:
        stack = [(first, first_depth)]
        while stack:
            span, depth = stack.pop()
            if id(span) in placed:
                continue  # a cycle (a → b → a): each span once
            placed.add(id(span))
            kids = [k for k in order(children.get(span.span_id, [])) if id(k) not in placed]
            parent = span.parent_span_id
            orphan = parent is not None and parent != span.span_id and parent not in ids
            bars.append(_bar(span, depth, start, total, kids=len(kids), orphan=orphan))
            stack.extend((kid, depth + 1) for kid in reversed(kids))

    for root in order(roots):
        visit(root, 0)
    for span in order(list(spans)):  # only in a parent cycle: none of them is a root
        if id(span) not in placed:
            visit(span, 0)
    return Waterfall(bars, start, total, ticks(total))


def _bar(span: S, depth: int, start: datetime, total: float, *, kids: int, orphan: bool) -> Bar[S]:
    begin = _ms(span.start_time - start)
    length = _ms(_end(span) - span.start_time)
    if total <= 0:
        offset, width = 0.0, 100.0
    else:
        width = max(length / total * 100, MIN_WIDTH)
        offset = min(begin / total * 100, 100 - width)
    return Bar(span, depth, begin, length, offset, width, kids, orphan)


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
