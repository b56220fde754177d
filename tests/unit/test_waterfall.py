"""The waterfall layout of one trace's spans (in the traces service's order: depth first, each
with its depth)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prompt_ledger.console.waterfall import MIN_WIDTH, Waterfall, duration_label, layout, ticks

T0 = datetime(2025, 1, 27, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Span:
    span_id: str
    parent_span_id: str | None
    start_time: datetime
    end_time: datetime | None = None
    duration_ms: int | None = None
    depth: int = 0


def span(
    span_id: str,
    parent: str | None,
    start: int,
    end: int | None,
    duration: int | None = None,
    depth: int = 0,
) -> Span:
    return Span(
        span_id,
        parent,
        T0 + timedelta(milliseconds=start),
        None if end is None else T0 + timedelta(milliseconds=end),
        duration,
        depth,
    )


def rows(w: Waterfall[Span]) -> list[tuple[str, int]]:
    return [(bar.span.span_id, bar.depth) for bar in w.bars]


def test_bars_keep_the_spans_order_and_depth_on_one_axis() -> None:
    w = layout(
        [
            span("root", None, 0, 1000),
            span("handler", "root", 50, 950, depth=1),
            span("llm", "handler", 100, 500, depth=2),
            span("render", "llm", 120, 130, depth=3),
            span("db", "handler", 600, 900, depth=2),
        ]
    )
    assert rows(w) == [("root", 0), ("handler", 1), ("llm", 2), ("render", 3), ("db", 2)]
    assert w.total_ms == 1000
    assert w.start == T0
    by_id = {bar.span.span_id: bar for bar in w.bars}
    assert (by_id["llm"].offset, by_id["llm"].width) == (10.0, 40.0)
    assert (by_id["db"].start_ms, by_id["db"].duration_ms) == (600.0, 300.0)
    assert (by_id["db"].start_label, by_id["db"].duration_label) == ("600 ms", "300 ms")
    assert (by_id["root"].start_label, by_id["root"].duration_label) == ("0 ms", "1 s")


def test_the_trace_starts_at_its_earliest_span_wherever_it_is_listed() -> None:
    w = layout([span("root", None, 100, 300), span("early", "root", 0, 50, depth=1)])
    assert w.start == T0
    assert [(bar.start_ms, round(bar.offset, 2)) for bar in w.bars] == [(100.0, 33.33), (0.0, 0.0)]


def test_deep_spans_are_indented_at_most_twelve_levels() -> None:
    w = layout([span(f"s{d}", f"s{d - 1}" if d else None, d, 100, depth=d) for d in range(15)])
    assert [bar.indent for bar in w.bars] == [*range(13), 12, 12]
    assert [bar.depth for bar in w.bars] == list(range(15))


def test_a_span_whose_parent_has_not_arrived_is_a_marked_root() -> None:
    w = layout([span("a", None, 0, 100), span("late", "missing", 20, 40)])
    assert rows(w) == [("a", 0), ("late", 0)]
    assert [bar.orphan for bar in w.bars] == [False, True]


def test_spans_naming_each_other_as_parent_are_not_orphans() -> None:
    w = layout([span("a", "b", 0, 100), span("b", "a", 10, 50, depth=1), span("c", "c", 5, 6)])
    assert rows(w) == [("a", 0), ("b", 1), ("c", 0)]
    assert [bar.orphan for bar in w.bars] == [False, False, False]


def test_repeated_span_ids_are_each_shown() -> None:
    w = layout([span("x", None, 0, 10), span("x", None, 5, 20)])
    assert rows(w) == [("x", 0), ("x", 0)]


def test_an_open_span_lasts_its_duration_or_nothing() -> None:
    w = layout(
        [span("root", None, 0, 400), span("open", "root", 100, None, 200), span("z", None, 0, None)]
    )
    by_id = {bar.span.span_id: bar for bar in w.bars}
    assert by_id["open"].duration_ms == 200
    assert by_id["z"].duration_ms == 0
    assert by_id["z"].width == MIN_WIDTH


def test_a_zero_length_span_at_the_end_stays_on_the_axis() -> None:
    w = layout([span("root", None, 0, 1000), span("tick", "root", 1000, 1000)])
    tick = w.bars[1]
    assert tick.width == MIN_WIDTH
    assert tick.offset + tick.width <= 100


def test_a_trace_of_zero_length_fills_the_axis() -> None:
    w = layout([span("a", None, 0, 0), span("b", "a", 0, 0)])
    assert [(bar.offset, bar.width) for bar in w.bars] == [(0.0, 100.0), (0.0, 100.0)]
    assert [t.label for t in w.ticks] == ["0 ms"]


def test_no_spans_no_bars() -> None:
    w: Waterfall[Span] = layout([])
    assert (w.bars, w.start, w.total_ms, w.ticks) == ([], None, 0.0, [])


def test_ticks_are_round_and_few() -> None:
    assert [t.label for t in ticks(1000)] == ["0 ms", "200 ms", "400 ms", "600 ms", "800 ms", "1 s"]
    assert [t.label for t in ticks(1234)] == ["0 ms", "500 ms", "1 s"]
    assert [round(t.offset, 2) for t in ticks(1234)] == [0.0, 40.52, 81.04]
    assert len(ticks(7)) <= 6
    assert ticks(90_000)[-1].label == "1 min 20 s"


def test_duration_labels() -> None:
    assert duration_label(0) == "0 ms"
    assert duration_label(0.25) == "0.25 ms"
    assert duration_label(999) == "999 ms"
    assert duration_label(1500) == "1.5 s"
    assert duration_label(120_000) == "2 min"
