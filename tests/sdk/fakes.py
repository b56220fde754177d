"""Fakes at the SDK's port, the HTTP transport: scripted answers (httpx.MockTransport) for the
transport-level cases, and a recording wrapper around a real transport that counts what the
server received and can play "the server is down"."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

PROBLEMS = "https://promptledger.dev/problems/"


def problem(
    status: int, slug: str = "error", *, headers: dict[str, str] | None = None, **fields: Any
) -> httpx.Response:
    body = {"type": PROBLEMS + slug, "title": slug.title(), "status": status, "detail": "nope"}
    body |= fields
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/problem+json", **(headers or {})},
    )


def ok(body: dict[str, Any] | None = None, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=body if body is not None else {})


Step = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


@dataclass
class Script:
    """Answers requests with ``steps`` in order (the last one repeats) and records each
    request with the time it arrived."""

    steps: list[Step]
    requests: list[httpx.Request] = field(default_factory=list)
    times: list[float] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.times.append(time.monotonic())
        step = self.steps[min(len(self.requests), len(self.steps)) - 1]
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return httpx.Response(
                step.status_code, headers=step.headers, content=step.content, request=request
            )
        return step(request)

    def gaps(self) -> list[float]:
        return [b - a for a, b in zip(self.times, self.times[1:], strict=False)]

    def sync_client(self) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(self), base_url="http://fake")

    def async_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.MockTransport(self), base_url="http://fake")


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    status: int
    headers: httpx.Headers


@dataclass
class Log:
    """What the server received, and whether it is reachable."""

    seen: list[Seen] = field(default_factory=list)
    down: bool = False

    def count(self, method: str | None = None, path: str | None = None) -> int:
        return sum(
            1
            for s in self.seen
            if (method is None or s.method == method) and (path is None or s.path == path)
        )

    def refuse(self, request: httpx.Request) -> None:
        if self.down:
            raise httpx.ConnectError(
                "connection refused (fake: the server is down)", request=request
            )

    def record(self, request: httpx.Request, response: httpx.Response) -> None:
        self.seen.append(
            Seen(request.method, request.url.path, response.status_code, request.headers)
        )


class RecordingTransport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, log: Log) -> None:
        self.inner, self.log = inner, log

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.log.refuse(request)
        response = self.inner.handle_request(request)
        self.log.record(request, response)
        return response

    def close(self) -> None:
        self.inner.close()


class AsyncRecordingTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, log: Log) -> None:
        self.inner, self.log = inner, log

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.log.refuse(request)
        response = await self.inner.handle_async_request(request)
        self.log.record(request, response)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class FakeClock:
    """A monotonic clock that moves only when told: given to the SDK's prompt cache (its
    ``clock`` port), so TTL tests advance time instead of sleeping through windows."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def attach(self, ledger: Any) -> FakeClock:
        ledger._core.cache.clock = self  # the cache's clock port
        return self
