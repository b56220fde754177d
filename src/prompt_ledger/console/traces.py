"""Trace pages: the project's traces with the API's filters, and one trace as a waterfall (its
spans as bars on a time axis, nested by parent; execution spans link to their execution and
prompt version)."""

from __future__ import annotations

from prompt_ledger.auth import Scope
from prompt_ledger.bodies_traces import TraceListQuery
from prompt_ledger.console import spans_html
from prompt_ledger.console.waterfall import duration_label, layout
from prompt_ledger.console.web import Visit, endpoint, page, query_of
from prompt_ledger.errors import NotFound
from prompt_ledger.http.endpoint import Reply

READ = Scope.PROMPTS_READ  # what GET /v1/traces asks of a key
SHOWN = 1000  # spans drawn in one page (a runaway trace still renders quickly)


@page(READ)
async def trace_list(visit: Visit) -> Reply:
    q = query_of(visit.request, TraceListQuery)
    found = await visit.call.app.traces.list(visit.principal, q.asked())
    return visit.page("traces.html", found=found, q=q, took=duration_label)


@page(READ)
async def trace_page(visit: Visit) -> Reply:
    trace_id = str(visit.call.path["trace_id"])
    if not 1 <= len(trace_id) <= 100:
        raise NotFound(f"Trace '{trace_id[:100]}' not found.")
    trace = await visit.call.app.traces.get(visit.principal, trace_id)
    waterfall = layout(trace.spans[:SHOWN])
    return visit.page(
        "trace.html",
        trace=trace,
        waterfall=waterfall,
        rows=spans_html.rows(waterfall),
        details=spans_html.details(waterfall),
        took=duration_label,
    )


ENDPOINTS = [
    endpoint("GET", "/traces", trace_list, "Traces"),
    endpoint("GET", "/traces/{trace_id}", trace_page, "A trace's waterfall"),
]
