"""Traces: spans applications send (the seeds' body, OTLP), and traces read back whole, with
the executions' own ``llm`` spans in the same tree. Everything is per project."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from datetime import datetime
from typing import Any

from prompt_ledger.asks import TraceFilter
from prompt_ledger.auth import Principal
from prompt_ledger.db.store import Database, Queries
from prompt_ledger.errors import NotFound, PayloadTooLarge
from prompt_ledger.records import SpanView, TraceSummary, TraceTree
from prompt_ledger.settings import Settings
from prompt_ledger.spanrows import SpanRow
from prompt_ledger.views import TracePage, bad_cursor, decode_cursor, encode_cursor

log = logging.getLogger("prompt_ledger.traces")
MAX_TRACE_SPANS = 10_000
SERVICE_REACH = 4  # a service's traces: spans read first, per trace of the page
"""Spans of one trace read back (a runaway trace still answers)."""


class Traces:
    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings

    # --- ingest --------------------------------------------------------------------------

    def check_batch(self, spans: int) -> None:
        """413 over TRACE_MAX_BATCH_SPANS (before anything is validated or written)."""
        limit = self._settings.trace_max_batch_spans
        if spans > limit:
            raise PayloadTooLarge(
                f"The request carries {spans} spans; at most {limit} are accepted per request "
                f"(TRACE_MAX_BATCH_SPANS): send them in smaller batches.",
                limit=limit,
                spans=spans,
            )

    async def ingest(self, who: Principal, rows: list[SpanRow]) -> int:
        """Store spans, all or nothing; a re-sent span (same trace and span id) replaces its
        earlier copy. Answers how many spans the request held (duplicates within it count
        once: the last wins)."""
        self.check_batch(len(rows))
        unique = list({(row.trace_id, row.span_id): row for row in rows}.values())
        if not unique:
            return 0
        async with self._db.connect() as q:
            await q.execute("ingest_spans", project_id=who.project_id, rows=_rows_json(unique))
        return len(unique)

    # --- reading -------------------------------------------------------------------------

    async def list(self, who: Principal, query: TraceFilter) -> TracePage:
        before_started, before_id = _cursor(query.cursor)
        params: dict[str, Any] = {
            "project_id": who.project_id,
            "service": query.service_name,
            "status": query.status,
            "since": query.since,
            "until": query.until,
            "prompt_name": query.prompt_name,
            "min_duration_ms": query.min_duration_ms,
            "has_error": query.has_error,
            "before_started": before_started,
            "before_id": before_id,
            "limit": query.limit + 1,
        }
        async with self._db.connect() as q:
            if query.prompt_name:  # a prompt's traces are found from its executions
                rows = await q.rows("list_traces_of_prompt", **params)
            elif query.service_name:  # a service's from its spans (the latest first, then further)
                rows = await _of_service(q, params)
            else:  # others by walking the project's spans
                rows = await q.rows("list_traces", **params)
        items = [TraceSummary.model_validate(row) for row in rows]
        more = len(items) > query.limit
        items = items[: query.limit]
        cursor = None
        if more and items:
            cursor = encode_cursor([items[-1].started_at.isoformat(), items[-1].trace_id])
        return TracePage(items=items, next_cursor=cursor)

    async def get(self, who: Principal, trace_id: str) -> TraceTree:
        """One trace as a tree: application spans and execution spans, depth first."""
        async with self._db.connect() as q:
            rows = await q.rows(
                "trace_spans", project_id=who.project_id, trace_id=trace_id, limit=MAX_TRACE_SPANS
            )
        if not rows:
            raise NotFound(f"Trace '{trace_id[:100]}' not found.")
        return _tree(trace_id, rows)

    # --- retention -----------------------------------------------------------------------

    async def purge(self) -> int:
        """Delete application spans received more than TRACE_RETENTION_DAYS ago, in batches of
        TRACE_RETENTION_BATCH (one short statement each). 0 days keeps everything."""
        days = self._settings.trace_retention_days
        if days <= 0:
            return 0
        batch = self._settings.trace_retention_batch
        deleted = 0
        while True:
            async with self._db.connect() as q:
                count = await q.execute("delete_old_spans", days=days, limit=batch)
            deleted += count
            if count < batch:
                break
        if deleted:
            log.info("trace retention: %d spans older than %d days deleted", deleted, days)
        return deleted


def _rows_json(rows: list[SpanRow]) -> str:
    """The rows as one JSON array (one query parameter: encoding arrays of values one by one
    costs more than the statement)."""
    return json.dumps(
        [
            {
                "trace_id": r.trace_id,
                "span_id": r.span_id,
                "parent_span_id": r.parent_span_id,
                "name": r.name,
                "kind": r.kind,
                "start_time": r.start_time.isoformat(),
                "end_time": None if r.end_time is None else r.end_time.isoformat(),
                "duration_ms": r.duration_ms,
                "status": r.status,
                "error_message": r.error_message,
                "service_name": r.service_name,
                "model": r.model,
                "provider": r.provider,
                "prompt_tokens": r.prompt_tokens,
                "completion_tokens": r.completion_tokens,
                "cost_usd": None if r.cost_usd is None else str(r.cost_usd),
                "attributes": r.attributes,
                "events": r.events,
                "input_data": r.input_data,
                "output_data": r.output_data,
            }
            for r in rows
        ],
        default=str,
    )


def _cursor(cursor: str | None) -> tuple[datetime | None, str | None]:
    value = decode_cursor(cursor)
    if value is None:
        return None, None
    if not (
        isinstance(value, list) and len(value) == 2 and all(isinstance(part, str) for part in value)
    ):
        raise bad_cursor()
    try:
        return datetime.fromisoformat(value[0]), value[1]
    except ValueError:
        raise bad_cursor() from None


def _tree(trace_id: str, rows: list[dict[str, Any]]) -> TraceTree:
    """Order spans depth first, each before its children (by start time). A span whose parent
    was not received (yet) is a root; so is any span of a parent cycle."""
    ids = {row["span_id"] for row in rows}
    children: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:  # already ordered by start time
        parent = row["parent_span_id"]
        children[parent if parent in ids and parent != row["span_id"] else None].append(row)
    ordered: list[SpanView] = []
    seen: set[str] = set()

    def visit(roots: list[dict[str, Any]]) -> None:
        stack = [(row, 0) for row in reversed(roots)]
        while stack:
            row, depth = stack.pop()
            if row["span_id"] in seen:
                continue
            seen.add(row["span_id"])
            ordered.append(SpanView.model_validate({**row, "depth": depth}))
            stack.extend((child, depth + 1) for child in reversed(children[row["span_id"]]))

    visit(children[None])
    visit([row for row in rows if row["span_id"] not in seen])  # cycles: no root reaches them
    started = min(span.start_time for span in ordered)
    ended = max(span.end_time or span.start_time for span in ordered)
    errors = sum(span.status == "error" for span in ordered)
    costs = [span.cost_usd for span in ordered if span.cost_usd is not None]
    prompt_tokens = [s.prompt_tokens for s in ordered if s.prompt_tokens is not None]
    completion_tokens = [s.completion_tokens for s in ordered if s.completion_tokens is not None]
    return TraceTree(
        trace_id=trace_id,
        name=ordered[0].name,
        services=sorted({s.service_name for s in ordered if s.service_name}),
        started_at=started,
        ended_at=ended,
        duration_ms=round((ended - started).total_seconds() * 1000),
        status="error" if errors else "ok",
        span_count=len(ordered),
        error_count=errors,
        execution_count=sum(span.execution_id is not None for span in ordered),
        prompt_tokens=sum(prompt_tokens) if prompt_tokens else None,
        completion_tokens=sum(completion_tokens) if completion_tokens else None,
        cost_usd=sum(costs) if costs else None,
        spans=ordered,
    )


async def _of_service(q: Queries, params: dict[str, Any]) -> list[dict[str, Any]]:
    """A page of a service's traces: those starting at or after the start of the service's
    reach-th latest span, reaching 8 times further while that finds less than a page."""
    reach = params["limit"] * SERVICE_REACH
    while True:
        found = await q.row("trace_service_bound", reach=reach, **params)
        bound = found["bound"] if found else None
        rows = await q.rows("list_traces_of_service", bound=bound, **params)
        if bound is None or len(rows) >= params["limit"]:
            return rows
        reach *= 8
