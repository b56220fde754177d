"""The SDK's exceptions, mapped from the server's RFC 9457 problem+json answers.

Every exception the SDK raises is a :class:`PromptLedgerAPIError`. Answers with a status code
carry the problem document's fields (``status``, ``type``, ``title``, ``detail``, ``errors``)
and the whole ``body``; transport failures are :class:`APIConnectionError` (or its subclass
:class:`APITimeoutError`) and have no status.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from prompt_ledger.retry_after import parse_retry_after

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "NotFoundError",
    "PermissionDeniedError",
    "PromptLedgerAPIError",
    "ProviderError",
    "RateLimitError",
    "ServerError",
    "ValidationError",
    "WaitTimeoutError",
    "error_from_problem",
    "error_from_response",
    "parse_retry_after",
]

PROBLEM_BASE = "https://promptledger.dev/problems/"


class PromptLedgerAPIError(Exception):
    """Base of every SDK error."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        title: str | None = None,
        detail: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        body: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.title = title
        self.detail = detail if detail is not None else message
        self.errors = errors
        self.body: dict[str, Any] = dict(body or {})
        self.headers: dict[str, str] = dict(headers or {})


class ConfigurationError(PromptLedgerAPIError):
    """The client was built without what it needs (e.g. no API key)."""


class APIConnectionError(PromptLedgerAPIError):
    """The server could not be reached, or the connection broke before an answer."""


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class WaitTimeoutError(PromptLedgerAPIError, TimeoutError):
    """``wait()`` gave up before the execution finished; ``execution`` is the last state seen."""

    def __init__(self, message: str, *, execution: Any) -> None:
        super().__init__(message)
        self.execution = execution


class APIStatusError(PromptLedgerAPIError):
    """The server answered with an error status (the base of the status-specific errors)."""

    status: int

    @property
    def execution_id(self) -> str | None:
        """The execution the error is about, when the server names one."""
        value = self.body.get("execution_id")
        return None if value is None else str(value)

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers)


class BadRequestError(APIStatusError):
    """400: malformed JSON and the like."""


class AuthenticationError(APIStatusError):
    """401: missing, unknown or revoked API key."""


class PermissionDeniedError(APIStatusError):
    """403: the key lacks the scope; ``body['required_scope']`` names it."""


class NotFoundError(APIStatusError):
    """404: unknown prompt, version, label or execution (or another project's)."""


class ConflictError(APIStatusError):
    """409: e.g. editing a tracking-mode prompt, or an idempotent run still in flight."""


class ValidationError(APIStatusError):
    """422: field problems (``errors``), template errors, missing variables (``missing``)."""

    @property
    def missing(self) -> list[str]:
        """Template variables the request did not give (problem type ``missing-variables``)."""
        value = self.body.get("missing")
        return [str(v) for v in value] if isinstance(value, list) else []


class RateLimitError(APIStatusError):
    """429: too many requests."""


class ServerError(APIStatusError):
    """5xx."""


class ProviderError(ServerError):
    """502 ``provider-failed``: the LLM provider failed a synchronous run. The execution is
    recorded as failed (``execution_id``); retrying with the same Idempotency-Key would only
    replay that record, so the SDK does not retry it."""

    @property
    def transient(self) -> bool:
        return bool(self.body.get("transient"))


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: ValidationError,
    429: RateLimitError,
}


def error_class(status: int, problem_type: str | None) -> type[APIStatusError]:
    if status == 502 and problem_type == PROBLEM_BASE + "provider-failed":
        return ProviderError
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIStatusError)


def error_from_problem(
    status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> APIStatusError:
    """The exception for a problem document (also used for local render errors)."""
    problem_type = _str(body.get("type"))
    title = _str(body.get("title"))
    detail = _str(body.get("detail"))
    raw_errors = body.get("errors")
    errors = (
        [dict(e) for e in raw_errors if isinstance(e, Mapping)]
        if isinstance(raw_errors, list)
        else None
    )
    message = f"{status} {title or 'Error'}" + (f": {detail}" if detail else "")
    return error_class(status, problem_type)(
        message,
        status=status,
        type=problem_type,
        title=title,
        detail=detail,
        errors=errors,
        body=body,
        headers=headers,
    )


def error_from_response(response: httpx.Response) -> APIStatusError:
    """Map an error answer to its exception. Bodies that are not problem+json (a proxy's HTML
    page, say) keep their text, shortened, as ``detail``."""
    body: Mapping[str, Any]
    try:
        parsed = json.loads(response.content) if response.content else {}
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        body = parsed
    else:
        text = response.text.strip()[:500]
        body = {"title": response.reason_phrase or None, "detail": text or None}
    return error_from_problem(response.status_code, body, dict(response.headers))


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
