"""Request and response bodies of the traces function.

Ingest takes the seeds' trace body verbatim (``POST /v1/traces``: one trace with its spans,
string span ids, ISO timestamps, ``status``, ``attributes``, ``events``). Unlike the other
bodies, traces and spans keep the fields they do not know: they end up in the span's
``attributes`` (an application's telemetry is its own to shape)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from prompt_ledger.asks import TraceFilter
from prompt_ledger.bodies import MAX_INT, MAX_TEMPLATE_CHARS, Body, PageQuery
from prompt_ledger.bodies_executions import Timestamp
from prompt_ledger.records import SpanView, TraceSummary, TraceTree
from prompt_ledger.views import TracePage

__all__ = [
    "SpanView",
    "TracePage",
    "TraceSummary",
    "TraceTree",
]  # (records, views) + the bodies below

_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _iso(value: Any) -> Any:
    """A body's date-time is an RFC 3339 string (as documented), never a number."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATE_TIME.match(value):
        raise ValueError("expected an RFC 3339 date-time string, e.g. 2026-01-31T12:00:00Z")
    return value


IsoTime = Annotated[datetime, BeforeValidator(_iso)]

STATUSES: dict[str, str] = {
    **dict.fromkeys(["ok", "OK", "success", "SUCCESS", "succeeded", "STATUS_CODE_OK"], "ok"),
    **dict.fromkeys(
        ["error", "ERROR", "failed", "FAILED", "failure", "FAILURE", "STATUS_CODE_ERROR"], "error"
    ),
    **dict.fromkeys(["unset", "UNSET", "STATUS_CODE_UNSET"], "unset"),
}
"""The spellings of a span's status accepted on ingest, and what each is stored as."""

SpanStatus = Literal[
    "ok",
    "OK",
    "success",
    "SUCCESS",
    "succeeded",
    "STATUS_CODE_OK",
    "error",
    "ERROR",
    "failed",
    "FAILED",
    "failure",
    "FAILURE",
    "STATUS_CODE_ERROR",
    "unset",
    "UNSET",
    "STATUS_CODE_UNSET",
]
SpanId = Annotated[str, Field(min_length=1, max_length=64)]
TraceId = Annotated[str, Field(min_length=1, max_length=100)]


class _Open(BaseModel):
    """Keeps unknown fields (they are stored in the span's attributes). Its integers are strict
    (a JSON number, never a string or a boolean): what ``Body`` checks field by field, at a
    cost a batch of spans would feel."""

    model_config = ConfigDict(
        extra="allow", str_max_length=MAX_TEMPLATE_CHARS, protected_namespaces=()
    )


class SpanEvent(_Open):
    name: str = Field(min_length=1, max_length=255)
    timestamp: IsoTime | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class SpanIn(_Open):
    span_id: SpanId
    trace_id: TraceId | None = Field(
        default=None, description="Defaults to the trace's (a span may name another trace)."
    )
    parent_span_id: SpanId | None = Field(
        default=None, description="May name a span not received yet (it is kept)."
    )
    name: str = Field(min_length=1, max_length=255)
    span_type: str | None = Field(
        default=None,
        min_length=1,
        max_length=50,
        description="The seeds' name of kind (LLM, TOOL, ...); stored lower-case.",
    )
    kind: str | None = Field(default=None, min_length=1, max_length=50)
    started_at: IsoTime
    ended_at: IsoTime | None = None
    duration_ms: int | None = Field(
        default=None, ge=0, le=MAX_INT, strict=True, description="Defaults to ended - started."
    )
    status: SpanStatus = "unset"
    error_message: str | None = Field(default=None, max_length=10_000)
    service_name: str | None = Field(
        default=None, min_length=1, max_length=255, description="Defaults to the trace's."
    )
    attributes: dict[str, Any] = Field(
        default_factory=dict,
        description="Free-form. GenAI semantic conventions (gen_ai.request.model, "
        "gen_ai.usage.input_tokens, gen_ai.usage.output_tokens, ...) fill model, tokens and "
        "cost; so do the seeds' model, prompt_tokens and completion_tokens.",
    )
    events: list[SpanEvent] = Field(default_factory=list, max_length=1000)
    input: Any = Field(default=None, description="What the operation was given (JSON).")
    output: Any = Field(default=None, description="What it answered (JSON).")


class TraceIn(_Open):
    trace_id: TraceId
    service_name: str | None = Field(default=None, min_length=1, max_length=255)
    started_at: IsoTime | None = None
    completed_at: IsoTime | None = None
    duration_ms: int | None = Field(default=None, ge=0, le=MAX_INT, strict=True)
    status: SpanStatus | None = None
    spans: list[SpanIn] = Field(
        default_factory=list, description="At most TRACE_MAX_BATCH_SPANS per request (413)."
    )


class TraceBatch(Body):
    traces: list[TraceIn] = Field(min_length=1, description="Many traces in one request.")


class Accepted(BaseModel):
    status: Literal["accepted"] = "accepted"
    trace_id: str | None = Field(default=None, description="The trace (one-trace ingest).")
    trace_ids: list[str] = Field(description="Every trace the request carried spans of.")
    spans: int = Field(description="Spans accepted (re-sent spans included: idempotent).")


class OtlpAccepted(BaseModel):
    """OTLP's ExportTraceServiceResponse (nothing rejected: all or nothing)."""

    partialSuccess: dict[str, Any] = Field(default_factory=dict)


# --- reading -------------------------------------------------------------------------------


class TraceListQuery(PageQuery):
    service: str | None = Field(default=None, max_length=255, description="A span's service.")
    status: Literal["ok", "error"] | None = Field(
        default=None, description="error: some span failed; ok: none did."
    )
    since: Timestamp | None = Field(default=None, description="Trace started at or after.")
    until: Timestamp | None = Field(default=None, description="Trace started before.")
    prompt_name: str | None = Field(
        default=None, max_length=255, description="Holds an execution of this prompt."
    )
    min_duration_ms: int | None = Field(default=None, ge=0, le=MAX_INT)
    has_error: bool | None = None

    def asked(self) -> TraceFilter:
        return TraceFilter(
            limit=self.limit,
            cursor=self.cursor,
            service_name=self.service,
            status=self.status,
            since=self.since,
            until=self.until,
            prompt_name=self.prompt_name,
            min_duration_ms=self.min_duration_ms,
            has_error=self.has_error,
        )
