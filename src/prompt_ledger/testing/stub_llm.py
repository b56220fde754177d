"""A loopback stub LLM server speaking OpenAI's chat-completions and Anthropic's messages wire
protocols, so the real SDK code paths run in tests and benchmarks.

    with StubLLM(latency=0.05) as stub:
        OpenAIProvider(api_key="x", base_url=stub.openai_base_url)
        stub.script(Reply(status=429, retry_after=1), Reply())  # next two calls, then default
        assert stub.calls == 2

Replies are configurable: latency, status codes, Retry-After, missing usage, malformed bodies,
bodies of the wrong shape and hangs. A request with ``"stream": true`` is answered in the
provider's streaming wire protocol (OpenAI's ``chat.completion.chunk`` data lines ending with
``[DONE]``, with the usage chunk when ``stream_options.include_usage``; Anthropic's
``message_start`` ... ``message_stop`` events), scripted too: the deltas, a delay between them,
an error event after some of them, or a hang after some of them. The server runs in its own
thread and event loop, bound to 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route


@dataclass(frozen=True)
class Reply:
    """How the stub answers one call."""

    status: int = 200
    text: str | None = None  # default: an echo of the last message
    latency: float | None = None  # seconds; None = the server default
    retry_after: float | None = None
    usage: bool = True
    malformed: bool = False  # a body (or, streaming, an event) that is not JSON
    payload: dict[str, Any] | None = None  # answer with this JSON body (or one event) instead
    hang: bool = False  # never answer (until the server stops)
    # answer once this is set (e.g. after a database stop); a 503 if the server stops first
    gate: threading.Event | None = None
    # Streaming (a request with "stream": true); ``latency`` passes before the first delta.
    chunks: tuple[str, ...] | None = None  # the deltas; default: the text, a word at a time
    chunk_delay: float = 0.0  # seconds between two deltas
    fail_after: int | None = None  # an error event after this many deltas ends the stream
    hang_after: int | None = None  # after this many deltas, nothing more (until the stop)


class StubLLM:
    def __init__(self, *, latency: float = 0.0, default: Reply | None = None) -> None:
        self.latency = latency
        self.default = default or Reply()
        self._scripted: deque[Reply] = deque()
        self._lock = threading.Lock()
        self.calls = 0
        self.requests: list[dict[str, Any]] = []
        self._port = _free_port()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None

    # --- control ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.base_url}/v1"

    @property
    def anthropic_base_url(self) -> str:
        return self.base_url

    def script(self, *replies: Reply) -> None:
        """Answer the next calls with these replies, in order, then with the default."""
        with self._lock:
            self._scripted.extend(replies)

    def reset(self) -> None:
        with self._lock:
            self._scripted.clear()
            self.calls = 0
            self.requests.clear()

    def start(self) -> StubLLM:
        config = uvicorn.Config(
            self._app(),
            host="127.0.0.1",
            port=self._port,
            log_level="error",
            access_log=False,
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="stub-llm", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()  # pragma: no cover - machine trouble (e.g. its port taken meanwhile)
                raise RuntimeError(f"the stub LLM server at {self.base_url} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop at once: open connections are dropped, replies held are ended."""
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
            if self._thread.is_alive():
                raise RuntimeError(f"the stub LLM server at {self.base_url} did not stop in 10 s")

    def __enter__(self) -> StubLLM:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- the server ------------------------------------------------------------------------

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.calls += 1
            self.requests.append(body)
            reply = self._scripted.popleft() if self._scripted else self.default
        return reply if reply.latency is not None else replace(reply, latency=self.latency)

    def _app(self) -> Starlette:
        async def openai_chat(request: Request) -> Response:
            body = await request.json()
            reply = self._next(body)
            if body.get("stream"):
                return await self._streamed(reply, body, openai_error, _openai_events)
            early = await _delay_or_fail(reply, self, openai_error)
            if early is not None:
                return early
            text = reply.text if reply.text is not None else _echo(body.get("messages", []))
            payload: dict[str, Any] = {
                "id": f"chatcmpl-stub-{self.calls}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "stub"),
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": text},
                    }
                ],
            }
            if reply.usage:
                prompt_tokens = _count(body.get("messages", []))
                payload["usage"] = {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": len(text.split()),
                    "total_tokens": prompt_tokens + len(text.split()),
                }
            return JSONResponse(payload)

        async def anthropic_messages(request: Request) -> Response:
            body = await request.json()
            reply = self._next(body)
            if body.get("stream"):
                return await self._streamed(reply, body, anthropic_error, _anthropic_events)
            early = await _delay_or_fail(reply, self, anthropic_error)
            if early is not None:
                return early
            text = reply.text if reply.text is not None else _echo(body.get("messages", []))
            payload: dict[str, Any] = {
                "id": f"msg_stub_{self.calls}",
                "type": "message",
                "role": "assistant",
                "model": body.get("model", "stub"),
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {
                    "input_tokens": _count(body.get("messages", []))
                    + len(str(body.get("system", "")).split()),
                    "output_tokens": len(text.split()),
                },
            }
            if not reply.usage:
                payload["usage"] = {"input_tokens": 0, "output_tokens": 0}
            return JSONResponse(payload)

        return Starlette(
            routes=[
                Route("/v1/chat/completions", openai_chat, methods=["POST"]),
                Route("/v1/messages", anthropic_messages, methods=["POST"]),
            ]
        )

    async def _streamed(
        self, reply: Reply, body: dict[str, Any], error_body: Any, protocol: Protocol
    ) -> Response:
        if reply.malformed or reply.payload is not None:  # one odd event, then the end
            # (Anthropic's SDK reads named events only: a malformed one is named as a delta)
            named = "content_block_delta" if protocol is _anthropic_events else None
            odd = (
                _sse("{not json", named)
                if reply.payload is None
                else _sse(reply.payload, _type_of(reply.payload))
            )
            return StreamingResponse(iter([odd]), media_type="text/event-stream")
        early = await _delay_or_fail(replace(reply, latency=0.0), self, error_body)
        if early is not None:
            return early
        text = reply.text if reply.text is not None else _echo(body.get("messages", []))
        chunks = list(reply.chunks) if reply.chunks is not None else _words(text)

        async def deltas() -> AsyncIterator[str | None]:
            """The deltas, paced as scripted; None for the scripted error."""
            if reply.latency:
                await asyncio.sleep(reply.latency)
            for sent, chunk in enumerate(chunks):
                if reply.fail_after is not None and sent >= reply.fail_after:
                    yield None
                    return
                if reply.hang_after is not None and sent >= reply.hang_after:
                    await self._hang()
                    return
                if sent and reply.chunk_delay:
                    await asyncio.sleep(reply.chunk_delay)
                yield chunk

        events = protocol(body, "".join(chunks), deltas(), reply.usage, self.calls)
        return StreamingResponse(events, media_type="text/event-stream")

    async def _hang(self) -> None:
        while self._server is not None and not self._server.should_exit:  # noqa: ASYNC110 - flag set from another thread
            await asyncio.sleep(0.05)


Protocol = Callable[
    [dict[str, Any], str, AsyncIterator[str | None], bool, int], AsyncIterator[bytes]
]


def _type_of(payload: Any) -> str | None:
    """The SSE event name of a payload (Anthropic's events are named by their type)."""
    kind = payload.get("type") if isinstance(payload, dict) else None
    return kind if isinstance(kind, str) else None


def _sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"{head}data: {payload}\n\n".encode()


async def _openai_events(
    body: dict[str, Any], text: str, deltas: AsyncIterator[str | None], usage: bool, call: int
) -> AsyncIterator[bytes]:
    """chat.completion.chunk data lines, the usage chunk when asked for, then [DONE]."""
    base = {
        "id": f"chatcmpl-stub-{call}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": body.get("model", "stub"),
    }

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return _sse({**base, "choices": [choice]})

    yield chunk({"role": "assistant", "content": ""})
    async for delta in deltas:
        if delta is None:
            yield _sse({"error": {"message": "stub failure mid-stream", "type": "server_error"}})
            return
        yield chunk({"content": delta})
    yield chunk({}, "stop")
    if usage and (body.get("stream_options") or {}).get("include_usage"):
        prompt_tokens = _count(body.get("messages", []))
        completion_tokens = len(text.split())
        totals = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        yield _sse({**base, "choices": [], "usage": totals})
    yield _sse("[DONE]")


async def _anthropic_events(
    body: dict[str, Any], text: str, deltas: AsyncIterator[str | None], usage: bool, call: int
) -> AsyncIterator[bytes]:
    """message_start, a text content block of deltas, message_delta with usage, message_stop."""
    input_tokens = _count(body.get("messages", [])) + len(str(body.get("system", "")).split())
    message = {
        "id": f"msg_stub_{call}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "stub"),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens if usage else 0, "output_tokens": 1},
    }
    yield _sse({"type": "message_start", "message": message}, "message_start")
    block = {"type": "text", "text": ""}
    yield _sse(
        {"type": "content_block_start", "index": 0, "content_block": block}, "content_block_start"
    )
    yield _sse({"type": "ping"}, "ping")
    async for delta in deltas:
        if delta is None:
            error = {"type": "overloaded_error", "message": "stub failure mid-stream"}
            yield _sse({"type": "error", "error": error}, "error")
            return
        text_delta = {"type": "text_delta", "text": delta}
        yield _sse(
            {"type": "content_block_delta", "index": 0, "delta": text_delta}, "content_block_delta"
        )
    yield _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
    finished = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": len(text.split()) if usage else 0},
    }
    yield _sse(finished, "message_delta")
    yield _sse({"type": "message_stop"}, "message_stop")


def openai_error(status: int) -> dict[str, Any]:
    return {"error": {"message": f"stub error {status}", "type": "stub_error", "code": status}}


def anthropic_error(status: int) -> dict[str, Any]:
    return {"type": "error", "error": {"type": "stub_error", "message": f"stub error {status}"}}


async def _delay_or_fail(reply: Reply, stub: StubLLM, error_body: Any) -> Response | None:
    if reply.hang:
        while stub._server is not None and not stub._server.should_exit:  # noqa: ASYNC110 - flag set from another thread
            await asyncio.sleep(0.05)
        return Response(status_code=503)
    if reply.gate is not None:
        while not reply.gate.is_set():  # set from another thread
            if stub._server is None or stub._server.should_exit:
                return Response(status_code=503)
            await asyncio.sleep(0.02)
    if reply.latency:
        await asyncio.sleep(reply.latency)
    if reply.malformed:
        return Response("{not json", media_type="application/json", status_code=reply.status)
    if reply.payload is not None:
        return JSONResponse(reply.payload, status_code=reply.status)
    if reply.status != 200:
        headers = {} if reply.retry_after is None else {"Retry-After": f"{reply.retry_after:g}"}
        return Response(
            json.dumps(error_body(reply.status)),
            status_code=reply.status,
            media_type="application/json",
            headers=headers,
        )
    return None


def _words(text: str) -> list[str]:
    """``text`` a word at a time, each with the space before it (they join back to it)."""
    words = text.split(" ")
    return [words[0], *(" " + word for word in words[1:])] if text else []


def _echo(messages: list[dict[str, Any]]) -> str:
    last = messages[-1]["content"] if messages else ""
    return f"stub reply to: {str(last)[:200]}"


def _count(messages: list[dict[str, Any]]) -> int:
    return sum(len(str(m.get("content", "")).split()) for m in messages)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
