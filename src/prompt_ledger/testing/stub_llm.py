"""A loopback stub LLM server speaking OpenAI's chat-completions and Anthropic's messages wire
protocols, so the real SDK code paths run in tests and benchmarks.

    with StubLLM(latency=0.05) as stub:
        OpenAIProvider(api_key="x", base_url=stub.openai_base_url)
        stub.script(Reply(status=429, retry_after=1), Reply())  # next two calls, then default
        assert stub.calls == 2

Replies are configurable: latency, status codes, Retry-After, missing usage, malformed bodies,
bodies of the wrong shape and hangs. The server runs in its own thread and event loop, bound to
127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass(frozen=True)
class Reply:
    """How the stub answers one call."""

    status: int = 200
    text: str | None = None  # default: an echo of the last message
    latency: float | None = None  # seconds; None = the server default
    retry_after: float | None = None
    usage: bool = True
    malformed: bool = False
    payload: dict[str, Any] | None = None  # answer with this JSON body instead (odd shapes)
    hang: bool = False  # never answer (until the server stops)
    gate: threading.Event | None = None  # answer once this is set (e.g. after a database stop)


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
            if time.monotonic() > deadline:  # pragma: no cover - machine trouble
                raise RuntimeError("stub LLM server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._server.force_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

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
        while not reply.gate.is_set():  # noqa: ASYNC110 - set from another thread
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
