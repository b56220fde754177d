"""Traces: applications send spans (the seeds' body, batches), read them back as trees with the
executions' own spans, per project; bad input is refused whole."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from prompt_ledger.testing.stub_llm import StubLLM
from tests.execution_fixtures import gateway, put_model, put_prompt, sql_rows, stub_settings

DEFAULT_PROJECT = "00000000-0000-0000-0000-000000000001"


def seed_trace(trace_id: str = "test-production-123", **span: Any) -> dict[str, Any]:
    """The body of the seeds' "Send Test Trace" curl, with optional span overrides."""
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
                **span,
            }
        ],
    }


def span(span_id: str, parent: str | None = None, **fields: Any) -> dict[str, Any]:
    return {
        "span_id": span_id,
        "parent_span_id": parent,
        "name": f"op-{span_id}",
        "started_at": fields.pop("started_at", "2026-03-01T12:00:00Z"),
        "ended_at": fields.pop("ended_at", "2026-03-01T12:00:00.500Z"),
        **fields,
    }


@pytest.fixture
def stub() -> Iterator[StubLLM]:
    with StubLLM() as server:
        yield server


@pytest.fixture
async def client(database_url: str, stub: StubLLM) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway (providers at a loopback stub), with the operator key (default project)."""
    async with gateway(stub_settings(database_url, stub)) as (_, http):
        yield http


async def key_client(
    client: httpx.AsyncClient, project_id: str, scopes: list[str]
) -> httpx.AsyncClient:
    created = await client.post(
        f"/v1/projects/{project_id}/keys", json={"name": "k", "scopes": scopes}
    )
    assert created.status_code == 201, created.text
    return httpx.AsyncClient(
        transport=client._transport,
        base_url="http://testserver",
        headers={"X-API-Key": created.json()["key"]},
    )


@pytest.fixture
async def ingest_only(client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A key of the default project holding traces:write alone."""
    async with await key_client(client, DEFAULT_PROJECT, ["traces:write"]) as http:
        yield http


@pytest.fixture
async def other_project(client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A key of a second project that may read and write traces."""
    project = (await client.post("/v1/projects", json={"name": "other"})).json()
    scopes = ["prompts:read", "traces:write"]
    async with await key_client(client, project["project_id"], scopes) as http:
        yield http


async def test_the_seed_trace_is_accepted_and_read_back(client: httpx.AsyncClient) -> None:
    sent = await client.post("/v1/traces", json=seed_trace())
    assert sent.status_code == 202, sent.text
    assert sent.json()["status"] == "accepted"
    assert sent.json()["trace_id"] == "test-production-123"

    for path in ("/v1/traces/test-production-123", "/api/v1/traces/test-production-123"):
        tree = (await client.get(path)).json()
        assert tree["trace_id"] == "test-production-123"
        assert tree["services"] == ["test-service"]
        [only] = tree["spans"]
        assert only["span_id"] == "span-1"
        assert (only["kind"], only["status"], only["model"]) == ("llm", "ok", "gpt-4")
        assert only["duration_ms"] == 1000
        assert only["attributes"] == {"model": "gpt-4"}
    listed = (await client.get("/api/v1/traces")).json()
    assert [t["trace_id"] for t in listed["items"]] == ["test-production-123"]


async def test_resending_a_span_is_idempotent(client: httpx.AsyncClient) -> None:
    for _ in range(2):
        assert (await client.post("/v1/traces", json=seed_trace())).status_code == 202
    changed = seed_trace(status="ERROR", error_message="boom")
    assert (await client.post("/v1/traces", json=changed)).status_code == 202
    tree = (await client.get("/v1/traces/test-production-123")).json()
    assert tree["span_count"] == 1
    assert (tree["spans"][0]["status"], tree["spans"][0]["error_message"]) == ("error", "boom")


async def test_a_child_may_arrive_before_its_parent(client: httpx.AsyncClient) -> None:
    child = {
        "trace_id": "t-early",
        "spans": [span("child", "root", started_at="2026-03-01T12:00:00.1Z")],
    }
    assert (await client.post("/v1/traces", json=child)).status_code == 202
    early = (await client.get("/v1/traces/t-early")).json()
    assert [(s["span_id"], s["depth"]) for s in early["spans"]] == [("child", 0)]

    root = {"trace_id": "t-early", "service_name": "web", "spans": [span("root")]}
    assert (await client.post("/v1/traces", json=root)).status_code == 202
    tree = (await client.get("/v1/traces/t-early")).json()
    assert [(s["span_id"], s["parent_span_id"], s["depth"]) for s in tree["spans"]] == [
        ("root", None, 0),
        ("child", "root", 1),
    ]
    assert tree["name"] == "op-root"


async def test_a_parent_cycle_lists_each_span_once(client: httpx.AsyncClient) -> None:
    """Spans naming each other (or themselves) as parent: no root reaches them, yet each is
    listed once: the roots first, then each cycle from its earliest span, as a root (the
    console's waterfall draws this order)."""
    body = {
        "trace_id": "t-cycle",
        "spans": [
            span("a", "b", started_at="2026-03-01T12:00:00Z"),
            span("b", "a", started_at="2026-03-01T12:00:00.01Z"),
            span("c", "c", started_at="2026-03-01T12:00:00.005Z"),
        ],
    }
    assert (await client.post("/v1/traces", json=body)).status_code == 202
    tree = (await client.get("/v1/traces/t-cycle")).json()
    assert [(s["span_id"], s["depth"]) for s in tree["spans"]] == [("c", 0), ("a", 0), ("b", 1)]


async def test_unknown_fields_and_genai_conventions(client: httpx.AsyncClient) -> None:
    body = {
        "trace_id": "t-genai",
        "tenant": "acme",
        "spans": [
            span(
                "a",
                colour="blue",
                attributes={
                    "gen_ai.request.model": "gpt-4o-mini",
                    "gen_ai.system": "openai",
                    "gen_ai.usage.input_tokens": 1000,
                    "gen_ai.usage.output_tokens": 2000,
                },
            )
        ],
    }
    await put_model(client)  # gpt-4o-mini: $0.15 in, $0.60 out per 1M tokens
    assert (await client.post("/v1/traces", json=body)).status_code == 202
    [got] = (await client.get("/v1/traces/t-genai")).json()["spans"]
    assert got["attributes"]["colour"] == "blue"
    assert got["attributes"]["trace"] == {"tenant": "acme"}
    assert (got["kind"], got["model"]) == ("llm", "gpt-4o-mini")
    assert (got["prompt_tokens"], got["completion_tokens"]) == (1000, 2000)
    assert got["cost_usd"] == "0.00135000"  # priced from the model catalogue


async def test_batch_form_and_413_and_422(client: httpx.AsyncClient) -> None:
    batch = {
        "traces": [
            {"trace_id": "b-1", "spans": [span("x"), span("y", "x")]},
            {"trace_id": "b-2", "spans": [span("x")]},
        ]
    }
    sent = await client.post("/v1/traces:batch", json=batch)
    assert sent.status_code == 202, sent.text
    assert sent.json() == {
        "status": "accepted",
        "trace_id": None,
        "trace_ids": ["b-1", "b-2"],
        "spans": 3,
    }

    bad = {
        "traces": [
            {"trace_id": "c-1", "spans": [span("ok")]},
            {"trace_id": "c-2", "spans": [span("fine"), {**span("bad"), "started_at": "soon"}]},
        ]
    }
    refused = await client.post("/v1/traces:batch", json=bad)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    locs = [e["loc"] for e in refused.json()["errors"]]
    assert locs == [["body", "traces", 1, "spans", 1, "started_at"]]
    assert (await client.get("/v1/traces/c-1")).status_code == 404  # nothing half-written

    elsewhere = {"trace_id": "m", "spans": [span("a"), {**span("b"), "trace_id": "other"}]}
    sent = await client.post("/v1/traces", json=elsewhere)
    assert sent.status_code == 202
    assert sent.json()["trace_ids"] == ["m", "other"]  # a span may name its own trace
    assert (await client.get("/v1/traces/other")).json()["spans"][0]["span_id"] == "b"
    numeric = {"trace_id": "n", "spans": [{**span("a"), "started_at": 1700000000}]}
    refused = await client.post("/v1/traces", json=numeric)
    assert [e["loc"] for e in refused.json()["errors"]] == [["body", "spans", 0, "started_at"]]


async def test_too_many_spans_is_413(client: httpx.AsyncClient) -> None:
    many = {"trace_id": "big", "spans": [span(f"s{i}") for i in range(1001)]}
    refused = await client.post("/v1/traces", json=many)
    assert refused.status_code == 413, refused.text
    assert "TRACE_MAX_BATCH_SPANS" in refused.json()["detail"]
    assert (await client.get("/v1/traces/big")).status_code == 404


async def test_ingest_needs_traces_write_and_reading_prompts_read(
    client: httpx.AsyncClient,
    ingest_only: httpx.AsyncClient,
) -> None:
    assert (await ingest_only.post("/v1/traces", json=seed_trace())).status_code == 202
    refused = await ingest_only.get("/v1/traces")
    assert refused.status_code == 403
    assert refused.json()["required_scope"] == "prompts:read"
    reader = await key_client(client, DEFAULT_PROJECT, ["prompts:read"])
    async with reader:
        refused = await reader.post("/v1/traces", json=seed_trace("x"))
        assert refused.status_code == 403
        assert refused.json()["required_scope"] == "traces:write"
        assert (await reader.get("/v1/traces/test-production-123")).status_code == 200


async def test_projects_never_see_each_others_traces(
    client: httpx.AsyncClient, other_project: httpx.AsyncClient
) -> None:
    assert (await client.post("/v1/traces", json=seed_trace("shared-id"))).status_code == 202
    for path in ("/v1/traces", "/api/v1/traces"):
        assert (await other_project.get(path)).json()["items"] == []
    for path in ("/v1/traces/shared-id", "/api/v1/traces/shared-id"):
        assert (await other_project.get(path)).status_code == 404
    # the same trace and span ids in another project are that project's own rows
    theirs = seed_trace("shared-id", name="their-operation")
    assert (await other_project.post("/v1/traces", json=theirs)).status_code == 202
    mine = (await client.get("/v1/traces/shared-id")).json()
    assert [s["name"] for s in mine["spans"]] == ["test-operation"]
    got = (await other_project.get("/v1/traces/shared-id")).json()
    assert [s["name"] for s in got["spans"]] == ["their-operation"]
    batch = {"traces": [seed_trace("b-shared")]}
    assert (await other_project.post("/v1/traces:batch", json=batch)).status_code == 202
    assert (await client.get("/v1/traces/b-shared")).status_code == 404
    otlp_span = {
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "spanId": "b7ad6b7169203331",
        "name": "theirs",
        "startTimeUnixNano": "1700000000000000000",
    }
    otlp = {"resourceSpans": [{"scopeSpans": [{"spans": [otlp_span]}]}]}
    assert (await other_project.post("/v1/otlp/v1/traces", json=otlp)).status_code == 200
    assert (await client.get("/v1/traces/0af7651916cd43dd8448eb211c80319c")).status_code == 404
    theirs_otlp = await other_project.get("/v1/traces/0af7651916cd43dd8448eb211c80319c")
    assert theirs_otlp.json()["spans"][0]["name"] == "theirs"


async def test_an_execution_joins_the_callers_trace(client: httpx.AsyncClient) -> None:
    await put_model(client)
    await put_prompt(client, "summarize")
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    app_span = {
        "trace_id": trace_id,
        "service_name": "web",
        "spans": [span(parent, name="handle request", started_at="2020-01-01T00:00:00Z")],
    }
    assert (await client.post("/v1/traces", json=app_span)).status_code == 202
    ran = await client.post(
        "/v1/executions:run",
        json={
            "prompt_name": "summarize",
            "variables": {"text": "hi"},
            "model": {"provider": "openai", "model_name": "gpt-4o-mini"},
        },
        headers={"traceparent": f"00-{trace_id}-{parent}-01"},
    )
    assert ran.status_code == 200, ran.text
    tree = (await client.get(f"/v1/traces/{trace_id}")).json()
    assert [(s["name"], s["depth"]) for s in tree["spans"]] == [
        ("handle request", 0),
        ("llm.completion", 1),
    ]
    llm = tree["spans"][1]
    assert llm["execution_id"] == ran.json()["execution_id"]
    assert (llm["prompt_name"], llm["version_number"]) == ("summarize", 1)
    assert llm["cost_usd"] == ran.json()["cost_usd"]
    assert tree["execution_count"] == 1

    by_prompt = (await client.get("/v1/traces", params={"prompt_name": "summarize"})).json()
    assert [t["trace_id"] for t in by_prompt["items"]] == [trace_id]
    none = (await client.get("/v1/traces", params={"prompt_name": "other"})).json()
    assert none["items"] == []


async def test_list_filters_and_cursor(client: httpx.AsyncClient) -> None:
    traces = [
        {
            "trace_id": f"t{i}",
            "service_name": "api" if i % 2 else "web",
            "spans": [
                span(
                    "root",
                    started_at=f"2026-03-0{i + 1}T12:00:00Z",
                    ended_at=f"2026-03-0{i + 1}T12:00:0{i}Z",
                    status="ERROR" if i == 3 else "OK",
                )
            ],
        }
        for i in range(5)
    ]
    assert (await client.post("/v1/traces:batch", json={"traces": traces})).status_code == 202

    async def ids(**params: Any) -> list[str]:
        answer = await client.get("/v1/traces", params=params)
        assert answer.status_code == 200, answer.text
        return [t["trace_id"] for t in answer.json()["items"]]

    assert await ids() == ["t4", "t3", "t2", "t1", "t0"]
    assert await ids(service="api") == ["t3", "t1"]
    assert await ids(status="error") == ["t3"]
    assert await ids(has_error="true") == ["t3"]
    assert await ids(has_error="false") == ["t4", "t2", "t1", "t0"]
    assert await ids(min_duration_ms=3000) == ["t4", "t3"]
    assert await ids(since="2026-03-02T00:00:00Z", until="2026-03-04T00:00:00Z") == ["t2", "t1"]

    seen: list[str] = []
    cursor = None
    for _page in range(20):  # a cursor that never ends fails, not hangs
        page = (
            await client.get(
                "/v1/traces", params={"limit": 2, **({"cursor": cursor} if cursor else {})}
            )
        ).json()
        seen += [t["trace_id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    else:
        pytest.fail("still a next_cursor after 20 pages")
    assert seen == ["t4", "t3", "t2", "t1", "t0"]
    assert (await client.get("/v1/traces", params={"cursor": "bm9wZQ"})).status_code == 422


async def test_a_services_traces_page_by_trace_start(client: httpx.AsyncClient) -> None:
    """A service's traces are read from the service's latest spans, reaching further back when
    those hold less than a page: a trace that started early but has a late span of the service,
    and one with many of its spans, still come in trace-start order, page after page."""
    at = "2026-04-0{}T12:00:{:02d}Z"
    traces: list[dict[str, Any]] = [
        {  # started first, its api span last of all
            "trace_id": "long",
            "service_name": "web",
            "spans": [
                span("root", started_at=at.format(1, 0), ended_at=at.format(9, 30)),
                span("late", "root", service_name="api", started_at=at.format(9, 0)),
            ],
        },
        {  # many api spans
            "trace_id": "busy",
            "service_name": "api",
            "spans": [span(f"s{i}", started_at=at.format(8, i)) for i in range(20)],
        },
        *(
            {
                "trace_id": f"a{d}",
                "service_name": "api",
                "spans": [span("r", started_at=at.format(d, 0))],
            }
            for d in range(2, 8)
        ),
        {
            "trace_id": "other",
            "service_name": "web",
            "spans": [span("r", started_at=at.format(5, 1))],
        },
    ]
    for trace in traces:
        for one in trace["spans"]:
            one.setdefault("ended_at", one["started_at"])
    assert (await client.post("/v1/traces:batch", json={"traces": traces})).status_code == 202
    seen: list[str] = []
    cursor = None
    for _page in range(20):  # a cursor that never ends fails, not hangs
        params: dict[str, Any] = {"service": "api", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/traces", params=params)).json()
        seen += [t["trace_id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    else:
        pytest.fail("still a next_cursor after 20 pages")
    assert seen == ["busy", "a7", "a6", "a5", "a4", "a3", "a2", "long"]
    answer = await client.get("/v1/traces", params={"service": "api", "limit": 3})
    assert [t["trace_id"] for t in answer.json()["items"]] == ["busy", "a7", "a6"]


async def test_retention_deletes_old_application_spans_in_batches(
    database_url: str, stub: StubLLM
) -> None:
    settings = stub_settings(database_url, stub, trace_retention_days=7, trace_retention_batch=2)
    async with gateway(settings) as (container, client):
        await put_model(client)
        await put_prompt(client, "summarize")
        old = {"trace_id": "old", "spans": [span(f"s{i}") for i in range(5)]}
        new = {"trace_id": "new", "spans": [span("s0")]}
        sent = await client.post("/v1/traces:batch", json={"traces": [old, new]})
        assert sent.status_code == 202, sent.text
        ran = await client.post(
            "/v1/executions:run",
            json={
                "prompt_name": "summarize",
                "variables": {"text": "hi"},
                "model": {"provider": "openai", "model_name": "gpt-4o-mini"},
            },
        )
        execution_trace = ran.json()["trace_id"]
        await sql_rows(
            database_url,
            "UPDATE spans SET created_at = now() - interval '8 days' "
            "WHERE trace_id IN ('old', %s) RETURNING 1",
            execution_trace,
        )
        await container.maintenance.prune()
        assert (await client.get("/v1/traces/old")).status_code == 404
        assert (await client.get("/v1/traces/new")).json()["span_count"] == 1
        # the execution's span stays with the ledger
        kept = (await client.get(f"/v1/traces/{execution_trace}")).json()
        assert [s["kind"] for s in kept["spans"]] == ["llm"]
