"""What the sync and async clients share: configuration, request building, response parsing,
error mapping, retry decisions, and the prompt cache's bookkeeping. Each client adds only its
transport loop (send, then ask :class:`Core` whether to return, retry after a delay, or raise)
and its way of sleeping and of refreshing in the background."""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from prompt_ledger import __version__
from prompt_ledger.sdk import _specs as specs
from prompt_ledger.sdk._cache import Key, PromptCache
from prompt_ledger.sdk.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ConfigurationError,
    PromptLedgerAPIError,
    ProviderError,
    RateLimitError,
    ServerError,
    WaitTimeoutError,
    error_from_response,
)
from prompt_ledger.sdk.options import Template
from prompt_ledger.sdk.types import Execution, Prompt, PromptRef, ResolveFailure, fallback_prompt

log = logging.getLogger("prompt_ledger.sdk")
T = TypeVar("T")

ENV_URL = "PROMPT_LEDGER_URL"
ENV_KEY = "PROMPT_LEDGER_API_KEY"
DEFAULT_URL = "http://127.0.0.1:8080"
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
MAX_RETRY_AFTER = 60.0
"""A Retry-After longer than this is not waited for: the error is raised."""

_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_HOPELESS = (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.ProxyError)
_UNREACHABLE = (APIConnectionError, ServerError, RateLimitError)
"""Errors after which ``get_prompt`` serves what it has (cached, else the fallback)."""


class Core:
    """Configuration and every decision that does not depend on sync or async I/O."""

    def __init__(
        self,
        api_url: str | None,
        api_key: str | None,
        *,
        timeout: float,
        max_retries: int,
        cache_ttl: float,
        stale_ttl: float,
        http_client: httpx.Client | httpx.AsyncClient | None,
    ) -> None:
        injected_url = str(http_client.base_url) if http_client is not None else ""
        url = api_url or os.environ.get(ENV_URL) or injected_url or DEFAULT_URL
        key = api_key or os.environ.get(ENV_KEY)
        has_auth = http_client is not None and any(
            h in http_client.headers for h in ("x-api-key", "authorization")
        )
        if not key and not has_auth:
            raise ConfigurationError(
                f"No API key: pass api_key= or set {ENV_KEY} "
                "(`promptledger dev` prints a development key)."
            )
        self.base_url = url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self.headers = {"Accept": "application/json", "User-Agent": f"prompt-ledger/{__version__}"}
        if key:
            self.headers["X-API-Key"] = key
        self.cache = PromptCache(cache_ttl, stale_ttl)

    # --- sending -------------------------------------------------------------------------

    def request_args(self, spec: specs.Spec[Any]) -> dict[str, Any]:
        """Arguments of ``build_request`` for ``spec``."""
        args: dict[str, Any] = {
            "method": spec.method,
            "url": self.base_url + spec.path,
            "headers": {**self.headers, **spec.headers},
            "timeout": spec.timeout if spec.timeout is not None else self.timeout,
        }
        if spec.params:
            args["params"] = dict(spec.params)
        if spec.body is not None:
            args["json"] = spec.body
        return args

    @staticmethod
    def accepted(response: httpx.Response) -> bool:
        return response.is_success or response.status_code == 304

    def parse(self, spec: specs.Spec[T], response: httpx.Response) -> T:
        try:
            result = spec.parse(response)
        except ValueError as exc:  # invalid JSON, or not the shape we expect
            raise PromptLedgerAPIError(
                f"Unexpected answer to {spec.method} {spec.path} ({response.status_code}): {exc}",
                status=response.status_code,
            ) from exc
        if spec.invalidates:
            self.cache.invalidate(*spec.invalidates)
        return result

    # --- retrying ------------------------------------------------------------------------

    def delay_after_response(
        self, spec: specs.Spec[Any], attempt: int, response: httpx.Response
    ) -> float:
        """Seconds to wait before resending, or raise the answer's error."""
        error = error_from_response(response)
        if attempt < self.max_retries and self._retryable(spec, error):
            retry_after = error.retry_after
            if retry_after is None:
                return backoff(attempt)
            if retry_after <= MAX_RETRY_AFTER:
                return retry_after
        raise error

    def delay_after_error(
        self, spec: specs.Spec[Any], attempt: int, exc: httpx.TransportError
    ) -> float:
        """Seconds to wait before resending after a transport failure, or raise it mapped."""
        resend = not isinstance(exc, _HOPELESS) and (
            spec.replay_safe or isinstance(exc, _NEVER_SENT)
        )
        if resend and attempt < self.max_retries:
            return backoff(attempt)
        kind = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
        raise kind(
            f"{spec.method} {self.base_url}{spec.path} failed: {type(exc).__name__}: {exc}"
        ) from exc

    @staticmethod
    def _retryable(spec: specs.Spec[Any], error: APIStatusError) -> bool:
        if error.status == 429:  # refused before any work was done
            return True
        if error.status == 409:  # an idempotent request still in flight: it says when to retry
            return "Idempotency-Key" in spec.headers and error.retry_after is not None
        if isinstance(error, ProviderError):  # recorded as failed; a resend only replays it
            return False
        return (error.status == 408 or error.status >= 500) and spec.replay_safe

    # --- the prompt cache ----------------------------------------------------------------

    def begin_resolve(self, key: Key) -> tuple[specs.Spec[specs.Resolved], int]:
        """The (conditional) GET for ``key``, and the cache generation to store under."""
        entry = self.cache.entry(key)
        spec = specs.get_prompt(
            *key,
            cached=None if entry is None else entry.prompt,
            etag=None if entry is None else entry.etag,
        )
        return spec, self.cache.generation(key[0])

    def finish_resolve(self, key: Key, generation: int, result: specs.Resolved) -> Prompt:
        prompt, etag = result
        self.cache.store(key, prompt, etag, generation)
        return prompt

    def rescue(self, key: Key, error: PromptLedgerAPIError, fallback: Template | None) -> Prompt:
        """The server could not answer: serve what is cached (even expired), else the fallback.
        Answers the server did give (404, 401, ...) are raised."""
        if not isinstance(error, _UNREACHABLE):
            raise error
        entry = self.cache.entry(key)
        if entry is not None:
            log.warning("serving cached prompt %r: %s", key[0], error)
            return entry.prompt
        if fallback is not None:
            log.warning("serving the fallback of prompt %r: %s", key[0], error)
            return fallback_prompt(key[0], fallback)
        raise error

    def prefetch_batches(self, prompts: Iterable[str | PromptRef]) -> list[Prefetch]:
        refs = specs.refs_of(prompts)
        return [
            Prefetch(
                specs.resolve(batch),
                [(r.name, r.label, r.version) for r in batch],
                [self.cache.generation(r.name) for r in batch],
                self.cache,
            )
            for batch in specs.batches(refs, specs.RESOLVE_BATCH)
        ]


@dataclass(frozen=True, slots=True)
class Prefetch:
    """One ``prompts:resolve`` round trip; ``finish`` caches what it resolved."""

    spec: specs.Spec[list[Prompt | ResolveFailure]]
    keys: Sequence[Key]
    generations: Sequence[int]
    cache: PromptCache

    def finish(self, results: list[Prompt | ResolveFailure]) -> list[Prompt | ResolveFailure]:
        for key, generation, result in zip(self.keys, self.generations, results, strict=True):
            if isinstance(result, Prompt):
                self.cache.store(key, result, None, generation)
        return results


def backoff(attempt: int) -> float:
    """Exponential backoff with jitter: 0.5 s, 1 s, 2 s ... up to 8 s, each minus up to 25%."""
    delay = min(INITIAL_RETRY_DELAY * 2.0**attempt, MAX_RETRY_DELAY)
    return delay * (1.0 - 0.25 * random.random())  # noqa: S311 - jitter, not cryptography


class Poller:
    """``wait()``'s schedule: poll every ``interval`` seconds, growing 1.5x up to 2 s, until the
    execution is finished or ``timeout`` has passed."""

    def __init__(self, execution_id: str, timeout: float, interval: float) -> None:
        self.execution_id = execution_id
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.interval = interval
        self.last: Execution | None = None

    def next_delay(self, execution: Execution) -> float | None:
        """None when ``execution`` is finished; else how long to sleep (raises after timeout)."""
        self.last = execution
        if execution.done:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise WaitTimeoutError(
                f"Execution {self.execution_id} is still {execution.status} after "
                f"{self.timeout:g}s.",
                execution=execution,
            )
        delay, self.interval = self.interval, min(self.interval * 1.5, 2.0)
        return min(delay, left)
