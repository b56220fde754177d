"""One URL reaches every function: a request for an endpoint another function serves is
forwarded to that function, streamed both ways.

Deployed one function per service, each function knows the base URL of the others from its
settings (``REGISTRY_URL``, ``EXECUTIONS_URL``, ...; see ``Settings.function_urls``). A client
configured with any one of those URLs then reaches every endpoint: the function that receives a
request it does not serve passes it on, as a reverse proxy would:

- hop-by-hop headers are dropped both ways (RFC 9110 §7.6.1), ``X-Forwarded-For/-Proto/-Host``
  and ``Via`` are added; the body is streamed in and out (Server-Sent Events pass unbuffered);
- ``X-PromptLedger-Forwarded-By`` marks a forwarded request, which is never forwarded again (a
  URL variable that points at the wrong function answers 508 instead of looping);
- the target down answers a 503 problem, a protocol failure 502, no answer in time 504;
- ``Server-Timing`` keeps the target's entries and adds ``forward`` (this hop, up to the
  target's response headers).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from prompt_ledger.errors import (
    FunctionFailed,
    FunctionTimeout,
    FunctionUnavailable,
)

if TYPE_CHECKING:  # httpx is imported on the first forward: cold start matters more
    import httpx

log = logging.getLogger("prompt_ledger.http.forward")

FORWARDED_BY = "x-promptledger-forwarded-by"
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
CONNECT_TIMEOUT = 5.0


def url_variable(function: str) -> str:
    """The setting that holds ``function``'s base URL."""
    return f"{function.upper()}_URL"


def end_to_end(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers without the hop-by-hop ones, including those a Connection header names."""
    named = {
        token.strip().lower()
        for key, value in items
        if key.lower() == "connection"
        for token in value.split(",")
    }
    return [(k, v) for k, v in items if k.lower() not in HOP_BY_HOP and k.lower() not in named]


class Forwarder:
    """Sends requests on to the other functions of a per-function deploy."""

    def __init__(self, origin: str, urls: Mapping[str, str], timeout: float) -> None:
        self.origin = origin
        self._urls = dict(urls)
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def url(self, function: str) -> str | None:
        return self._urls.get(function)

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:  # built on first use: a function may never forward
            import httpx

            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self._timeout, connect=CONNECT_TIMEOUT, pool=CONNECT_TIMEOUT),
                limits=httpx.Limits(max_connections=1000, max_keepalive_connections=100),
                trust_env=False,  # never send internal traffic through an HTTP(S)_PROXY
                follow_redirects=False,
            )
        return self._client

    async def send(self, request: Request, function: str, started: float) -> Response:
        import httpx

        base = self._urls[function]
        raw = request.scope.get("raw_path")  # as sent, still percent-encoded
        path = raw.decode("latin-1") if raw else request.url.path
        target = base + path + (f"?{request.url.query}" if request.url.query else "")
        outgoing = self.client.build_request(
            request.method,
            target,
            headers=self._request_headers(request),
            content=request.stream() if _has_body(request) else None,
        )
        try:
            upstream = await self.client.send(outgoing, stream=True)
        except httpx.TimeoutException:
            raise FunctionTimeout(
                f"The {function} function ({base}) did not answer in time.", function=function
            ) from None
        except (httpx.ConnectError, httpx.ConnectTimeout):
            raise FunctionUnavailable(
                f"The {function} function cannot be reached at {base} "
                f"(down, deploying, or {url_variable(function)} is wrong).",
                retry_after=2,
                function=function,
            ) from None
        except httpx.TransportError as exc:
            raise FunctionFailed(
                f"The {function} function ({base}) failed: {type(exc).__name__}.",
                function=function,
            ) from None
        hop = (time.perf_counter() - started) * 1000
        response = StreamingResponse(_relay(upstream, function), status_code=upstream.status_code)
        headers = end_to_end(upstream.headers.multi_items())
        timing = [v for k, v in headers if k.lower() == "server-timing"]
        # date and server are this server's to set; timing and via are extended below.
        mine = {"server-timing", "via", "date", "server"}
        headers = [(k, v) for k, v in headers if k.lower() not in mine]
        via = [v for k, v in upstream.headers.multi_items() if k.lower() == "via"]
        headers += [
            ("via", ", ".join([*via, f"1.1 {self.origin}"])),
            (
                "server-timing",
                ", ".join([*timing, f'forward;desc="{self.origin} to {function}";dur={hop:.2f}']),
            ),
        ]
        response.raw_headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers
        ]
        return response

    def _request_headers(self, request: Request) -> list[tuple[str, str]]:
        items = [(k, v) for k, v in request.headers.items() if k.lower() != "host"]
        headers = end_to_end(items)
        client = request.client.host if request.client else ""
        prior = request.headers.get("x-forwarded-for")
        replaced = {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "via", FORWARDED_BY}
        headers = [(k, v) for k, v in headers if k.lower() not in replaced]
        via = request.headers.get("via")
        headers += [
            ("x-forwarded-for", f"{prior}, {client}" if prior else client),
            (
                "x-forwarded-proto",
                request.headers.get("x-forwarded-proto") or request.url.scheme,
            ),
            (
                "x-forwarded-host",
                request.headers.get("x-forwarded-host") or request.headers.get("host", ""),
            ),
            ("via", f"{via}, 1.1 {self.origin}" if via else f"1.1 {self.origin}"),
            (FORWARDED_BY, self.origin),
        ]
        return headers

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return bool(request.headers.get("transfer-encoding")) or (length not in (None, "0"))


async def _relay(upstream: httpx.Response, function: str) -> AsyncIterator[bytes]:
    """The target's body as it arrives (no buffering: streamed responses stay streamed)."""
    import httpx

    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    except httpx.TransportError as exc:  # headers are gone already: end the body
        log.warning("the %s function broke off a forwarded response: %s", function, exc)
    finally:
        await upstream.aclose()
