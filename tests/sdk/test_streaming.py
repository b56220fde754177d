"""``execute(..., stream=True)`` on both clients: the text as it comes, then the recorded
execution; a provider failing mid-stream raises ProviderError with the text received kept."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from prompt_ledger import AsyncExecutionStream, AsyncPromptLedger, ExecutionStream, PromptLedger
from prompt_ledger.gateway import create_gateway
from prompt_ledger.sdk import ProviderError
from prompt_ledger.testing.stub_llm import Reply, StubLLM
from tests.execution_fixtures import gateway, seed, stub_settings
from tests.live_gateway import DEV_KEY


def test_the_sync_client_streams(ledger: PromptLedger) -> None:
    ledger.create_prompt("greet", "Hello {{name}}!")
    with ledger.execute("greet", {"name": "Ada"}, stream=True) as stream:
        assert isinstance(stream, ExecutionStream)
        deltas = list(stream)
    execution = stream.execution
    assert execution is not None
    assert len(deltas) > 3
    assert "".join(deltas) == stream.text == execution.response_text
    assert "Hello Ada!" in stream.text
    assert execution.status == "succeeded"
    assert execution.time_to_first_token_ms is not None
    assert stream.execution_id == str(execution.execution_id)
    assert ledger.get_execution(stream.execution_id).response_text == stream.text


async def test_the_async_client_streams(aledger: AsyncPromptLedger) -> None:
    await aledger.create_prompt("greet", "Hello {{name}}!")
    stream = await aledger.execute("greet", {"name": "Ada"}, stream=True)
    assert isinstance(stream, AsyncExecutionStream)
    deltas = [delta async for delta in stream]
    assert stream.execution is not None
    assert "".join(deltas) == stream.execution.response_text
    assert stream.execution.status == "succeeded"
    again = await aledger.execute("greet", {"name": "Bob"}, stream=True)
    finished = await again.until_done()
    assert "Hello Bob!" in (finished.response_text or "")


@pytest.fixture
async def stub_ledger(database_url: str) -> AsyncIterator[tuple[AsyncPromptLedger, StubLLM]]:
    with StubLLM() as stub:
        async with gateway(stub_settings(database_url, stub)) as (container, api):
            await seed(api)
            transport = httpx.ASGITransport(app=create_gateway(container))
            async with (
                httpx.AsyncClient(transport=transport, base_url="http://testserver") as http,
                AsyncPromptLedger("http://testserver", DEV_KEY, http_client=http) as client,
            ):
                yield client, stub


async def test_a_failure_mid_stream_raises_with_the_text_received(
    stub_ledger: tuple[AsyncPromptLedger, StubLLM],
) -> None:
    ledger, stub = stub_ledger
    stub.script(Reply(chunks=("one", " two", " three"), fail_after=2))
    stream = await ledger.execute(
        "doc_summarizer", {"text": "x"}, model="openai/gpt-4o-mini", stream=True
    )
    assert [await anext(stream), await anext(stream)] == ["one", " two"]
    with pytest.raises(ProviderError) as failed:
        await anext(stream)
    assert stream.text == "one two"
    assert failed.value.execution_id == stream.execution_id
    recorded = await ledger.get_execution(str(stream.execution_id))
    assert recorded.status == "failed"
    assert recorded.response_text == "one two"
