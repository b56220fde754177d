"""Anthropic's Messages API through the official SDK: proof the port is not OpenAI-shaped
(system prompt is a top-level field, max_tokens is required, usage is input/output tokens)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic

from prompt_ledger.providers.base import (
    BodyShapeError,
    Completion,
    CompletionRequest,
    StreamPiece,
    bad_response,
    field_of,
    relay,
    sdk_failure,
)

DEFAULT_MAX_TOKENS = 1024


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, *, api_key: str, base_url: str | None = None, timeout: float = 60.0) -> None:
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0
        )

    async def complete(self, request: CompletionRequest) -> Completion:
        try:
            response = await self._client.messages.create(**_body(request))
        except anthropic.APIError as exc:
            raise sdk_failure(exc, sdk=anthropic, provider=self.name, label="Anthropic") from exc
        try:
            return _completion(response)
        except BodyShapeError as exc:
            raise bad_response(self.name, "Anthropic", str(exc)) from exc

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamPiece]:
        """Messages with ``stream: true``: message_start (input tokens), content_block_delta
        (text), message_delta (output tokens, stop reason), message_stop. Events are read as
        plain dicts; an ``error`` event raises."""
        try:
            events = await self._client.post(
                "/v1/messages",
                body={**_body(request), "stream": True},
                cast_to=object,
                stream=True,
                stream_cls=anthropic.AsyncStream[object],
            )
        except anthropic.APIError as exc:
            raise sdk_failure(exc, sdk=anthropic, provider=self.name, label="Anthropic") from exc
        pieces = relay(events, _piece, sdk=anthropic, provider=self.name, label="Anthropic")
        async for piece in pieces:
            yield piece

    async def aclose(self) -> None:
        await self._client.close()


def _body(request: CompletionRequest) -> dict[str, Any]:
    """The Messages API body of a request."""
    system = "\n\n".join(
        m["content"] for m in request.messages if m["role"] in {"system", "developer"}
    )
    messages = [
        {"role": m["role"], "content": m["content"]}
        for m in request.messages
        if m["role"] in {"user", "assistant"}
    ]
    if not messages:
        messages = [{"role": "user", "content": system}]
        system = ""
    kwargs: dict[str, Any] = {
        "model": request.model,
        "messages": messages,
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
    }
    if system:
        kwargs["system"] = system
    if request.stop:
        kwargs["stop_sequences"] = request.stop
    # Not sent: temperature and top_p (the SDK 2.x / API version 2026-10-21 refuse sampling
    # parameters, even at their defaults: a TypeError in the SDK, a 400 from the API), and
    # presence/frequency penalties and seed, which have no Anthropic equivalent. The
    # execution still records the params the caller gave.
    return kwargs


def _piece(event: Any) -> StreamPiece | None:
    """One stream event as a piece (None for events that say nothing we keep); a wrong shape is
    a :class:`BodyShapeError`."""
    if not isinstance(event, dict):
        raise BodyShapeError("an event is not an object")
    kind = event.get("type")
    if kind == "message_start":
        message = field_of(event, "message", dict, where="message_start")
        usage = _object(message.get("usage"), "message_start.message.usage")
        model = message.get("model")
        return StreamPiece(
            prompt_tokens=_tokens(usage.get("input_tokens")),
            model=model if isinstance(model, str) else None,
        )
    if kind == "content_block_delta":
        delta = _object(event.get("delta"), "content_block_delta.delta")
        text = delta.get("text") if delta.get("type") == "text_delta" else None
        return StreamPiece(text=text) if isinstance(text, str) and text else None
    if kind == "message_delta":
        usage = _object(event.get("usage"), "message_delta.usage")
        stop = _object(event.get("delta"), "message_delta.delta").get("stop_reason")
        return StreamPiece(
            completion_tokens=_tokens(usage.get("output_tokens")),
            finish_reason=stop if isinstance(stop, str) else None,
        )
    return None


def _object(value: Any, where: str) -> dict[str, Any]:
    """An optional object of an event (absent or null: empty)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BodyShapeError(f"{where} is not an object")
    return value


def _completion(response: Any) -> Completion:
    """Read a Message. The SDK builds it without validation, so a body of another shape comes
    as a model lacking fields: each one is checked, and only those checks call the body bad."""
    blocks = getattr(response, "content", None)
    if not isinstance(blocks, list):
        raise BodyShapeError("the message has no content list")
    text = "".join(t for block in blocks if isinstance(t := getattr(block, "text", ""), str))
    usage = getattr(response, "usage", None)
    model = getattr(response, "model", None)
    stop_reason = getattr(response, "stop_reason", None)
    return Completion(
        text=text,
        prompt_tokens=_tokens(getattr(usage, "input_tokens", None)),
        completion_tokens=_tokens(getattr(usage, "output_tokens", None)),
        model=model if isinstance(model, str) else None,
        finish_reason=stop_reason if isinstance(stop_reason, str) else None,
    )


def _tokens(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise BodyShapeError(f"token count {value!r} is not an integer")
    return value
