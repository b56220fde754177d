"""OpenAI (and any OpenAI-compatible server: Ollama, vLLM, LM Studio) through the official SDK."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import openai

from prompt_ledger.providers.base import (
    Completion,
    CompletionRequest,
    ProviderError,
    classify_status,
    retry_after_seconds,
)


class OpenAIProvider:
    name = "openai"

    def __init__(self, *, api_key: str, base_url: str | None = None, timeout: float = 60.0) -> None:
        # Retries are ours (worker backoff honouring Retry-After), so the SDK's are off.
        self._client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0
        )

    async def complete(self, request: CompletionRequest) -> Completion:
        kwargs: dict[str, Any] = {"model": request.model, "messages": request.messages}
        for key in ("max_tokens", "temperature", "top_p", "stop"):
            value = getattr(request, key)
            if value is not None:
                kwargs[key] = value
        kwargs.update(request.extra)
        try:
            # The SDK's documented raw-request path: same auth, timeouts and typed errors, but
            # no request-parameter transformation and response model building, which cost more
            # CPU than the rest of an execution (bench/execution_overhead.py).
            response = await self._client.post(
                "/chat/completions", body=kwargs, cast_to=httpx2.Response
            )
            return self._completion(json.loads(response.content))
        except openai.APITimeoutError as exc:
            raise ProviderError(
                f"OpenAI timed out: {exc}", provider=self.name, transient=True, kind="timeout"
            ) from exc
        except openai.APIConnectionError as exc:
            raise ProviderError(
                f"Cannot reach OpenAI: {exc}", provider=self.name, transient=True, kind="connection"
            ) from exc
        except openai.APIStatusError as exc:
            raise ProviderError(
                f"OpenAI answered {exc.status_code}: {_message(exc)}",
                provider=self.name,
                transient=classify_status(exc.status_code),
                status=exc.status_code,
                retry_after=retry_after_seconds(exc.response.headers),
                kind=f"http_{exc.status_code}",
            ) from exc
        except (openai.APIError, ValueError, TypeError, KeyError, AttributeError) as exc:
            # malformed bodies, and well-formed JSON of the wrong shape (a choice without a
            # message, ...): compatible servers vary
            raise ProviderError(
                f"Bad response from OpenAI: {type(exc).__name__}: {exc}",
                provider=self.name,
                transient=True,
                kind="bad_response",
            ) from exc

    def _completion(self, response: Any) -> Completion:
        """Read a chat.completion body; a wrong shape raises KeyError/TypeError/ValueError."""
        choices = response["choices"]
        if not choices:
            raise ProviderError(
                "OpenAI returned no choices",
                provider=self.name,
                transient=True,
                kind="bad_response",
            )
        choice = choices[0]
        usage = response.get("usage") or {}
        content = choice["message"].get("content")
        return Completion(
            text=content if isinstance(content, str) else "",
            prompt_tokens=_int_or_none(usage.get("prompt_tokens")),
            completion_tokens=_int_or_none(usage.get("completion_tokens")),
            model=response.get("model"),
            finish_reason=choice.get("finish_reason"),
        )

    async def aclose(self) -> None:
        await self._client.close()


def _int_or_none(value: Any) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"token count {value!r} is not an integer")
    return value


def _message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:500]
    return str(exc.message)[:500]
