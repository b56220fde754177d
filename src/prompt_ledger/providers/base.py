"""The provider port: one request shape in, one completion shape out, one error type.

Adapters translate their SDK's exceptions into ProviderError at this boundary, classifying
each failure as transient (worth retrying: timeouts, connection errors, 429, 5xx) or
permanent (400, 401, 403, 404, ...)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from prompt_ledger.retry_after import parse_retry_after


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    model: str
    messages: list[dict[str, str]]
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Completion:
    text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    model: str | None = None
    finish_reason: str | None = None


@dataclass(frozen=True, slots=True)
class StreamPiece:
    """One event of a streamed completion: a text delta, and/or what the provider said about
    the whole (usage, model, finish reason) when it says it. Fields left None say nothing."""

    text: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model: str | None = None
    finish_reason: str | None = None


class ProviderError(Exception):
    """A provider call failed. ``transient`` failures may succeed when retried."""

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        transient: bool,
        status: int | None = None,
        retry_after: float | None = None,
        kind: str = "provider_error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.transient = transient
        self.status = status
        self.retry_after = retry_after
        self.kind = kind


class Provider(Protocol):
    name: str

    async def complete(self, request: CompletionRequest) -> Completion: ...

    def stream(self, request: CompletionRequest) -> AsyncIterator[StreamPiece]:
        """The completion as it is generated. Raises ProviderError, before the first piece
        (the call was refused) or after some (the stream broke)."""
        ...

    async def aclose(self) -> None: ...


def classify_status(status: int) -> bool:
    """True when an HTTP status from a provider is worth retrying."""
    return status in {408, 409, 425, 429} or status >= 500


def sdk_failure(exc: Exception, *, sdk: Any, provider: str, label: str) -> ProviderError:
    """Translate an error of an official provider SDK (openai and anthropic share the same
    error classes: ``sdk.APIError`` and its subclasses) into a ProviderError, classified
    transient or permanent."""
    if isinstance(exc, sdk.APITimeoutError):
        return ProviderError(
            f"{label} timed out: {exc}", provider=provider, transient=True, kind="timeout"
        )
    if isinstance(exc, sdk.APIConnectionError):
        return ProviderError(
            f"Cannot reach {label}: {exc}", provider=provider, transient=True, kind="connection"
        )
    if isinstance(exc, sdk.APIStatusError):
        return ProviderError(
            f"{label} answered {exc.status_code}: {_status_message(exc)}",
            provider=provider,
            transient=classify_status(exc.status_code),
            status=exc.status_code,
            retry_after=parse_retry_after(exc.response.headers),
            kind=f"http_{exc.status_code}",
        )
    # Another APIError: the SDK could not read what the provider sent (e.g. openai's
    # APIResponseValidationError).
    return bad_response(provider, label, f"{type(exc).__name__}: {exc}")


def bad_response(provider: str, label: str, problem: str) -> ProviderError:
    """A body the provider sent that we cannot read (not JSON, or JSON of the wrong shape:
    compatible servers vary): transient. Only the code that reads the provider's body raises
    it, on a check it made; an error of our own code is never blamed on the provider."""
    return ProviderError(
        f"Bad response from {label}: {problem}",
        provider=provider,
        transient=True,
        kind="bad_response",
    )


def field_of(body: Any, name: str, kind: type | tuple[type, ...], *, where: str) -> Any:
    """``body[name]`` when ``body`` is an object holding a value of ``kind`` there; else a
    :class:`BodyShapeError` naming what is wrong (the reader turns it into
    :func:`bad_response`)."""
    if not isinstance(body, dict):
        raise BodyShapeError(f"{where} is not an object")
    value = body.get(name)
    if not isinstance(value, kind):
        raise BodyShapeError(f"{where}.{name} is missing or not {_kind_name(kind)}")
    return value


class BodyShapeError(Exception):
    """Raised by the readers of provider bodies only (``field_of`` and their own checks)."""


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def _status_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:500]
    return str(getattr(exc, "message", exc))[:500]


def stream_failure(exc: Exception, *, sdk: Any, provider: str, label: str) -> ProviderError:
    """A failure while reading a stream: the SDK's errors as :func:`sdk_failure` classifies
    them, an error event of the stream itself (a status error with a 2xx status: the call had
    been accepted), and transport errors the SDK lets through (a connection cut mid-stream)."""
    import httpx2

    # OpenAI's SDK raises a bare APIError for an error chunk, Anthropic's a status error with
    # the stream's 200 for an error event.
    in_stream = type(exc) is sdk.APIError
    if in_stream or (isinstance(exc, sdk.APIStatusError) and exc.status_code < 400):
        return ProviderError(
            f"{label} stream failed: {_status_message(exc)}",
            provider=provider,
            transient=True,
            kind="stream_error",
        )
    if isinstance(exc, httpx2.TimeoutException):
        return ProviderError(
            f"{label} stream timed out: {exc}", provider=provider, transient=True, kind="timeout"
        )
    if isinstance(exc, httpx2.TransportError):
        return ProviderError(
            f"{label} stream broke: {type(exc).__name__}: {exc}",
            provider=provider,
            transient=True,
            kind="connection",
        )
    return sdk_failure(exc, sdk=sdk, provider=provider, label=label)


async def relay(
    events: Any,
    read: Callable[[Any], StreamPiece | None],
    *,
    sdk: Any,
    provider: str,
    label: str,
) -> AsyncIterator[StreamPiece]:
    """The pieces of a provider's open stream (``events``: the SDK's stream of decoded events),
    closed at the end. Only what the provider sent is blamed on it: an SDK or transport error
    (:func:`stream_failure`), an event that is not JSON or that ``read`` finds of the wrong
    shape (:func:`bad_response`). An error of our own code propagates as itself."""
    import httpx2

    iterator = events.__aiter__()
    try:
        while True:
            try:
                event = await anext(iterator)
            except StopAsyncIteration:
                return
            except (sdk.APIError, httpx2.HTTPError) as exc:
                raise stream_failure(exc, sdk=sdk, provider=provider, label=label) from exc
            except ValueError as exc:  # the SDK decodes each event's data: not JSON
                raise bad_response(provider, label, f"not JSON: {exc}") from exc
            try:
                piece = read(event)
            except BodyShapeError as exc:
                raise bad_response(provider, label, str(exc)) from exc
            if piece is not None:
                yield piece
    finally:
        await events.close()
