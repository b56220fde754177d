"""Trace bodies for the console's tests (raw HTTP and browser)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"  # W3C trace ids: 32 hex digits
ROOT_SPAN = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE}-{ROOT_SPAN}-01"


def seed_trace(trace_id: str = "test-production-123") -> dict[str, Any]:
    """The body of the seeds' "Send Test Trace" curl (seeds/003), verbatim."""
    return {
        "trace_id": trace_id,
        "service_name": "test-service",
        "started_at": "2025-01-27T10:00:00Z",
        "completed_at": "2025-01-27T10:00:01Z",
        "duration_ms": 1000,
        "status": "SUCCESS",
        "spans": [
            {
                "span_id": "span-1",
                "trace_id": trace_id,
                "name": "test-operation",
                "span_type": "LLM",
                "started_at": "2025-01-27T10:00:00Z",
                "ended_at": "2025-01-27T10:00:01Z",
                "duration_ms": 1000,
                "status": "SUCCESS",
                "attributes": {"model": "gpt-4"},
                "events": [],
            }
        ],
    }


def checkout_trace() -> dict[str, Any]:
    """An application's trace: a request handler around now (an execution run within the next
    few seconds joins it with ``TRACEPARENT``) and a step of it that failed."""
    start = datetime.now(UTC) - timedelta(seconds=1)

    def at(seconds: float) -> str:
        return (start + timedelta(seconds=seconds)).isoformat()

    return {
        "trace_id": TRACE,
        "service_name": "shop",
        "spans": [
            {
                "span_id": ROOT_SPAN,
                "name": "POST /checkout",
                "span_type": "SERVER",
                "started_at": at(0),
                "ended_at": at(8),
                "status": "OK",
            },
            {
                "span_id": "a1b2c3d4e5f60718",
                "parent_span_id": ROOT_SPAN,
                "name": "charge card",
                "span_type": "TOOL",
                "started_at": at(0.2),
                "ended_at": at(0.6),
                "status": "ERROR",
                "error_message": "card declined",
            },
        ],
    }
