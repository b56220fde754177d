"""``ledger.traces``: record an application's spans and send them in the background.

    with ledger.traces.trace("checkout", user="ada"):      # a new trace (its root span)
        with ledger.traces.span("search", kind="retrieval") as span:
            span.set("documents", 3)
        ledger.execute("summarize", {...})                  # joins the trace (traceparent)

    @ledger.traces.span("rerank")                           # a decorator too (sync or async)
    def rerank(...): ...

Recording never blocks and never raises into the application: a finished span goes into a
bounded buffer (``max_buffer``); when it is full the span is dropped and counted
(``dropped``). A daemon thread sends the buffer in batches (``POST /v1/traces:batch``, at most
``batch_size`` spans, at least every ``flush_interval`` seconds); a batch the server refuses
or cannot take is counted in ``failed`` and logged, never raised. ``flush()`` waits for what
is buffered; the process's exit flushes too (``atexit``).
"""

from __future__ import annotations

import atexit
import functools
import inspect
import logging
import queue
import secrets
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeVar, cast

import httpx

log = logging.getLogger("prompt_ledger.sdk.traces")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(slots=True)
class _Active:
    trace_id: str
    span_id: str


_current: ContextVar[_Active | None] = ContextVar("prompt_ledger_span", default=None)


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the span open in this context (executions join it)."""
    active = _current.get()
    return None if active is None else f"00-{active.trace_id}-{active.span_id}-01"


@dataclass(slots=True)
class Span:
    """An open span: ``set()`` attributes, ``error()`` to mark it failed."""

    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    attributes: dict[str, Any] = field(default_factory=dict)
    status: str = "ok"
    error_message: str | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def set(self, key: str, value: Any) -> Span:
        self.attributes[key] = value
        return self

    def error(self, message: str) -> Span:
        self.status, self.error_message = "error", message[:10_000]
        return self

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-01"


class SpanScope:
    """A context manager (``with``) and a decorator (sync or async functions): each use opens
    a new span."""

    def __init__(
        self, tracer: Traces, name: str, kind: str, new_trace: bool, attributes: dict[str, Any]
    ) -> None:
        self._tracer = tracer
        self._name, self._kind, self._new_trace = name, kind, new_trace
        self._attributes = attributes
        self._open: list[tuple[Span, Any]] = []

    def __enter__(self) -> Span:
        parent = None if self._new_trace else _current.get()
        span = Span(
            name=self._name,
            kind=self._kind,
            trace_id=parent.trace_id if parent else secrets.token_hex(16),
            span_id=secrets.token_hex(8),
            parent_span_id=parent.span_id if parent else None,
            attributes=dict(self._attributes),
        )
        token = _current.set(_Active(span.trace_id, span.span_id))
        self._open.append((span, token))
        return span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        span, token = self._open.pop()
        _current.reset(token)
        if exc is not None and span.status != "error":
            span.error(f"{type(exc).__name__}: {exc}")
        self._tracer.record(span, datetime.now(UTC))

    def __call__(self, function: F) -> F:
        def scope() -> SpanScope:
            return SpanScope(
                self._tracer, self._name, self._kind, self._new_trace, self._attributes
            )

        if inspect.iscoroutinefunction(function):

            @functools.wraps(function)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with scope():
                    return await function(*args, **kwargs)

            return cast(F, run_async)

        @functools.wraps(function)
        def run(*args: Any, **kwargs: Any) -> Any:
            with scope():
                return function(*args, **kwargs)

        return cast(F, run)


class Traces:
    """The span recorder of one client (``ledger.traces``)."""

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        *,
        service: str | None = None,
        max_buffer: int = 10_000,
        batch_size: int = 100,
        flush_interval: float = 1.0,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.service = service
        self.dropped = 0
        """Spans dropped because the buffer was full."""
        self.failed = 0
        """Spans the server refused or could not be sent (logged, never raised)."""
        self.sent = 0
        self._url = base_url.rstrip("/") + "/v1/traces:batch"
        self._headers = dict(headers)
        self._timeout, self._transport = timeout, transport
        self._buffer: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=max(1, max_buffer))
        self._batch_size = max(1, batch_size)
        self._interval = flush_interval
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        atexit.register(_close_at_exit, weakref.ref(self))

    # --- recording -----------------------------------------------------------------------

    def trace(self, name: str, *, kind: str = "internal", **attributes: Any) -> SpanScope:
        """A new trace: its root span (a context manager or a decorator)."""
        return SpanScope(self, name, kind, True, attributes)

    def span(self, name: str, *, kind: str = "internal", **attributes: Any) -> SpanScope:
        """A span in the current trace (a new trace when none is open)."""
        return SpanScope(self, name, kind, False, attributes)

    @staticmethod
    def traceparent() -> str | None:
        """The ``traceparent`` of the open span, to pass on to other services."""
        return current_traceparent()

    def send(self, trace_id: str, spans: list[Mapping[str, Any]]) -> None:
        """Queue spans built by hand (the ``POST /v1/traces`` span shape) for sending."""
        for given in spans:
            self._put({**given, "trace_id": given.get("trace_id") or trace_id})

    def record(self, span: Span, ended_at: datetime) -> None:
        """Queue a finished span (never blocks, never raises)."""
        try:
            self._put(
                {
                    "trace_id": span.trace_id,
                    "span_id": span.span_id,
                    "parent_span_id": span.parent_span_id,
                    "name": span.name[:255],
                    "kind": span.kind[:50],
                    "started_at": span.started_at.isoformat(),
                    "ended_at": ended_at.isoformat(),
                    "status": span.status,
                    "error_message": span.error_message,
                    "service_name": self.service,
                    "attributes": _jsonable(span.attributes),
                }
            )
        except Exception:
            log.debug("could not record span %r", span.name, exc_info=True)

    def _put(self, span: dict[str, Any]) -> None:
        if not self._closed:
            try:
                self._buffer.put_nowait(span)
            except queue.Full:
                pass
            else:
                self._start()
                return
        with self._lock:  # recorded from any thread
            self.dropped += 1

    # --- sending -------------------------------------------------------------------------

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every buffered span was sent (or failed); False after ``timeout``."""
        deadline = time.monotonic() + timeout
        while self._buffer.unfinished_tasks:  # put and not yet sent (or failed)
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Flush, then stop the sender."""
        if self._closed:
            return
        self.flush(timeout)
        self._closed = True

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="prompt-ledger-traces", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        with httpx.Client(
            headers=self._headers, timeout=self._timeout, transport=self._transport
        ) as http:
            while not self._closed:
                batch = self._take()
                if batch:
                    try:
                        self._send(http, batch)
                    except Exception:
                        self.failed += len(batch)
                        log.warning("prompt-ledger: %d spans not sent", len(batch), exc_info=True)
                    finally:
                        for _ in batch:
                            self._buffer.task_done()

    def _take(self) -> list[dict[str, Any]]:
        try:
            first = self._buffer.get(timeout=self._interval)
        except queue.Empty:
            return []
        batch = [first]
        while len(batch) < self._batch_size:
            try:
                batch.append(self._buffer.get_nowait())
            except queue.Empty:
                break
        return batch

    def _send(self, http: httpx.Client, batch: list[dict[str, Any]]) -> None:
        traces: dict[str, list[dict[str, Any]]] = {}
        for span in batch:
            traces.setdefault(str(span["trace_id"]), []).append(span)
        body = {"traces": [{"trace_id": t, "spans": spans} for t, spans in traces.items()]}
        error = ""
        for attempt in range(3):  # ingest is idempotent per span id: resending is safe
            try:
                response = http.post(self._url, json=body)
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 202:
                    self.sent += len(batch)
                    return
                error = f"{response.status_code} {response.text[:300]}"
                if response.status_code < 500 and response.status_code != 429:
                    break
            time.sleep(0.2 * 2**attempt)
        self.failed += len(batch)
        log.warning("prompt-ledger: %d spans not sent (%s)", len(batch), error)


def _close_at_exit(ref: weakref.ReferenceType[Traces]) -> None:
    tracer = ref()
    if tracer is not None:
        tracer.close(timeout=5.0)


def _jsonable(value: Any) -> Any:
    """Attributes as JSON (what JSON cannot hold becomes its ``repr``)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    return repr(value)
