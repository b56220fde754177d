"""CORS for browser clients of the API (``CORS_ORIGINS``; no origin is allowed by default).

Preflights (``OPTIONS`` with ``Access-Control-Request-Method``) are answered before
authentication, since browsers send them without the API key. Keys travel in headers, never in
cookies, so credentials are not allowed: a page of another origin can call the API only with a
key it holds itself, never with a console session's cookie."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response

from prompt_ledger.errors import Forbidden

ALLOW_HEADERS = (
    "X-API-Key",
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "traceparent",
    "tracestate",
    "X-Correlation-ID",
    "X-Request-ID",
    "If-None-Match",
)
EXPOSE_HEADERS = (
    "X-Request-ID",
    "Server-Timing",
    "Idempotent-Replayed",
    "Execution-Id",  # a streamed run's id, before its first event
    "Ledger-Write",  # "pending": the outcome is held until the database is back
    "Location",
    "Retry-After",
    "ETag",
    "WWW-Authenticate",
)
MAX_AGE_SECONDS = 600


def is_preflight(request: Request) -> bool:
    return (
        request.method == "OPTIONS"
        and "origin" in request.headers
        and "access-control-request-method" in request.headers
    )


class Cors:
    def __init__(self, origins: Iterable[str]) -> None:
        self._origins = frozenset(origins)
        self._any = "*" in self._origins

    def _allowed(self, origin: str | None) -> str | None:
        """The Access-Control-Allow-Origin value for ``origin``, or None when not allowed."""
        if not origin:
            return None
        if self._any:
            return "*"
        return origin if origin.rstrip("/") in self._origins else None

    def preflight(self, request: Request, methods: Iterable[str]) -> Response:
        origin = request.headers.get("origin")
        allowed = self._allowed(origin)
        if allowed is None:
            raise Forbidden(
                f"Origin '{(origin or '')[:200]}' may not call this API from a browser; the "
                "operator can allow it with CORS_ORIGINS.",
                headers={"Vary": "Origin"},
            )
        headers = {
            "Access-Control-Allow-Origin": allowed,
            "Access-Control-Allow-Methods": ", ".join(sorted({*methods, "OPTIONS"})),
            "Access-Control-Allow-Headers": ", ".join(ALLOW_HEADERS),
            "Access-Control-Max-Age": str(MAX_AGE_SECONDS),
            "Vary": "Origin",
        }
        return Response(status_code=204, headers=headers)

    def decorate(self, request: Request, headers: MutableHeaders) -> None:
        """Let an allowed origin read the response (errors included)."""
        allowed = self._allowed(request.headers.get("origin"))
        if allowed is None or "access-control-allow-origin" in headers:  # a preflight's own
            return
        headers["Access-Control-Allow-Origin"] = allowed
        headers["Access-Control-Expose-Headers"] = ", ".join(EXPOSE_HEADERS)
        headers.append("Vary", "Origin")
