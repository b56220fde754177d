"""The asynchronous client: the same surface as :class:`PromptLedger`, awaitable."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from types import ModuleType, TracebackType
from typing import Any, TypeVar, Unpack

import httpx

from prompt_ledger.sdk import _specs as specs
from prompt_ledger.sdk._admin import AsyncAdmin
from prompt_ledger.sdk._analytics import AsyncAnalytics
from prompt_ledger.sdk._base import Core, log
from prompt_ledger.sdk._cache import Key
from prompt_ledger.sdk._executions import AsyncExecutions
from prompt_ledger.sdk._traces import Traces
from prompt_ledger.sdk.errors import PromptLedgerAPIError
from prompt_ledger.sdk.options import (
    AnalyticsWindow,
    PromptFilters,
    PromptOptions,
    Template,
    TraceFilters,
)
from prompt_ledger.sdk.types import (
    DiffResult,
    Label,
    LabelEvent,
    Page,
    Prompt,
    PromptAnalytics,
    PromptRef,
    PromptSummary,
    RegisterResult,
    RenderResult,
    ResolveFailure,
    SavedPrompt,
    TraceSummary,
    TraceTree,
    Version,
)

T = TypeVar("T")


class AsyncPromptLedger(AsyncExecutions, AsyncAdmin):
    """Asynchronous client of a PromptLedger server (see :class:`PromptLedger`).

    ``api_url`` and ``api_key`` default to ``PROMPT_LEDGER_URL`` and ``PROMPT_LEDGER_API_KEY``
    (the key is sent as ``X-API-Key``). ``timeout`` applies to every request, also through an
    injected ``http_client`` (pass one to set proxies, limits or a test transport; it is not
    closed by ``aclose()``).

    Retries: connection errors, 429 and 5xx are retried up to ``max_retries`` times, waiting
    what ``Retry-After`` says (up to 60 s; longer is raised at once) or else an exponential
    backoff with jitter (0.5 s, 1 s, 2 s ... 8 s). A request the server may already have acted
    on is resent only when that is safe: reads, PUTs and content-addressed writes are; a POST
    run is only with an ``Idempotency-Key``. ``execute``/``submit`` therefore always send one
    (``idempotency_key=``, or a fresh ``pl-sdk-<uuid>`` per call, reused by its retries): the
    server answers a resend with the original execution, so a prompt never runs twice, and a
    resend that finds the first still running waits as its 409's ``Retry-After`` says. A
    ``ProviderError`` (502: the LLM failed; recorded as a failed execution) is not retried.

    Prompt cache: ``get_prompt`` results are kept in-process for ``cache_ttl`` seconds (a hit
    is a dict lookup: no I/O, no lock), then served stale for up to ``stale_ttl`` more seconds
    while a background task revalidates them (``If-None-Match``, 304 when unchanged). Writes
    through this client drop the entries they affect. When the server cannot be reached (or
    answers 5xx/429), ``get_prompt`` serves what it holds, even expired, else its ``fallback``.
    """

    def __init__(
        self,
        api_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 2,
        http_client: httpx.AsyncClient | None = None,
        cache_ttl: float = 60.0,
        stale_ttl: float = 300.0,
    ) -> None:
        self._core = Core(
            api_url,
            api_key,
            timeout=timeout,
            max_retries=max_retries,
            cache_ttl=cache_ttl,
            stale_ttl=stale_ttl,
            http_client=http_client,
        )
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.AsyncClient(timeout=timeout)
        self._refreshes: set[asyncio.Task[None]] = set()
        self._traces: Traces | None = None

    @property
    def base_url(self) -> str:
        return self._core.base_url

    def __repr__(self) -> str:
        return f"AsyncPromptLedger(api_url={self._core.base_url!r})"

    @property
    def traces(self) -> Traces:
        """Record spans and send them in the background (``trace()``/``span()``, see
        :mod:`prompt_ledger.sdk._traces`); the service name is ``OTEL_SERVICE_NAME``."""
        if self._traces is None:
            self._traces = Traces(
                self._core.base_url,
                self._core.headers,
                service=os.environ.get("OTEL_SERVICE_NAME") or None,
            )
        return self._traces

    # --- lifecycle -----------------------------------------------------------------------

    async def aclose(self) -> None:
        """Wait for background refreshes, then close the HTTP client if this client made it."""
        while self._refreshes:
            await asyncio.gather(*self._refreshes, return_exceptions=True)
        if self._traces is not None:  # flush what was recorded (in a thread: it may wait)
            await asyncio.to_thread(self._traces.close)
        if self._owns_http:
            await self._http.aclose()

    close = aclose

    async def __aenter__(self) -> AsyncPromptLedger:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- transport -----------------------------------------------------------------------

    async def _request(self, spec: specs.Spec[T]) -> T:
        core, attempt = self._core, 0
        while True:
            request = self._http.build_request(**core.request_args(spec))
            try:
                response = await self._http.send(request)
            except httpx.TransportError as exc:
                delay = core.delay_after_error(spec, attempt, exc)
            else:
                if core.accepted(response):
                    return core.parse(spec, response)
                delay = core.delay_after_response(spec, attempt, response)
            await asyncio.sleep(delay)
            attempt += 1

    # --- the prompt cache ----------------------------------------------------------------

    async def get_prompt(
        self,
        name: str,
        *,
        label: str | None = None,
        version: int | None = None,
        fallback: Template | None = None,
    ) -> Prompt:
        """The prompt resolved to its active version (or ``label`` / ``version``), from the
        cache when fresh. ``fallback`` (template text or chat messages) is served when the
        server cannot be reached and nothing is cached."""
        key: Key = (name, label, version)
        prompt, refresh = self._core.cache.lookup(key)
        if prompt is not None:
            if refresh:
                self._refresh_in_background(key)
            return prompt
        return await self._resolve(key, fallback)

    async def render_local(
        self,
        name: str,
        variables: Mapping[str, Any] | None = None,
        *,
        label: str | None = None,
        version: int | None = None,
        fallback: Template | None = None,
    ) -> RenderResult:
        """Render through the cache with the server's own sandboxed renderer (no I/O on a
        cache hit)."""
        prompt = await self.get_prompt(name, label=label, version=version, fallback=fallback)
        return prompt.render(variables)

    async def prefetch(self, prompts: Iterable[str | PromptRef]) -> list[Prompt | ResolveFailure]:
        """Resolve many prompts in one round trip (per 200) and cache them."""
        return [
            item
            for batch in self._core.prefetch_batches(prompts)
            for item in batch.finish(await self._request(batch.spec))
        ]

    def clear_cache(self) -> None:
        self._core.cache.clear()

    async def _resolve(self, key: Key, fallback: Template | None) -> Prompt:
        spec, generation = self._core.begin_resolve(key)
        try:
            result = await self._request(spec)
        except PromptLedgerAPIError as exc:
            return self._core.rescue(key, exc, fallback)
        return self._core.finish_resolve(key, generation, result)

    def _refresh_in_background(self, key: Key) -> None:
        task = asyncio.get_running_loop().create_task(self._refresh(key))
        self._refreshes.add(task)
        task.add_done_callback(self._refreshes.discard)

    async def _refresh(self, key: Key) -> None:
        try:
            await self._resolve(key, None)
        except Exception as exc:  # a refresh must never escape its task
            log.warning("background refresh of prompt %r failed: %s", key[0], exc)
        finally:
            self._core.cache.release(key)

    # --- prompts -------------------------------------------------------------------------

    async def create_prompt(
        self, name: str, template: Template, **options: Unpack[PromptOptions]
    ) -> SavedPrompt:
        """Create the prompt, or add a version when the content changed (``created`` says)."""
        return await self._request(specs.put_prompt(name, template, options))

    async def update_prompt(
        self, name: str, template: Template, **options: Unpack[PromptOptions]
    ) -> SavedPrompt:
        """A new version (active by default); identical content creates nothing."""
        return await self._request(specs.put_prompt(name, template, options))

    async def register_code_prompts(
        self, prompts: specs.CodePrompts, *, created_by: str | None = None
    ) -> list[RegisterResult]:
        """Register code-defined prompts (tracking mode): ``[(name, template), ...]``, a
        mapping, or a class/module whose public string attributes are the prompts."""
        items = specs.code_prompts(prompts)
        return [
            result
            for batch in specs.batches(items, specs.REGISTER_BATCH)
            for result in await self._request(specs.register(batch, created_by))
        ]

    async def register_prompts_from(
        self, source: type | ModuleType, *, created_by: str | None = None
    ) -> list[RegisterResult]:
        """Register every public string attribute of ``source`` (the seeds' ``class Prompts``)."""
        return await self.register_code_prompts(source, created_by=created_by)

    async def list_prompts(self, **filters: Unpack[PromptFilters]) -> Page[PromptSummary]:
        return await self._request(specs.list_prompts(filters))

    async def render(
        self,
        name: str,
        variables: Mapping[str, Any] | None = None,
        *,
        label: str | None = None,
        version: int | None = None,
    ) -> RenderResult:
        """Server-side render preview (no LLM call)."""
        return await self._request(specs.render(name, variables, label, version))

    async def list_versions(
        self, name: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Version]:
        return await self._request(specs.list_versions(name, limit, cursor))

    async def get_version(self, name: str, number: int) -> Version:
        return await self._request(specs.get_version(name, number))

    async def activate_version(
        self, name: str, number: int, *, reason: str | None = None, actor: str | None = None
    ) -> Prompt:
        """Make a version active (rollback)."""
        return await self._request(specs.activate_version(name, number, reason, actor))

    async def archive_version(self, name: str, number: int) -> Version:
        return await self._request(specs.archive_version(name, number))

    async def diff(self, name: str, from_version: int, to_version: int) -> DiffResult:
        return await self._request(specs.diff(name, from_version, to_version))

    async def list_labels(self, name: str) -> list[Label]:
        return await self._request(specs.list_labels(name))

    async def set_label(
        self,
        name: str,
        label: str,
        version: int,
        *,
        reason: str | None = None,
        actor: str | None = None,
    ) -> list[Label]:
        """Point ``label`` at ``version`` (the move is recorded in the label history)."""
        return await self._request(specs.set_label(name, label, version, reason, actor))

    async def remove_label(self, name: str, label: str, *, reason: str | None = None) -> None:
        await self._request(specs.remove_label(name, label, reason))

    async def label_history(
        self, name: str, *, label: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> Page[LabelEvent]:
        return await self._request(specs.label_history(name, label, limit, cursor))

    # --- analytics (a key with the analytics:read scope) ----------------------------------

    @property
    def analytics(self) -> AsyncAnalytics:
        """``analytics.summary()`` and ``analytics.prompt(name)``: how prompts are doing."""
        return AsyncAnalytics(self)

    async def get_prompt_analytics(
        self, name: str, **window: Unpack[AnalyticsWindow]
    ) -> PromptAnalytics:
        """One prompt over a window (the seeds' call; same as ``analytics.prompt``)."""
        return await self._request(specs.prompt_analytics(name, window))

    # --- traces --------------------------------------------------------------------------

    async def list_traces(self, **filters: Unpack[TraceFilters]) -> Page[TraceSummary]:
        """Traces, newest first (filters: service, status, since, until, prompt_name,
        min_duration_ms, has_error)."""
        return await self._request(specs.list_traces(filters))

    async def get_trace(self, trace_id: str) -> TraceTree:
        """One trace whole: application spans and execution spans, depth first."""
        return await self._request(specs.get_trace(trace_id))

    # --- pagination ----------------------------------------------------------------------

    async def paginate(
        self, fetch: Callable[..., Awaitable[Page[T]]], /, *args: Any, **kwargs: Any
    ) -> AsyncIterator[T]:
        """Every item of a list, page after page: ``paginate(ledger.list_prompts, limit=200)``."""
        cursor = kwargs.pop("cursor", None)
        while True:
            page = await fetch(*args, **kwargs, cursor=cursor)
            for item in page.items:
                yield item
            if not page.next_cursor:
                return
            cursor = page.next_cursor
