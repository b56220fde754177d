"""Spans as stored: one row shape for every way a span arrives (the seeds' trace body, OTLP),
and the GenAI semantic conventions read onto its model, tokens and cost.

The conventions read (first found wins), besides the seeds' plain ``model``,
``prompt_tokens`` and ``completion_tokens``: OpenTelemetry's ``gen_ai.*`` (current and
earlier names), OpenInference's ``llm.*`` and OpenLLMetry's ``llm.usage.*``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from prompt_ledger.bodies import MAX_INT
from prompt_ledger.bodies_traces import STATUSES, SpanIn, TraceIn

MODEL_KEYS = (
    "gen_ai.request.model",
    "gen_ai.response.model",
    "llm.model_name",
    "llm.request.model",
    "model",
)
PROVIDER_KEYS = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system", "provider")
INPUT_TOKEN_KEYS = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "llm.usage.prompt_tokens",
    "prompt_tokens",
    "input_tokens",
)
OUTPUT_TOKEN_KEYS = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
    "llm.usage.completion_tokens",
    "completion_tokens",
    "output_tokens",
)
COST_KEYS = ("gen_ai.usage.cost", "llm.usage.cost", "cost_usd", "cost")
KIND_KEYS = ("openinference.span.kind", "traceloop.span.kind", "span_type", "kind")
MAX_COST = Decimal("999999.99999999")  # NUMERIC(14, 8)


@dataclass(slots=True)
class SpanRow:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    kind: str
    start_time: datetime
    end_time: datetime | None
    duration_ms: int | None
    status: str
    error_message: str | None
    service_name: str | None
    attributes: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    input_data: Any = None
    output_data: Any = None
    model: str | None = None
    provider: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: Decimal | None = None

    def read_conventions(self) -> SpanRow:
        """Fill model, provider, tokens and cost from the attributes (GenAI conventions);
        a span with a model and no kind of its own is an ``llm`` span."""
        attrs = self.attributes
        self.model = self.model or _text(_first(attrs, MODEL_KEYS), 100)
        self.provider = self.provider or _text(_first(attrs, PROVIDER_KEYS), 50)
        if self.prompt_tokens is None:
            self.prompt_tokens = _count(_first(attrs, INPUT_TOKEN_KEYS))
        if self.completion_tokens is None:
            self.completion_tokens = _count(_first(attrs, OUTPUT_TOKEN_KEYS))
        if self.cost_usd is None:
            self.cost_usd = _money(_first(attrs, COST_KEYS))
        if self.kind in {"", "internal", "unspecified"} and self.model:
            self.kind = "llm"
        return self


def from_trace(trace: TraceIn) -> list[SpanRow]:
    """The rows of one seed-shaped trace. A span naming another trace id belongs to that
    trace (it is kept, like a span whose parent has not arrived)."""
    extra = dict(trace.model_extra or {})
    return [_row(trace, span, extra) for span in trace.spans]


def _row(trace: TraceIn, span: SpanIn, trace_extra: dict[str, Any]) -> SpanRow:
    attributes = dict(span.attributes)
    attributes.update(span.model_extra or {})  # unknown fields are kept
    if trace_extra:
        attributes.setdefault("trace", trace_extra)
    duration = span.duration_ms
    if duration is None and span.ended_at is not None:
        duration = max(0, round((span.ended_at - span.started_at).total_seconds() * 1000))
    return SpanRow(
        trace_id=span.trace_id or trace.trace_id,
        span_id=span.span_id,
        parent_span_id=span.parent_span_id or None,
        name=span.name,
        kind=(span.kind or span.span_type or "internal").lower(),
        start_time=span.started_at,
        end_time=span.ended_at,
        duration_ms=min(duration, MAX_INT) if duration is not None else None,
        status=STATUSES[span.status],
        error_message=span.error_message,
        service_name=span.service_name or trace.service_name,
        attributes=attributes,
        events=[event.model_dump(mode="json", exclude_none=True) for event in span.events],
        input_data=span.input,
        output_data=span.output,
    ).read_conventions()


def _first(attributes: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = attributes.get(key)
        if value is not None and value != "":
            return value
    return None


def _text(value: Any, limit: int) -> str | None:
    return str(value)[:limit] if isinstance(value, str | int | float) else None


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isdigit() and len(value) < 12:
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and 0 <= value <= MAX_INT else None


def _money(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    if not amount.is_finite() or not 0 <= amount <= MAX_COST:
        return None
    return amount.quantize(Decimal("0.00000001"))
