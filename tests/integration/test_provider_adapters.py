"""The provider adapters against the stub LLM: a body we cannot read is the provider's bad
response (transient); an error of our own making is not (never retried, never blamed on it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from prompt_ledger.providers.anthropic import AnthropicProvider
from prompt_ledger.providers.base import CompletionRequest, ProviderError
from prompt_ledger.providers.openai import OpenAIProvider
from prompt_ledger.testing.stub_llm import Reply, StubLLM

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def stub() -> Iterator[StubLLM]:
    with StubLLM() as server:
        yield server


def adapters(stub: StubLLM) -> list[Any]:
    return [
        OpenAIProvider(api_key="sk-test", base_url=stub.openai_base_url),
        AnthropicProvider(api_key="sk-ant-test", base_url=stub.anthropic_base_url),
    ]


async def test_a_coding_error_is_not_a_bad_response(stub: StubLLM) -> None:
    # A value our code put in the request that cannot be sent: the SDK raises TypeError before
    # any call. It used to become a transient "bad response" of the provider, retried.
    unsendable = object()
    openai, anthropic = adapters(stub)
    try:
        with pytest.raises(TypeError):
            await openai.complete(
                CompletionRequest("gpt-4o-mini", MESSAGES, extra={"seed": unsendable})
            )
        with pytest.raises(TypeError):
            await anthropic.complete(
                CompletionRequest("claude-haiku-4-5", MESSAGES, stop=[unsendable])  # type: ignore[list-item]
            )
    finally:
        await openai.aclose()
        await anthropic.aclose()
    assert stub.calls == 0


@pytest.mark.parametrize(
    ("which", "reply", "problem"),
    [
        ("openai", Reply(malformed=True), "not JSON"),
        ("openai", Reply(payload={"choices": "nope"}), "body.choices"),
        ("openai", Reply(payload={"choices": []}), "no choices"),
        ("openai", Reply(payload={"choices": [{"index": 0}]}), "choices[0].message"),
        ("openai", Reply(payload={"choices": [3]}), "choices[0] is not an object"),
        ("openai", Reply(payload=[1, 2]), "body is not an object"),  # type: ignore[arg-type]
        (
            "openai",
            Reply(
                payload={
                    "choices": [{"message": {"content": "x"}}],
                    "usage": {"prompt_tokens": "many"},
                }
            ),
            "token count",
        ),
        ("anthropic", Reply(payload={"id": "x", "type": "message"}), "no content list"),
    ],
)
async def test_a_body_we_cannot_read_is_a_transient_bad_response(
    stub: StubLLM, which: str, reply: Reply, problem: str
) -> None:
    openai, anthropic = adapters(stub)
    adapter, model = (openai, "gpt-4o-mini") if which == "openai" else (anthropic, "claude-x")
    stub.script(reply)
    try:
        with pytest.raises(ProviderError) as raised:
            await adapter.complete(CompletionRequest(model, MESSAGES))
    finally:
        await openai.aclose()
        await anthropic.aclose()
    assert (raised.value.kind, raised.value.transient) == ("bad_response", True)
    assert problem in raised.value.message


async def test_a_coding_error_is_not_a_bad_response_when_streaming(stub: StubLLM) -> None:
    unsendable = object()
    openai, anthropic = adapters(stub)
    try:
        with pytest.raises(TypeError):
            async for _ in openai.stream(
                CompletionRequest("gpt-4o-mini", MESSAGES, extra={"seed": unsendable})
            ):
                pass
        with pytest.raises(TypeError):
            async for _ in anthropic.stream(
                CompletionRequest("claude-haiku-4-5", MESSAGES, stop=[unsendable])  # type: ignore[list-item]
            ):
                pass
    finally:
        await openai.aclose()
        await anthropic.aclose()
    assert stub.calls == 0


@pytest.mark.parametrize(
    ("which", "reply", "problem"),
    [
        ("openai", Reply(malformed=True), "not JSON"),
        ("openai", Reply(payload={"choices": "nope"}), "chunk.choices is not a list"),
        ("openai", Reply(payload={"choices": [3]}), "chunk.choices[0] is not an object"),
        ("openai", Reply(payload={"choices": [{"delta": "x"}]}), "delta is not an object"),
        ("openai", Reply(payload={"choices": [], "usage": {"prompt_tokens": "many"}}), "token"),
        ("anthropic", Reply(malformed=True), "not JSON"),
        ("anthropic", Reply(payload={"type": "message_start", "message": "x"}), "message_start"),
        (
            "anthropic",
            Reply(payload={"type": "message_delta", "usage": {"output_tokens": "many"}}),
            "token count",
        ),
        (
            "anthropic",
            Reply(payload={"type": "content_block_delta", "delta": [1]}),
            "delta is not an object",
        ),
    ],
)
async def test_a_stream_we_cannot_read_is_a_transient_bad_response(
    stub: StubLLM, which: str, reply: Reply, problem: str
) -> None:
    openai, anthropic = adapters(stub)
    adapter, model = (openai, "gpt-4o-mini") if which == "openai" else (anthropic, "claude-x")
    stub.script(reply)
    try:
        with pytest.raises(ProviderError) as raised:
            async for _ in adapter.stream(CompletionRequest(model, MESSAGES)):
                pass
    finally:
        await openai.aclose()
        await anthropic.aclose()
    assert (raised.value.kind, raised.value.transient) == ("bad_response", True)
    assert problem in raised.value.message
