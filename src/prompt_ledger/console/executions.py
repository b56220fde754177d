"""Execution pages: the ledger with the API's filters (live status for unfinished ones) and one
execution with everything recorded about it."""

from __future__ import annotations

from prompt_ledger.auth import Scope
from prompt_ledger.bodies_executions import ExecutionListQuery
from prompt_ledger.console.web import Visit, endpoint, html, page, query_of
from prompt_ledger.handlers.common import path_uuid
from prompt_ledger.http.endpoint import Reply

UNFINISHED = frozenset({"queued", "running"})
POLL_SECONDS = 2


@page(Scope.PROMPTS_READ)
async def execution_list(visit: Visit) -> Reply:
    q = query_of(visit.request, ExecutionListQuery)
    found = await visit.call.app.executions.list(visit.principal, q.asked())
    return visit.page("executions.html", found=found, q=q)


@page(Scope.PROMPTS_READ)
async def execution_page(visit: Visit) -> Reply:
    execution_id = path_uuid(visit.call, "execution_id", "Execution")
    execution = await visit.call.app.executions.get(visit.principal, execution_id)
    return visit.page("execution.html", execution=execution)


@page(Scope.PROMPTS_READ)
async def status(visit: Visit) -> Reply:
    """The status badge of one execution, polled by htmx while it is queued or running. On the
    execution's own page (``?page=1``) a finished status reloads the page to show the result."""
    execution_id = path_uuid(visit.call, "execution_id", "Execution")
    execution = await visit.call.app.executions.get(visit.principal, execution_id)
    on_page = bool(visit.request.query_params.get("page"))
    headers = {"HX-Refresh": "true"} if on_page and execution.status not in UNFINISHED else {}
    return html(
        "status.html", headers=headers, execution=execution, poll=POLL_SECONDS, page=on_page
    )


ENDPOINTS = [
    endpoint("GET", "/executions", execution_list, "Executions"),
    endpoint("GET", "/executions/{execution_id}", execution_page, "An execution"),
    endpoint("GET", "/executions/{execution_id}/status", status, "Live status of an execution"),
]
