"""Traces endpoints: ingest (the seeds' body, a batch of them, OTLP/HTTP), list and read one
trace whole (application spans and execution spans in one tree)."""

from __future__ import annotations

from prompt_ledger import otlp
from prompt_ledger.auth import Scope
from prompt_ledger.bodies_traces import (
    Accepted,
    OtlpAccepted,
    TraceBatch,
    TraceIn,
    TraceListQuery,
    TracePage,
    TraceTree,
)
from prompt_ledger.errors import NotFound, UnsupportedMediaType
from prompt_ledger.http.dispatch import read_body
from prompt_ledger.http.endpoint import Call, Endpoint, Reply
from prompt_ledger.http.json_body import parse_json
from prompt_ledger.http.storable import refuse_unstorable
from prompt_ledger.spanrows import from_trace

_PROTOBUF = {"application/x-protobuf", "application/protobuf"}


async def ingest(call: Call) -> Reply:
    trace = call.body_as(TraceIn)
    call.app.traces.check_batch(len(trace.spans))
    rows = from_trace(trace)
    spans = await call.app.traces.ingest(call.principal, rows)
    trace_ids = list(dict.fromkeys([trace.trace_id, *(row.trace_id for row in rows)]))
    return Reply(Accepted(trace_id=trace.trace_id, trace_ids=trace_ids, spans=spans), status=202)


async def ingest_batch(call: Call) -> Reply:
    traces = call.body_as(TraceBatch).traces
    call.app.traces.check_batch(sum(len(trace.spans) for trace in traces))
    rows = [row for trace in traces for row in from_trace(trace)]
    spans = await call.app.traces.ingest(call.principal, rows)
    given = [trace.trace_id for trace in traces]
    trace_ids = list(dict.fromkeys([*given, *(row.trace_id for row in rows)]))
    return Reply(Accepted(trace_ids=trace_ids, spans=spans), status=202)


async def ingest_otlp(call: Call) -> Reply:
    """OTLP/HTTP: protobuf (what OpenTelemetry's exporters send by default) or JSON; the
    answer is an ExportTraceServiceResponse in the same encoding."""
    settings = call.app.settings
    raw = await read_body(call.request, settings.max_body_bytes, settings.request_read_timeout)
    media = call.request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    protobuf = media in _PROTOBUF
    if not raw.strip() and not protobuf:
        data: object = {}
    elif protobuf:
        data = otlp.decode_protobuf(raw)
    elif media == "application/json" or media.endswith("+json"):
        data = parse_json(raw)
    else:
        raise UnsupportedMediaType(
            f"Send OTLP as 'application/x-protobuf' or 'application/json' (got "
            f"'{media or 'none'}')."
        )
    refuse_unstorable(data, "body")
    request = otlp.parse(data)
    call.app.traces.check_batch(request.span_count())
    await call.app.traces.ingest(call.principal, otlp.rows(request))
    if protobuf:  # an empty ExportTraceServiceResponse (nothing rejected)
        return Reply(b"", media_type=otlp.PROTOBUF)
    return Reply(OtlpAccepted())


async def list_traces(call: Call) -> Reply:
    return Reply(await call.app.traces.list(call.principal, call.query_as(TraceListQuery).asked()))


async def get_trace(call: Call) -> Reply:
    trace_id = str(call.path["trace_id"])
    if not 1 <= len(trace_id) <= 100:
        raise NotFound(f"Trace '{trace_id[:100]}' not found.")
    return Reply(await call.app.traces.get(call.principal, trace_id))


async def list_traces_seed_path(call: Call) -> Reply:
    return await list_traces(call)


async def get_trace_seed_path(call: Call) -> Reply:
    return await get_trace(call)


WRITE, READ = Scope.TRACES_WRITE, Scope.PROMPTS_READ

ENDPOINTS = [
    Endpoint(
        "POST",
        "/v1/traces",
        ingest,
        "Send one trace and its spans (the seeds' body; 202, idempotent per span id)",
        WRITE,
        body=TraceIn,
        response=Accepted,
        status=202,
        tag="traces",
    ),
    Endpoint(
        "POST",
        "/v1/traces:batch",
        ingest_batch,
        "Send many traces in one request (all or nothing)",
        WRITE,
        body=TraceBatch,
        response=Accepted,
        status=202,
        tag="traces",
    ),
    Endpoint(
        "POST",
        "/v1/otlp/v1/traces",
        ingest_otlp,
        "OpenTelemetry OTLP/HTTP trace export (application/x-protobuf or application/json "
        "ExportTraceServiceRequest; set the exporter's endpoint to <base>/v1/otlp)",
        WRITE,
        response=OtlpAccepted,
        tag="traces",
    ),
    Endpoint(
        "GET",
        "/v1/traces",
        list_traces,
        "List traces (newest first; filters; cursor pagination)",
        READ,
        query=TraceListQuery,
        response=TracePage,
        tag="traces",
    ),
    Endpoint(
        "GET",
        "/v1/traces/{trace_id}",
        get_trace,
        "One trace as a tree: application spans and execution spans",
        READ,
        response=TraceTree,
        tag="traces",
    ),
    Endpoint(
        "GET",
        "/api/v1/traces",
        list_traces_seed_path,
        "List traces (the seeds' path)",
        READ,
        query=TraceListQuery,
        response=TracePage,
        tag="traces",
    ),
    Endpoint(
        "GET",
        "/api/v1/traces/{trace_id}",
        get_trace_seed_path,
        "One trace as a tree (the seeds' path)",
        READ,
        response=TraceTree,
        tag="traces",
    ),
]
