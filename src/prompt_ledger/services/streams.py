"""Streamed runs (``POST /v1/executions:run`` with ``"stream": true``).

The execution is prepared and written exactly as a sync run's (``services/preparation.py``),
and the provider's stream is opened before anything is answered, so a refusal (404/409/422, a
provider that answers 4xx/5xx, an Idempotency-Key in flight) is still one problem+json answer.
Then the deltas are relayed as they come, and the outcome is recorded once, when the stream
ends, by ``services/outcomes.py``:

- the provider finished: ``succeeded`` with the whole output, tokens, cost (at the execution's
  price snapshot), latency and the time to the first token;
- the provider failed mid-stream: ``failed`` with what had been received (``error_type`` is the
  provider's failure, e.g. ``stream_error``, ``timeout``, ``connection``);
- the client went away mid-stream: ``failed`` with ``error_type = 'client_disconnected'`` and
  what had been received (the provider call is closed at once: nobody reads the rest).

Writes of the outcome are shielded from the cancellation of the response, so a disconnect can
neither cut one short nor leave the execution ``running`` (a crash still can: the recovery
finishes those)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from prompt_ledger.asks import RunAsked
from prompt_ledger.auth import Principal
from prompt_ledger.db.store import Database
from prompt_ledger.errors import ProviderFailed
from prompt_ledger.providers.base import Completion, ProviderError, StreamPiece
from prompt_ledger.providers.catalog import Providers
from prompt_ledger.services.executions import Begun, Executions, _held, provider_failed
from prompt_ledger.services.outcomes import Attempt, Outcomes, Recorded, Trace
from prompt_ledger.services.preparation import Prepared, view
from prompt_ledger.settings import Settings
from prompt_ledger.views import ExecutionDetail

log = logging.getLogger("prompt_ledger.streams")
T = TypeVar("T")
Emit = Callable[[bytes], None]
DISCONNECTED = "client_disconnected"


def sse(event: str, data: Any) -> bytes:
    """One Server-Sent Event; ``data`` as one line of JSON."""
    payload = data.model_dump_json(by_alias=True) if hasattr(data, "model_dump_json") else None
    return f"event: {event}\ndata: {payload or json.dumps(data)}\n\n".encode()


@dataclass(slots=True)
class Received:
    """What a stream has delivered so far."""

    started: float
    parts: list[str] = field(default_factory=list)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model: str | None = None
    finish_reason: str | None = None
    first_token_ms: int | None = None

    def absorb(self, piece: StreamPiece) -> str:
        """Keep ``piece``; answer its text."""
        if piece.text:
            if self.first_token_ms is None:
                self.first_token_ms = round((time.perf_counter() - self.started) * 1000)
            self.parts.append(piece.text)
        self.prompt_tokens = _newer(piece.prompt_tokens, self.prompt_tokens)
        self.completion_tokens = _newer(piece.completion_tokens, self.completion_tokens)
        self.model = piece.model or self.model
        self.finish_reason = piece.finish_reason or self.finish_reason
        return piece.text

    def completion(self) -> Completion:
        return Completion(
            "".join(self.parts),
            self.prompt_tokens,
            self.completion_tokens,
            self.model,
            self.finish_reason,
        )


class Live:
    """A stream under way: ``pump`` relays it as Server-Sent Events and records its outcome."""

    def __init__(
        self,
        streams: Streams,
        *,
        who: Principal,
        asked: RunAsked,
        prepared: Prepared,
        row: dict[str, Any],
        attempt: Attempt,
        pieces: AsyncIterator[StreamPiece],
        first: StreamPiece | None,
        provider_started: float,
    ) -> None:
        self._streams = streams
        self._who = who
        self._asked = asked
        self._prepared = prepared
        self._row = row
        self._attempt = attempt
        self._pieces = pieces
        self._first = first
        self._provider_started = provider_started
        self.received = Received(attempt.started)
        self.execution_id = attempt.execution_id

    async def pump(self, emit: Emit) -> None:
        """Relay the stream to ``emit``: ``started``, a ``delta`` per text piece, then ``done``
        (the recorded execution) or ``error`` (a problem, the execution recorded failed). When
        cancelled (the client went away), records the execution failed, then re-raises."""
        emit(sse("started", {"execution_id": str(self.execution_id)}))
        try:
            piece = self._first
            while piece is not None:
                text = self.received.absorb(piece)
                if text:
                    emit(sse("delta", {"text": text}))
                piece = await anext(self._pieces, None)
        except ProviderError as exc:
            await self._failed(exc, emit)
            return
        except asyncio.CancelledError:
            failure = ProviderError(
                "The client disconnected mid-stream; the output is what had been received.",
                provider=self._attempt.served_by,
                transient=False,
                kind=DISCONNECTED,
            )
            await _shielded(self._record_failed(failure))
            raise
        except Exception as exc:  # a bug: recorded as failed, never left running
            log.exception("stream of execution %s broke", self.execution_id)
            failure = ProviderError(
                f"Unexpected error streaming from {self._attempt.served_by}: "
                f"{type(exc).__name__}: {exc}",
                provider=self._attempt.served_by,
                transient=False,
                kind="internal",
            )
            await self._failed(failure, emit)
            return
        finally:
            await _shielded(self._close())
        completion = self.received.completion()
        recorded = await _shielded(
            self._streams.outcomes.succeeded(
                self._attempt,
                completion,
                self._provider_seconds(),
                wait=self._streams.wait,
                first_token_ms=self.received.first_token_ms,
            )
        )
        emit(sse("done", await self._view(recorded)))

    async def _close(self) -> None:
        close = getattr(self._pieces, "aclose", None)
        if close is not None:
            await close()

    async def _failed(self, exc: ProviderError, emit: Emit) -> None:
        await _shielded(self._record_failed(exc))
        problem = ProviderFailed(
            exc.message,
            execution_id=str(self.execution_id),
            provider=exc.provider,
            provider_status=exc.status,
            transient=exc.transient,
            error_type=exc.kind,
            received_chars=sum(len(part) for part in self.received.parts),
        )
        emit(sse("error", problem.to_problem()))

    async def _record_failed(self, exc: ProviderError) -> Recorded:
        return await self._streams.outcomes.failed(
            self._attempt,
            exc,
            self._provider_seconds(),
            wait=self._streams.wait,
            partial=self.received.completion(),
            first_token_ms=self.received.first_token_ms,
        )

    def _provider_seconds(self) -> float:
        return time.perf_counter() - self._provider_started

    async def _view(self, recorded: Recorded) -> ExecutionDetail:
        if recorded.pending:
            return view(_held(self._row, recorded.held or {}), self._prepared, self._asked)
        if recorded.row is None:  # finished by an earlier try of the same write
            return await self._streams.executions.get(self._who, self.execution_id)
        return view(recorded.row, self._prepared, self._asked)


@dataclass(frozen=True, slots=True)
class Replayed:
    """An Idempotency-Key replay: the execution the key already ran, finished."""

    execution: ExecutionDetail


class Streams:
    def __init__(
        self, executions: Executions, db: Database, providers: Providers, settings: Settings
    ) -> None:
        self.executions = executions
        self.outcomes: Outcomes = executions.outcomes
        self.wait = settings.ledger_write_wait_seconds
        self._db = db
        self._providers = providers
        self._settings = settings

    async def start(
        self,
        who: Principal,
        asked: RunAsked,
        *,
        idempotency_key: str | None,
        correlation_id: str | None,
        trace: Trace,
    ) -> Live | Replayed:
        """Prepare and write the execution, and open the provider's stream (its first piece
        read). Raises what a sync run raises before its answer, ProviderFailed included."""
        begun = await self.executions.begin_sync(
            who, asked, idempotency_key=idempotency_key, correlation_id=correlation_id, trace=trace
        )
        if not isinstance(begun, Begun):
            return Replayed(begun)
        row, prepared, attempt = begun.row, begun.prepared, begun.attempt
        provider_started = time.perf_counter()
        pieces = self._providers.get(prepared.served_by).stream(prepared.completion_request())
        try:
            first = await anext(pieces, None)
        except BaseException as exc:
            failure = exc if isinstance(exc, ProviderError) else _internal(exc, attempt)
            elapsed = time.perf_counter() - provider_started
            await _shielded(self.outcomes.failed(attempt, failure, elapsed, wait=self.wait))
            if not isinstance(exc, ProviderError):
                raise
            raise provider_failed(exc, attempt.execution_id) from exc
        return Live(
            self,
            who=who,
            asked=asked,
            prepared=prepared,
            row=row,
            attempt=attempt,
            pieces=pieces,
            first=first,
            provider_started=provider_started,
        )


def _newer(value: int | None, known: int | None) -> int | None:
    return known if value is None else value


def _internal(exc: BaseException, attempt: Attempt) -> ProviderError:
    if isinstance(exc, asyncio.CancelledError):
        return ProviderError(
            "The request was cancelled before the stream started.",
            provider=attempt.served_by,
            transient=False,
            kind=DISCONNECTED,
        )
    return ProviderError(
        f"Unexpected error calling {attempt.served_by}: {type(exc).__name__}: {exc}",
        provider=attempt.served_by,
        transient=False,
        kind="internal",
    )


async def _shielded(work: Awaitable[T]) -> T:
    """``work`` carried to its end even when the caller is cancelled meanwhile (the caller
    still sees its cancellation once the work is done)."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        raise
