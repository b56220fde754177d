"""Streamed runs (``"stream": true``) through the gateway against the stub LLM speaking both
providers' streaming protocols: deltas then the recorded execution, failures before and during
the stream, a client that goes away mid-stream, idempotency and trace context."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from prompt_ledger.container import Container
from prompt_ledger.gateway import create_gateway
from prompt_ledger.settings import Settings
from prompt_ledger.testing.stub_llm import Reply, StubLLM
from tests.execution_fixtures import (
    DEV_KEY,
    SEED_RUN,
    gateway,
    put_model,
    seed,
    sql_rows,
    stub_settings,
    wait_for_status,
)
from tests.live_gateway import LiveServer, demo_settings

RUN = "/v1/executions:run"
STREAM = {**SEED_RUN, "stream": True}
ANTHROPIC = {**STREAM, "model": {"provider": "anthropic", "model_name": "claude-haiku-4-5"}}


def parse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    """Server-Sent Events as (event, data) pairs."""
    found = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        found.append((fields["event"], json.loads(fields["data"])))
    return found


@pytest.fixture
def stub() -> Iterator[StubLLM]:
    with StubLLM() as server:
        yield server


@pytest.fixture
def exec_settings(database_url: str, stub: StubLLM) -> Settings:
    return stub_settings(database_url, stub)


@pytest.fixture
async def app(exec_settings: Settings) -> AsyncIterator[tuple[Container, httpx.AsyncClient]]:
    async with gateway(exec_settings) as pair:
        await seed(pair[1])
        await put_model(pair[1], "anthropic", "claude-haiku-4-5")
        yield pair


@pytest.fixture
def api(app: tuple[Container, httpx.AsyncClient]) -> httpx.AsyncClient:
    return app[1]


async def streamed(
    api: httpx.AsyncClient, body: dict[str, Any], **headers: str
) -> tuple[httpx.Response, list[tuple[str, dict[str, Any]]]]:
    response = await api.post(RUN, json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return response, parse_events(response.text)


async def records_of(database_url: str, execution_id: str) -> dict[str, Any]:
    """The execution's row, attempts and spans, straight from the database."""
    rows = await sql_rows(
        database_url, "SELECT * FROM executions WHERE execution_id = %s", execution_id
    )
    attempts = await sql_rows(
        database_url, "SELECT * FROM execution_attempts WHERE execution_id = %s", execution_id
    )
    spans = await sql_rows(
        database_url, "SELECT * FROM spans WHERE execution_id = %s", execution_id
    )
    return {"row": rows[0], "attempts": attempts, "spans": spans}


@pytest.mark.parametrize("body", [STREAM, ANTHROPIC], ids=["openai", "anthropic"])
async def test_deltas_then_the_recorded_execution(
    api: httpx.AsyncClient, stub: StubLLM, database_url: str, body: dict[str, Any]
) -> None:
    stub.script(Reply(chunks=("Sum", "mary", " of", " it")))
    response, events = await streamed(api, body)

    kinds = [kind for kind, _ in events]
    assert kinds == ["started", "delta", "delta", "delta", "delta", "done"]
    assert [data["text"] for kind, data in events if kind == "delta"] == [
        "Sum",
        "mary",
        " of",
        " it",
    ]
    done = events[-1][1]
    assert done["execution_id"] == events[0][1]["execution_id"] == response.headers["Execution-Id"]
    assert done["status"] == "succeeded"
    assert done["response_text"] == "Summary of it"
    assert done["prompt_tokens"] > 0
    assert done["response_tokens"] == 3
    assert Decimal(done["cost_usd"]) > 0
    assert done["time_to_first_token_ms"] is not None
    assert done["latency_ms"] >= done["time_to_first_token_ms"]
    assert done["spans"]
    assert done["provider_attempts"][0]["outcome"] == "succeeded"
    # the same shape as a non-stream run's answer, and what the ledger holds
    polled = (await api.get(f"/v1/executions/{done['execution_id']}")).json()
    assert set(polled) == set(done)
    assert polled["response_text"] == "Summary of it"
    assert polled["time_to_first_token_ms"] == done["time_to_first_token_ms"]
    sent = stub.requests[-1]
    assert sent["stream"] is True
    if body is STREAM:
        assert sent["stream_options"] == {"include_usage": True}


async def test_the_demo_provider_streams(database_url: str) -> None:
    async with gateway(demo_settings(database_url)) as (_, api):
        await seed(api)
        _, events = await streamed(api, {**STREAM, "model": None})
    deltas = "".join(data["text"] for kind, data in events if kind == "delta")
    done = events[-1][1]
    assert events[-1][0] == "done"
    assert len(events) > 4
    assert done["served_by"] == "demo"
    assert done["response_text"] == deltas
    assert Decimal(done["cost_usd"]) == 0


@pytest.mark.parametrize("body", [STREAM, ANTHROPIC], ids=["openai", "anthropic"])
async def test_a_provider_failing_mid_stream_is_recorded_with_what_came(
    api: httpx.AsyncClient, stub: StubLLM, database_url: str, body: dict[str, Any]
) -> None:
    stub.script(Reply(chunks=("one", " two", " three"), fail_after=2))
    _, events = await streamed(api, body)

    assert [kind for kind, _ in events] == ["started", "delta", "delta", "error"]
    problem = events[-1][1]
    assert problem["status"] == 502
    assert problem["error_type"] == "stream_error"
    execution_id = problem["execution_id"]
    ledger = await records_of(database_url, execution_id)
    assert ledger["row"]["status"] == "failed"
    assert ledger["row"]["response_text"] == "one two"
    assert ledger["row"]["error_type"] == "stream_error"
    assert problem["received_chars"] == len("one two")
    assert ledger["row"]["time_to_first_token_ms"] is not None  # the deltas that came, timed
    if body is ANTHROPIC:  # its message_start reports the prompt's tokens, kept
        assert ledger["row"]["prompt_tokens"] > 0
    assert [a["outcome"] for a in ledger["attempts"]] == ["failed"]
    assert len(ledger["spans"]) == 1


async def test_a_refusal_before_the_stream_is_a_problem(
    api: httpx.AsyncClient, stub: StubLLM, database_url: str
) -> None:
    stub.script(Reply(status=401))
    response = await api.post(RUN, json=STREAM)
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/problem+json"
    ledger = await records_of(database_url, response.json()["execution_id"])
    assert ledger["row"]["status"] == "failed"
    missing = await api.post(RUN, json={**STREAM, "prompt_name": "nope"})
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


async def test_submit_does_not_stream(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/executions:submit", json=STREAM)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "stream"]


async def test_a_client_disconnecting_mid_stream_finishes_the_execution_once(
    exec_settings: Settings, stub: StubLLM, database_url: str
) -> None:
    stub.script(Reply(chunks=("one", " two", " three"), hang_after=2))
    container = Container(exec_settings)
    await container.open()
    try:
        with LiveServer(create_gateway(container)) as server:
            async with httpx.AsyncClient(
                base_url=server.url, headers={"X-API-Key": DEV_KEY}, timeout=10
            ) as api:
                await seed(api)
                events: list[tuple[str, dict[str, Any]]] = []
                async with api.stream("POST", RUN, json=STREAM) as response:
                    buffer = ""
                    async for text in response.aiter_text():
                        buffer += text
                        events = parse_events(buffer) if buffer.endswith("\n\n") else events
                        if len(events) == 3:  # started and two deltas: then the stub hangs
                            break
                # the connection is closed here, mid-stream
                execution_id = events[0][1]["execution_id"]
                found = await wait_for_status(api, execution_id, "failed", within=10)
        assert found["error_type"] == "client_disconnected"
        assert found["response_text"] == "one two"
        ledger = await records_of(database_url, execution_id)
        assert [a["outcome"] for a in ledger["attempts"]] == ["failed"]
        assert len(ledger["spans"]) == 1
        assert ledger["row"]["completed_at"] is not None
    finally:
        await container.aclose()


async def test_an_idempotency_key_replays_the_finished_execution(
    api: httpx.AsyncClient, stub: StubLLM
) -> None:
    key = {"Idempotency-Key": "stream-once"}
    stub.script(Reply(chunks=("a", " b"), hang_after=1))
    first = asyncio.create_task(api.post(RUN, json=STREAM, headers=key))
    running = await _wait_for_running(api)
    for _ in range(1500):  # the row is written before the call: wait for the call itself
        if stub.calls:
            break
        await asyncio.sleep(0.02)
    assert stub.calls == 1
    in_flight = await api.post(RUN, json=STREAM, headers=key)
    assert in_flight.status_code == 409
    assert in_flight.headers["Retry-After"] == "1"
    first.cancel()  # the server side is cancelled: the execution is finished as disconnected
    with contextlib.suppress(asyncio.CancelledError):
        await first
    await wait_for_status(api, running, "failed")

    stub.script(Reply(chunks=("x", " y")))
    _, events = await streamed(api, STREAM, **{"Idempotency-Key": "stream-twice"})
    replayed, again = await streamed(api, STREAM, **{"Idempotency-Key": "stream-twice"})
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert [kind for kind, _ in again] == ["done"]
    assert again[0][1]["execution_id"] == events[-1][1]["execution_id"]
    assert again[0][1]["response_text"] == "x y"
    assert stub.calls == 2  # the replays called nobody


async def test_a_client_going_away_before_the_stream_opens_finishes_the_execution(
    api: httpx.AsyncClient, stub: StubLLM
) -> None:
    stub.script(Reply(hang=True))  # the provider never answers: its stream never opens
    request = asyncio.create_task(api.post(RUN, json=STREAM))
    running = await _wait_for_running(api)
    for _ in range(1500):  # the row is written before the call: wait for the call itself
        if stub.calls:
            break
        await asyncio.sleep(0.02)
    request.cancel()  # cancelled while the stream is being opened (nothing answered yet)
    with contextlib.suppress(asyncio.CancelledError):
        await request
    found = await wait_for_status(api, running, "failed")
    assert found["error_type"] == "client_disconnected"
    assert found["response_text"] is None
    assert found["completed_at"] is not None
    assert [a["outcome"] for a in found["provider_attempts"]] == ["failed"]


async def _wait_for_running(api: httpx.AsyncClient) -> str:
    for _ in range(1500):  # 30 s: only a broken run waits that long
        page = (await api.get("/v1/executions", params={"status": "running"})).json()
        if page["items"]:
            found: str = page["items"][0]["execution_id"]
            return found
        await asyncio.sleep(0.02)
    raise AssertionError("no running execution")


async def test_a_streamed_run_joins_the_callers_trace(
    api: httpx.AsyncClient, database_url: str
) -> None:
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    _, events = await streamed(api, STREAM, traceparent=f"00-{trace_id}-{parent}-01")
    done = events[-1][1]
    assert done["trace_id"] == trace_id
    ledger = await records_of(database_url, done["execution_id"])
    assert ledger["spans"][0]["trace_id"] == trace_id
    assert ledger["spans"][0]["parent_span_id"] == parent
