"""OpenTelemetry OTLP/HTTP trace export requests (JSON or protobuf) read into span rows.

Protobuf is decoded with ``opentelemetry-proto`` (imported on first use: the other endpoints
never pay for it) into OTLP's JSON shape, so one validated model reads both encodings and an
invalid span is named by its place (``resourceSpans.0.scopeSpans.0.spans.3.traceId``).
Resource and scope attributes are kept under ``resource``/``scope`` in the span's attributes;
``service.name`` becomes its service."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prompt_ledger.bodies import MAX_INT
from prompt_ledger.errors import BadRequest
from prompt_ledger.http.problems import validation_failed
from prompt_ledger.spanrows import KIND_KEYS, SpanRow

PROTOBUF = "application/x-protobuf"
_HEX32 = r"^[0-9a-fA-F]{32}$"
_HEX16 = r"^[0-9a-fA-F]{16}$"
Nanos = Annotated[int, Field(ge=0)] | Annotated[str, Field(pattern=r"^[0-9]{1,20}$")]
_KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
_CODES = {0: "unset", 1: "ok", 2: "error"}


class _Otlp(BaseModel):
    model_config = ConfigDict(extra="allow")


class KeyValue(_Otlp):
    key: str = Field(max_length=1000)
    value: dict[str, Any] = Field(default_factory=dict)


class Event(_Otlp):
    name: str = Field(default="", max_length=255)
    timeUnixNano: Nanos = 0
    attributes: list[KeyValue] = Field(default_factory=list)


class Status(_Otlp):
    code: int | str = 0
    message: str = ""


class Span(_Otlp):
    traceId: str = Field(pattern=_HEX32)
    spanId: str = Field(pattern=_HEX16)
    parentSpanId: str = Field(default="", pattern=r"^([0-9a-fA-F]{16})?$")
    name: str = Field(min_length=1, max_length=255)
    kind: int | str = 0
    startTimeUnixNano: Nanos
    endTimeUnixNano: Nanos | None = None
    attributes: list[KeyValue] = Field(default_factory=list)
    events: list[Event] = Field(default_factory=list)
    status: Status = Field(default_factory=Status)


class Scope(_Otlp):
    name: str = ""
    version: str = ""


class ScopeSpans(_Otlp):
    scope: Scope = Field(default_factory=Scope)
    spans: list[Span] = Field(default_factory=list)


class Resource(_Otlp):
    attributes: list[KeyValue] = Field(default_factory=list)


class ResourceSpans(_Otlp):
    resource: Resource = Field(default_factory=Resource)
    scopeSpans: list[ScopeSpans] = Field(default_factory=list)


class ExportRequest(_Otlp):
    resourceSpans: list[ResourceSpans] = Field(default_factory=list)

    def span_count(self) -> int:
        return sum(len(s.spans) for r in self.resourceSpans for s in r.scopeSpans)


def decode_protobuf(raw: bytes) -> dict[str, Any]:
    """An ExportTraceServiceRequest in OTLP's JSON shape (ids as hex, as OTLP/JSON has them)."""
    from google.protobuf.json_format import MessageToDict
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    message = ExportTraceServiceRequest()
    try:
        message.ParseFromString(raw)
    except DecodeError:
        raise BadRequest("The body is not a protobuf ExportTraceServiceRequest.") from None
    data: dict[str, Any] = MessageToDict(message, use_integers_for_enums=True)
    for resource in data.get("resourceSpans", []):
        for scope in resource.get("scopeSpans", []):
            for span in scope.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = _hex(span[key])
    return data


def parse(data: Any) -> ExportRequest:
    if not isinstance(data, dict):
        raise BadRequest("The body must be an OTLP ExportTraceServiceRequest (a JSON object).")
    try:
        return ExportRequest.model_validate(data)
    except ValidationError as exc:
        raise validation_failed(exc, "body") from None


def rows(request: ExportRequest) -> list[SpanRow]:
    found = []
    for resource_spans in request.resourceSpans:
        resource = _attributes(resource_spans.resource.attributes)
        service = resource.get("service.name")
        for scope_spans in resource_spans.scopeSpans:
            scope = scope_spans.scope.model_dump(exclude_defaults=True)
            for span in scope_spans.spans:
                found.append(_row(span, resource, scope, service))
    return found


def _row(span: Span, resource: dict[str, Any], scope: dict[str, Any], service: Any) -> SpanRow:
    attributes = _attributes(span.attributes)
    attributes.update(span.model_extra or {})
    otel_kind = _KINDS.get(_enum(span.kind, "SPAN_KIND_", _KINDS), "unspecified")
    kind = next((attributes[k] for k in KIND_KEYS if isinstance(attributes.get(k), str)), None)
    attributes["otel.span_kind"] = otel_kind
    if resource:
        attributes["resource"] = resource
    if scope:
        attributes["scope"] = scope
    start = _time(span.startTimeUnixNano)
    end = _time(span.endTimeUnixNano) if span.endTimeUnixNano not in (None, 0, "0") else None
    duration = None
    if end is not None:
        duration = min(MAX_INT, max(0, round((end - start).total_seconds() * 1000)))
    status = _CODES.get(_enum(span.status.code, "STATUS_CODE_", _CODES), "unset")
    return SpanRow(
        trace_id=span.traceId.lower(),
        span_id=span.spanId.lower(),
        parent_span_id=span.parentSpanId.lower() or None,
        name=span.name,
        kind=(kind or otel_kind)[:50].lower(),
        start_time=start,
        end_time=end,
        duration_ms=duration,
        status=status,
        error_message=(span.status.message or None) if status == "error" else None,
        service_name=str(service)[:255] if service else None,
        attributes=attributes,
        events=[
            {
                "name": event.name,
                "timestamp": _time(event.timeUnixNano).isoformat(),
                "attributes": _attributes(event.attributes),
            }
            for event in span.events
        ],
    ).read_conventions()


def _attributes(pairs: list[KeyValue]) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


def _value(value: dict[str, Any]) -> Any:
    """An OTLP AnyValue as plain JSON."""
    if "stringValue" in value:
        return value["stringValue"]
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "intValue" in value:
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            return value["intValue"]
    if "doubleValue" in value:
        return value["doubleValue"]
    if "arrayValue" in value:
        return [_value(v) for v in (value["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in value:
        pairs = (value["kvlistValue"] or {}).get("values", [])
        return {p.get("key", ""): _value(p.get("value") or {}) for p in pairs}
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def _enum(value: int | str, prefix: str, names: dict[int, str]) -> int:
    """An OTLP enum given as its number or its name (``SPAN_KIND_CLIENT``)."""
    if isinstance(value, int):
        return value
    if value.isdigit():
        return int(value)
    codes = {name: code for code, name in names.items()}
    return codes.get(value.removeprefix(prefix).lower(), 0)


def _time(nanos: int | str | None) -> datetime:
    value = int(nanos or 0)  # validated: digits
    seconds = min(max(value, 0), 253_402_300_799 * 10**9) / 1e9
    return datetime.fromtimestamp(seconds, UTC)


def _hex(value: str) -> str:
    try:
        return base64.b64decode(value).hex()
    except (binascii.Error, ValueError):
        return value
