"""The analytics charts' aligned columns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from prompt_ledger.console.charts import chart, fmt

H0 = datetime(2026, 11, 26, 10, tzinfo=UTC)
H1, H2 = H0 + timedelta(hours=1), H0 + timedelta(hours=2)


def test_series_share_one_axis_and_missing_counts_are_zero() -> None:
    c = chart("volume", "Executions", "count", [(H0, "v1", 3), (H2, "v1", 1), (H1, "v2", 5)])
    assert c.x == [H0, H1, H2]
    assert [(s.label, s.values) for s in c.series] == [("v1", [3, 0, 1]), ("v2", [0, 5, 0])]
    assert c.data() == {
        "title": "Executions",
        "unit": "count",
        "x": [int(H0.timestamp()), int(H1.timestamp()), int(H2.timestamp())],
        "series": [{"label": "v1", "values": [3, 0, 1]}, {"label": "v2", "values": [0, 5, 0]}],
    }


def test_missing_rates_and_percentiles_are_gaps_not_zeros() -> None:
    c = chart("p95", "Latency p95", "ms", [(H0, "v1", 120), (H1, "v2", 90), (H1, "v1", None)])
    assert [s.values for s in c.series] == [[120, None], [None, 90]]
    assert c.rows() == [(H0, ["120 ms", "—"]), (H1, ["—", "90 ms"])]


def test_sums_add_up_and_series_follow_the_given_order() -> None:
    points = [(H0, "v1", Decimal("0.25")), (H0, "v1", Decimal("0.5")), (H0, "v2", Decimal("1"))]
    c = chart("cost", "Cost", "usd", points, order=["v2", "v1", "v3"])
    assert [(s.label, s.values) for s in c.series] == [("v2", [1.0]), ("v1", [0.75])]


def test_no_points_is_an_empty_chart() -> None:
    c = chart("errors", "Error rate", "percent", [], order=["v1"])
    assert c.empty
    assert c.series == []


def test_cells_are_formatted_by_unit() -> None:
    assert fmt(12.345, "percent") == "12.3 %"
    assert fmt(1234.4, "ms") == "1,234 ms"
    assert fmt(0.0000125, "usd") == "$0.000013"
    assert fmt(1234567, "tokens") == "1,234,567"
    assert fmt(None, "count") == "—"
