"""Executions: resolve a version, render it, call a provider, and record everything.

Sync runs call the provider in the request; async submissions write the execution and its queue
job in one transaction, and the worker performs attempts (``attempt``) with retries."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from prompt_ledger import templates
from prompt_ledger.auth import Principal
from prompt_ledger.bodies import Page, bad_cursor, cursor_value, page_of
from prompt_ledger.bodies_executions import ExecutionDetail, ExecutionListQuery, RunBody
from prompt_ledger.db.store import Database, Queries
from prompt_ledger.errors import (
    Conflict,
    NotFound,
    ProviderFailed,
    ValidationFailed,
)
from prompt_ledger.providers.base import Completion, CompletionRequest, ProviderError
from prompt_ledger.providers.catalog import Providers
from prompt_ledger.records import Execution, Model, Prompt, Span, Version
from prompt_ledger.services.outcomes import Attempt, Outcomes, Trace
from prompt_ledger.services.registry import content_of
from prompt_ledger.settings import Settings

Defer = Callable[[Queries, UUID], Awaitable[int]]
GENERATION_KEYS = (
    "max_tokens",
    "temperature",
    "top_p",
    "stop",
    "presence_penalty",
    "frequency_penalty",
    "seed",
)


class RetryLater(Exception):
    # A signal to the queue, not an error.
    """A transient failure of an async attempt: the queue retries the job after ``delay``."""

    def __init__(self, delay: float, reason: str) -> None:
        super().__init__(reason)
        self.delay = delay


@dataclass(frozen=True, slots=True)
class Prepared:
    prompt: Prompt
    version: Version
    model: Model
    served_by: str
    resolved_by: str
    rendered: templates.Rendered
    params: dict[str, Any]

    def completion_request(self) -> CompletionRequest:
        return _completion_request(self.model.model_name, self.rendered, self.params)


@dataclass(frozen=True, slots=True)
class RunOutcome:
    execution: ExecutionDetail
    provider_seconds: float
    replayed: bool = False


class Executions:
    def __init__(self, db: Database, providers: Providers, settings: Settings) -> None:
        self._db = db
        self._providers = providers
        self._settings = settings
        self._outcomes = Outcomes(db)

    # --- sync ------------------------------------------------------------------------------

    async def run(
        self,
        who: Principal,
        body: RunBody,
        *,
        idempotency_key: str | None,
        correlation_id: str | None,
        trace: Trace,
    ) -> RunOutcome:
        started = time.perf_counter()
        key = idempotency_key or body.idempotency_key
        request_hash = _request_hash(body)
        if key:
            replay = await self._replay(who, key, request_hash, sync=True)
            if replay is not None:
                return RunOutcome(replay, 0.0, replayed=True)
        prepared = await self._prepare(who, body)
        async with self._db.connect() as q:
            row = await q.row(
                "insert_execution",
                **self._insert_params(
                    who,
                    body,
                    prepared,
                    mode="sync",
                    status="running",
                    attempts=1,
                    key=key,
                    request_hash=request_hash,
                    correlation_id=correlation_id,
                    trace=trace,
                ),
            )
        if row is None:  # a concurrent request with the same key won the insert
            replay = await self._replay(who, key or "", request_hash, sync=True)
            assert replay is not None
            return RunOutcome(replay, 0.0, replayed=True)
        execution_id: UUID = row["execution_id"]
        attempt = Attempt(
            execution_id,
            started,
            trace,
            prepared.model.provider,
            prepared.model.model_name,
            prepared.served_by,
            (prepared.model.input_price_per_mtok, prepared.model.output_price_per_mtok),
        )
        provider_started = time.perf_counter()
        try:
            completion = await self._complete(attempt, prepared.completion_request())
        except ProviderError as exc:
            await self._outcomes.failed(attempt, exc, time.perf_counter() - provider_started)
            headers = {"Retry-After": str(int(exc.retry_after or 1))} if exc.transient else {}
            raise ProviderFailed(
                exc.message,
                headers=headers,
                execution_id=str(execution_id),
                provider=exc.provider,
                provider_status=exc.status,
                transient=exc.transient,
            ) from exc
        provider_seconds = time.perf_counter() - provider_started
        finished = await self._outcomes.succeeded(attempt, completion, provider_seconds)
        if finished is None:  # pragma: no cover - a sync run is never finished by anyone else
            return RunOutcome(await self.get(who, execution_id), provider_seconds)
        return RunOutcome(_view(finished, prepared, body), provider_seconds)

    # --- async -----------------------------------------------------------------------------

    async def submit(
        self,
        who: Principal,
        body: RunBody,
        *,
        idempotency_key: str | None,
        correlation_id: str | None,
        trace: Trace,
        defer: Defer,
    ) -> tuple[ExecutionDetail, bool]:
        """Durably accept an execution: its row and its queue job commit together."""
        key = idempotency_key or body.idempotency_key
        request_hash = _request_hash(body)
        if key:
            replay = await self._replay(who, key, request_hash, sync=False)
            if replay is not None:
                return replay, True
        prepared = await self._prepare(who, body)
        async with self._db.transaction() as q:
            row = await q.row(
                "insert_execution",
                **self._insert_params(
                    who,
                    body,
                    prepared,
                    mode="async",
                    status="queued",
                    attempts=0,
                    key=key,
                    request_hash=request_hash,
                    correlation_id=correlation_id,
                    trace=trace,
                ),
            )
            if row is not None:
                job_id = await defer(q, row["execution_id"])
                await q.execute(
                    "set_execution_job", job_id=job_id, execution_id=row["execution_id"]
                )
        if row is None:
            replay = await self._replay(who, key or "", request_hash, sync=False)
            assert replay is not None
            return replay, True
        return _view(row, prepared, body), False

    async def attempt(self, execution_id: UUID, *, job_id: int | None) -> None:
        """One worker attempt by queue job ``job_id``. Raises RetryLater on a transient failure
        with attempts left."""
        started = time.perf_counter()
        async with self._db.connect() as q:
            row = await q.row("claim_execution", execution_id=execution_id, job_id=job_id)
        if row is None:
            return  # finished, cancelled, unknown or being run by another job: nothing to do
        version = Version.model_validate(row["version"])
        attempt = Attempt(
            execution_id,
            started,
            Trace(row["trace_id"] or secrets.token_hex(16)),
            row["provider"],
            row["model_name"],
            row["served_by"],
            (row["input_price_per_mtok"], row["output_price_per_mtok"]),
        )
        if row["attempts"] > self._settings.max_attempts:
            # Re-run by stalled-job or orphan recovery after its last allowed attempt (e.g. a
            # worker killed mid-call each time): give up rather than loop forever.
            exhausted = ProviderError(
                f"Gave up after {self._settings.max_attempts} attempts (the last ones did "
                "not finish: their worker stopped or failed mid-attempt).",
                provider=attempt.served_by,
                transient=False,
                kind="attempts_exhausted",
            )
            await self._outcomes.failed(attempt, exhausted, 0.0)
            return
        try:
            rendered = await templates.render_off_loop(
                content_of(version),
                row["variables_json"],
                version.variables,
                seconds=self._settings.template_render_seconds,
            )
        except ValidationFailed as exc:
            failure = ProviderError(
                exc.detail, provider=attempt.served_by, transient=False, kind="render"
            )
            await self._outcomes.failed(attempt, failure, 0.0)
            return
        request = _completion_request(row["model_name"], rendered, row["params_json"])
        provider_started = time.perf_counter()
        try:
            completion = await self._complete(attempt, request)
        except ProviderError as exc:
            if exc.transient and row["attempts"] < self._settings.max_attempts:
                async with self._db.connect() as q:
                    await q.execute(
                        "release_execution",
                        execution_id=execution_id,
                        error_type=exc.kind,
                        error_message=exc.message[:2000],
                    )
                raise RetryLater(
                    self._backoff(row["attempts"], exc.retry_after), exc.message
                ) from exc
            await self._outcomes.failed(attempt, exc, time.perf_counter() - provider_started)
            return
        await self._outcomes.succeeded(attempt, completion, time.perf_counter() - provider_started)

    async def _complete(self, attempt: Attempt, request: CompletionRequest) -> Completion:
        """Call the provider. Adapters raise ProviderError; anything else is a bug, but the
        execution must not be left 'running' by it: it is recorded as failed, then re-raised."""
        provider_started = time.perf_counter()
        try:
            return await self._providers.get(attempt.served_by).complete(request)
        except ProviderError:
            raise
        except Exception as exc:
            failure = ProviderError(
                f"Unexpected error calling {attempt.served_by}: {type(exc).__name__}: {exc}",
                provider=attempt.served_by,
                transient=False,
                kind="internal",
            )
            await self._outcomes.failed(attempt, failure, time.perf_counter() - provider_started)
            raise

    def _backoff(self, attempts: int, retry_after: float | None) -> float:
        """Exponential backoff with jitter, never sooner than the provider's Retry-After."""
        s = self._settings
        exponential = min(s.retry_max_seconds, s.retry_base_seconds * 2.0 ** max(0, attempts - 1))
        jittered = exponential * (0.5 + secrets.randbelow(1000) / 2000)
        return min(s.retry_max_seconds, max(jittered, retry_after or 0.0))

    # --- reading and cancelling --------------------------------------------------------------

    async def get(self, who: Principal, execution_id: UUID) -> ExecutionDetail:
        async with self._db.connect() as q:
            row = await q.row("get_execution", project_id=who.project_id, execution_id=execution_id)
            if row is None:
                raise NotFound(f"Execution {execution_id} not found.")
            spans = await q.all(
                "execution_spans", Span, project_id=who.project_id, execution_id=execution_id
            )
        return ExecutionDetail.model_validate({**row, "spans": spans})

    async def list(self, who: Principal, query: ExecutionListQuery) -> Page[Execution]:
        cursor = cursor_value(query.cursor, str)
        before_created, before_id = None, None
        if cursor is not None:
            if "|" not in cursor:
                raise bad_cursor()
            before_created, before_id = cursor.split("|", 1)
        async with self._db.connect() as q:
            items = await q.all(
                "list_executions",
                Execution,
                project_id=who.project_id,
                prompt_name=query.prompt_name,
                version_number=query.version,
                status=query.status,
                provider=query.provider,
                model_name=query.model_name,
                correlation_id=query.correlation_id,
                since=query.since,
                until=query.until,
                before_created=before_created,
                before_id=before_id,
                limit=query.limit + 1,
            )
        return page_of(
            items, query.limit, lambda last: f"{last.created_at.isoformat()}|{last.execution_id}"
        )

    async def cancel(
        self, who: Principal, execution_id: UUID, cancel_job: Callable[[int], Awaitable[None]]
    ) -> ExecutionDetail:
        async with self._db.connect() as q:
            row = await q.row(
                "cancel_execution", project_id=who.project_id, execution_id=execution_id
            )
        if row is None:
            current = await self.get(who, execution_id)  # 404 when not ours
            raise Conflict(
                f"Execution {execution_id} is {current.status}; only queued executions "
                "can be cancelled.",
                status_now=current.status,
            )
        if row["job_id"] is not None:
            await cancel_job(row["job_id"])
        return await self.get(who, execution_id)

    # --- internals -----------------------------------------------------------------------------

    async def _replay(
        self, who: Principal, key: str, request_hash: str, *, sync: bool
    ) -> ExecutionDetail | None:
        async with self._db.connect() as q:
            found = await q.row(
                "find_execution_by_key", project_id=who.project_id, idempotency_key=key
            )
        if found is None:
            return None
        if found["request_hash"] != request_hash:
            raise ValidationFailed(
                "This Idempotency-Key was already used with a different request.",
                errors=[
                    {
                        "loc": ["header", "Idempotency-Key"],
                        "msg": "reused with another body",
                        "type": "idempotency",
                    }
                ],
                execution_id=str(found["execution_id"]),
            )
        if sync and found["status"] in {"queued", "running"}:
            raise Conflict(
                "A request with this Idempotency-Key is still in flight; retry later.",
                headers={"Retry-After": "1"},
                execution_id=str(found["execution_id"]),
            )
        return await self.get(who, found["execution_id"])

    async def _prepare(self, who: Principal, body: RunBody) -> Prepared:
        provider, model_name = None, None
        if body.model is not None:
            provider, model_name = body.model.provider, body.model.model_name
        async with self._db.connect() as q:
            row = await q.row(
                "resolve_for_execution",
                project_id=who.project_id,
                name=body.prompt_name,
                label=body.label,
                version_number=body.version,
                environment=body.environment,
                provider=provider,
                model_name=model_name,
            )
            if row is None:
                raise NotFound(f"Prompt '{body.prompt_name}' not found.")
            if row["version"] is None:
                if body.version is not None or body.label is not None:
                    what = f"version {body.version}" if body.version else f"label '{body.label}'"
                    raise NotFound(f"Prompt '{body.prompt_name}' has no {what}.")
                raise Conflict(f"Prompt '{body.prompt_name}' has no active version.")
            version = Version.model_validate(row["version"])
            if version.status == "archived":
                raise Conflict(
                    f"Version {version.version_number} of '{body.prompt_name}' is "
                    "archived and cannot be executed."
                )
            defaults = version.model_defaults
            if body.model is None:
                provider = str(defaults.get("provider") or self._settings.default_provider)
                model_name = str(defaults.get("model_name") or self._settings.default_model)
                model_row = await q.row("get_model", provider=provider, model_name=model_name)
            else:
                model_row = row["model"]
        served_by = self._providers.serving(str(provider))  # unknown/unconfigured: 422 first
        if model_row is None:
            raise ValidationFailed(
                f"Unknown model {provider}/{model_name}: register it with PUT "
                f"/v1/models/{provider}/{model_name} (or run `promptledger seed-models`).",
                errors=[{"loc": ["body", "model"], "msg": "unknown model", "type": "model"}],
            )
        model = Model.model_validate(model_row)
        params = _merge_params(defaults.get("params"), body)
        if model.max_tokens and params.get("max_tokens", 0) > model.max_tokens:
            raise ValidationFailed(
                f"max_tokens {params['max_tokens']} exceeds {model.model_name}'s limit of "
                f"{model.max_tokens}.",
                errors=[
                    {
                        "loc": ["body", "params", "max_tokens"],
                        "msg": "above the model limit",
                        "type": "limit",
                    }
                ],
            )
        rendered = await templates.render_off_loop(
            content_of(version),
            body.variables,
            version.variables,
            seconds=self._settings.template_render_seconds,
        )
        return Prepared(
            Prompt.model_validate(row["prompt"]),
            version,
            model,
            served_by,
            row["resolved_by"],
            rendered,
            params,
        )

    def _insert_params(
        self,
        who: Principal,
        body: RunBody,
        prepared: Prepared,
        *,
        mode: str,
        status: str,
        attempts: int,
        key: str | None,
        request_hash: str,
        correlation_id: str | None,
        trace: Trace,
    ) -> dict[str, Any]:
        model = prepared.model
        return {
            "project_id": who.project_id,
            "prompt_id": prepared.prompt.prompt_id,
            "version_id": prepared.version.version_id,
            "model_id": model.model_id,
            "execution_mode": mode,
            "status": status,
            "environment": body.environment,
            "resolved_by": prepared.resolved_by,
            "served_by": prepared.served_by,
            "rendered_prompt": prepared.rendered.as_text(),
            "input_price_per_mtok": model.input_price_per_mtok,
            "output_price_per_mtok": model.output_price_per_mtok,
            "attempts": attempts,
            "correlation_id": correlation_id or body.correlation_id,
            "idempotency_key": key,
            "request_hash": request_hash,
            "trace_id": trace.trace_id,
            "variables": Jsonb(body.variables),
            "model_config": Jsonb({"provider": model.provider, "model_name": model.model_name}),
            "params": Jsonb(prepared.params),
        }


def _view(row: dict[str, Any], prepared: Prepared, body: RunBody) -> ExecutionDetail:
    """The execution as just written (with its spans once finished), without reading it back."""
    return ExecutionDetail.model_validate(
        {
            **row,
            "prompt_name": prepared.prompt.name,
            "version_number": prepared.version.version_number,
            "provider": prepared.model.provider,
            "model_name": prepared.model.model_name,
            "variables": body.variables,
            "model_config": {
                "provider": prepared.model.provider,
                "model_name": prepared.model.model_name,
            },
            "params": prepared.params,
        }
    )


def _request_hash(body: RunBody) -> str:
    data = body.model_dump(
        mode="json", exclude={"idempotency_key", "correlation_id"}, exclude_none=True
    )
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def _merge_params(defaults: Any, body: RunBody) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    if isinstance(defaults, dict):
        merged.update({k: v for k, v in defaults.items() if k in GENERATION_KEYS})
        if "max_new_tokens" in defaults and "max_tokens" not in merged:
            merged["max_tokens"] = defaults["max_new_tokens"]
    if body.params is not None:
        merged.update(body.params.model_dump(exclude_none=True))
    return merged


def _completion_request(
    model_name: str, rendered: templates.Rendered, params: dict[str, Any]
) -> CompletionRequest:
    messages = (
        rendered.messages
        if rendered.messages is not None
        else [{"role": "user", "content": rendered.text or ""}]
    )
    extra: dict[str, Any] = {
        k: params[k] for k in ("presence_penalty", "frequency_penalty", "seed") if k in params
    }
    return CompletionRequest(
        model=model_name,
        messages=messages,
        max_tokens=params.get("max_tokens"),
        temperature=params.get("temperature"),
        top_p=params.get("top_p"),
        stop=params.get("stop"),
        extra=extra,
    )
