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
        except (openai.APIError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise sdk_failure(exc, sdk=openai, provider=self.name, label="OpenAI") from exc

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
