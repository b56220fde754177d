"""Executions: the sync run, the async submission, reading and cancelling.

Sync runs call the provider in the request; async submissions write the execution and its queue
job in one transaction, and the worker performs attempts (``services/attempts.py``) with
retries. Preparation (resolve, render, parameters) is ``services/preparation.py``; recording an
outcome is ``services/outcomes.py``."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from prompt_ledger.asks import ExecutionFilter, RunAsked
from prompt_ledger.auth import Principal
from prompt_ledger.db.store import Database
from prompt_ledger.errors import Conflict, NotFound, ProviderFailed, ValidationFailed
from prompt_ledger.providers.base import ProviderError
from prompt_ledger.providers.catalog import Providers
from prompt_ledger.records import Execution, ProviderAttempt, Span
from prompt_ledger.services.attempts import Attempts, RetryLater, process_label
from prompt_ledger.services.outcomes import Attempt, Outcomes, Trace
from prompt_ledger.services.preparation import (
    Prepared,
    ResolveCache,
    insert_params,
    prepare,
    request_hash,
    view,
)
from prompt_ledger.settings import Settings
from prompt_ledger.views import ExecutionDetail, Page, bad_cursor, cursor_value, page_of

__all__ = [
    "EXECUTIONS_QUEUE",
    "RUN_EXECUTION",
    "Begun",
    "Executions",
    "RetryLater",
    "RunOutcome",
    "provider_failed",
]

# The queue job of a submitted execution (queue.py's task, deferred by ``submit_execution``)
EXECUTIONS_QUEUE = "executions"
RUN_EXECUTION = "run_execution"


@dataclass(frozen=True, slots=True)
class RunOutcome:
    execution: ExecutionDetail
    provider_seconds: float
    replayed: bool = False
    ledger_pending: bool = False
    """The provider answered but the database has not recorded it yet (a background retry
    holds it): the answer is returned anyway."""


@dataclass(frozen=True, slots=True)
class Begun:
    """A sync execution written (running, with its attempt 1), its provider call not made."""

    row: dict[str, Any]
    prepared: Prepared
    attempt: Attempt


@dataclass(frozen=True, slots=True)
class _Written:
    """An execution just written: its row, what it was prepared with, and the parameters of
    its insert."""

    row: dict[str, Any]
    prepared: Prepared
    params: dict[str, Any]


def provider_failed(exc: ProviderError, execution_id: UUID) -> ProviderFailed:
    """The problem a sync run answers when its provider call failed (the execution recorded)."""
    headers = {"Retry-After": str(int(exc.retry_after or 1))} if exc.transient else {}
    return ProviderFailed(
        exc.message,
        headers=headers,
        execution_id=str(execution_id),
        provider=exc.provider,
        provider_status=exc.status,
        transient=exc.transient,
    )


class Executions:
    def __init__(
        self,
        db: Database,
        providers: Providers,
        settings: Settings,
        resolutions: ResolveCache | None = None,
    ) -> None:
        """``resolutions``: this process's cache of what requests resolve to (following the
        prompt cache); None resolves every request in the database."""
        self._db = db
        self._providers = providers
        self._settings = settings
        self._resolutions = resolutions
        self.outcomes = Outcomes(db)
        self._attempts = Attempts(db, providers, settings, self.outcomes)

    # --- sync ------------------------------------------------------------------------------

    async def begin_sync(
        self,
        who: Principal,
        asked: RunAsked,
        *,
        idempotency_key: str | None,
        correlation_id: str | None,
        trace: Trace,
    ) -> Begun | ExecutionDetail:
        """Prepare a sync execution and write it, running with its attempt 1, before the call
        (a plain or a streamed run); or the execution its idempotency key already names."""
        started = time.perf_counter()
        written = await self._write(
            who,
            asked,
            sync=True,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
            trace=trace,
        )
        if isinstance(written, ExecutionDetail):
            return written
        row, prepared = written.row, written.prepared
        attempt = Attempt(
            row["execution_id"],
            1,
            started,
            trace.parent_span,
            prepared.model.provider,
            prepared.model.model_name,
            prepared.served_by,
            (prepared.model.input_price_per_mtok, prepared.model.output_price_per_mtok),
            restore=written.params,
        )
        return Begun(row, prepared, attempt)

    async def run(
        self,
        who: Principal,
        asked: RunAsked,
        *,
        idempotency_key: str | None,
        correlation_id: str | None,
        trace: Trace,
    ) -> RunOutcome:
        begun = await self.begin_sync(
            who, asked, idempotency_key=idempotency_key, correlation_id=correlation_id, trace=trace
        )
        if not isinstance(begun, Begun):
            return RunOutcome(begun, 0.0, replayed=True)
        row, prepared, attempt = begun.row, begun.prepared, begun.attempt
        execution_id: UUID = attempt.execution_id
        wait = self._settings.ledger_write_wait_seconds
        provider_started = time.perf_counter()
        try:
            completion = await self._attempts.complete(
                attempt, prepared.completion_request(), wait=wait
            )
        except ProviderError as exc:
            elapsed = time.perf_counter() - provider_started
            await self.outcomes.failed(attempt, exc, elapsed, wait=wait)
            raise provider_failed(exc, execution_id) from exc
        provider_seconds = time.perf_counter() - provider_started
        recorded = await self.outcomes.succeeded(attempt, completion, provider_seconds, wait=wait)
        if recorded.pending:
            held = _held(row, recorded.held or {})
            return RunOutcome(view(held, prepared, asked), provider_seconds, ledger_pending=True)
        if recorded.row is None:  # finished by an earlier try of the same write
            return RunOutcome(await self.get(who, execution_id), provider_seconds)
        return RunOutcome(view(recorded.row, prepared, asked), provider_seconds)

    # --- async -----------------------------------------------------------------------------

    async def submit(
        self,
        who: Principal,
        asked: RunAsked,
        *,
        idempotency_key: str | None,
        correlation_id: str | None,
        trace: Trace,
    ) -> tuple[ExecutionDetail, bool]:
        """Durably accept an execution: its row and its queue job in one statement (one round
        trip, one durable commit). Answers it and whether it is an idempotent replay."""
        written = await self._write(
            who,
            asked,
            sync=False,
            idempotency_key=idempotency_key,
            correlation_id=correlation_id,
            trace=trace,
        )
        if isinstance(written, ExecutionDetail):
            return written, True
        return view(written.row, written.prepared, asked), False

    async def attempt(self, execution_id: UUID, *, job_id: int | None) -> None:
        """One worker attempt by queue job ``job_id`` (raises RetryLater to retry)."""
        await self._attempts.run_queued(execution_id, job_id=job_id)

    # --- reading and cancelling --------------------------------------------------------------

    async def get(self, who: Principal, execution_id: UUID) -> ExecutionDetail:
        async with self._db.connect() as q:
            row = await q.row("get_execution", project_id=who.project_id, execution_id=execution_id)
            if row is None:
                raise NotFound(f"Execution {execution_id} not found.")
            spans = await q.all(
                "execution_spans", Span, project_id=who.project_id, execution_id=execution_id
            )
            attempts = await q.all(
                "execution_attempts",
                ProviderAttempt,
                project_id=who.project_id,
                execution_id=execution_id,
            )
        return ExecutionDetail.model_validate(
            {**row, "spans": spans, "provider_attempts": attempts}
        )

    async def list(self, who: Principal, query: ExecutionFilter) -> Page[Execution]:
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
                version_number=query.version_number,
                status=query.status,
                provider=query.provider,
                model_name=query.model_name,
                correlation_id=query.correlation_id,
                since=query.since,
                until=query.until,
                min_attempts=query.min_attempts,
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

    async def _write(
        self,
        who: Principal,
        asked: RunAsked,
        *,
        sync: bool,
        idempotency_key: str | None,
        correlation_id: str | None,
        trace: Trace,
    ) -> _Written | ExecutionDetail:
        """Prepare an execution and write it: sync, running with its attempt 1; async, queued
        with its queue job. Or the execution its idempotency key already names (a concurrent
        request with the same key may win the insert)."""
        key = idempotency_key or asked.idempotency_key
        hashed: str | None = None  # what a replay of the key compares (no key: not computed)
        if key:
            hashed = request_hash(asked)
            replay = await self._replay(who, key, hashed, sync=sync)
            if replay is not None:
                return replay
        async with self._db.connect() as q:  # resolve (unless cached) and write: one checkout
            prepared = await prepare(
                q, self._providers, self._settings, who, asked, cache=self._resolutions
            )
            params = insert_params(
                uuid.uuid4(),
                who,
                asked,
                prepared,
                mode="sync" if sync else "async",
                status="running" if sync else "queued",
                attempts=1 if sync else 0,
                key=key,
                request_hash=hashed,
                correlation_id=correlation_id,
                trace=trace,
                worker=process_label(),
            )
            if sync:
                row = await q.row("insert_execution", **params)
            else:
                row = await q.row(
                    "submit_execution", queue=EXECUTIONS_QUEUE, task=RUN_EXECUTION, **params
                )
        if row is None:  # the concurrent request won: its execution
            replay = await self._replay(who, key or "", hashed or "", sync=sync)
            assert replay is not None
            return replay
        return _Written(row, prepared, params)

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


def _held(row: dict[str, Any], held: dict[str, Any]) -> dict[str, Any]:
    """The execution as it will be once its held outcome is written (as ``finish_execution``
    would answer, without its span and attempt)."""
    fields = ("status", "response_text", "prompt_tokens", "response_tokens", "latency_ms")
    return {
        **row,
        **{name: held[name] for name in (*fields, "provider_latency_ms", "cost_usd")},
        "completed_at": dt.datetime.now(dt.UTC),
    }
