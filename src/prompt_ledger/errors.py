"""Domain errors. Every failure a caller can cause is one of these; the HTTP edge renders them
as RFC 9457 problem+json, and the SDK maps them back from the status code."""

from __future__ import annotations

from typing import Any, ClassVar

PROBLEM_BASE = "https://promptledger.dev/problems/"


class PromptLedgerError(Exception):
    """Base of every error PromptLedger raises on purpose."""

    status: ClassVar[int] = 500
    slug: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"

    def __init__(
        self,
        detail: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.slug

    def to_problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


class BadRequest(PromptLedgerError):
    status, slug, title = 400, "bad-request", "Bad request"


class Unauthorized(PromptLedgerError):
    status, slug, title = 401, "unauthorized", "Missing or invalid API key"

    def __init__(self, detail: str, **kwargs: Any) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="promptledger"'})


class Forbidden(PromptLedgerError):
    status, slug, title = 403, "forbidden", "Insufficient scope"


class NotFound(PromptLedgerError):
    status, slug, title = 404, "not-found", "Not found"


class MethodNotAllowed(PromptLedgerError):
    status, slug, title = 405, "method-not-allowed", "Method not allowed"


class Conflict(PromptLedgerError):
    status, slug, title = 409, "conflict", "Conflict"


class RequestTimeout(PromptLedgerError):
    """The request's body did not arrive in time (a slow or stalled client): the connection is
    closed."""

    status, slug, title = 408, "request-timeout", "Request timeout"


class TooManyRequests(PromptLedgerError):
    """A key's rate limit: ``Retry-After`` says when the next minute starts."""

    status, slug, title = 429, "rate-limited", "Too many requests"


class PayloadTooLarge(PromptLedgerError):
    status, slug, title = 413, "payload-too-large", "Request body too large"


class UnsupportedMediaType(PromptLedgerError):
    status, slug, title = 415, "unsupported-media-type", "Unsupported media type"


class ValidationFailed(PromptLedgerError):
    status, slug, title = 422, "validation", "Request validation failed"


class TemplateError(ValidationFailed):
    slug, title = "template", "Template error"


class TemplateRefused(TemplateError):
    """The sandbox refused or stopped the render (unsafe operation, budget used up)."""


class MissingVariables(ValidationFailed):
    slug, title = "missing-variables", "Missing template variables"


class ServiceUnavailable(PromptLedgerError):
    status, slug, title = 503, "unavailable", "Service unavailable"

    def __init__(self, detail: str, *, retry_after: int = 5, **kwargs: Any) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)}, **kwargs)


class ProviderFailed(PromptLedgerError):
    """The LLM provider failed a synchronous run; the execution is recorded as failed."""

    status, slug, title = 502, "provider-failed", "The LLM provider failed"


# --- deploy: forwarding to the function that serves an endpoint ---------------------------------


class FunctionFailed(PromptLedgerError):
    """The function that serves the endpoint broke the connection or answered garbage."""

    status, slug, title = 502, "function-failed", "The serving function failed"


class FunctionUnavailable(ServiceUnavailable):
    """The function that serves the endpoint cannot be reached (down, deploying, wrong URL)."""

    slug, title = "function-unavailable", "The serving function is unavailable"


class FunctionTimeout(PromptLedgerError):
    status, slug, title = 504, "function-timeout", "The serving function did not answer in time"


class ForwardLoop(PromptLedgerError):
    """A forwarded request reached a function that does not serve it: a URL variable points at
    the wrong function."""

    status, slug, title = 508, "forward-loop", "Forwarding loop"
