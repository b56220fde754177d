"""OpenAI (and any OpenAI-compatible server: Ollama, vLLM, LM Studio) through the official SDK."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2
import openai

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


class OpenAIProvider:
    name = "openai"

    def __init__(self, *, api_key: str, base_url: str | None = None, timeout: float = 60.0) -> None:
        # Retries are ours (worker backoff honouring Retry-After), so the SDK's are off.
        self._client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0
        )

    async def complete(self, request: CompletionRequest) -> Completion:
        kwargs = _body(request)
        try:
            # The SDK's documented raw-request path: same auth, timeouts and typed errors, but
            # no request-parameter transformation and response model building, which cost more
            # CPU than the rest of an execution (bench/execution_overhead.py).
            response = await self._client.post(
                "/chat/completions", body=kwargs, cast_to=httpx2.Response
            )
        except openai.APIError as exc:
            raise sdk_failure(exc, sdk=openai, provider=self.name, label="OpenAI") from exc
        return self._read(response.content)

    async def stream(self, request: CompletionRequest) -> AsyncIterator[StreamPiece]:
        """Chat completions with ``stream: true``; the usage comes in a last chunk with no
        choices (``stream_options.include_usage``). Chunks are read as plain dicts."""
        body = {**_body(request), "stream": True, "stream_options": {"include_usage": True}}
        try:
            chunks = await self._client.post(
                "/chat/completions",
                body=body,
                cast_to=object,
                stream=True,
                stream_cls=openai.AsyncStream[object],
            )
        except openai.APIError as exc:
            raise sdk_failure(exc, sdk=openai, provider=self.name, label="OpenAI") from exc
        async for piece in relay(chunks, _piece, sdk=openai, provider=self.name, label="OpenAI"):
            yield piece

    def _read(self, content: bytes) -> Completion:
        """Read a chat.completion body. Only a body that is not JSON or not of that shape is a
        bad response; any other error here is ours, and propagates as such."""
        try:
            body = json.loads(content)
        except ValueError as exc:  # JSONDecodeError, or bytes that are not UTF-8
            raise bad_response(self.name, "OpenAI", f"not JSON: {exc}") from exc
        try:
            return self._completion(body)
        except BodyShapeError as exc:
            raise bad_response(self.name, "OpenAI", str(exc)) from exc

    def _completion(self, body: Any) -> Completion:
        choices = field_of(body, "choices", list, where="body")
        if not choices:
            raise BodyShapeError("no choices")  # (an empty list)
        choice = choices[0]
        if not isinstance(choice, dict):
            raise BodyShapeError("choices[0] is not an object")
        message = field_of(choice, "message", dict, where="choices[0]")
        usage = body.get("usage") or {}
        if not isinstance(usage, dict):
            raise BodyShapeError("body.usage is not an object")
        content = message.get("content")
        model = body.get("model")
        finish_reason = choice.get("finish_reason")
        return Completion(
            text=content if isinstance(content, str) else "",
            prompt_tokens=_tokens(usage.get("prompt_tokens")),
            completion_tokens=_tokens(usage.get("completion_tokens")),
            model=model if isinstance(model, str) else None,
            finish_reason=finish_reason if isinstance(finish_reason, str) else None,
        )

    async def aclose(self) -> None:
        await self._client.close()


def _body(request: CompletionRequest) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"model": request.model, "messages": request.messages}
    for key in ("max_tokens", "temperature", "top_p", "stop"):
        value = getattr(request, key)
        if value is not None:
            kwargs[key] = value
    kwargs.update(request.extra)
    return kwargs


def _piece(chunk: Any) -> StreamPiece:
    """Read a chat.completion.chunk; a wrong shape is a :class:`BodyShapeError`."""
    if not isinstance(chunk, dict):
        raise BodyShapeError("a chunk is not an object")
    usage = _object(chunk.get("usage"), "chunk.usage")
    choices = chunk.get("choices") or []
    if not isinstance(choices, list):
        raise BodyShapeError("chunk.choices is not a list")
    text, finish = "", None
    if choices:
        choice = _object(choices[0], "chunk.choices[0]")
        content = _object(choice.get("delta"), "chunk.choices[0].delta").get("content")
        text = content if isinstance(content, str) else ""
        reason = choice.get("finish_reason")
        finish = reason if isinstance(reason, str) else None
    model = chunk.get("model")
    return StreamPiece(
        text=text,
        prompt_tokens=_tokens(usage.get("prompt_tokens")),
        completion_tokens=_tokens(usage.get("completion_tokens")),
        model=model if isinstance(model, str) else None,
        finish_reason=finish,
    )


def _object(value: Any, where: str) -> dict[str, Any]:
    """An optional object of a chunk (absent or null: empty)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BodyShapeError(f"{where} is not an object")
    return value


def _tokens(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise BodyShapeError(f"token count {value!r} is not an integer")
    return value
