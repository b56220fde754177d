"""Time-series charts for the analytics pages: points in, aligned columns out.

The browser draws them with the vendored uPlot (``static/charts.js`` reads the JSON of
:meth:`Chart.data`); the same numbers are in a table under each chart, for readers without
JavaScript or a mouse. One x axis per chart (bucket starts, in Unix seconds), one column per
series (a version, a label, or the whole prompt)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

Unit = Literal["count", "percent", "ms", "usd", "tokens"]
# Sums: a bucket without data had none (0). Rates and percentiles: unknown, drawn as a gap.
ADDITIVE: frozenset[Unit] = frozenset({"count", "usd", "tokens"})
Number = int | float | Decimal


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    values: list[float | None]


@dataclass(frozen=True, slots=True)
class Chart:
    key: str  # unique on the page (element ids)
    title: str
    unit: Unit
    x: list[datetime]
    series: list[Series]

    @property
    def empty(self) -> bool:
        return not self.x

    def data(self) -> dict[str, Any]:
        """What ``charts.js`` draws (embedded in the page with ``tojson``)."""
        return {
            "title": self.title,
            "unit": self.unit,
            "x": [int(t.timestamp()) for t in self.x],
            "series": [{"label": s.label, "values": s.values} for s in self.series],
        }

    def rows(self) -> list[tuple[datetime, list[str]]]:
        """The table under the chart: one row per bucket, one formatted cell per series."""
        return [
            (t, [fmt(s.values[i], self.unit) for s in self.series]) for i, t in enumerate(self.x)
        ]


def chart(
    key: str,
    title: str,
    unit: Unit,
    points: Iterable[tuple[datetime, str, Number | None]],
    order: Iterable[str] = (),
) -> Chart:
    """Align ``(bucket, series label, value)`` points on one axis. Series follow ``order`` (then
    their first appearance); a value repeated for one bucket and series is added up (sums) or the
    last one is kept (rates)."""
    cells: dict[str, dict[datetime, float | None]] = {label: {} for label in order}
    buckets: set[datetime] = set()
    for bucket, label, value in points:
        buckets.add(bucket)
        column = cells.setdefault(label, {})
        number = None if value is None else float(value)
        if unit in ADDITIVE and number is not None and column.get(bucket) is not None:
            number += column[bucket] or 0.0
        column[bucket] = number
    x = sorted(buckets)
    fill = 0.0 if unit in ADDITIVE else None
    series = [
        Series(label, [column.get(t, fill) for t in x]) for label, column in cells.items() if column
    ]
    return Chart(key, title, unit, x, series)


def fmt(value: float | None, unit: Unit) -> str:
    if value is None:
        return "—"
    if unit == "percent":
        return f"{value:.1f} %"
    if unit == "ms":
        return f"{value:,.0f} ms"
    if unit == "usd":
        return f"${value:,.6f}"
    return f"{value:,.0f}"
