"""Traces against a live server: the seeds' "Send Test Trace" curl, run with the real curl, and
OpenTelemetry's own SDK and OTLP/HTTP exporter (protobuf) on loopback, pointed at us the way
docs/traces.md says."""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Iterator

import httpx
import pytest
from opentelemetry import propagate
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from tests.live_gateway import DEV_KEY, live_url

__all__ = ["live_url"]

# seeds/003, "Send Test Trace", verbatim but for the host (ours) and the key (the seeds' header).
SEED_CURL = """curl -X POST https://prela-ingest-gateway-xxx.railway.app/v1/traces \\
  -H "Content-Type: application/json" \\
  -d '{
    "trace_id": "test-production-123",
    "service_name": "test-service",
    "started_at": "2025-01-27T10:00:00Z",
    "completed_at": "2025-01-27T10:00:01Z",
    "duration_ms": 1000,
    "status": "SUCCESS",
    "spans": [
      {
        "span_id": "span-1",
        "trace_id": "test-production-123",
        "name": "test-operation",
        "span_type": "LLM",
        "started_at": "2025-01-27T10:00:00Z",
        "ended_at": "2025-01-27T10:00:01Z",
        "duration_ms": 1000,
        "status": "SUCCESS",
        "attributes": {"model": "gpt-4"},
        "events": []
      }
    ]
  }'"""


def curl(command: str, url: str) -> str:
    """Run the command in a shell, as a user pastes it (with the key and -s appended)."""
    line = command.replace("https://prela-ingest-gateway-xxx.railway.app", url)
    line += f" -s -H {shlex.quote(f'X-API-Key: {DEV_KEY}')}"
    done = subprocess.run(
        ["bash", "-c", line], capture_output=True, text=True, timeout=30, check=True
    )
    return done.stdout


def test_the_seed_curl_sends_a_trace(live_url: str) -> None:
    answer = json.loads(curl(SEED_CURL, live_url))
    assert answer["status"] == "accepted"
    assert answer["trace_id"] == "test-production-123"
    listed = curl(f"curl {live_url}/api/v1/traces", live_url)
    assert [t["trace_id"] for t in json.loads(listed)["items"]] == ["test-production-123"]
    tree = json.loads(curl(f"curl {live_url}/api/v1/traces/test-production-123", live_url))
    assert [(s["span_id"], s["kind"], s["status"]) for s in tree["spans"]] == [
        ("span-1", "llm", "ok")
    ]


@pytest.fixture
def tracer_provider(live_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[TracerProvider]:
    """OpenTelemetry's SDK exporting over OTLP/HTTP (protobuf) to us, configured only by the
    standard environment variables (as docs/traces.md shows)."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{live_url}/v1/otlp/v1/traces")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"x-api-key={DEV_KEY}")
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter()))
    yield provider
    provider.shutdown()


@pytest.fixture
def api(live_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_url, headers={"X-API-Key": DEV_KEY}, timeout=30) as client:
        yield client


def test_the_opentelemetry_exporter_sends_spans_with_genai_conventions(
    api: httpx.Client, tracer_provider: TracerProvider
) -> None:
    prompt = api.put("/v1/prompts/greet", json={"template_source": "Hello {{name}}"})
    assert prompt.status_code == 201, prompt.text
    tracer = tracer_provider.get_tracer("shop")
    with tracer.start_as_current_span("checkout") as root:
        with tracer.start_as_current_span("chat gpt-4o-mini") as llm:
            llm.set_attribute("gen_ai.operation.name", "chat")
            llm.set_attribute("gen_ai.system", "openai")
            llm.set_attribute("gen_ai.request.model", "gpt-4o-mini")
            llm.set_attribute("gen_ai.usage.input_tokens", 1000)
            llm.set_attribute("gen_ai.usage.output_tokens", 2000)
        with tracer.start_as_current_span("charge card") as failing:
            failing.set_status(Status(StatusCode.ERROR, "card declined"))
        headers: dict[str, str] = {}
        propagate.inject(headers)  # the W3C traceparent of the current span: our execution joins
        ran = api.post(
            "/v1/executions:run",
            json={"prompt_name": "greet", "variables": {"name": "Ada"}},
            headers=headers,
        )
        assert ran.status_code == 200, ran.text
    trace_id = format(root.get_span_context().trace_id, "032x")
    root_id = format(root.get_span_context().span_id, "016x")

    tree = api.get(f"/v1/traces/{trace_id}").json()
    assert [(s["name"], s["depth"]) for s in tree["spans"]] == [
        ("checkout", 0),
        ("chat gpt-4o-mini", 1),
        ("charge card", 1),
        ("llm.completion", 1),
    ]
    checkout, chat, charge, execution = tree["spans"]
    assert checkout["span_id"] == root_id
    assert checkout["service_name"] == "checkout"
    assert checkout["attributes"]["resource"]["service.name"] == "checkout"
    assert (chat["kind"], chat["model"]) == ("llm", "gpt-4o-mini")
    assert (chat["prompt_tokens"], chat["completion_tokens"]) == (1000, 2000)
    assert chat["cost_usd"] == "0.00135000"  # priced from the model catalogue
    assert (charge["status"], charge["error_message"]) == ("error", "card declined")
    assert execution["execution_id"] == ran.json()["execution_id"]
    assert (execution["prompt_name"], execution["version_number"]) == ("greet", 1)
    assert tree["status"] == "error"
    assert tree["services"] == ["checkout"]

    errors = api.get("/v1/traces", params={"has_error": "true", "service": "checkout"}).json()
    assert [t["trace_id"] for t in errors["items"]] == [trace_id]


def test_otlp_json_and_its_errors(api: httpx.Client) -> None:
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "retrieve",
        "kind": 3,
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000250000000",
        "attributes": [
            {"key": "openinference.span.kind", "value": {"stringValue": "RETRIEVER"}},
            {"key": "documents", "value": {"intValue": "3"}},
        ],
    }
    body = {"resourceSpans": [{"scopeSpans": [{"scope": {"name": "rag"}, "spans": [span]}]}]}
    for _ in range(2):  # a re-sent span is the same span
        sent = api.post("/v1/otlp/v1/traces", json=body)
        assert sent.status_code == 200, sent.text
        assert sent.json() == {"partialSuccess": {}}
    tree = api.get("/v1/traces/5b8efff798038103d269b633813fc60c").json()
    [got] = tree["spans"]
    assert (got["kind"], got["duration_ms"], got["attributes"]["documents"]) == (
        "retriever",
        250,
        3,
    )
    assert got["attributes"]["otel.span_kind"] == "client"
    assert got["attributes"]["scope"] == {"name": "rag"}

    bad = {**span, "spanId": "xyz", "traceId": "5b8efff798038103d269b633813fc60d"}
    body["resourceSpans"][0]["scopeSpans"][0]["spans"] = [span, bad]
    refused = api.post("/v1/otlp/v1/traces", json=body)
    assert refused.status_code == 422
    assert [e["loc"] for e in refused.json()["errors"]] == [
        ["body", "resourceSpans", 0, "scopeSpans", 0, "spans", 1, "spanId"]
    ]
    assert api.get("/v1/traces/5b8efff798038103d269b633813fc60d").status_code == 404

    garbage = api.post(
        "/v1/otlp/v1/traces",
        content=b"\xff\xff\xff",
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert garbage.status_code == 400
    assert garbage.headers["content-type"] == "application/problem+json"
    text = api.post("/v1/otlp/v1/traces", content=b"hi", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415
