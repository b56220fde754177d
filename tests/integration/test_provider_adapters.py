"""The provider adapters against the stub LLM: a body we cannot read is the provider's bad
response (transient); an error of our own making is not (never retried, never blamed on it)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from prompt_ledger.providers.anthropic import AnthropicProvider
from prompt_ledger.providers.base import Completion, CompletionRequest, ProviderError, StreamPiece
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


@pytest.mark.parametrize(
    ("status", "transient"),
    [
        (400, False),
        (401, False),
        (407, False),
        (408, True),
        (409, True),
        (410, False),
        (424, False),
        (425, True),
        (428, False),
        (429, True),
        (430, False),
        (499, False),
        (500, True),
        (503, True),
    ],
)
async def test_a_status_is_transient_or_permanent(
    stub: StubLLM, status: int, transient: bool
) -> None:
    """Timeouts, conflicts, too early, too many requests and 5xx are worth retrying; the other
    refusals are not. The message names the provider, the status and what it said."""
    for adapter, label, model in zip(
        adapters(stub), ("OpenAI", "Anthropic"), ("gpt-4o-mini", "claude-x"), strict=True
    ):
        stub.script(Reply(status=status, retry_after=2.5))
        try:
            with pytest.raises(ProviderError) as raised:
                await adapter.complete(CompletionRequest(model, MESSAGES))
        finally:
            await adapter.aclose()
        error = raised.value
        assert (error.provider, error.status, error.kind) == (
            adapter.name,
            status,
            f"http_{status}",
        )
        assert error.transient is transient
        assert error.retry_after == 2.5
        assert error.message == f"{label} answered {status}: stub error {status}"
        assert str(error) == error.message


async def test_a_long_error_message_is_cut_to_500_characters(stub: StubLLM) -> None:
    openai, anthropic = adapters(stub)
    stub.script(
        Reply(status=500, payload={"error": {"message": "x" * 600}}),
        Reply(status=500, payload={"type": "error", "error": {"message": "y" * 600}}),
        # an error object without a message: the SDK's own message
        Reply(status=500, payload={"error": {"code": "x"}}),
        # an error body that is not an object: the SDK's own message
        Reply(status=500, payload=["z" * 600]),  # type: ignore[arg-type]
    )
    messages = []
    try:
        for adapter in (openai, anthropic, openai, openai):
            with pytest.raises(ProviderError) as raised:
                await adapter.complete(CompletionRequest("m", MESSAGES))
            messages.append(raised.value.message)
    finally:
        await openai.aclose()
        await anthropic.aclose()
    assert messages[0] == "OpenAI answered 500: " + "x" * 500
    assert messages[1] == "Anthropic answered 500: " + "y" * 500
    assert messages[2].startswith("OpenAI answered 500: Error code: 500")
    assert messages[3] == "OpenAI answered 500: Error code: 500"


async def test_a_provider_that_does_not_answer_in_time_is_a_transient_timeout(
    stub: StubLLM,
) -> None:
    openai = OpenAIProvider(api_key="sk-test", base_url=stub.openai_base_url, timeout=0.5)
    anthropic = AnthropicProvider(
        api_key="sk-ant-test", base_url=stub.anthropic_base_url, timeout=0.5
    )
    stub.script(Reply(hang=True), Reply(hang=True))
    try:
        for adapter, label in ((openai, "OpenAI"), (anthropic, "Anthropic")):
            with pytest.raises(ProviderError) as raised:
                await adapter.complete(CompletionRequest("m", MESSAGES))
            assert (raised.value.kind, raised.value.transient) == ("timeout", True)
            assert raised.value.status is None
            assert raised.value.retry_after is None
            assert raised.value.message.startswith(f"{label} timed out: ")
    finally:
        await openai.aclose()
        await anthropic.aclose()


async def test_a_provider_that_cannot_be_reached_is_a_transient_connection_error() -> None:
    with StubLLM() as gone:
        url = gone.base_url
    openai = OpenAIProvider(api_key="sk-test", base_url=f"{url}/v1")
    anthropic = AnthropicProvider(api_key="sk-ant-test", base_url=url)
    try:
        for adapter, label in ((openai, "OpenAI"), (anthropic, "Anthropic")):
            with pytest.raises(ProviderError) as raised:
                await adapter.complete(CompletionRequest("m", MESSAGES))
            assert (raised.value.kind, raised.value.transient) == ("connection", True)
            assert raised.value.message.startswith(f"Cannot reach {label}: ")
            with pytest.raises(ProviderError) as raised:
                async for _ in adapter.stream(CompletionRequest("m", MESSAGES)):
                    pass
            assert raised.value.kind == "connection"
    finally:
        await openai.aclose()
        await anthropic.aclose()


CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "developer", "content": "No lists."},
    {"role": "user", "content": "hi there"},
    {"role": "assistant", "content": "hello"},
    {"role": "user", "content": "bye"},
]


async def test_openai_sends_the_request_and_reads_the_completion(stub: StubLLM) -> None:
    openai, _ = adapters(stub)
    try:
        full = await openai.complete(
            CompletionRequest(
                "gpt-4o-mini",
                CHAT,
                max_tokens=5,
                temperature=0.0,
                top_p=0.5,
                stop=["\n"],
                extra={"seed": 7, "top_p": 0.25},
            )
        )
        bare = await openai.complete(CompletionRequest("gpt-4o-mini", MESSAGES))
    finally:
        await openai.aclose()
    assert stub.requests == [
        {
            "model": "gpt-4o-mini",
            "messages": CHAT,
            "max_tokens": 5,
            "temperature": 0.0,
            "top_p": 0.25,  # the extra parameters win
            "stop": ["\n"],
            "seed": 7,
        },
        {"model": "gpt-4o-mini", "messages": MESSAGES},
    ]
    assert full == Completion(
        text="stub reply to: bye",
        prompt_tokens=8,
        completion_tokens=4,
        model="gpt-4o-mini",
        finish_reason="stop",
    )
    assert bare.text == "stub reply to: hi"


async def test_openai_reads_what_a_compatible_server_may_leave_out(stub: StubLLM) -> None:
    openai, _ = adapters(stub)
    stub.script(
        Reply(payload={"choices": [{"message": {"content": None}}]}),
        Reply(
            payload={
                "model": 3,
                "choices": [{"message": {}, "finish_reason": 1}],
                "usage": {"prompt_tokens": None, "completion_tokens": 2},
            }
        ),
        Reply(payload={"choices": [{"message": {"content": "x"}}], "usage": [1]}),
        Reply(payload={"choices": [{"message": {}}], "usage": {"completion_tokens": True}}),
    )
    try:
        empty = await openai.complete(CompletionRequest("m", MESSAGES))
        odd = await openai.complete(CompletionRequest("m", MESSAGES))
        with pytest.raises(ProviderError) as usage_list:
            await openai.complete(CompletionRequest("m", MESSAGES))
        with pytest.raises(ProviderError) as boolean:
            await openai.complete(CompletionRequest("m", MESSAGES))
    finally:
        await openai.aclose()
    assert empty == Completion(text="", prompt_tokens=None, completion_tokens=None)
    assert odd == Completion(text="", prompt_tokens=None, completion_tokens=2)
    assert usage_list.value.message == "Bad response from OpenAI: body.usage is not an object"
    assert boolean.value.message == "Bad response from OpenAI: token count True is not an integer"


async def test_anthropic_sends_the_system_prompt_on_top_and_reads_the_message(
    stub: StubLLM,
) -> None:
    _, anthropic = adapters(stub)
    try:
        full = await anthropic.complete(
            CompletionRequest(
                "claude-x", CHAT, max_tokens=5, temperature=0.5, top_p=0.5, stop=["\n"]
            )
        )
        system_only = await anthropic.complete(CompletionRequest("claude-x", CHAT[:2]))
    finally:
        await anthropic.aclose()
    assert stub.requests == [
        {
            "model": "claude-x",
            "system": "Be brief.\n\nNo lists.",
            "messages": [m for m in CHAT if m["role"] in {"user", "assistant"}],
            "max_tokens": 5,
            "stop_sequences": ["\n"],
        },
        {
            "model": "claude-x",
            "messages": [{"role": "user", "content": "Be brief.\n\nNo lists."}],
            "max_tokens": 1024,
        },
    ]
    assert full == Completion(
        text="stub reply to: bye",
        prompt_tokens=4 + 4,  # the messages' words and the system's
        completion_tokens=4,
        model="claude-x",
        finish_reason="end_turn",
    )
    assert system_only.text == "stub reply to: Be brief.\n\nNo lists."


async def test_anthropic_joins_the_text_blocks_and_reads_what_may_be_left_out(
    stub: StubLLM,
) -> None:
    _, anthropic = adapters(stub)
    blocks = [
        {"type": "text", "text": "one "},
        {"type": "tool_use", "id": "t", "name": "f", "input": {}},
        {"type": "text", "text": "two"},
    ]
    stub.script(
        Reply(payload={"type": "message", "content": blocks}),
        Reply(payload={"type": "message", "content": [], "usage": {"input_tokens": "3"}}),
    )
    try:
        joined = await anthropic.complete(CompletionRequest("claude-x", MESSAGES))
        with pytest.raises(ProviderError) as bad_tokens:
            await anthropic.complete(CompletionRequest("claude-x", MESSAGES))
    finally:
        await anthropic.aclose()
    assert joined == Completion(text="one two", prompt_tokens=None, completion_tokens=None)
    assert bad_tokens.value.message == (
        "Bad response from Anthropic: token count '3' is not an integer"
    )


async def test_both_stream_their_deltas_usage_and_finish(stub: StubLLM) -> None:
    openai, anthropic = adapters(stub)
    stub.script(Reply(chunks=("Hel", "lo", " you")), Reply(chunks=("Hel", "lo", " you")))
    try:
        from_openai = [p async for p in openai.stream(CompletionRequest("gpt-x", CHAT))]
        from_anthropic = [p async for p in anthropic.stream(CompletionRequest("claude-x", CHAT))]
    finally:
        await openai.aclose()
        await anthropic.aclose()
    assert stub.requests[0] == {
        "model": "gpt-x",
        "messages": CHAT,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert stub.requests[1]["stream"] is True
    assert "stream_options" not in stub.requests[1]
    assert [p.text for p in from_openai] == ["", "Hel", "lo", " you", "", ""]
    assert [p.finish_reason for p in from_openai] == [None, None, None, None, "stop", None]
    assert from_openai[-1] == StreamPiece(
        text="", prompt_tokens=8, completion_tokens=2, model="gpt-x"
    )
    assert {p.model for p in from_openai} == {"gpt-x"}
    assert from_anthropic == [
        StreamPiece(prompt_tokens=8, model="claude-x"),
        StreamPiece(text="Hel"),
        StreamPiece(text="lo"),
        StreamPiece(text=" you"),
        StreamPiece(completion_tokens=2, finish_reason="end_turn"),
    ]


async def test_stream_events_of_odd_shapes_say_nothing_or_are_bad(stub: StubLLM) -> None:
    openai, anthropic = adapters(stub)
    stub.script(
        Reply(payload={"choices": [], "model": 5, "usage": None}),
        Reply(payload={"choices": [{"delta": {"content": 3}, "finish_reason": 4}]}),
        Reply(payload={"type": "content_block_delta", "delta": {"type": "other", "text": "x"}}),
        Reply(payload={"type": "content_block_delta", "delta": {"type": "text_delta", "text": ""}}),
        Reply(payload={"type": "message_delta", "delta": {"stop_reason": 1}}),
        Reply(payload={"type": "message_start", "message": {"model": 1, "usage": None}}),
        Reply(payload={"type": "ping"}),
        Reply(payload={"type": "message_start", "message": {"usage": [1]}}),
    )
    try:
        pieces = [[p async for p in openai.stream(CompletionRequest("m", MESSAGES))]]
        pieces.append([p async for p in openai.stream(CompletionRequest("m", MESSAGES))])
        for _ in range(5):
            pieces.append([p async for p in anthropic.stream(CompletionRequest("m", MESSAGES))])
        with pytest.raises(ProviderError) as raised:
            async for _ in anthropic.stream(CompletionRequest("m", MESSAGES)):
                pass
    finally:
        await openai.aclose()
        await anthropic.aclose()
    assert pieces == [
        [StreamPiece()],
        [StreamPiece()],
        [],
        [],
        [StreamPiece()],
        [StreamPiece()],
        [],
    ]
    assert raised.value.message == (
        "Bad response from Anthropic: message_start.message.usage is not an object"
    )


async def test_a_failure_mid_stream_is_a_transient_stream_error(stub: StubLLM) -> None:
    openai, anthropic = adapters(stub)
    stub.script(Reply(chunks=("a", "b"), fail_after=1), Reply(chunks=("a", "b"), fail_after=1))
    try:
        for adapter, label in ((openai, "OpenAI"), (anthropic, "Anthropic")):
            got: list[str] = []

            async def read(adapter: Any = adapter, got: list[str] = got) -> None:
                async for piece in adapter.stream(CompletionRequest("m", MESSAGES)):
                    got.append(piece.text)

            with pytest.raises(ProviderError) as raised:
                await read()
            assert "a" in got
            assert "b" not in got
            assert (raised.value.kind, raised.value.transient) == ("stream_error", True)
            assert raised.value.message == f"{label} stream failed: stub failure mid-stream"
    finally:
        await openai.aclose()
        await anthropic.aclose()


async def test_a_stream_refused_before_it_starts_is_classified_like_a_call(stub: StubLLM) -> None:
    openai, anthropic = adapters(stub)
    stub.script(Reply(status=429, retry_after=3), Reply(status=401))
    try:
        with pytest.raises(ProviderError) as limited:
            async for _ in openai.stream(CompletionRequest("m", MESSAGES)):
                pass
        with pytest.raises(ProviderError) as denied:
            async for _ in anthropic.stream(CompletionRequest("m", MESSAGES)):
                pass
    finally:
        await openai.aclose()
        await anthropic.aclose()
    assert (limited.value.kind, limited.value.transient, limited.value.retry_after) == (
        "http_429",
        True,
        3.0,
    )
    assert limited.value.message == "OpenAI answered 429: stub error 429"
    assert (denied.value.kind, denied.value.transient) == ("http_401", False)
    assert denied.value.message == "Anthropic answered 401: stub error 401"


async def test_a_stream_that_stalls_is_a_transient_timeout(stub: StubLLM) -> None:
    openai = OpenAIProvider(api_key="sk-test", base_url=stub.openai_base_url, timeout=0.5)
    anthropic = AnthropicProvider(
        api_key="sk-ant-test", base_url=stub.anthropic_base_url, timeout=0.5
    )
    stub.script(Reply(chunks=("a", "b"), hang_after=1), Reply(chunks=("a", "b"), hang_after=1))
    try:
        # OpenAI's SDK raises its own timeout error, as for a call that never answers;
        # Anthropic's lets the transport's through
        for adapter, said in (
            (openai, "OpenAI timed out: "),
            (anthropic, "Anthropic stream timed out: "),
        ):
            with pytest.raises(ProviderError) as raised:
                async for _ in adapter.stream(CompletionRequest("m", MESSAGES)):
                    pass
            assert (raised.value.kind, raised.value.transient) == ("timeout", True)
            assert raised.value.provider == adapter.name
            assert raised.value.message.startswith(said)
    finally:
        await openai.aclose()
        await anthropic.aclose()


@contextlib.asynccontextmanager
async def cut_mid_stream() -> AsyncIterator[str]:
    """A server at a port that accepts any request, starts a streamed answer (one event of
    each protocol) and closes the connection before the end of the body: a stream that breaks."""
    events = b'event: message_start\ndata: {"type": "message_start", "message": {"model": "m"}}\n\n'
    chunk = b"%x\r\n%s\r\n" % (len(events), events)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
            b"transfer-encoding: chunked\r\n\r\n" + chunk
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()


async def test_a_stream_cut_by_the_provider_is_a_transient_connection_error() -> None:
    async with cut_mid_stream() as url:
        openai = OpenAIProvider(api_key="sk-test", base_url=f"{url}/v1")
        anthropic = AnthropicProvider(api_key="sk-ant-test", base_url=url)
        messages: list[str] = []
        try:
            for adapter in (openai, anthropic):
                with pytest.raises(ProviderError) as raised:
                    async for _ in adapter.stream(CompletionRequest("m", MESSAGES)):
                        pass
                assert (raised.value.kind, raised.value.transient) == ("connection", True)
                assert raised.value.provider == adapter.name
                messages.append(raised.value.message)
        finally:
            await openai.aclose()
            await anthropic.aclose()
    # (OpenAI's SDK raises its own connection error; Anthropic's lets the transport's through)
    assert messages[0] == "Cannot reach OpenAI: Connection error."
    assert messages[1].startswith("Anthropic stream broke: RemoteProtocolError: ")
