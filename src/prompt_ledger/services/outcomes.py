"""Recording what an attempt came to: the execution row, its span and the metrics, in one
statement per outcome."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from prompt_ledger import metrics
from prompt_ledger.db.store import Database
from prompt_ledger.providers.base import Completion, ProviderError


@dataclass(frozen=True, slots=True)
class Trace:
    trace_id: str
    parent_span: str | None = None

    @classmethod
    def from_traceparent(cls, header: str | None) -> Trace:
        """W3C traceparent ``00-<trace-id>-<parent-id>-<flags>``; a new trace when absent/bad."""
        if header:
            parts = header.strip().split("-")
            if (
                len(parts) == 4
                and len(parts[1]) == 32
                and len(parts[2]) == 16
                and all(c in "0123456789abcdef" for c in parts[1] + parts[2])
                and parts[1] != "0" * 32
            ):
                return cls(parts[1], parts[2])
        return cls(secrets.token_hex(16))


@dataclass(frozen=True, slots=True)
class Attempt:
    """One provider call for one execution, and what its outcome is recorded with."""

    execution_id: UUID
    started: float
    trace: Trace
    provider: str
    model_name: str
    served_by: str
    prices: tuple[Decimal | None, Decimal | None]


class Outcomes:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def succeeded(
        self, attempt: Attempt, completion: Completion, provider_seconds: float
    ) -> dict[str, Any] | None:
        cost = _cost(completion, attempt.prices) if attempt.served_by != "demo" else Decimal(0)
        return await self._record(
            attempt,
            provider_seconds,
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

    async def failed(self, attempt: Attempt, exc: ProviderError, provider_seconds: float) -> None:
        await self._record(
            attempt,
            provider_seconds,
            status="failed",
            response_text=None,
            prompt_tokens=None,
            response_tokens=None,
            cost_usd=None,
            error=exc,
            attributes={
                "served_by": attempt.served_by,
                "provider_status": exc.status,
                "transient": exc.transient,
            },
        )

    async def _record(
        self,
        attempt: Attempt,
        provider_seconds: float,
        *,
        status: str,
        response_text: str | None,
        prompt_tokens: int | None,
        response_tokens: int | None,
        cost_usd: Decimal | None,
        error: ProviderError | None,
        attributes: dict[str, Any],
    ) -> dict[str, Any] | None:
        latency_ms = round((time.perf_counter() - attempt.started) * 1000)
        if attempt.trace.parent_span:
            attributes = {**attributes, "parent_span_id": attempt.trace.parent_span}
        async with self._db.connect() as q:
            finished = await q.row(
                "finish_execution",
                execution_id=attempt.execution_id,
                status=status,
                response_text=response_text,
                prompt_tokens=prompt_tokens,
                response_tokens=response_tokens,
                latency_ms=latency_ms,
                provider_latency_ms=round(provider_seconds * 1000),
                cost_usd=cost_usd,
                error_type=error.kind if error else None,
                error_message=error.message[:2000] if error else None,
                span_name="llm.completion",
                parent_span_id=attempt.trace.parent_span,
                span_input=None,
                span_output=None,
                span_model=f"{attempt.provider}/{attempt.model_name}",
                span_attributes=Jsonb(attributes),
            )
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
        return finished


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
