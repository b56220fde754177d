"""Recording what an attempt came to: its attempt row, the execution row, its span and the
metrics, in one statement per outcome, held and retried while the database is away."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from prompt_ledger import metrics
from prompt_ledger.db.store import Database, Queries
from prompt_ledger.errors import ServiceUnavailable
from prompt_ledger.providers.base import Completion, ProviderError

log = logging.getLogger("prompt_ledger.outcomes")


# version-traceid-parentid-flags, lower-case hex; a later version may append fields
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?")


@dataclass(frozen=True, slots=True)
class Trace:
    trace_id: str
    parent_span: str | None = None

    @classmethod
    def from_traceparent(cls, header: str | None) -> Trace:
        """W3C traceparent ``00-<trace-id>-<parent-id>-<flags>``; a new trace when absent/bad
        (as OpenTelemetry's propagator reads it: version ``ff``, an all-zero trace or parent id
        are invalid; docs/architecture.md says why this is not opentelemetry-api)."""
        found = _TRACEPARENT.fullmatch(header.strip()) if header else None
        if found is not None:
            version, trace_id, parent, _, more = found.groups()
            if (
                version != "ff"
                and not (version == "00" and more)
                and trace_id != "0" * 32
                and parent != "0" * 16
            ):
                return cls(trace_id, parent)
        return cls(secrets.token_hex(16))


@dataclass(frozen=True, slots=True)
class Attempt:
    """One provider call for one execution, and what its outcome is recorded with. ``number``
    is its row in ``execution_attempts`` (None when no call is made: attempts exhausted)."""

    execution_id: UUID
    number: int | None
    started: float
    parent_span: str | None
    """The span the execution's ``llm`` span is a child of (a sync run's traceparent)."""
    provider: str
    model_name: str
    served_by: str
    prices: tuple[Decimal | None, Decimal | None]
    restore: dict[str, Any] | None = None
    """A sync run's ``insert_execution`` parameters: its running row (committed without waiting
    for the disk) is written again if a database crash lost it before the outcome."""


@dataclass(frozen=True, slots=True)
class Recorded:
    """What recording an outcome came to: the finished execution (None when another write had
    already finished it), or ``held`` values when the database did not take them within the wait
    and a background retry holds them."""

    row: dict[str, Any] | None
    held: dict[str, Any] | None = None
    """The outcome's values, when the background retry holds them."""

    @property
    def pending(self) -> bool:
        return self.held is not None


class Outcomes:
    """Records outcomes so that none is lost to a database outage: a write that fails on an
    unavailable database is retried (with backoff) for up to ``wait`` seconds (None: until it
    succeeds), then handed to a background retry of this process. The write is idempotent."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._pending: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
        self._flusher: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """Outcomes held in memory until the database takes them."""
        return len(self._pending)

    async def succeeded(
        self,
        attempt: Attempt,
        completion: Completion,
        provider_seconds: float,
        *,
        wait: float | None,
        first_token_ms: int | None = None,
    ) -> Recorded:
        """``first_token_ms``: the time to the first token of a streamed run."""
        cost = _cost(completion, attempt.prices) if attempt.served_by != "demo" else Decimal(0)
        return await self._record(
            attempt,
            provider_seconds,
            wait,
            first_token_ms=first_token_ms,
            status="succeeded",
            response_text=completion.text,
            prompt_tokens=completion.prompt_tokens,
            response_tokens=completion.completion_tokens,
            cost_usd=cost,
            error=None,
            attributes={
                "served_by": attempt.served_by,
                "finish_reason": completion.finish_reason,
                "response_model": completion.model,
            },
        )

    async def failed(
        self,
        attempt: Attempt,
        exc: ProviderError,
        provider_seconds: float,
        *,
        wait: float | None,
        partial: Completion | None = None,
        first_token_ms: int | None = None,
    ) -> Recorded:
        """``partial``: what a stream had delivered when it broke (its text and the token
        counts the provider had sent, priced when both are known)."""
        cost = None
        if partial is not None and attempt.served_by != "demo":
            cost = _cost(partial, attempt.prices)
        return await self._record(
            attempt,
            provider_seconds,
            wait,
            first_token_ms=first_token_ms,
            status="failed",
            response_text=partial.text if partial is not None else None,
            prompt_tokens=partial.prompt_tokens if partial is not None else None,
            response_tokens=partial.completion_tokens if partial is not None else None,
            cost_usd=cost,
            error=exc,
            attributes={
                "served_by": attempt.served_by,
                "provider_status": exc.status,
                "transient": exc.transient,
            },
        )

    async def close(self) -> None:
        """Stop the background retry after one last try; what the database still refuses is
        logged in full (the attempts stay 'calling', so the recovery marks them lost)."""
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None
        await self._flush_once()
        for params, _ in self._pending:
            log.error("ledger write lost with this process: %s", _loggable(params))
        self._pending.clear()
        metrics.ledger_writes_pending.set(0)

    async def _record(
        self,
        attempt: Attempt,
        provider_seconds: float,
        wait: float | None,
        *,
        first_token_ms: int | None = None,
        status: str,
        response_text: str | None,
        prompt_tokens: int | None,
        response_tokens: int | None,
        cost_usd: Decimal | None,
        error: ProviderError | None,
        attributes: dict[str, Any],
    ) -> Recorded:
        latency_ms = round((time.perf_counter() - attempt.started) * 1000)
        if attempt.parent_span:
            attributes = {**attributes, "parent_span_id": attempt.parent_span}
        params = {
            "execution_id": attempt.execution_id,
            "attempt_number": attempt.number,
            "status": status,
            "response_text": response_text,
            "prompt_tokens": prompt_tokens,
            "response_tokens": response_tokens,
            "latency_ms": latency_ms,
            "provider_latency_ms": round(provider_seconds * 1000),
            "time_to_first_token_ms": first_token_ms,
            "cost_usd": cost_usd,
            "error_type": error.kind if error else None,
            "error_message": error.message[:2000] if error else None,
            "span_name": "llm.completion",
            "parent_span_id": attempt.parent_span,
            "span_input": None,
            "span_output": None,
            "span_model": f"{attempt.provider}/{attempt.model_name}",
            "span_attributes": attributes,
        }
        metrics.record_execution(
            status=status,
            provider=attempt.provider,
            model=attempt.model_name,
            served_by=attempt.served_by,
            prompt_tokens=prompt_tokens,
            completion_tokens=response_tokens,
            cost_usd=cost_usd,
            provider_seconds=provider_seconds,
        )
        return await self._write(params, attempt.restore, wait)

    async def _write(
        self, params: dict[str, Any], restore: dict[str, Any] | None, wait: float | None
    ) -> Recorded:
        deadline = None if wait is None else time.monotonic() + wait
        delay = 0.05
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            try:
                async with self._db.connect(wait=None if left is None else max(left, 0.1)) as q:
                    return Recorded(await _finish(q, params, restore))
            except ServiceUnavailable as exc:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                if delay == 0.05:
                    log.warning(
                        "holding the outcome of execution %s until the database answers (%s)",
                        params["execution_id"],
                        exc.detail,
                    )
                await asyncio.sleep(delay if left is None else min(delay, left))
                delay = min(delay * 2, 1.0)
        log.warning(
            "the database did not take the outcome of execution %s within %ss: answering now, "
            "writing it in the background",
            params["execution_id"],
            wait,
        )
        self._pending.append((params, restore))
        metrics.ledger_writes_pending.set(len(self._pending))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_until_empty())
        return Recorded(None, held=params)

    async def _flush_until_empty(self) -> None:
        delay = 0.5
        while self._pending:
            await asyncio.sleep(delay)
            await self._flush_once()
            delay = min(delay * 2, 10.0)

    async def _flush_once(self) -> None:
        while self._pending:
            params, restore = self._pending[0]
            try:
                async with self._db.connect() as q:
                    await _finish(q, params, restore)
            except ServiceUnavailable:
                return
            except Exception:  # refused for good (a bug): logged in full, not retried forever
                log.exception("ledger write refused: %s", _loggable(params))
            self._pending.pop(0)
            metrics.ledger_writes_pending.set(len(self._pending))
            log.warning("wrote the held outcome of execution %s", params["execution_id"])


async def _finish(
    q: Queries, params: dict[str, Any], restore: dict[str, Any] | None
) -> dict[str, Any] | None:
    """Write an outcome (``finish_execution``, a durable commit). When it finishes nothing and
    the run's running row is known, that row may have been lost in a database crash (it was
    committed without waiting for the disk): it is written again (a no-op when it is there:
    then the outcome was already written by an earlier try) and the outcome after it, whose
    durable commit flushes both. So the ledger keeps every answered call."""
    row = await q.row("finish_execution", **params)
    if row is None and restore is not None and await q.row("insert_execution", **restore):
        log.warning(
            "wrote again the running row of execution %s (lost by the database)",
            params["execution_id"],
        )
        row = await q.row("finish_execution", **params)
    return row


def _loggable(params: dict[str, Any]) -> str:
    return json.dumps(params, default=str, sort_keys=True)


def _cost(completion: Completion, prices: tuple[Decimal | None, Decimal | None]) -> Decimal | None:
    input_price, output_price = prices
    if completion.prompt_tokens is None or completion.completion_tokens is None:
        return None
    if input_price is None or output_price is None:
        return None
    total = (
        Decimal(completion.prompt_tokens) * input_price
        + Decimal(completion.completion_tokens) * output_price
    ) / Decimal(1_000_000)
    return total.quantize(Decimal("0.00000001"))
