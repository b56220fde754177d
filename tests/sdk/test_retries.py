"""Retries: connection errors, 429 and 5xx are retried up to ``max_retries``, honouring
Retry-After, with exponential backoff and jitter otherwise; a request that may have reached the
server is resent only when that is safe (idempotent, or carrying an Idempotency-Key)."""

from __future__ import annotations

import httpx
import pytest

from prompt_ledger import AsyncPromptLedger, PromptLedger
from prompt_ledger.sdk import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConflictError,
    RateLimitError,
    ServerError,
)
from prompt_ledger.sdk import _specs_executions as specs
from prompt_ledger.sdk._base import MAX_RETRY_DELAY, backoff
from tests.sdk.fakes import Script, problem

PAGE = httpx.Response(200, json={"items": [], "next_cursor": None})
EXECUTION = httpx.Response(
    200,
    json={
        "execution_id": "6f1c7a9e-8d3b-4c59-9a51-0d1f0e2b3c4d",
        "status": "succeeded",
        "execution_mode": "sync",
        "prompt_id": "0b7e6c2a-1d4f-4e8b-9c3a-5f6d7e8f9a0b",
        "prompt_name": "p",
        "version_id": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
        "version_number": 1,
        "provider": "openai",
        "model_name": "gpt-4o-mini",
        "response_text": "hi",
        "prompt_tokens": 3,
        "response_tokens": 1,
        "attempts": 1,
        "created_at": "2026-01-01T00:00:00Z",
    },
)


def ledger_for(script: Script, max_retries: int = 2) -> PromptLedger:
    return PromptLedger(
        "http://fake", "k", http_client=script.sync_client(), max_retries=max_retries
    )


def test_retry_after_is_honoured() -> None:
    script = Script([problem(503, "unavailable", headers={"Retry-After": "1"}), PAGE])
    with ledger_for(script) as ledger:
        assert ledger.list_models().items == []
    assert len(script.requests) == 2
    assert script.gaps()[0] >= 0.95


async def test_retry_after_is_honoured_async() -> None:
    script = Script([problem(429, "rate-limited", headers={"Retry-After": "1"}), PAGE])
    async with AsyncPromptLedger("http://fake", "k", http_client=script.async_client()) as ledger:
        assert (await ledger.list_models()).items == []
    assert len(script.requests) == 2
    assert script.gaps()[0] >= 0.95


def test_without_retry_after_the_backoff_is_exponential_with_jitter() -> None:
    script = Script([problem(500), problem(500), PAGE])
    with ledger_for(script) as ledger:
        ledger.list_models()
    first, second = script.gaps()
    # Waited at least the schedule's lower bounds (a busy machine only ever waits longer, so no
    # upper bound on a real sleep); the schedule itself is checked exactly below.
    assert first >= 0.375  # 0.5 s minus up to 25%
    assert second >= 0.75  # 1 s minus up to 25%
    for attempt in range(10):
        nominal = min(0.5 * 2.0**attempt, MAX_RETRY_DELAY)
        samples = [backoff(attempt) for _ in range(200)]
        assert all(nominal * 0.75 <= d <= nominal for d in samples)
        assert len(set(samples)) > 1  # jittered


def test_retries_stop_at_max_retries() -> None:
    script = Script([problem(429, headers={"Retry-After": "0"})])
    with ledger_for(script, max_retries=2) as ledger, pytest.raises(RateLimitError):
        ledger.list_models()
    assert len(script.requests) == 3

    script = Script([problem(503, headers={"Retry-After": "0"})])
    with ledger_for(script, max_retries=0) as ledger, pytest.raises(ServerError):
        ledger.list_models()
    assert len(script.requests) == 1


def test_a_retry_after_beyond_a_minute_is_not_waited_for() -> None:
    script = Script([problem(503, headers={"Retry-After": "120"}), PAGE])
    with ledger_for(script) as ledger, pytest.raises(ServerError) as raised:
        ledger.list_models()
    assert raised.value.retry_after == 120
    assert len(script.requests) == 1


def test_client_errors_are_not_retried() -> None:
    for status in (400, 401, 403, 404, 422):
        script = Script([problem(status), PAGE])
        with ledger_for(script) as ledger, pytest.raises(APIStatusError):
            ledger.list_models()
        assert len(script.requests) == 1, status


def test_connection_errors_are_retried() -> None:
    script = Script([httpx.ConnectError("refused"), httpx.ReadError("reset"), PAGE])
    with ledger_for(script) as ledger:
        assert ledger.list_models().items == []
    assert len(script.requests) == 3


def test_execute_retries_with_one_idempotency_key() -> None:
    script = Script(
        [problem(503, headers={"Retry-After": "0"}), httpx.ReadTimeout("slow"), EXECUTION]
    )
    with ledger_for(script) as ledger:
        result = ledger.execute("p", {"x": 1})
    assert result.response_text == "hi"
    keys = {r.headers["Idempotency-Key"] for r in script.requests}
    assert len(script.requests) == 3
    assert len(keys) == 1
    assert keys.pop().startswith("pl-sdk-")


def test_each_execute_call_gets_its_own_key_unless_given_one() -> None:
    script = Script([EXECUTION])
    with ledger_for(script) as ledger:
        ledger.execute("p")
        ledger.execute("p")
        ledger.submit("p", idempotency_key="order-42")
    first, second, third = (r.headers["Idempotency-Key"] for r in script.requests)
    assert first != second
    assert third == "order-42"


def test_an_idempotent_run_still_in_flight_is_retried_when_the_server_says_when() -> None:
    in_flight = problem(409, "conflict", headers={"Retry-After": "0"}, execution_id="e")
    script = Script([in_flight, EXECUTION])
    with ledger_for(script) as ledger:
        assert ledger.execute("p").status == "succeeded"
    assert len(script.requests) == 2

    script = Script([problem(409, "conflict"), EXECUTION])  # a plain conflict is final
    with ledger_for(script) as ledger, pytest.raises(ConflictError):
        ledger.execute("p")
    assert len(script.requests) == 1

    script = Script([in_flight, PAGE])  # and only requests carrying a key wait it out
    with ledger_for(script) as ledger, pytest.raises(ConflictError):
        ledger.create_prompt("p", "t")
    assert len(script.requests) == 1


def test_a_non_idempotent_post_is_not_resent_once_it_may_have_arrived() -> None:
    script = Script([problem(503, headers={"Retry-After": "0"}), EXECUTION])
    with ledger_for(script) as ledger, pytest.raises(ServerError):
        ledger.cancel_execution("e")
    assert len(script.requests) == 1

    script = Script([httpx.ReadTimeout("slow"), EXECUTION])
    with ledger_for(script) as ledger, pytest.raises(APITimeoutError):
        ledger.cancel_execution("e")
    assert len(script.requests) == 1

    script = Script([httpx.ConnectError("refused"), EXECUTION])  # never sent: safe to resend
    with ledger_for(script) as ledger:
        ledger.cancel_execution("e")
    assert len(script.requests) == 2


def test_a_run_without_an_idempotency_key_is_never_resent() -> None:
    assert not specs.run("run", "p", {}).replay_safe
    assert specs.run("run", "p", {}, idempotency_key="k").replay_safe
    assert specs.execution("run", "p", {}, {}).replay_safe  # the clients always add one


async def test_execute_retries_with_one_idempotency_key_async() -> None:
    script = Script([httpx.ConnectError("refused"), problem(502), EXECUTION])
    async with AsyncPromptLedger("http://fake", "k", http_client=script.async_client()) as ledger:
        result = await ledger.execute("p", {"x": 1})
    assert result.status == "succeeded"
    assert len({r.headers["Idempotency-Key"] for r in script.requests}) == 1
    assert len(script.requests) == 3


async def test_exhausted_retries_raise_the_last_error_async() -> None:
    script = Script([httpx.ConnectError("refused")])
    async with AsyncPromptLedger(
        "http://fake", "k", http_client=script.async_client(), max_retries=1
    ) as ledger:
        with pytest.raises(APIConnectionError):
            await ledger.list_models()
    assert len(script.requests) == 2
