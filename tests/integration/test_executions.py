"""Synchronous executions through the gateway against a stub LLM speaking the providers' wire
protocols: the seeds' call, resolution, refusals, provider failures and idempotency."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from prompt_ledger.container import Container
from prompt_ledger.settings import Settings
from prompt_ledger.testing.stub_llm import Reply, StubLLM
from tests.execution_fixtures import (
    SEED_RUN,
    gateway,
    put_model,
    put_prompt,
    seed,
    sql_rows,
    sql_value,
    stub_settings,
)

RUN = "/v1/executions:run"


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
        yield pair


@pytest.fixture
def api(app: tuple[Container, httpx.AsyncClient]) -> httpx.AsyncClient:
    return app[1]


def timings(response: httpx.Response) -> dict[str, float]:
    parts = (p.strip().split(";dur=") for p in response.headers["Server-Timing"].split(","))
    return {name: float(value) for name, value in parts}


async def run(api: httpx.AsyncClient, body: dict[str, Any], **headers: str) -> httpx.Response:
    return await api.post(RUN, json=body, headers=headers)


# --- the seeds' call ----------------------------------------------------------------------------


async def test_seed_sync_run_through_openai(
    api: httpx.AsyncClient, stub: StubLLM, database_url: str
) -> None:
    await seed(api)
    trace_id, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    response = await run(
        api,
        SEED_RUN,
        traceparent=f"00-{trace_id}-{parent}-01",
        **{"X-Correlation-ID": "order-42"},
    )
    assert response.status_code == 200, response.text
    body = response.json()

    assert body["status"] == "succeeded"
    assert body["execution_mode"] == "sync"
    assert body["served_by"] == "openai"
    assert body["provider"] == "openai"
    assert body["model_name"] == "gpt-4o-mini"
    assert body["prompt_name"] == "doc_summarizer"
    assert body["version_number"] == 1
    assert body["environment"] == "dev"
    assert body["resolved_by"] == "active"  # no 'dev' label: the active version
    assert body["attempts"] == 1
    assert body["rendered_prompt"] == "Summarize:\nYour document text here..."
    assert body["response_text"] == "stub reply to: Summarize:\nYour document text here..."
    assert body["variables"] == {"text": "Your document text here..."}
    assert body["params"] == {"max_tokens": 800, "temperature": 0.2}
    assert body["model_config"] == {"provider": "openai", "model_name": "gpt-4o-mini"}
    assert body["correlation_id"] == "order-42"
    assert body["trace_id"] == trace_id
    assert body["error_type"] is None
    assert body["completed_at"] is not None

    # The stub counts whitespace-separated words: 5 in, 8 out.
    assert (body["prompt_tokens"], body["response_tokens"]) == (5, 8)
    assert Decimal(body["input_price_per_mtok"]) == Decimal("0.15")
    assert Decimal(body["output_price_per_mtok"]) == Decimal("0.6")
    expected = (5 * Decimal("0.15") + 8 * Decimal("0.6")) / 1_000_000
    assert body["cost_usd"] == "0.00000555"
    assert Decimal(body["cost_usd"]) == expected

    # What the provider received.
    assert stub.calls == 1
    sent = stub.requests[0]
    assert sent["model"] == "gpt-4o-mini"
    assert sent["max_tokens"] == 800
    assert sent["temperature"] == 0.2
    assert sent["messages"] == [
        {"role": "user", "content": "Summarize:\nYour document text here..."}
    ]

    spent = timings(response)
    assert set(spent) == {"app", "provider", "overhead"}
    assert spent["overhead"] == pytest.approx(spent["app"] - spent["provider"], abs=0.02)

    # The ledger rows, and the span the poll endpoint shows.
    execution_id = body["execution_id"]
    inputs = await sql_rows(
        database_url,
        "SELECT variables_json, model_config_json, params_json FROM execution_inputs "
        "WHERE execution_id = %s",
        execution_id,
    )
    assert inputs == [
        {
            "variables_json": {"text": "Your document text here..."},
            "model_config_json": {"provider": "openai", "model_name": "gpt-4o-mini"},
            "params_json": {"max_tokens": 800, "temperature": 0.2},
        }
    ]
    detail = (await api.get(f"/v1/executions/{execution_id}")).json()
    assert detail["cost_usd"] == "0.00000555"
    [span] = detail["spans"]
    assert span["kind"] == "llm"
    assert span["status"] == "ok"
    assert span["trace_id"] == trace_id
    assert span["model"] == "openai/gpt-4o-mini"
    assert (span["prompt_tokens"], span["completion_tokens"]) == (5, 8)
    assert span["attributes"]["parent_span_id"] == parent
    assert span["attributes"]["served_by"] == "openai"

    listed = (await api.get("/v1/executions", params={"correlation_id": "order-42"})).json()
    assert [e["execution_id"] for e in listed["items"]] == [execution_id]
    other = (await api.get("/v1/executions", params={"correlation_id": "order-43"})).json()
    assert other["items"] == []


async def test_price_snapshot_keeps_old_costs(api: httpx.AsyncClient) -> None:
    await seed(api)
    first = (await run(api, SEED_RUN)).json()
    await put_model(api, input_price_per_mtok=1.0, output_price_per_mtok=2.0)
    second = (await run(api, SEED_RUN)).json()
    old = (await api.get(f"/v1/executions/{first['execution_id']}")).json()
    assert old["cost_usd"] == "0.00000555"
    assert Decimal(old["input_price_per_mtok"]) == Decimal("0.15")
    assert second["cost_usd"] == "0.00002100"  # 5 x 1.0 + 8 x 2.0 per million


async def test_without_traceparent_a_new_trace_is_started(api: httpx.AsyncClient) -> None:
    await seed(api)
    for header in (None, "garbage", "00-" + "0" * 32 + "-00f067aa0ba902b7-01"):
        headers = {"traceparent": header} if header else {}
        body = (await api.post(RUN, json=SEED_RUN, headers=headers)).json()
        assert len(body["trace_id"]) == 32
        assert body["trace_id"] != "0" * 32
        detail = (await api.get(f"/v1/executions/{body['execution_id']}")).json()
        assert "parent_span_id" not in detail["spans"][0]["attributes"]


async def test_body_correlation_id_is_recorded(api: httpx.AsyncClient) -> None:
    await seed(api)
    body = (await run(api, {**SEED_RUN, "correlation_id": "from-body"})).json()
    assert body["correlation_id"] == "from-body"


async def test_anthropic_chat_prompt_sends_a_top_level_system(
    api: httpx.AsyncClient, stub: StubLLM
) -> None:
    await put_model(
        api,
        "anthropic",
        "claude-haiku-4-5",
        input_price_per_mtok=0.8,
        output_price_per_mtok=4.0,
    )
    await put_prompt(
        api,
        "support",
        messages=[
            {"role": "system", "content": "You are terse. Team: {{team}}."},
            {"role": "user", "content": "Question: {{question}}"},
        ],
    )
    response = await run(
        api,
        {
            "prompt_name": "support",
            "variables": {"team": "billing", "question": "where is my invoice"},
            "model": {"provider": "anthropic", "model_name": "claude-haiku-4-5"},
            "params": {"temperature": 0.1},
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["served_by"] == "anthropic"
    assert body["response_text"] == "stub reply to: Question: where is my invoice"
    sent = stub.requests[-1]
    assert sent["system"] == "You are terse. Team: billing."
    assert sent["messages"] == [{"role": "user", "content": "Question: where is my invoice"}]
    assert sent["max_tokens"] == 1024  # required by Anthropic: our default
    assert "temperature" not in sent  # refused by Anthropic API 2026-10-21: not sent
    assert body["params"] == {"temperature": 0.1}  # but recorded as asked
    # input: 5 user words + 5 system words; output: 8 words
    assert (body["prompt_tokens"], body["response_tokens"]) == (10, 8)
    assert Decimal(body["cost_usd"]) == (10 * Decimal("0.8") + 8 * Decimal("4.0")) / 1_000_000


# --- which version runs -------------------------------------------------------------------------


async def versions_with_labels(api: httpx.AsyncClient) -> None:
    """v1 labelled production, v2 labelled staging, v3 active."""
    await put_model(api)
    await put_prompt(api, "greet", template_source="v1 {{name}}")
    await put_prompt(api, "greet", template_source="v2 {{name}}")
    await put_prompt(api, "greet", template_source="v3 {{name}}")
    for label, version in (("production", 1), ("staging", 2)):
        response = await api.put(f"/v1/prompts/greet/labels/{label}", json={"version": version})
        assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("selector", "version", "resolved_by"),
    [
        ({"environment": "production"}, 1, "label:production"),
        ({"environment": "staging"}, 2, "label:staging"),
        ({"environment": "qa"}, 3, "active"),  # no such label: the active version
        ({}, 3, "active"),
        ({"version": 2}, 2, "version:2"),
        ({"label": "production"}, 1, "label:production"),
        ({"version": 1, "environment": "staging"}, 1, "version:1"),  # a pin beats the env
    ],
)
async def test_version_resolution(
    api: httpx.AsyncClient, selector: dict[str, Any], version: int, resolved_by: str
) -> None:
    await versions_with_labels(api)
    response = await run(api, {"prompt_name": "greet", "variables": {"name": "Ada"}, **selector})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version_number"] == version
    assert body["resolved_by"] == resolved_by
    assert body["rendered_prompt"] == f"v{version} Ada"


async def test_pinned_label_or_version_that_does_not_exist_is_404(
    api: httpx.AsyncClient, stub: StubLLM
) -> None:
    await versions_with_labels(api)
    for pin, named in (({"label": "canary"}, "canary"), ({"version": 9}, "version 9")):
        response = await run(api, {"prompt_name": "greet", "variables": {"name": "x"}, **pin})
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert named in response.json()["detail"]
    missing = await run(api, {"prompt_name": "nope", "variables": {}})
    assert missing.status_code == 404
    assert stub.calls == 0


async def test_archived_version_is_409(api: httpx.AsyncClient, stub: StubLLM) -> None:
    await versions_with_labels(api)
    await api.delete("/v1/prompts/greet/labels/staging")
    archived = await api.post("/v1/prompts/greet/versions/2:archive")
    assert archived.status_code == 200, archived.text
    response = await run(api, {"prompt_name": "greet", "variables": {"name": "x"}, "version": 2})
    assert response.status_code == 409, response.text
    assert "archived" in response.json()["detail"]
    assert stub.calls == 0


async def test_no_active_version_is_409(api: httpx.AsyncClient, stub: StubLLM) -> None:
    await put_model(api)
    await put_prompt(api, "drafty", template_source="draft {{x}}", set_active=False)
    response = await run(api, {"prompt_name": "drafty", "variables": {"x": 1}})
    assert response.status_code == 409, response.text
    assert "no active version" in response.json()["detail"]
    # ... but the draft can still be run by pinning it.
    pinned = await run(api, {"prompt_name": "drafty", "variables": {"x": 1}, "version": 1})
    assert pinned.status_code == 200, pinned.text
    assert stub.calls == 1


async def test_missing_variables_are_422_before_any_call(
    api: httpx.AsyncClient, stub: StubLLM, database_url: str
) -> None:
    await put_model(api)
    await put_prompt(api, "two", template_source="{{a}} and {{b}} and {{c}}")
    response = await run(api, {"prompt_name": "two", "variables": {"b": 1}})
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["missing"] == ["a", "c"]
    assert "a, c" in problem["detail"]
    assert [e["loc"] for e in problem["errors"]] == [
        ["body", "variables", "a"],
        ["body", "variables", "c"],
    ]
    assert stub.calls == 0
    assert await sql_value(database_url, "SELECT count(*) FROM executions") == 0


async def test_unknown_model_is_422(api: httpx.AsyncClient, stub: StubLLM) -> None:
    await seed(api)
    response = await run(api, {**SEED_RUN, "model": {"provider": "openai", "model_name": "gpt-9"}})
    assert response.status_code == 422, response.text
    assert "openai/gpt-9" in response.json()["detail"]
    assert stub.calls == 0


async def test_unknown_provider_is_422(api: httpx.AsyncClient, stub: StubLLM) -> None:
    await seed(api)
    response = await run(api, {**SEED_RUN, "model": {"provider": "acme", "model_name": "m1"}})
    assert response.status_code == 422, response.text
    assert "Unknown provider 'acme'" in response.json()["detail"]
    # Even when someone registered a model for it.
    await put_model(api, "acme", "m1")
    again = await run(api, {**SEED_RUN, "model": {"provider": "acme", "model_name": "m1"}})
    assert again.status_code == 422, again.text
    assert "Unknown provider 'acme'" in again.json()["detail"]
    assert stub.calls == 0


async def test_unconfigured_provider_is_422_naming_the_variable(database_url: str) -> None:
    settings = stub_settings(database_url, None, demo_fallback=False)
    async with gateway(settings) as (_, api):
        await seed(api)
        response = await run(api, SEED_RUN)
        assert response.status_code == 422, response.text
        assert "OPENAI_API_KEY" in response.json()["detail"]
        await put_model(api, "anthropic", "claude-haiku-4-5")
        response = await run(
            api,
            {**SEED_RUN, "model": {"provider": "anthropic", "model_name": "claude-haiku-4-5"}},
        )
        assert response.status_code == 422, response.text
        assert "ANTHROPIC_API_KEY" in response.json()["detail"]


async def test_demo_fallback_serves_unconfigured_providers_for_free(database_url: str) -> None:
    settings = stub_settings(database_url, None, demo_fallback=True)
    async with gateway(settings) as (_, api):
        await seed(api)
        response = await run(api, SEED_RUN)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["served_by"] == "demo"
        assert body["provider"] == "openai"  # what was asked for stays recorded
        assert body["status"] == "succeeded"
        assert body["cost_usd"] == "0.00000000"  # fixed point: never "0E-8"
        assert body["response_text"].startswith("[demo provider")
        assert [span["kind"] for span in body["spans"]] == ["llm"]  # as GET shows it later
        later = (await api.get(f"/v1/executions/{body['execution_id']}")).json()
        assert later["spans"] == body["spans"]


async def test_model_defaults_then_server_default(api: httpx.AsyncClient, stub: StubLLM) -> None:
    await put_model(api)
    await put_model(api, "openai", "gpt-4.1-nano", input_price_per_mtok=0.1)
    await put_prompt(
        api,
        "with_defaults",
        template_source="hi {{x}}",
        model_defaults={
            "provider": "openai",
            "model_name": "gpt-4.1-nano",
            "params": {"max_new_tokens": 50, "temperature": 0.9, "ignored": True},
        },
    )
    await put_prompt(api, "plain", template_source="hi {{x}}")

    defaulted = (await run(api, {"prompt_name": "with_defaults", "variables": {"x": 1}})).json()
    assert defaulted["model_name"] == "gpt-4.1-nano"
    assert defaulted["params"] == {"max_tokens": 50, "temperature": 0.9}
    assert stub.requests[-1]["model"] == "gpt-4.1-nano"
    assert stub.requests[-1]["max_tokens"] == 50

    overridden = (
        await run(
            api,
            {"prompt_name": "with_defaults", "variables": {"x": 1}, "params": {"temperature": 0}},
        )
    ).json()
    assert overridden["params"] == {"max_tokens": 50, "temperature": 0}

    plain = (await run(api, {"prompt_name": "plain", "variables": {"x": 1}})).json()
    assert (plain["provider"], plain["model_name"]) == ("openai", "gpt-4o-mini")
    assert "max_tokens" not in stub.requests[-1]


async def test_max_tokens_above_the_model_limit_is_422(
    api: httpx.AsyncClient, stub: StubLLM
) -> None:
    await put_model(api, max_tokens=1000, input_price_per_mtok=0.15)
    await put_prompt(api)
    response = await run(api, {**SEED_RUN, "params": {"max_tokens": 5000}})
    assert response.status_code == 422, response.text
    assert stub.calls == 0


# --- provider failures --------------------------------------------------------------------------


async def test_provider_500_is_a_502_and_a_failed_execution(
    api: httpx.AsyncClient, stub: StubLLM
) -> None:
    await seed(api)
    stub.script(Reply(status=500))
    response = await run(api, SEED_RUN)
    assert response.status_code == 502, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["transient"] is True
    assert problem["provider"] == "openai"
    assert problem["provider_status"] == 500
    assert "Retry-After" in response.headers
    execution = (await api.get(f"/v1/executions/{problem['execution_id']}")).json()
    assert execution["status"] == "failed"
    assert execution["error_type"] == "http_500"
    assert "500" in execution["error_message"]
    assert execution["cost_usd"] is None
    assert execution["completed_at"] is not None
    [span] = execution["spans"]
    assert span["status"] == "error"
    assert span["attributes"]["provider_status"] == 500


async def test_provider_401_is_a_permanent_502(api: httpx.AsyncClient, stub: StubLLM) -> None:
    await seed(api)
    stub.script(Reply(status=401))
    response = await run(api, SEED_RUN)
    assert response.status_code == 502, response.text
    problem = response.json()
    assert problem["transient"] is False
    assert problem["provider_status"] == 401
    assert "Retry-After" not in response.headers
    execution = (await api.get(f"/v1/executions/{problem['execution_id']}")).json()
    assert (execution["status"], execution["error_type"]) == ("failed", "http_401")
    assert stub.calls == 1


async def test_provider_malformed_body_is_a_failed_execution(
    api: httpx.AsyncClient, stub: StubLLM
) -> None:
    await seed(api)
    stub.script(Reply(malformed=True))
    response = await run(api, SEED_RUN)
    assert response.status_code == 502, response.text
    execution = (await api.get(f"/v1/executions/{response.json()['execution_id']}")).json()
    assert execution["status"] == "failed"


@pytest.mark.parametrize(
    ("provider", "model_name", "payload"),
    [
        ("openai", "gpt-4o-mini", {"id": "x", "choices": [{"index": 0}]}),
        ("openai", "gpt-4o-mini", {"choices": "nope"}),
        ("anthropic", "claude-haiku-4-5", {"id": "x", "type": "message"}),
    ],
)
async def test_provider_answer_of_the_wrong_shape_is_a_bad_response(
    api: httpx.AsyncClient, stub: StubLLM, provider: str, model_name: str, payload: dict[str, Any]
) -> None:
    await seed(api)
    await put_model(api, provider, model_name)
    stub.script(Reply(payload=payload))
    response = await run(
        api, {**SEED_RUN, "model": {"provider": provider, "model_name": model_name}}
    )
    assert response.status_code == 502, response.text
    assert response.json()["transient"] is True
    execution = (await api.get(f"/v1/executions/{response.json()['execution_id']}")).json()
    assert (execution["status"], execution["error_type"]) == ("failed", "bad_response")


async def test_provider_without_usage_costs_nothing_known(
    api: httpx.AsyncClient, stub: StubLLM
) -> None:
    await seed(api)
    stub.script(Reply(usage=False))
    body = (await run(api, SEED_RUN)).json()
    assert body["status"] == "succeeded"
    assert (body["prompt_tokens"], body["response_tokens"], body["cost_usd"]) == (None, None, None)


async def test_provider_hang_times_out(database_url: str, stub: StubLLM) -> None:
    stub.script(Reply(hang=True))
    async with gateway(stub_settings(database_url, stub, provider_timeout=0.5)) as (_, api):
        await seed(api)
        response = await run(api, SEED_RUN)
        assert response.status_code == 502, response.text
        execution = (await api.get(f"/v1/executions/{response.json()['execution_id']}")).json()
        assert (execution["status"], execution["error_type"]) == ("failed", "timeout")


# --- idempotency --------------------------------------------------------------------------------


async def test_idempotency_key_header_replays(api: httpx.AsyncClient, stub: StubLLM) -> None:
    await seed(api)
    first = await run(api, SEED_RUN, **{"Idempotency-Key": "k-1"})
    assert first.status_code == 200, first.text
    assert "Idempotent-Replayed" not in first.headers
    again = await run(api, SEED_RUN, **{"Idempotency-Key": "k-1"})
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["execution_id"] == first.json()["execution_id"]
    assert again.json()["response_text"] == first.json()["response_text"]
    assert stub.calls == 1


async def test_idempotency_key_in_the_body(api: httpx.AsyncClient, stub: StubLLM) -> None:
    await seed(api)
    body = {**SEED_RUN, "idempotency_key": "body-key"}
    first = (await run(api, body)).json()
    again = await run(api, body)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["execution_id"] == first["execution_id"]
    assert first["idempotency_key"] == "body-key"
    # The header and the body field name the same key.
    by_header = await run(api, SEED_RUN, **{"Idempotency-Key": "body-key"})
    assert by_header.json()["execution_id"] == first["execution_id"]
    assert stub.calls == 1


async def test_a_long_idempotency_key_header_is_refused_like_the_body_field(
    api: httpx.AsyncClient, stub: StubLLM
) -> None:
    """Never cut: two keys sharing their first 255 characters must not replay each other."""
    await seed(api)
    long_key = "k" * 256
    for path in (RUN, "/v1/executions:submit"):
        by_body = await api.post(path, json={**SEED_RUN, "idempotency_key": long_key})
        by_header = await api.post(path, json=SEED_RUN, headers={"Idempotency-Key": long_key})
        for response in (by_body, by_header):
            assert response.status_code == 422, response.text
            assert response.headers["content-type"] == "application/problem+json"
            (error,) = response.json()["errors"]
            assert error["type"] == "string_too_long"
        assert by_header.json()["errors"][0]["loc"] == ["header", "idempotency-key"]
        long_correlation = await api.post(
            path, json=SEED_RUN, headers={"X-Correlation-Id": "c" * 101}
        )
        assert long_correlation.json()["errors"][0]["loc"] == ["header", "x-correlation-id"]
    exact = await api.post(RUN, json=SEED_RUN, headers={"Idempotency-Key": "k" * 255})
    assert exact.status_code == 200, exact.text
    assert stub.calls == 1


async def test_same_key_different_request_is_422(api: httpx.AsyncClient, stub: StubLLM) -> None:
    await seed(api)
    first = (await run(api, SEED_RUN, **{"Idempotency-Key": "k"})).json()
    changed = {**SEED_RUN, "variables": {"text": "another document"}}
    response = await run(api, changed, **{"Idempotency-Key": "k"})
    assert response.status_code == 422, response.text
    assert response.json()["execution_id"] == first["execution_id"]
    assert stub.calls == 1


async def test_failed_run_is_replayed_not_retried(api: httpx.AsyncClient, stub: StubLLM) -> None:
    await seed(api)
    stub.script(Reply(status=401))
    first = await run(api, SEED_RUN, **{"Idempotency-Key": "k"})
    assert first.status_code == 502
    again = await run(api, SEED_RUN, **{"Idempotency-Key": "k"})
    assert again.status_code == 200
    assert again.json()["status"] == "failed"
    assert again.json()["execution_id"] == first.json()["execution_id"]
    assert stub.calls == 1


async def test_concurrent_duplicates_make_one_execution(database_url: str, stub: StubLLM) -> None:
    stub.latency = 0.2
    settings = stub_settings(database_url, stub, db_pool_max_size=20)
    async with gateway(settings) as (_, api):
        await seed(api)
        responses = await asyncio.gather(
            *[run(api, SEED_RUN, **{"Idempotency-Key": "same"}) for _ in range(100)]
        )
        statuses = sorted(r.status_code for r in responses)
        assert set(statuses) <= {200, 409}, [r.text for r in responses if r.status_code >= 500]
        fresh = [
            r for r in responses if r.status_code == 200 and "Idempotent-Replayed" not in r.headers
        ]
        assert len(fresh) == 1
        ids = {r.json()["execution_id"] for r in responses}
        assert ids == {fresh[0].json()["execution_id"]}
        for conflict in (r for r in responses if r.status_code == 409):
            assert conflict.headers["Retry-After"] == "1"
        assert stub.calls == 1
        assert await sql_value(database_url, "SELECT count(*) FROM executions") == 1
        # Once it has finished, the key replays it.
        after = await run(api, SEED_RUN, **{"Idempotency-Key": "same"})
        assert after.status_code == 200
        assert after.headers["Idempotent-Replayed"] == "true"


async def test_idempotency_keys_are_scoped_per_project(
    api: httpx.AsyncClient, stub: StubLLM
) -> None:
    await seed(api)
    project = (await api.post("/v1/projects", json={"name": "other"})).json()
    created = await api.post(
        f"/v1/projects/{project['project_id']}/keys",
        json={"name": "k", "scopes": ["prompts:read", "prompts:write", "execute"]},
    )
    assert created.status_code == 201, created.text
    other = httpx.AsyncClient(
        transport=api._transport,
        base_url="http://testserver",
        headers={"X-API-Key": created.json()["key"]},
    )
    async with other:
        await put_prompt(other)
        mine = (await run(api, SEED_RUN, **{"Idempotency-Key": "shared"})).json()
        theirs = await run(other, SEED_RUN, **{"Idempotency-Key": "shared"})
        assert theirs.status_code == 200, theirs.text
        assert "Idempotent-Replayed" not in theirs.headers
        assert theirs.json()["execution_id"] != mine["execution_id"]
        # Neither project can see the other's execution.
        hidden = await other.get(f"/v1/executions/{mine['execution_id']}")
        assert hidden.status_code == 404
        listed = (await other.get("/v1/executions")).json()["items"]
        assert [e["execution_id"] for e in listed] == [theirs.json()["execution_id"]]
    assert stub.calls == 2
