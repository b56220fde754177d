"""The server reads W3C ``traceparent`` with its own parser (services/outcomes.py); it agrees
with OpenTelemetry's propagator (opentelemetry-api, a dev dependency here) on every case below.
docs/architecture.md ("Libraries we weighed") says why it is not opentelemetry-api itself."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from prompt_ledger.services.outcomes import Trace

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
HEADERS = [
    f"00-{TRACE}-{PARENT}-01",
    f"00-{TRACE}-{PARENT}-00",
    f"  00-{TRACE}-{PARENT}-01  ",
    f"ff-{TRACE}-{PARENT}-01",  # version ff: invalid
    f"00-{'0' * 32}-{PARENT}-01",  # all-zero trace id
    f"00-{TRACE}-{'0' * 16}-01",  # all-zero parent id
    f"00-{TRACE.upper()}-{PARENT}-01",  # upper-case hex
    f"00-{TRACE[:-1]}-{PARENT}-01",
    f"00-{TRACE}-{PARENT}0-01",
    f"00-{TRACE}-{PARENT}-01-extra",  # version 00 has exactly four fields
    f"01-{TRACE}-{PARENT}-01-extra",  # a later version may have more
    f"zz-{TRACE}-{PARENT}-01",
    f"00-{TRACE}-{PARENT}-zz",
    f"0-{TRACE}-{PARENT}-01",
    f"00-{TRACE}-{PARENT}-1",
    f"00_{TRACE}_{PARENT}_01",
    "",
    "garbage",
]


def opentelemetry_reads(header: str) -> tuple[str, str] | None:
    context = TraceContextTextMapPropagator().extract({"traceparent": header})
    span = trace.get_current_span(context).get_span_context()
    return (format(span.trace_id, "032x"), format(span.span_id, "016x")) if span.is_valid else None


@pytest.mark.parametrize("header", HEADERS)
def test_traceparent_is_read_as_opentelemetry_reads_it(header: str) -> None:
    ours = Trace.from_traceparent(header)
    expected = opentelemetry_reads(header)
    if expected is None:  # refused: a new trace, no parent
        assert ours.parent_span is None
        assert len(ours.trace_id) == 32
        assert ours.trace_id != TRACE
    else:
        assert (ours.trace_id, ours.parent_span) == expected
